"""The `graphtrail` command. Thin: parse options, call one library function, print.

Results go to stdout (tables, or JSON with --json); progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from graphtrail import __version__
from graphtrail.aws.options import aws_ingest_options, ingest_from_aws, wants_aws
from graphtrail.errors import GraphtrailError
from graphtrail.findings import SEVERITY_NAMES

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CASE_OPTION = click.option(
    "--case",
    "case_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The case file (SQLite) to read or write.",
)


def _print_json(data: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.flush()


class GraphtrailGroup(click.Group):
    """Turns library errors into one clear line and exit code 2, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraphtrailError as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)))
            ctx.exit(2)


@click.group(cls=GraphtrailGroup)
@click.version_option(__version__, prog_name="graphtrail")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """graphtrail: AWS CloudTrail logs as a graph of identities, credentials, IPs and resources.

    Start with `graphtrail ingest LOGS --case my.case`, then `graphtrail stats --case my.case` and
    `graphtrail whois KEY_OR_ARN --case my.case`.
    """
    level = logging.ERROR if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@main.command()
@click.argument("paths", nargs=-1, required=False)
@CASE_OPTION
@click.option("--strict", is_flag=True, help="Exit with status 1 if any file or record was rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's accounting as JSON on stdout.")
@click.option(
    "--max-file-mb",
    type=click.IntRange(1, 1 << 20),
    default=512,
    show_default=True,
    help="Largest size one file may decompress to (guards against gzip bombs).",
)
@click.option("--show-rejects", type=click.IntRange(0), default=20, show_default=True, help="Reject lines to print.")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes that read files in parallel [default: one per core]. The case does not depend on it.",
)
@aws_ingest_options
def ingest(
    paths: tuple[str, ...],
    case_path: Path,
    strict: bool,
    as_json: bool,
    max_file_mb: int,
    show_rejects: int,
    workers: int | None,
    **aws: Any,
) -> None:
    """Read CloudTrail logs from PATHS into a case.

    PATHS are files, folders (read recursively: .json, .json.gz, .jsonl/.ndjson, .zip, .tar(.gz), the S3
    delivery layout AWSLogs/…/CloudTrail/…, organization trails), or - for stdin. The shape of each file
    is detected: {"Records": […]}, arrays, JSON lines, lookup-events output, EventBridge envelopes,
    CloudWatch Logs subscription payloads, CloudTrail Lake results, SIEM exports. Digest files are skipped.

    Re-running adds only what is new: files already ingested are recognised by content, events are
    deduplicated by eventID. Every file and record is accounted for: ingested, duplicate or rejected (with
    its reason).

    PATHS may instead be s3://BUCKET[/PREFIX] (a trail's bucket, walked by account, Region and date;
    objects already read are skipped), or use --lookup to read the last 90 days with LookupEvents.
    """
    from graphtrail.ingest import ingest_paths
    from graphtrail.ingest_bar import ingest_progress_bar
    from graphtrail.sources import ReadLimits

    limits = ReadLimits(max_file_bytes=max_file_mb << 20)
    with ingest_progress_bar(err) as progress:
        notes: list[str] = []
        try:
            if wants_aws(paths, aws):
                result = ingest_from_aws(paths, case_path, aws, limits=limits, progress=progress, workers=workers)
                summary, notes = result.summary, result.notes
            else:
                summary = ingest_paths(
                    list(paths), case_path, limits=limits, stdin=sys.stdin.buffer, progress=progress, workers=workers
                )
        except KeyboardInterrupt:
            err.print(
                "interrupted: the case keeps every file up to its last checkpoint; "
                "run the same command again to continue where it stopped"
            )
            raise SystemExit(130) from None

    for note in notes:
        err.print(Text(note))
    for line in summary.problems[:show_rejects]:
        err.print(Text("rejected ", style="yellow") + Text(line))  # the line quotes the log: never markup
    hidden = summary.records_rejected + sum(summary.files_rejected.values()) - min(show_rejects, len(summary.problems))
    if hidden > 0 and show_rejects:
        err.print(Text(f"… {hidden} more rejects: `graphtrail stats --case {case_path}` lists them by reason"))
    if as_json:
        _print_json(summary.as_dict())
    else:
        _print_ingest_summary(summary, case_path)
    if strict and summary.any_rejects:
        raise SystemExit(1)


def _print_ingest_summary(summary: Any, case_path: Path) -> None:
    data = summary.as_dict()
    files, records = data["files"], data["records"]
    table = Table(title=Text(f"ingested into {case_path}"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("files seen", f"{files['seen']:,}")
    table.add_row("  ingested", f"{files['ingested']:,}")
    table.add_row("  already in the case", f"{files['already_ingested']:,}")
    for reason, count in files["skipped"].items():
        table.add_row(f"  skipped: {reason}", f"{count:,}")
    for reason, count in files["rejected"].items():
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    table.add_row("records read", f"{records['read']:,}")
    table.add_row("  ingested", f"{records['ingested']:,}")
    if records["insights"]:
        table.add_row("  insights (kept apart)", f"{records['insights']:,}")
    table.add_row("  duplicates", f"{records['duplicates']:,}")
    table.add_row("  rejected", f"{records['rejected']:,}")
    for reason, count in records["rejected_by_reason"].items():
        table.add_row(f"    {reason}", f"{count:,}")
    for reason, count in data["notices"].items():
        table.add_row(f"notice: {reason}", f"{count:,}")
    table.add_row("shapes", ", ".join(f"{k} {v:,}" for k, v in data["shapes"].items()) or "-")
    rate = records["read"] / data["seconds"] if data["seconds"] else 0.0
    table.add_row("time", f"{data['seconds']:.1f} s ({rate:,.0f} records/s)")
    out.print(table)
    if not data["balanced"]:
        err.print("[bold red]accounting does not balance: this is a graphtrail bug, please report it[/]")


@main.command()
@CASE_OPTION
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True, help="Rows in the top lists.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def stats(case_path: Path, top: int, as_json: bool) -> None:
    """What a case holds: counts by kind, busiest principals and keys, time span, formats, rejects."""
    from graphtrail.case import Case
    from graphtrail.stats import case_stats

    with Case(case_path) as case:
        result = case_stats(case, top=top)
    if as_json:
        _print_json(result.as_dict())
        return
    out.print(Text(f"{case_path}: {result.events:,} events, {result.insights:,} insights", style="bold"))
    out.print(Text(f"time span: {result.first_event or '-'} → {result.last_event or '-'}"))
    out.print(Text(f"accounts: {', '.join(result.accounts) or '-'}"))
    out.print(Text(f"failed calls: {result.failed_events:,}"))
    _table("nodes by kind", ("kind", "nodes"), result.nodes_by_kind.items())
    _table("edges by type (top)", ("type", "edges"), list(result.edges_by_type.items())[:top])
    _table("busiest principals", ("principal", "kind", "events"), result.busiest_principals)
    _table("busiest access keys", ("key", "acts as", "events"), result.busiest_keys)
    _table("key lineage", ("method", "keys"), result.lineage_methods.items())
    _table("files", ("status", "files"), result.files.items())
    _table("shapes seen (files)", ("shape", "files"), result.shapes.items())
    _table("rejects by reason", ("reason", "count"), result.rejects_by_reason.items())


def _table(title: str, columns: tuple[str, ...], rows: Any) -> None:
    rows = list(rows)
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    numbers = all(isinstance(row[-1], int) for row in rows)
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        table.add_column(column, justify="right" if last and numbers else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(f"{value:,}" if isinstance(value, int) else str(value)) for value in row))
    out.print(table)


@main.command()
@click.argument("subject")
@CASE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def whois(subject: str, case_path: Path, as_json: bool) -> None:
    """Who is SUBJECT (an access key id, an ARN, an IP address or a unique name), and where it came from.

    For a key: the principal it acts as, the call that minted it (when, from which IP, with which key), the
    chain back to a long-term credential, first/last use, IPs, user agents, what it did and what it minted.
    For a principal: the keys that acted as it and the same story. For an IP: whether it is AWS's, and which
    keys and principals used it.
    """
    from graphtrail.case import Case
    from graphtrail.whois import whois as run_whois

    with Case(case_path) as case:
        report = run_whois(case, subject)
    if as_json:
        _print_json(report.as_dict())
        return
    from graphtrail.whois_view import print_whois

    print_whois(out, report)


@main.command()
@CASE_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["graphml", "gexf", "json", "opengraph", "neo4j-csv"]),
    required=True,
    help="graphml/gexf (Gephi, yEd), json (node-link), opengraph (BloodHound CE), neo4j-csv (neo4j-admin import).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write (default: CASE.FORMAT; a folder for neo4j-csv).",
)
def export(case_path: Path, fmt: str, output: Path | None) -> None:
    """Write the case's graph as GraphML, GEXF (Gephi, yEd), node-link JSON, BloodHound CE OpenGraph JSON, or a
    folder of CSV files for `neo4j-admin database import` (with import.sh)."""
    from graphtrail.case import Case
    from graphtrail.export import export_graph
    from graphtrail.graph import load_graph

    output = output or case_path.with_suffix(f".{fmt}")
    with Case(case_path) as case:
        graph = load_graph(case)
    export_graph(graph, fmt, output)
    err.print(Text(f"wrote {output} ({graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges)"))


def _scenario_list(value: str | None) -> list[str] | None:
    if value is None or value.strip().lower() == "all":
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the trail (AWSLogs/…) and ground_truth.json into; must be empty or new.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same options: byte-identical output.")
@click.option(
    "--accounts",
    type=click.IntRange(4, 50),
    default=5,
    show_default=True,
    help="Accounts in the organisation: management, tooling, prod, dev, backup, then workload-N.",
)
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True, help="Days of activity.")
@click.option(
    "--events",
    type=click.IntRange(1),
    default=100_000,
    show_default=True,
    help="Event budget; met within a few percent (scheduled activity alone may need more on tiny budgets).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-11-02",
    show_default=True,
    help="First day (UTC).",
)
@click.option(
    "--scenarios",
    "scenario_names_text",
    default="all",
    show_default=True,
    help="Comma-separated scenario names to inject (attacks and decoys), or 'all'. See --list.",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier simulation in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON on stdout.")
def simulate(
    out_dir: Path | None,
    seed: int,
    accounts: int,
    days: int,
    events: int,
    start: Any,
    scenario_names_text: str,
    list_only: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write realistic CloudTrail of a whole organisation, with known attacks and decoys, and their ground truth.

    The trail is an organization trail's S3 layout (AWSLogs/o-…/<account>/CloudTrail/<region>/…, files every
    ~5 minutes per account and Region, digests beside them): ingest it with `graphtrail ingest OUT`.
    OUT/ground_truth.json lists, per attack, the attacker's keys, principals and IPs and the ordered steps
    with their event ids, and per decoy the attack it imitates. Addresses, accounts and people are invented.
    """
    from datetime import UTC

    from graphtrail.simulate import SimulationConfig, SimulationProgress
    from graphtrail.simulate import simulate as run_simulation
    from graphtrail.simulate.scenarios import all_scenarios

    if list_only:
        rows = [(spec.name, spec.kind, spec.title) for spec in all_scenarios()]
        if as_json:
            _print_json([{"name": n, "kind": k, "title": t} for n, k, t in rows])
        else:
            _table("scenarios", ("name", "kind", "what it is"), rows)
        return
    if out_dir is None:
        raise click.UsageError("Missing option '--out' (the folder to write into).")
    config = SimulationConfig(
        out=out_dir,
        seed=seed,
        accounts=accounts,
        days=days,
        events=events,
        scenarios=_scenario_list(scenario_names_text),
        start=start.replace(tzinfo=UTC),
        overwrite=overwrite,
    )
    with Progress(
        TextColumn("[bold]simulate[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hours  {task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("simulate", total=days * 24, events=0)

        def progress(state: SimulationProgress) -> None:
            bar.update(task, completed=state.hours_done, events=state.events)

        summary = run_simulation(config, progress)
    if as_json:
        _print_json(summary.as_dict())
        return
    data = summary.as_dict()
    table = Table(title=Text(f"simulated into {out_dir}"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("events", f"{summary.events:,} (budget {summary.budget:,})")
    table.add_row("duplicate deliveries", f"{summary.duplicates:,}")
    table.add_row("log files", f"{summary.files:,} ({summary.bytes_written / 1e6:.1f} MB gzip, with digests)")
    table.add_row("digest files", f"{summary.digests:,}")
    table.add_row("attacks", ", ".join(summary.attacks) or "none")
    table.add_row("decoys", ", ".join(summary.decoys) or "none")
    table.add_row("ground truth", data["ground_truth"])
    table.add_row("time", f"{summary.seconds:.1f} s, {summary.events_per_second:,.0f} events/s")
    out.print(table)
    if summary.scheduled_over_budget:
        err.print(
            "note: the organisation's scheduled activity alone exceeds --events; use fewer --days or a larger budget"
        )


@main.command()
@click.option("--case", "case_path", type=click.Path(dir_okay=False, path_type=Path), help="The case to hunt in.")
@click.option("--only", "only_text", help="Comma-separated hunt or family names (see --list).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TOML file with thresholds and allowlists (see graphtrail/hunts/config.py).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A case of normal activity to measure 'new' and 'unusual' against "
    "(default: the first part of --case, see baseline_fraction).",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_NAMES),
    help="Exit with status 1 if any finding is at or above this severity.",
)
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITY_NAMES),
    default="low",
    show_default=True,
    help="Least severe finding the text output shows (--json always holds every finding).",
)
@click.option("--json", "as_json", is_flag=True, help="Print incidents and findings as JSON.")
@click.option("--list", "list_only", is_flag=True, help="List the hunts and exit.")
def hunt(
    case_path: Path | None,
    only_text: str | None,
    config_path: Path | None,
    baseline_path: Path | None,
    fail_on: str | None,
    min_severity: str,
    as_json: bool,
    list_only: bool,
) -> None:
    """Hunt attack paths in a case: persistence chains, lateral movement, exposure, exfiltration, evasion.

    Findings are paths of real events in time order, each with severity, confidence, ATT&CK ids and a
    narrative; findings that share credentials, lineage or attacker addresses are grouped into incidents.
    """
    from graphtrail.case import Case
    from graphtrail.findings import Severity
    from graphtrail.hunts import all_hunts, hunt_report
    from graphtrail.hunts.config import HuntConfig
    from graphtrail.hunts.context import HuntContext

    if list_only:
        specs = all_hunts()
        if as_json:
            _print_json(
                [
                    {
                        "name": s.name,
                        "family": s.family,
                        "title": s.title,
                        "description": s.description,
                        "attack": sorted({i for t in s.techniques for i in t.ids()}),
                    }
                    for s in specs
                ]
            )
        else:
            _table("hunts", ("hunt", "family", "what it looks for"), ((s.name, s.family, s.description) for s in specs))
        return
    if case_path is None:
        raise click.UsageError("Missing option '--case'.")
    config = HuntConfig.load(config_path) if config_path else HuntConfig()
    only = [name.strip() for name in only_text.split(",") if name.strip()] if only_text else None
    baseline = Case(baseline_path) if baseline_path else None
    try:
        with Case(case_path) as case:
            context = HuntContext(case, config, baseline)
            with err.status("hunting…") if err.is_terminal else contextlib.nullcontext():
                report = hunt_report(context, only)
    finally:
        if baseline is not None:
            baseline.close()
    if as_json:
        _print_json(report.as_dict())
    else:
        from graphtrail.hunt_view import print_report

        print_report(out, report, least=Severity.parse(min_severity))
    worst = report.worst()
    if fail_on and worst is not None and worst >= Severity.parse(fail_on):
        raise SystemExit(1)


@main.command()
@CASE_OPTION
@click.option("--from", "source", required=True, help="Where the path starts: an access key, ARN, or any node key.")
@click.option("--to", "target", required=True, help="Where it ends.")
@click.option("--within", help="Only paths whose first and last hops are at most this far apart (90s, 15m, 6h, 2d).")
@click.option("--since", help="Only hops at or after this time (ISO 8601).")
@click.option("--all-edges", is_flag=True, help="Follow every edge, not only those that hand over control.")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True, help="Paths to print.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def path(
    case_path: Path,
    source: str,
    target: str,
    within: str | None,
    since: str | None,
    all_edges: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Time-respecting paths from one node to another: each hop no earlier than the one before, shortest first.

    Hops follow the edges that hand over control (AUTHENTICATES, MINTED, AssumeRole, CreateAccessKey, …) unless
    --all-edges; each hop names the first event at or after the previous hop that makes it.
    """
    from graphtrail.case import Case
    from graphtrail.graph import load_graph
    from graphtrail.paths import PathFinder, normalize_since, parse_duration

    seconds = parse_duration(within) if within else None
    with Case(case_path) as case:
        finder = PathFinder(case, load_graph(case), all_edges=all_edges)
        paths = finder.find(source, target, since=normalize_since(since), within=seconds, limit=limit)
    if as_json:
        _print_json([p.as_dict() for p in paths])
        return
    if finder.truncated:
        err.print("note: the search stopped early (too many candidate hops); narrow it with --since or --within")
    if not paths:
        out.print(Text(f"no time-respecting path from {source} to {target}"))
        return
    for number, found in enumerate(paths, 1):
        out.print(Text(f"path {number}: {len(found.hops)} hops, {found.start} → {found.end}", style="bold"))
        for hop in found.hops:
            evidence = hop.event_ids[0] if hop.event_ids else "no event"
            out.print(Text(f"  {hop.time}  {hop.src} -[{hop.action}]-> {hop.dst}  ({evidence})"))


@main.command(name="blast-radius")
@CASE_OPTION
@click.argument("subject")
@click.option("--since", help="Count only what happened at or after this time (ISO 8601), e.g. the compromise.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def blast_radius_command(case_path: Path, subject: str, since: str | None, as_json: bool) -> None:
    """Everything SUBJECT (an access key, or a principal ARN) reached: keys it minted or created, identities it
    created or took over, roles it reached, resources it read or changed, with counts and first times."""
    from graphtrail.case import Case
    from graphtrail.paths import blast_radius, normalize_since

    with Case(case_path) as case:
        radius = blast_radius(case, subject, normalize_since(since))
    if as_json:
        _print_json(radius.as_dict())
        return
    out.print(
        Text(f"blast radius of {subject} since {radius.since or 'the start'}: {radius.events:,} events", style="bold")
    )
    _table("keys reached", ("key", "first used"), sorted(radius.keys.items(), key=lambda kv: kv[1]))
    _table("principals acting", ("principal", "first"), sorted(radius.principals.items(), key=lambda kv: kv[1]))
    _table("roles reached", ("role", "first"), sorted(radius.roles.items(), key=lambda kv: kv[1]))
    _table(
        "created or taken over",
        ("time", "by", "action", "what"),
        ((h.time, h.src, h.action, h.dst) for h in radius.created),
    )
    _table(
        "resources",
        ("resource", "first", "actions", "calls"),
        (
            (name, v["first"], ", ".join(f"{a} x{c}" for a, c in v["actions"].most_common()), v["count"])
            for name, v in sorted(radius.resources.items(), key=lambda kv: kv[1]["first"])
        ),
    )


@main.command(name="timeline")
@CASE_OPTION
@click.argument("subject")
@click.option("--since", help="Start at this time (ISO 8601).")
@click.option("--limit", type=click.IntRange(1), help="Print at most this many events.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
def timeline_command(case_path: Path, subject: str, since: str | None, limit: int | None, as_json: bool) -> None:
    """The events of SUBJECT (an access key or principal ARN) and of every key descending from it, in order."""
    from graphtrail.case import Case
    from graphtrail.paths import normalize_since, timeline

    with Case(case_path) as case:
        rows = timeline(case, subject, normalize_since(since), limit)
    if as_json:
        for row in rows:
            sys.stdout.buffer.write(
                orjson.dumps(
                    {
                        "event_id": row.event_id,
                        "time": row.time,
                        "name": row.name,
                        "actor": row.actor,
                        "access_key": row.access_key,
                        "source_ip": row.source_ip,
                        "target": row.target,
                        "error_code": row.error_code,
                    }
                )
                + b"\n"
            )
        return
    for row in rows:
        failed = f"  [{row.error_code}]" if row.error_code else ""
        out.print(
            Text(
                f"{row.time}  {row.access_key or '-':20}  {row.source_ip or '-':15}  {row.name} "
                f"{row.actor} -> {row.target or row.source}{failed}"
            )
        )


from graphtrail.viz.cli import viz  # noqa: E402  (the browser view's command lives with the view)

main.add_command(viz)

from graphtrail.report.cli import analyze, report  # noqa: E402  (reports and `analyze` live with the report package)

main.add_command(report)
main.add_command(analyze)

from graphtrail.graphdb.cli import neo4j_group  # noqa: E402  (the Neo4j commands live with the loader)

main.add_command(neo4j_group)

if __name__ == "__main__":
    main()
