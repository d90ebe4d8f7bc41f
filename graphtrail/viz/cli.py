"""`graphtrail viz`: write the browser view of a case's incidents (or of one incident, finding or node) to a file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from graphtrail.findings import SEVERITY_NAMES


@click.command()
@click.option(
    "--case",
    "case_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The case file (SQLite) to draw.",
)
@click.option("--incident", help="Only this incident: its number (1 = worst, in `graphtrail hunt`'s order) or INC- id.")
@click.option("--finding", help="Only this finding (GT- id).")
@click.option("--around", help="The neighbourhood of this node: an access key, ARN or IP address.")
@click.option("--hops", type=click.IntRange(0, 6), default=2, show_default=True, help="How far --around reaches.")
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITY_NAMES),
    default="low",
    show_default=True,
    help="Least severe incident drawn when no focus is given.",
)
@click.option(
    "--max-nodes",
    type=click.IntRange(10, 100_000),
    default=1500,
    show_default=True,
    help="Draw at most this many nodes; the page says what was left out.",
)
@click.option("--title", help="The page's title.")
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the page (default: CASE.html beside the case).",
)
def viz(
    case_path: Path,
    incident: str | None,
    finding: str | None,
    around: str | None,
    hops: int,
    min_severity: str,
    max_nodes: int,
    title: str | None,
    out_path: Path | None,
) -> None:
    """Write one self-contained HTML page of the compromise: open it from disk, no network needed.

    By default it draws every incident at or above --min-severity, never the whole graph: attack paths in thick
    red, numbered in time order, the entry point marked, with a side panel of incidents and findings, search,
    a time filter to replay the attack, and each node's evidence events.
    """
    from graphtrail.case import Case
    from graphtrail.cli import err
    from graphtrail.findings import Severity
    from graphtrail.viz import ViewFocus, build_view
    from graphtrail.viz.page import render_html

    chosen = [name for name, value in (("--incident", incident), ("--finding", finding), ("--around", around)) if value]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {' and '.join(chosen)}")
    focus = ViewFocus(incident=incident, finding=finding, around=around, hops=hops)
    target = out_path or case_path.with_suffix(".html")
    with Case(case_path) as case:
        with err.status("hunting and drawing…") if err.is_terminal else contextlib.nullcontext():
            scope, model = build_view(case, focus=focus, max_nodes=max_nodes, min_severity=Severity.parse(min_severity))
        page = render_html(model, title or f"graphtrail: {case_path.name}, {scope.focus.describe()}")
    target.write_text(page, encoding="utf-8")
    hint = scope.hint()
    if hint:
        err.print(f"note: {hint}", markup=False)
    err.print(
        f"wrote {target}: {len(scope.nodes)} nodes, {len(scope.edges)} edges, {len(scope.incidents)} incidents, "
        f"{len(scope.findings)} findings",
        markup=False,
    )
