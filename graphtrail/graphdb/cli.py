"""`graphtrail neo4j load | hunt | query`: thin commands over `graphdb.load` and `graphdb.hunts`.

The password comes from NEO4J_PASSWORD or a prompt, never from an option (it would sit in shell history and
the process list).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import neo4j
from rich.text import Text

from graphtrail.findings import SEVERITY_NAMES

URI_OPTION = click.option(
    "--uri", help="bolt://, neo4j:// or neo4j+s:// URI [default: NEO4J_URI, else bolt://127.0.0.1:7687]."
)
USER_OPTION = click.option("--user", help="User name [default: NEO4J_USER]; the password is read from NEO4J_PASSWORD.")
DATABASE_OPTION = click.option("--database", help="Database name [default: NEO4J_DATABASE, else the server's default].")
PARAM_OPTION = click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A query parameter (VALUE read as JSON if it parses).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")


@contextmanager
def _driver(uri: str | None, user: str | None, database: str | None) -> Iterator[tuple[neo4j.Driver, str | None]]:
    from graphtrail.graphdb.connection import open_driver, settings_from

    password = None
    if "NEO4J_PASSWORD" not in os.environ and (user or os.environ.get("NEO4J_USER")) and sys.stdin.isatty():
        password = click.prompt("Neo4j password", hide_input=True, err=True)
    settings = settings_from(uri=uri, user=user, database=database, password=password)
    driver = open_driver(settings)
    try:
        yield driver, settings.database
    finally:
        driver.close()


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    from graphtrail.graphdb.hunts import parse_param

    return dict(parse_param(value) for value in values)


@click.group(name="neo4j")
def neo4j_group() -> None:
    """Load a case into Neo4j and run the Cypher hunts (cypher/) there.

    The server is given by --uri or NEO4J_URI, the user by --user or NEO4J_USER, the password by NEO4J_PASSWORD
    (or a prompt). A server with authentication off needs neither.
    """


@neo4j_group.command()
@click.option(
    "--case", "case_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The case to load."
)
@URI_OPTION
@USER_OPTION
@DATABASE_OPTION
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=None, help="Rows per transaction [2000].")
@click.option("--wipe", is_flag=True, help="First delete every graphtrail node (label GT) and its relationships.")
@click.option("--force", is_flag=True, help="Write every row, even those Neo4j already holds unchanged.")
@JSON_OPTION
def load(
    case_path: Path,
    uri: str | None,
    user: str | None,
    database: str | None,
    batch_size: int | None,
    wipe: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Load a case's nodes and relationships into Neo4j: constraints and indexes first, then batched MERGEs.

    Loading again writes only what is new or changed (a case that grew, an interrupted load), so counts,
    first and last seen always match the case; graphtrail nodes the case no longer holds are removed (a
    database mirrors one case).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from graphtrail.case import Case
    from graphtrail.cli import _print_json, err, out
    from graphtrail.graphdb.load import DEFAULT_BATCH_SIZE, load_case

    with (
        Case(case_path) as case,
        _driver(uri, user, database) as (driver, db),
        Progress(
            TextColumn("[bold]neo4j load[/] {task.fields[stage]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar,
    ):
        task = bar.add_task("load", total=None, stage="")

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, stage=stage)

        summary = load_case(
            driver, case, database=db, batch_size=batch_size or DEFAULT_BATCH_SIZE, wipe_first=wipe, force=force,
            progress=progress,
        )  # fmt: skip
    data = summary.as_dict()
    if as_json:
        _print_json(data)
        return
    if summary.wiped:
        out.print(Text(f"wiped {summary.wiped:,} graphtrail nodes"))
    if summary.nodes_removed or summary.relationships_removed:
        out.print(
            Text(
                f"removed {summary.nodes_removed:,} nodes and {summary.relationships_removed:,} relationships "
                "the case no longer holds"
            )
        )
    out.print(
        Text(
            f"loaded {case_path}: {summary.nodes:,} nodes ({summary.nodes_written:,} written), "
            f"{summary.relationships:,} relationships ({summary.relationships_written:,} written) "
            f"in {summary.seconds:.1f} s"
        )
    )
    if data["relationships_per_second"]:
        out.print(
            Text(f"{data['nodes_per_second'] or 0:,} nodes/s, {data['relationships_per_second']:,} relationships/s")
        )
    if summary.relationships_missing_ends:
        err.print(Text(f"warning: {summary.relationships_missing_ends:,} relationships name a node the case lacks"))


@neo4j_group.command()
@click.argument("names", nargs=-1)
@URI_OPTION
@USER_OPTION
@DATABASE_OPTION
@PARAM_OPTION
@click.option("--dir", "directory", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of .cypher hunts [default: GRAPHTRAIL_CYPHER, else the project's cypher/].")  # fmt: skip
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITY_NAMES),
    default="low",
    show_default=True,
    help="Least severe finding the text output shows (--json always holds every finding).",
)
@JSON_OPTION
@click.option("--list", "list_only", is_flag=True, help="List the Cypher hunts and exit.")
def hunt(
    names: tuple[str, ...],
    uri: str | None,
    user: str | None,
    database: str | None,
    params: tuple[str, ...],
    directory: Path | None,
    min_severity: str,
    as_json: bool,
    list_only: bool,
) -> None:
    """Run Cypher hunts (all, or NAMES: hunt or family names) and print findings as `graphtrail hunt` does."""
    from graphtrail.cli import _print_json, _table, out
    from graphtrail.findings import Severity
    from graphtrail.graphdb.hunts import load_hunts, run_cypher_hunts, select_cypher_hunts
    from graphtrail.hunt_view import print_report

    hunts = select_cypher_hunts(load_hunts(directory), list(names))
    if list_only:
        if as_json:
            _print_json([
                {"name": h.name, "family": h.family, "title": h.title, "description": h.description,
                 "severity": str(h.severity), "attack": sorted({i for t in h.techniques for i in t.ids()}),
                 "twin": h.twin, "parameters": {p.name: p.default for p in h.parameters}}
                for h in hunts
            ])  # fmt: skip
        else:
            _table(
                "Cypher hunts", ("hunt", "family", "what it looks for"), ((h.name, h.family, h.title) for h in hunts)
            )
        return
    with _driver(uri, user, database) as (driver, db):
        report = run_cypher_hunts(driver, hunts, _params(params), db)
    if as_json:
        _print_json(report.as_dict())
    else:
        print_report(out, report, least=Severity.parse(min_severity))


@neo4j_group.command()
@click.argument("query")
@URI_OPTION
@USER_OPTION
@DATABASE_OPTION
@PARAM_OPTION
@click.option("--write", is_flag=True, help="Allow the query to change the database (read-only otherwise).")
@JSON_OPTION
def query(
    query: str,
    uri: str | None,
    user: str | None,
    database: str | None,
    params: tuple[str, ...],
    write: bool,
    as_json: bool,
) -> None:
    """Run ad-hoc Cypher: QUERY is a .cypher file or the query itself; pass values with --param, never inline."""
    from graphtrail.cli import _print_json, _table
    from graphtrail.graphdb.hunts import run_query

    path = Path(query)
    text = path.read_text(encoding="utf-8") if query.endswith(".cypher") and path.is_file() else query
    with _driver(uri, user, database) as (driver, db):
        rows = run_query(driver, text, _params(params), db, write=write)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("no rows", err=True)
        return
    columns = tuple(rows[0])
    _table(f"{len(rows)} rows", columns, ([_cell(row.get(c)) for c in columns] for row in rows))


def _cell(value: Any) -> str:
    import orjson

    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
