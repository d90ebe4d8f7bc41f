"""The browser view: one self-contained HTML page of the compromise, scoped to the incidents or a chosen focus.

>>> html = render_page(case)                                    # every incident at or above low
>>> html = render_page(case, report, focus=ViewFocus(finding="GT-02e4f87d09c7"))
"""

from __future__ import annotations

import logging
from pathlib import Path

from graphtrail.case import Case
from graphtrail.findings import Severity
from graphtrail.hunts import HuntReport
from graphtrail.viz.focus import ViewFocus
from graphtrail.viz.scope import DEFAULT_MAX_NODES, Scope, select_scope

__all__ = ["DEFAULT_MAX_NODES", "Scope", "ViewFocus", "build_view", "render_page"]

log = logging.getLogger(__name__)


def build_view(
    case: Case,
    report: HuntReport | None = None,
    *,
    focus: ViewFocus | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    min_severity: Severity = Severity.LOW,
) -> tuple[Scope, dict]:
    """The scope (what is drawn and what was left out) and the page's data, without the HTML."""
    from graphtrail.graph import load_graph
    from graphtrail.hunts import hunt_report
    from graphtrail.hunts.context import HuntContext
    from graphtrail.viz.model import build_model

    if report is None:
        context = HuntContext(case)
        report = hunt_report(context)
        graph = context.graph
    else:
        graph = load_graph(case)
    scope = select_scope(graph, case, report, focus, max_nodes=max_nodes, min_severity=min_severity)
    if scope.omitted:
        log.warning("%s", scope.hint())
    return scope, build_model(graph, case, scope)


def render_page(
    case: Case,
    report: HuntReport | None = None,
    *,
    focus: ViewFocus | None = None,
    title: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    min_severity: Severity = Severity.LOW,
) -> str:
    """The whole page as HTML. `report`: hunts already run on `case` (run here when None)."""
    from graphtrail.viz.page import render_html

    scope, model = build_view(case, report, focus=focus, max_nodes=max_nodes, min_severity=min_severity)
    return render_html(model, title or f"graphtrail: {Path(case.path).name}, {scope.focus.describe()}")
