"""`graphtrail report` (one case → Markdown, JSON, CSV or HTML) and `graphtrail analyze` (logs → case → hunts →
a folder of reports): thin commands over `graphtrail.report`."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from graphtrail.case import Case
from graphtrail.errors import GraphtrailError
from graphtrail.findings import SEVERITY_NAMES, Severity
from graphtrail.hunts import HuntReport
from graphtrail.hunts.context import HuntContext
from graphtrail.report.model import Report

log = logging.getLogger(__name__)

DEFAULT_DIR = Path("graphtrail-report")
CASE_NAME = "case.sqlite"
OUTPUT_FILES = {"html": "index.html", "md": "report.md", "json": "report.json", "csv": "timeline.csv"}


def _consoles() -> tuple[Console, Console]:
    from graphtrail.cli import err, out

    return out, err


def _status(console: Console, message: str) -> contextlib.AbstractContextManager[Any]:
    return console.status(message) if console.is_terminal else contextlib.nullcontext()


@dataclass
class _Hunted:
    report: Report
    hunts: HuntReport
    graph_page: str | None
    graph_note: str | None


def _hunt_and_build(
    case: Case,
    *,
    config_path: Path | None,
    baseline_path: Path | None,
    incident: str | None,
    least: Severity,
    with_graph: bool,
    err: Console,
    title: str = "",
) -> _Hunted:
    from graphtrail.hunts import hunt_report
    from graphtrail.hunts.config import HuntConfig
    from graphtrail.report import build_report

    config = HuntConfig.load(config_path) if config_path else HuntConfig()
    with _baseline(baseline_path) as baseline:
        context = HuntContext(case, config, baseline)
        with _status(err, "hunting…"):
            hunts = hunt_report(context)
        with _status(err, "building the report…"):
            report = build_report(context, hunts, incident=incident, least=least, title=title)
    page: str | None = None
    note: str | None = None
    if with_graph:
        with _status(err, "drawing the graph…"):
            page, note = _graph_page(case, hunts, report.heading, least)
    return _Hunted(report, hunts, page, note)


@contextlib.contextmanager
def _baseline(path: Path | None) -> Iterator[Case | None]:
    if path is None:
        yield None
        return
    with Case(path) as baseline:
        yield baseline


def _graph_page(case: Case, hunts: HuntReport, title: str, least: Severity) -> tuple[str | None, str | None]:
    """The browser view's page for the HTML report, or why there is none (the report is written anyway)."""
    try:
        from graphtrail.viz import render_page
    except ImportError as exc:  # the view ships with graphtrail; a broken install should not cost the report
        log.warning("graph view unavailable: %s", exc)
        return None, f"the browser view could not be loaded ({exc})"
    try:
        return render_page(case, hunts, title=title, min_severity=least), None
    except GraphtrailError as exc:
        log.warning("graph view not drawn: %s", exc)
        return None, f"the browser view could not be drawn ({exc}); `graphtrail viz` can draw a narrower one"


def _render(fmt: str, hunted: _Hunted) -> str:
    from graphtrail.report import render_csv, render_html, render_json, render_markdown

    if fmt == "md":
        return render_markdown(hunted.report)
    if fmt == "json":
        return render_json(hunted.report)
    if fmt == "csv":
        return render_csv(hunted.report)
    return render_html(hunted.report, hunted.graph_page, graph_note=hunted.graph_note)


_HUNT_OPTIONS = (
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="TOML file with hunt thresholds and allowlists (see graphtrail/hunts/config.py).",
    ),
    click.option(
        "--baseline",
        "baseline_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="A case of normal activity to measure 'new' and 'unusual' against.",
    ),
    click.option(
        "--min-severity",
        type=click.Choice(SEVERITY_NAMES),
        default="low",
        show_default=True,
        help="Least severe incident the report includes.",
    ),
)


def _hunt_options(function: Any) -> Any:
    for option in reversed(_HUNT_OPTIONS):
        function = option(function)
    return function


@click.command()
@click.option(
    "--case",
    "case_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The case file (SQLite) to report on.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "csv", "html"]),
    default="md",
    show_default=True,
    help="md: for a ticket; json: for automation (schema: graphtrail/report/report.schema.json); csv: the evidence "
    "timeline, one row per cited event; html: one self-contained page with the graph view.",
)
@click.option("--incident", help="Only this incident: its id (INC-…) or its number in `graphtrail hunt`'s order.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@_hunt_options
def report(
    case_path: Path,
    fmt: str,
    incident: str | None,
    output: Path | None,
    config_path: Path | None,
    baseline_path: Path | None,
    min_severity: str,
) -> None:
    """Write the investigation's report: per incident the summary, entry point, numbered attack path (time,
    actor, key, IP, action, target, result), findings with severity and ATT&CK ids, blast radius, and
    containment steps naming the exact keys, users, roles, policies and trails.

    Every step cites its CloudTrail event ids; no session token or secret from the logs is ever written.
    """
    _, err = _consoles()
    with Case(case_path) as case:
        hunted = _hunt_and_build(
            case,
            config_path=config_path,
            baseline_path=baseline_path,
            incident=incident,
            least=Severity.parse(min_severity),
            with_graph=fmt == "html",
            err=err,
        )
    text = _render(fmt, hunted)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output.write_text(text, encoding="utf-8")
    err.print(Text(f"wrote {output} ({len(hunted.report.incidents)} incidents, {len(hunted.report.events):,} events)"))


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="Folder to write index.html, report.md, report.json and timeline.csv into (created if needed).",
)
@click.option(
    "--case",
    "case_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The case file to ingest into and hunt [default: OUT/{CASE_NAME}]. An existing case gets only what is new.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes that read files in parallel [default: one per core].",
)
@_hunt_options
def analyze(
    paths: tuple[str, ...],
    out_dir: Path,
    case_path: Path | None,
    workers: int | None,
    config_path: Path | None,
    baseline_path: Path | None,
    min_severity: str,
) -> None:
    """Everything in one go: ingest PATHS (as `graphtrail ingest` reads them), run every hunt, and write
    OUT/index.html (the report with the browser view of the graph), OUT/report.md, OUT/report.json and
    OUT/timeline.csv. The terminal gets a summary: incidents by severity, the top paths, where the files are.
    """
    out, err = _consoles()
    remote = [path for path in paths if path.startswith("s3://")]
    if remote:
        raise click.UsageError(
            f"analyze reads local logs; for {remote[0]} run `graphtrail ingest {remote[0]} --case F` first, "
            "then `graphtrail report --case F --format html -o index.html` (and md, json, csv)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    case_path = case_path or out_dir / CASE_NAME
    summary = _ingest(list(paths), case_path, workers, err)
    with Case(case_path) as case:
        hunted = _hunt_and_build(
            case,
            config_path=config_path,
            baseline_path=baseline_path,
            incident=None,
            least=Severity.parse(min_severity),
            with_graph=True,
            err=err,
            title=", ".join(Path(path).name or path for path in paths),
        )
    written: dict[str, Path] = {}
    for fmt in ("html", "md", "json", "csv"):
        path = out_dir / OUTPUT_FILES[fmt]
        path.write_text(_render(fmt, hunted), encoding="utf-8")
        written[fmt] = path
    _print_summary(out, hunted, summary, case_path, written)


def _ingest(paths: list[str], case_path: Path, workers: int | None, err: Console) -> Any:
    from graphtrail.ingest import ingest_paths
    from graphtrail.ingest_bar import ingest_progress_bar

    with ingest_progress_bar(err) as progress:
        try:
            return ingest_paths(paths, case_path, stdin=sys.stdin.buffer, progress=progress, workers=workers)
        except KeyboardInterrupt:
            err.print("interrupted: run the same command again to continue where ingest stopped")
            raise SystemExit(130) from None


_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
TOP_PATHS = 5


def _print_summary(out: Console, hunted: _Hunted, summary: Any, case_path: Path, written: dict[str, Path]) -> None:
    report = hunted.report
    data = summary.as_dict()
    records = data["records"]
    out.print(
        Text(
            f"ingested {records['ingested']:,} new events ({records['duplicates']:,} duplicates, "
            f"{records['rejected']:,} rejected) from {data['files']['seen']:,} files into {case_path}; "
            f"the case holds {report.case.events:,} events"
        )
    )
    counts = report.counts("incidents")
    line = Text("incidents: ", style="bold")
    shown = [(severity, number) for severity, number in counts.items() if number]
    for index, (severity, number) in enumerate(shown):
        line += Text(f"{number} {severity}", style=_STYLES[severity])
        if index < len(shown) - 1:
            line += Text(", ")
    if not shown:
        line += Text("none")
    if report.below_least:
        line += Text(
            f"  ({report.below_least} below {report.least} left out; --min-severity info shows them)", style="dim"
        )
    out.print(line)
    # Blocks, not a table: titles and ARNs stay whole at any terminal width.
    for incident in report.incidents[:TOP_PATHS]:
        out.print(
            Text(f"  {incident.number} ", style="bold")
            + Text(f"[{incident.severity}]", style=_STYLES[incident.severity])
            + Text(f" {incident.title}")
        )
        entry = incident.entry
        where = "" if entry is None else f"entry {entry.access_key or entry.principal} from {entry.source_ip or '-'} "
        when = "" if entry is None else f"at {entry.time}; "
        out.print(Text(f"      {where}{when}{len(incident.path)} steps, {len(incident.containment)} containment steps"))
    if len(report.incidents) > TOP_PATHS:
        out.print(Text(f"  … {len(report.incidents) - TOP_PATHS} more incidents in the report"))
    if hunted.graph_note:
        out.print(Text(f"note: no graph in index.html: {hunted.graph_note}", style="yellow"))
    # Plain lines, not a table: a path is for copying, and a table would wrap it.
    out.print(Text("written:", style="bold"))
    labels = {"html": "open in a browser", "md": "for the ticket", "json": "for automation", "csv": "evidence timeline"}
    for fmt, path in written.items():
        out.print(Text(f"  {path}  ({labels[fmt]})"))
    out.print(Text(f"  {case_path}  (the case: `graphtrail hunt|whois|path --case {case_path}`)"))
