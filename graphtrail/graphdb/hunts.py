"""The Cypher hunt library (`cypher/*.cypher`): read each file's header, run it, turn its rows into findings.

A hunt file starts with `//` header lines (`// key: value`, indented `//   ...` lines continue a value):
name, title, description, severity, attack (ATT&CK ids; `T1562.008/T1685.002` gives the v19 id too),
family, twin (the networkx hunt it mirrors, if any), compares (what the parity test compares with that
twin) and one `param: NAME = JSON-DEFAULT -- what it is` line per parameter. Each row the query returns is
one finding: `title`, `narrative`, `principals`, `keys`, `ips`, `resources` (lists of node keys), `path`
(a list of hops: maps with src, action, dst, time, event_ids, source_ip, access_key) and, optionally,
`severity` and `category`. The findings come out in the shape of `graphtrail hunt --json`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import orjson
from neo4j.exceptions import Neo4jError

from graphtrail.cloudtrail.timeparse import format_time, parse_time
from graphtrail.errors import GraphtrailError, InputError
from graphtrail.findings import Finding, Hop, Severity, Technique
from graphtrail.graphdb.connection import Neo4jConnectionError
from graphtrail.graphdb.schema import SHARED_LABEL
from graphtrail.hunts import HuntReport
from graphtrail.incidents import group_incidents

log = logging.getLogger(__name__)

REQUIRED = ("name", "title", "description", "severity", "attack", "family")
KNOWN = (*REQUIRED, "twin", "compares", "param", "returns")
_HEADER = re.compile(r"//\s?(?P<key>[a-z_]+):\s*(?P<value>.*)$")
_CONTINUATION = re.compile(r"//\s{2,}(?P<value>\S.*)$")
_PARAM = re.compile(r"(?P<name>[a-z_][a-z0-9_]*)\s*=\s*(?P<default>.+?)\s+--\s+(?P<description>.+)$")
_TECHNIQUE = re.compile(r"T\d{4}(\.\d{3})?")
_USED_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class CypherHuntError(GraphtrailError):
    """A Cypher hunt file is malformed, or a hunt was asked for that does not exist."""


@dataclass(frozen=True, slots=True)
class CypherParameter:
    name: str
    default: Any
    description: str


@dataclass(frozen=True)
class CypherHunt:
    name: str
    path: Path
    title: str
    description: str
    severity: Severity
    techniques: tuple[Technique, ...]
    family: str
    twin: str | None
    compares: str | None
    parameters: tuple[CypherParameter, ...]
    query: str

    def parameter_values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        values = {p.name: p.default for p in self.parameters}
        values.update({name: value for name, value in given.items() if name in values})
        return values


def default_directory() -> Path:
    """GRAPHTRAIL_CYPHER, else the hunts shipped with graphtrail (the project's `cypher/` folder)."""
    configured = os.environ.get("GRAPHTRAIL_CYPHER")
    return Path(configured) if configured else Path(__file__).parent / "cypher"


def parse_hunt(path: Path) -> CypherHunt:
    """Read one hunt file; a `CypherHuntError` names the file and line at fault."""
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    params: list[CypherParameter] = []
    last: str | None = None
    body_start = 0
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped.startswith("//"):
            body_start = number - 1
            break
        continuation = _CONTINUATION.match(stripped)
        header = _HEADER.match(stripped)
        if header and header.group("key") in KNOWN and not continuation:
            key, value = header.group("key"), header.group("value").strip()
            if key == "param":
                params.append(_parameter(path, number, value))
            elif key in fields:
                raise CypherHuntError(f"{path}:{number}: header {key!r} given twice")
            else:
                fields[key] = value
            last = key
        elif continuation and last is not None and last != "param":
            fields[last] += " " + continuation.group("value").strip()
        elif stripped in ("//", ""):
            last = None
        else:
            raise CypherHuntError(f"{path}:{number}: not a header line (`// key: value`): {stripped[:60]!r}")
    else:
        body_start = len(lines)
    missing = [key for key in REQUIRED if not fields.get(key)]
    if missing:
        raise CypherHuntError(f"{path}: header lacks {', '.join(missing)}")
    if fields["name"] != path.stem:
        raise CypherHuntError(f"{path}: header name {fields['name']!r} differs from the file name")
    try:
        severity = Severity.parse(fields["severity"])
    except ValueError as exc:
        raise CypherHuntError(f"{path}: {exc}") from None
    query = "\n".join(lines[body_start:]).strip()
    if not query:
        raise CypherHuntError(f"{path}: no query after the header")
    declared = {p.name for p in params}
    used = set(_USED_PARAM.findall(query))
    if used - declared:
        raise CypherHuntError(f"{path}: parameters used but not declared: {', '.join(sorted(used - declared))}")
    if declared - used:
        raise CypherHuntError(f"{path}: parameters declared but not used: {', '.join(sorted(declared - used))}")
    return CypherHunt(
        name=fields["name"],
        path=path,
        title=fields["title"],
        description=fields["description"],
        severity=severity,
        techniques=_techniques(path, fields["attack"]),
        family=fields["family"],
        twin=fields.get("twin") or None,
        compares=fields.get("compares") or None,
        parameters=tuple(params),
        query=query,
    )


def _parameter(path: Path, number: int, text: str) -> CypherParameter:
    match = _PARAM.match(text)
    if not match:
        raise CypherHuntError(f"{path}:{number}: a parameter reads `param: name = JSON-DEFAULT -- description`")
    try:
        default = orjson.loads(match.group("default"))
    except orjson.JSONDecodeError:
        raise CypherHuntError(f"{path}:{number}: default of {match.group('name')!r} is not JSON") from None
    return CypherParameter(match.group("name"), default, match.group("description"))


def _techniques(path: Path, text: str) -> tuple[Technique, ...]:
    techniques = []
    for item in (part.strip() for part in text.split(",")):
        ids = item.split("/")
        if not item or not all(_TECHNIQUE.fullmatch(i) for i in ids) or len(ids) > 2:
            raise CypherHuntError(f"{path}: {item!r} is not an ATT&CK technique id (T1234 or T1234.001[/v19 id])")
        techniques.append(Technique(ids[0], ids[0], ids[1] if len(ids) == 2 else None))
    return tuple(techniques)


def load_hunts(directory: Path | None = None) -> list[CypherHunt]:
    """Every hunt in `directory` (default: `default_directory()`), by name."""
    folder = directory or default_directory()
    if not folder.is_dir():
        raise InputError(f"no Cypher hunt folder at {folder} (set GRAPHTRAIL_CYPHER to the project's cypher/ folder)")
    return sorted((parse_hunt(path) for path in folder.glob("*.cypher")), key=lambda hunt: hunt.name)


def select_cypher_hunts(hunts: Sequence[CypherHunt], names: Sequence[str]) -> list[CypherHunt]:
    """The hunts named (by hunt or family name), or all."""
    if not names:
        return list(hunts)
    known = {h.name for h in hunts} | {h.family for h in hunts}
    unknown = sorted(set(names) - known)
    if unknown:
        raise CypherHuntError(f"unknown Cypher hunt {', '.join(unknown)}; see `graphtrail neo4j hunt --list`")
    return [h for h in hunts if h.name in names or h.family in names]


def parse_param(text: str) -> tuple[str, Any]:
    """`k=v` from the command line: v as JSON when it parses (numbers, lists, null), else as a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"--param {text!r}: write it as NAME=VALUE")
    try:
        return name.strip(), orjson.loads(value)
    except orjson.JSONDecodeError:
        return name.strip(), value


# -- running ------------------------------------------------------------------------------------------------


def baseline_end(session: neo4j.Session, fraction: float) -> str | None:
    """The end of the baseline, as `HuntContext.baseline_end` computes it, from the loaded graph's time span."""
    record = session.run(
        f"MATCH (n:{SHARED_LABEL}) RETURN min(n.first_seen) AS first, max(n.last_seen) AS last"
    ).single()
    if record is None or not record["first"]:
        return None
    start, end = parse_time(record["first"]), parse_time(record["last"])
    return format_time(start + (end - start) * fraction)


def run_query(
    driver: neo4j.Driver,
    query: str,
    params: Mapping[str, Any] | None = None,
    database: str | None = None,
    *,
    write: bool = False,
) -> list[dict[str, Any]]:
    """Run a query (parameters passed, never formatted in) in a read transaction, or a write one if `write`,
    and return its rows as plain dicts."""

    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return [record.data() for record in tx.run(query, dict(params or {}))]

    try:
        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        with driver.session(database=database, default_access_mode=mode) as session:
            return session.execute_write(work) if write else session.execute_read(work)
    except Neo4jError as exc:
        raise Neo4jConnectionError(f"Neo4j refused the query: {exc.message or exc}") from None


def run_cypher_hunt(
    driver: neo4j.Driver, hunt: CypherHunt, params: Mapping[str, Any] | None = None, database: str | None = None
) -> list[Finding]:
    values = hunt.parameter_values(params or {})
    if "baseline_end" in values and values["baseline_end"] is None:
        with driver.session(database=database) as session:
            values["baseline_end"] = baseline_end(session, float(values.get("baseline_fraction", 0.3)))
    rows = run_query(driver, hunt.query, values, database)
    return [finding_from_row(hunt, row) for row in rows]


def finding_from_row(hunt: CypherHunt, row: Mapping[str, Any]) -> Finding:
    hops = [_hop(hunt, hop) for hop in row.get("path") or []]
    if not hops:
        raise CypherHuntError(f"{hunt.path}: a row without a path (each finding needs at least one hop)")
    severity = Severity.parse(row["severity"]) if row.get("severity") else hunt.severity
    finding = Finding(
        hunt=hunt.name,
        category=str(row.get("category") or f"cypher:{hunt.name}"),
        title=str(row.get("title") or hunt.title),
        severity=severity,
        confidence=float(row.get("confidence") or 0.7),
        techniques=list(hunt.techniques),
        path=hops,
        narrative=str(row.get("narrative") or hunt.description),
    )
    for name in ("principals", "keys", "ips", "resources"):
        getattr(finding, name).update(str(item) for item in row.get(name) or () if item is not None)
    return finding


def _hop(hunt: CypherHunt, hop: Any) -> Hop:
    if not isinstance(hop, Mapping) or not hop.get("src") or not hop.get("dst"):
        raise CypherHuntError(f"{hunt.path}: a hop must be a map with src, action, dst (got {hop!r:.80})")
    return Hop(
        src=str(hop["src"]),
        action=str(hop.get("action") or ""),
        dst=str(hop["dst"]),
        time=str(hop.get("time") or ""),
        event_ids=tuple(str(e) for e in hop.get("event_ids") or ()),
        source_ip=hop.get("source_ip"),
        access_key=hop.get("access_key"),
    )


def run_cypher_hunts(
    driver: neo4j.Driver,
    hunts: Sequence[CypherHunt],
    params: Mapping[str, Any] | None = None,
    database: str | None = None,
) -> HuntReport:
    """Run the hunts; findings ordered and grouped into incidents as `graphtrail hunt` does."""
    found: dict[str, Finding] = {}
    for hunt in hunts:
        log.info("running Cypher hunt %s", hunt.name)
        for finding in run_cypher_hunt(driver, hunt, params, database):
            found.setdefault(finding.id, finding)
    findings = sorted(found.values(), key=lambda f: (-f.severity, f.first_seen, f.id))
    return HuntReport(findings, group_incidents(findings, {}), [hunt.name for hunt in hunts])
