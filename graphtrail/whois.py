"""`whois`: everything the case knows about one access key or principal, with its lineage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from graphtrail import arn as arns
from graphtrail.case import Case
from graphtrail.errors import GraphtrailError
from graphtrail.lineage import KeyLineage, chain_of
from graphtrail.schema import AUTHENTICATES, SESSION_OF


@dataclass(frozen=True, slots=True)
class ActionSummary:
    name: str
    count: int
    errors: int
    first_seen: str
    last_seen: str
    targets: list[str]


@dataclass
class WhoisReport:
    subject: str
    kind: str
    account: str | None
    name: str | None
    first_seen: str | None
    last_seen: str | None
    acts_as: str | None = None  # for a key: the principal it authenticates as
    properties: dict[str, Any] = field(default_factory=dict)
    minted: KeyLineage | None = None
    chain: list[KeyLineage] = field(default_factory=list)  # back towards a long-term key, newest first
    long_term_origin: str | None = None  # the AKIA key or service at the root of the chain
    keys: list[str] = field(default_factory=list)  # for a principal: keys seen acting as it
    sessions: list[str] = field(default_factory=list)  # for a role: its sessions
    source_ips: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    actions: list[ActionSummary] = field(default_factory=list)
    minted_keys: list[KeyLineage] = field(default_factory=list)
    event_count: int = 0
    ip_owners: dict[str, str] = field(default_factory=dict)  # address -> "AWS EC2 us-east-1" / "outside AWS"
    seen_with: list[tuple[str, str, int]] = field(default_factory=list)  # for an IP: (key or principal, kind, calls)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnknownSubject(GraphtrailError):
    """The key or ARN is not in the case."""


def whois(case: Case, subject: str) -> WhoisReport:
    subject = subject.strip()
    row = case.db.execute(
        "SELECT key, kind, account, name, first_seen, last_seen, props FROM nodes WHERE key=?", (subject,)
    ).fetchone()
    if row is None:
        row = _find_by_name(case, subject)
    if row is None:
        raise UnknownSubject(f"{subject!r} is not a key, ARN or name in {case.path}")
    key, kind, account, name, first_seen, last_seen, props_blob = row
    props = orjson.loads(props_blob)
    report = WhoisReport(subject=key, kind=kind, account=account, name=name, first_seen=first_seen, last_seen=last_seen)
    report.properties = {k: (sorted(v) if isinstance(v, dict) else v) for k, v in props.items()}
    report.source_ips = sorted(props.get("source_ips", {}))
    report.user_agents = sorted(props.get("user_agents", {}))
    lineage = case.lineage()

    if kind == "IP":
        report.seen_with = [
            (src, src_kind or "?", count)
            for src, src_kind, count in case.db.execute(
                "SELECT e.src, n.kind, e.count FROM edges e LEFT JOIN nodes n ON n.key = e.src "
                "WHERE e.dst=? AND e.type='FROM_IP' ORDER BY e.count DESC, e.src",
                (key,),
            )
        ]
        report.event_count = int(case.scalar("SELECT count(*) FROM events WHERE source_ip=?", (key,)) or 0)
        report.actions = _actions(case, "source_ip", key)
    elif kind == "AccessKey":
        report.acts_as = _single(case, "SELECT dst FROM edges WHERE src=? AND type=?", (key, AUTHENTICATES))
        report.minted = lineage.get(key)
        report.chain = chain_of(key, lineage)
        report.long_term_origin = _origin(report.chain, key)
        report.actions = _actions(case, "access_key", key)
        report.minted_keys = sorted(
            (item for item in lineage.values() if item.issuer_key == key),
            key=lambda item: (item.time or "", item.access_key_id),
        )
        report.event_count = int(case.scalar("SELECT count(*) FROM events WHERE access_key=?", (key,)) or 0)
    else:
        report.keys = [
            r[0]
            for r in case.db.execute(
                "SELECT src FROM edges WHERE dst=? AND type=? ORDER BY first_seen", (key, AUTHENTICATES)
            )
        ]
        if kind == "Role":
            report.sessions = [
                r[0]
                for r in case.db.execute(
                    "SELECT src FROM edges WHERE dst=? AND type=? ORDER BY first_seen", (key, SESSION_OF)
                )
            ]
        if report.keys:
            first_key = report.keys[0]
            report.minted = lineage.get(first_key)
            report.chain = chain_of(first_key, lineage)
            report.long_term_origin = _origin(report.chain, first_key)
        ips = case.db.execute("SELECT dst FROM edges WHERE src=? AND type='FROM_IP' ORDER BY dst", (key,))
        report.source_ips = [r[0] for r in ips]
        agents = case.db.execute(
            "SELECT DISTINCT user_agent FROM events WHERE actor=? AND user_agent IS NOT NULL ORDER BY 1 LIMIT 50",
            (key,),
        )
        report.user_agents = [r[0] for r in agents]
        report.actions = _actions(case, "actor", key)
        report.minted_keys = sorted(
            (item for item in lineage.values() if item.issuer == key),
            key=lambda item: (item.time or "", item.access_key_id),
        )
        report.event_count = int(case.scalar("SELECT count(*) FROM events WHERE actor=?", (key,)) or 0)
    report.ip_owners = _ip_owners(case, report.source_ips if kind != "IP" else [key])
    return report


def _ip_owners(case: Case, addresses: list[str]) -> dict[str, str]:
    owners = {}
    for address in addresses:
        row = case.db.execute("SELECT props FROM nodes WHERE key=? AND kind='IP'", (address,)).fetchone()
        if row is None:
            continue
        props = orjson.loads(row[0])
        if props.get("is_aws"):
            owners[address] = " ".join(
                str(part) for part in ("AWS", props.get("aws_service"), props.get("aws_region")) if part
            )
        elif props.get("private"):
            owners[address] = "private address"
        else:
            owners[address] = "outside AWS"
    return owners


def _find_by_name(case: Case, subject: str) -> tuple | None:
    rows = case.db.execute(
        "SELECT key, kind, account, name, first_seen, last_seen, props FROM nodes "
        "WHERE name=? AND kind != 'IP' LIMIT 2",
        (subject,),
    ).fetchall()
    return rows[0] if len(rows) == 1 else None


def _single(case: Case, sql: str, params: tuple) -> str | None:
    row = case.db.execute(sql, params).fetchone()
    return row[0] if row else None


def _origin(chain: list[KeyLineage], key: str) -> str | None:
    if not chain:
        return key if not arns.is_temporary_key(key) else None
    last = chain[-1]
    if last.issuer_key and not arns.is_temporary_key(last.issuer_key):
        return last.issuer_key
    return last.issuer


def _actions(case: Case, column: str, value: str) -> list[ActionSummary]:
    assert column in ("actor", "access_key", "source_ip")
    rows = case.db.execute(
        f"SELECT name, count(*), count(error_code), min(time), max(time) FROM events WHERE {column}=? "
        "GROUP BY name ORDER BY min(time), name",
        (value,),
    ).fetchall()
    summaries = []
    for name, count, errors, first, last in rows:
        targets = [
            r[0]
            for r in case.db.execute(
                f"SELECT DISTINCT target FROM events WHERE {column}=? AND name=? AND target IS NOT NULL LIMIT 5",
                (value, name),
            )
        ]
        summaries.append(ActionSummary(name, count, errors, first, last, targets))
    return summaries
