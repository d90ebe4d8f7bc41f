"""Small pieces every hunt uses: bursts of events, who-did-it phrases, and a finding built from events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TypeVar

from graphtrail import arn as arns
from graphtrail.cloudtrail.timeparse import format_time, parse_time
from graphtrail.findings import Finding, Hop, Severity, Technique
from graphtrail.hunts.context import HuntContext, HuntEvent, seconds_between

T = TypeVar("T", bound=HuntEvent)

# ATT&CK techniques the hunts cite (ids before v19, and the v19 id where it changed).
VALID_CLOUD_ACCOUNTS = Technique("T1078.004", "Valid Accounts: Cloud Accounts")
ADDITIONAL_CLOUD_CREDENTIALS = Technique("T1098.001", "Account Manipulation: Additional Cloud Credentials")
ADDITIONAL_CLOUD_ROLES = Technique("T1098.003", "Account Manipulation: Additional Cloud Roles")
CREATE_CLOUD_ACCOUNT = Technique("T1136.003", "Create Account: Cloud Account")
APPLICATION_ACCESS_TOKEN = Technique("T1550.001", "Use Alternate Authentication Material: Application Access Token")
TEMPORARY_ELEVATED_ACCESS = Technique("T1548.005", "Abuse Elevation Control Mechanism: Temporary Elevated Cloud Access")
CLOUD_INFRASTRUCTURE_DISCOVERY = Technique("T1580", "Cloud Infrastructure Discovery")
CLOUD_SERVICE_DISCOVERY = Technique("T1526", "Cloud Service Discovery")
CLOUD_ACCOUNT_DISCOVERY = Technique("T1087.004", "Account Discovery: Cloud Account")
STORAGE_OBJECT_DISCOVERY = Technique("T1619", "Cloud Storage Object Discovery")
DATA_FROM_CLOUD_STORAGE = Technique("T1530", "Data from Cloud Storage")
TRANSFER_TO_CLOUD_ACCOUNT = Technique("T1537", "Transfer Data to Cloud Account")
CLOUD_ADMINISTRATION_COMMAND = Technique("T1651", "Cloud Administration Command")
CLOUD_SERVICES = Technique("T1021.007", "Remote Services: Cloud Services")
INSTANCE_METADATA = Technique("T1552.005", "Unsecured Credentials: Cloud Instance Metadata API")
BRUTE_FORCE = Technique("T1110", "Brute Force")
PASSWORD_GUESSING = Technique("T1110.001", "Brute Force: Password Guessing")
DISABLE_CLOUD_LOGS = Technique("T1562.008", "Impair Defenses: Disable or Modify Cloud Logs", v19="T1685.002")
DISABLE_CLOUD_FIREWALL = Technique("T1562.007", "Impair Defenses: Disable or Modify Cloud Firewall", v19="T1686.001")
DISABLE_TOOLS = Technique("T1562.001", "Impair Defenses: Disable or Modify Tools", v19="T1685")
MODIFY_CLOUD_HIERARCHY = Technique("T1666", "Modify Cloud Resource Hierarchy")
SERVERLESS_EXECUTION = Technique("T1648", "Serverless Execution")
CREATE_CLOUD_INSTANCE = Technique("T1578.002", "Modify Cloud Compute Infrastructure: Create Cloud Instance")


def bursts(events: Iterable[T], gap_seconds: float, key: Callable[[T], object]) -> list[list[T]]:
    """Events (in time order) split per `key` into runs with no more than `gap_seconds` between neighbours."""
    open_runs: dict[object, list[T]] = {}
    done: list[list[T]] = []
    for event in events:
        group = key(event)
        run = open_runs.get(group)
        if run is not None and seconds_between(run[-1].time, event.time) > gap_seconds:
            done.append(run)
            run = None
        if run is None:
            run = open_runs[group] = []
        run.append(event)
    done.extend(open_runs.values())
    return sorted(done, key=lambda run: (run[0].time, run[0].id))


def who(event: HuntEvent) -> str:
    """'arn:… (key AKIA…, from 198.51.100.7)': the actor as a responder wants it in a sentence."""
    return describe_caller(event.row.actor, event.row.access_key, event.row.source_ip)


def describe_caller(actor: str, key: str | None, ip: str | None) -> str:
    details = [part for part in (f"key {key}" if key else "", f"from {ip}" if ip else "") if part]
    return f"{actor} ({', '.join(details)})" if details else actor


def account_of(principal: str | None) -> str | None:
    """The account of a principal named by ARN, or the id itself when an account is the principal."""
    if arns.is_account_id(principal):
        return principal
    parsed = arns.parse_arn(principal)
    return parsed.account if parsed is not None and parsed.account else None


def finding_from(
    context: HuntContext,
    hunt: str,
    category: str,
    title: str,
    severity: Severity,
    confidence: float,
    techniques: Sequence[Technique],
    events: Sequence[HuntEvent],
    narrative: str,
    *,
    hops: Sequence[Hop] | None = None,
) -> Finding:
    """A finding whose path is `hops` (default: one hop per event) and whose entities are the events' own
    (addresses only when outside: those are what incidents are joined on and what a responder blocks)."""
    finding = Finding(
        hunt=hunt,
        category=category,
        title=title,
        severity=severity,
        confidence=confidence,
        techniques=list(techniques),
        path=list(hops) if hops is not None else [event.hop() for event in events],
        narrative=narrative,
    )
    for event in events:
        row = event.row
        finding.principals.add(row.actor)
        if row.access_key:
            finding.keys.add(row.access_key)
        if row.source_ip and context.is_outside_call(row):
            finding.ips.add(row.source_ip)
        if event.target and event.target != row.source:
            finding.resources.add(event.target)
    return finding


def address_known(
    context: HuntContext,
    ip: str,
    *,
    during: tuple[str, str],
    principal: str | None = None,
    margin_seconds: int = 3600,
) -> bool:
    """Whether `ip` was seen in the baseline (by `principal`, if given) outside `during` (first, last time).

    The activity under review and the hour around it (less in a short case: a twentieth of its baseline) are
    left out, so an intruder's address counts as new even when the intrusion falls inside the baseline
    period (small cases, early attacks), while an address the organisation uses on other occasions is known.
    """
    source = context.baseline_case or context.case
    sql, values = "SELECT 1 FROM events WHERE source_ip=?", [ip]
    if principal is not None:
        sql += " AND actor=?"
        values.append(principal)
    if context.baseline_case is None:
        baseline = seconds_between(context.span[0], context.baseline_end) if context.span[0] else 0.0
        margin = timedelta(seconds=min(margin_seconds, baseline / 20))
        first, last = format_time(parse_time(during[0]) - margin), format_time(parse_time(during[1]) + margin)
        sql += " AND time < ? AND (time < ? OR time > ?)"
        values.extend((context.baseline_end, first, last))
    return source.db.execute(sql + " LIMIT 1", values).fetchone() is not None


def is_new_address(
    context: HuntContext,
    ip: str | None,
    access_key: str | None,
    *,
    during: tuple[str, str],
    principal: str | None = None,
) -> bool:
    """Where an intruder shows rather than where the organisation (or `principal`) works: an outside address
    (`HuntContext.is_outside_use`) that the baseline does not know (`address_known`, `during` left out)."""
    if not ip or not context.is_outside_use(ip, access_key):
        return False
    return not address_known(context, ip, during=during, principal=principal)
