"""Activity: how a stolen credential behaves in its first minutes, whatever it goes on to do.

Thieves test a key (GetCallerIdentity), then ask every service what they may see (List*/Describe*/Get* across
services, most of it refused), often with tools whose user agent gives them away, and in volumes the
credential's owner never produced. These hunts count with SQL over the whole case and inspect only the
events of the bursts they report, so they stay fast on a million events.

People browsing the console also fire many Describe calls at once, and AWS services (Config) describe
everything every hour; both are told apart by where the calls come from (the console, a service's own
session, an address the organisation already used) rather than by how many there are.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from typing import Any, NamedTuple

from graphtrail.cloudtrail.timeparse import format_time, shift_time
from graphtrail.findings import Finding, Hop, Severity, Technique
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import (
    CLOUD_ACCOUNT_DISCOVERY,
    CLOUD_INFRASTRUCTURE_DISCOVERY,
    CLOUD_SERVICE_DISCOVERY,
    DATA_FROM_CLOUD_STORAGE,
    STORAGE_OBJECT_DISCOVERY,
    VALID_CLOUD_ACCOUNTS,
    describe_caller,
    finding_from,
    is_new_address,
)
from graphtrail.hunts.context import HuntContext, HuntEvent

# Denied-call error codes (reference section 5.1); anything NotAuthorized/Forbidden-like counts too.
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation", "UnauthorizedOperation",
     "VpceAccessDenied"}
)  # fmt: skip
_DENIED_WHERE = (
    f"(error_code IN ({','.join('?' * len(DENIED_CODES))}) "
    "OR error_code LIKE '%NotAuthorized%' OR error_code LIKE '%Forbidden%')"
)
_DENIED_PARAMS = tuple(sorted(DENIED_CODES))

# Get* calls that read secrets or mint credentials: credential access, not a look around.
NOT_RECON = frozenset(
    {"GetObject", "GetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath", "GetPasswordData",
     "GetSessionToken", "GetFederationToken", "GetSigninToken", "GetAuthorizationToken", "GetRoleCredentials",
     "GetBucketObjectLockConfiguration"}
)  # fmt: skip
_READ_PREFIXES = ("List", "Describe", "Get")
_READ_WHERE = (
    "(name LIKE 'List%' OR name LIKE 'Describe%' OR name LIKE 'Get%') AND category != 'Data' "
    f"AND name NOT IN ({','.join('?' * len(NOT_RECON))})"
)
_READ_PARAMS = tuple(sorted(NOT_RECON))

# The console's own calls: the console proxies them (AWS Internal, aws-internal/3) or the browser makes them.
_CONSOLE_AGENTS = re.compile(
    r"^(AWS Internal|console\.amazonaws\.com|signin\.amazonaws\.com|console\.[a-z0-9-]+\.amazonaws\.com)$"
    r"|aws-internal/|^\[?S3Console/|^Mozilla/",
    re.IGNORECASE,
)
# Infrastructure as code refreshes state with bursts of reads; without other signs that is not recon.
_IAC_AGENTS = re.compile(r"Terraform|Pulumi|aws-cdk|cloudformation\.amazonaws\.com", re.IGNORECASE)
HOUR = 3600


@dataclass(frozen=True)
class Tool:
    """An attacker or testing tool recognised from its user agent."""

    name: str
    pattern: re.Pattern[str]
    kind: str  # offensive | emulation | client | stale
    what: str  # what it is, for the narrative


TOOLS = (
    Tool("Kali Linux", re.compile(r"distrib#kali|\+kali|kali-(amd64|arm64|i386)", re.I), "offensive",
         "the Kali penetration-testing distribution (GuardDuty reports it as PenTest:IAMUser/KaliLinux)"),
    Tool("Parrot Security", re.compile(r"distrib#parrot|parrot-(amd64|arm64)|parrotsec", re.I), "offensive",
         "the Parrot Security penetration-testing distribution"),
    Tool("Pentoo", re.compile(r"pentoo", re.I), "offensive", "the Pentoo penetration-testing distribution"),
    Tool("TruffleHog", re.compile(r"trufflehog", re.I), "offensive",
         "TruffleHog, a secret scanner that checks every key it finds with GetCallerIdentity"),
    Tool("Pacu", re.compile(r"\bpacu\b|pacu-session", re.I), "offensive", "Pacu, the AWS exploitation framework"),
    Tool("Stratus Red Team", re.compile(r"stratus-red-team", re.I), "emulation",
         "Stratus Red Team, an adversary emulation tool (confirm whether a test was scheduled)"),
    Tool("Grimoire", re.compile(r"grimoire_", re.I), "emulation",
         "Grimoire, an adversary emulation tool (confirm whether a test was scheduled)"),
    Tool("S3 Browser", re.compile(r"S3 Browser", re.I), "client",
         "S3 Browser, a Windows GUI client often used to copy buckets out"),
    Tool("Cyberduck", re.compile(r"Cyberduck", re.I), "client", "Cyberduck, a GUI file-transfer client"),
)  # fmt: skip
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# Old SDKs (2015-2019) seen years later: Pacu swaps in such agents when it runs on Kali, Parrot or Pentoo.
_STALE_AGENT = re.compile(r"aws-cli/1\.(\d|1[0-6])\.\d+|Boto3/1\.[4-9]\.\d+ ", re.I)
_STALE_AFTER_YEAR = 2021
STALE_SDK = Tool("an outdated SDK", _STALE_AGENT, "stale",
                 "an AWS CLI or Boto3 release from before 2020, as Pacu substitutes for its own agent")  # fmt: skip


def tool_of(agent: str | None, time: str = "") -> Tool | None:
    """The tool an agent names, if any; old SDK agents count only on events years after their release."""
    if not agent:
        return None
    tool = _agent_tool(agent)
    if tool is STALE_SDK and time[:4] < str(_STALE_AFTER_YEAR):
        return None
    return tool


@lru_cache(maxsize=4096)
def _agent_tool(agent: str) -> Tool | None:
    """Agents repeat across millions of events: match each distinct one once."""
    for tool in TOOLS:
        if tool.pattern.search(agent):
            return tool
    return STALE_SDK if _STALE_AGENT.search(agent) else None


def is_denied(error_code: str | None) -> bool:
    if not error_code:
        return False
    return error_code in DENIED_CODES or "notauthorized" in error_code.lower() or "forbidden" in error_code.lower()


def is_read_name(name: str) -> bool:
    return name.startswith(_READ_PREFIXES) and name not in NOT_RECON


def service_made(ip: str | None) -> bool:
    """sourceIPAddress naming an AWS service (config.amazonaws.com, AWS Internal): the service made the call."""
    return bool(ip) and ":" not in ip and any(ch.isalpha() for ch in ip)  # type: ignore[union-attr]


def console_agent(agent: str | None) -> bool:
    return bool(agent) and _CONSOLE_AGENTS.search(agent) is not None  # type: ignore[arg-type]


class _Call(NamedTuple):
    """An event's columns, without its record: what burst detection needs for thousands of rows."""

    event_id: str
    time: str
    epoch: int
    name: str
    source: str
    error_code: str | None
    user_agent: str | None
    source_ip: str | None


_CALL_COLUMNS = "event_id, time, CAST(strftime('%s', time) AS INTEGER), name, source, error_code, user_agent, source_ip"


# --- recon-burst ---------------------------------------------------------------------------------------------


def recon_burst(context: HuntContext) -> Iterator[Finding]:
    thresholds = context.config.thresholds
    window, services = thresholds.recon_seconds, thresholds.recon_services
    least = max(services, (thresholds.recon_calls + 1) // 2)  # a smaller burst counts only with other signs

    def enough(names: Counter[str], sources: Counter[str], _: int) -> bool:
        return len(names) >= least and len(sources) >= services

    for (actor, key, ip), calls in _recon_candidates(context, window, least, services):
        for run in _dense_runs(calls, window, enough):
            finding = _recon_finding(context, actor, key, ip, run)
            if finding is not None:
                yield finding


def _recon_candidates(
    context: HuntContext, window: int, least_names: int, least_services: int
) -> Iterator[tuple[tuple[str, str | None, str | None], list[_Call]]]:
    """Read-only calls per principal, key and address, only around the windows that could hold a burst.

    SQL counts distinct calls and services per fixed window; any sliding window lies within two neighbouring
    fixed ones, so their sum bounds it, and only those stretches are read row by row.
    """
    db = context.case.db
    sql = (
        f"SELECT actor, access_key, source_ip, CAST(strftime('%s', time) AS INTEGER) / ? AS bucket, "
        f"count(DISTINCT name), count(DISTINCT source) FROM events WHERE {_READ_WHERE} AND actor_kind != 'Service' "
        "GROUP BY actor, access_key, source_ip, bucket"
    )
    counts: dict[tuple[str, str | None, str | None], dict[int, tuple[int, int]]] = defaultdict(dict)
    for actor, key, ip, bucket, names, sources in db.execute(sql, (window, *_READ_PARAMS)):
        if not service_made(ip):
            counts[(actor, key, ip)][bucket] = (names, sources)
    for group, buckets in counts.items():
        starts = []
        for bucket, (names, sources) in buckets.items():
            next_names, next_sources = buckets.get(bucket + 1, (0, 0))
            if names + next_names >= least_names and sources + next_sources >= least_services:
                starts.append(bucket)
        for first, last in _merge_spans(sorted(starts)):
            actor, key, ip = group
            rows = db.execute(
                f"SELECT {_CALL_COLUMNS} FROM events WHERE actor=? AND access_key IS ? AND source_ip IS ? "
                f"AND time >= ? AND time < ? AND {_READ_WHERE} ORDER BY time, event_id",
                (actor, key, ip, _epoch_text(first * window), _epoch_text((last + 2) * window), *_READ_PARAMS),
            )
            yield group, [_Call(*row) for row in rows]


def _merge_spans(starts: list[int]) -> list[tuple[int, int]]:
    """Bucket pairs (b, b+1) that overlap or touch, as (first b, last b)."""
    spans: list[list[int]] = []
    for bucket in starts:
        if spans and bucket <= spans[-1][1] + 2:
            spans[-1][1] = bucket
        else:
            spans.append([bucket, bucket])
    return [(a, b) for a, b in spans]


def _epoch_text(epoch: int) -> str:
    return format_time(datetime.fromtimestamp(epoch, UTC))


def _dense_runs(
    calls: Sequence[_Call], seconds: int, enough: Callable[[Counter[str], Counter[str], int], bool]
) -> list[list[_Call]]:
    """Stretches (in time order) where some window of `seconds` satisfies `enough`; overlapping windows merge."""
    names: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    runs: list[list[int]] = []
    start = 0
    for end, call in enumerate(calls):
        names[call.name] += 1
        sources[call.source] += 1
        while call.epoch - calls[start].epoch > seconds:
            _drop(names, calls[start].name)
            _drop(sources, calls[start].source)
            start += 1
        if enough(names, sources, end - start + 1):
            if runs and start <= runs[-1][1] + 1:
                runs[-1][1] = end
            else:
                runs.append([start, end])
    return [list(calls[first : last + 1]) for first, last in runs]


def _drop(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


@dataclass
class _Signs:
    """What makes a burst of calls look like an intruder rather than its owner."""

    denied: int
    heavy_denials: bool  # at least three refused, and a third of the calls or more
    new_addresses: list[str]  # outside addresses the organisation never used before
    tool: Tool | None
    console: bool  # every call came through the console
    root: bool

    @property
    def corroborated(self) -> bool:
        return self.heavy_denials or bool(self.new_addresses) or self.tool is not None or self.root

    @property
    def offensive(self) -> bool:
        """An attacker's tool, not an emulation someone may have scheduled."""
        return self.tool is not None and self.tool.kind == "offensive"


def _signs(context: HuntContext, calls: Sequence[_Call], actor_kind: str, key: str | None) -> _Signs:
    start = calls[0].time
    denied = sum(1 for call in calls if is_denied(call.error_code))
    addresses = sorted({call.source_ip for call in calls if call.source_ip})
    new = [ip for ip in addresses if is_new_address(context, ip, key, during=(start, calls[-1].time))]
    tools = Counter(tool for call in calls if (tool := tool_of(call.user_agent, call.time)) is not None)
    tool = next(
        (t for t, n in tools.most_common() if t.kind in ("offensive", "emulation") and n * 3 >= len(calls)), None
    )
    return _Signs(
        denied=denied,
        heavy_denials=denied >= 3 and denied * 3 >= len(calls),
        new_addresses=new,
        tool=tool,
        console=all(console_agent(call.user_agent) for call in calls),
        root=actor_kind == "Root",
    )


def _actor_kind(context: HuntContext, event_id: str) -> str:
    row = context.case.db.execute("SELECT actor_kind FROM events WHERE event_id=?", (event_id,)).fetchone()
    return str(row[0]) if row else ""


def _recon_finding(
    context: HuntContext, actor: str, key: str | None, ip: str | None, calls: list[_Call]
) -> Finding | None:
    thresholds = context.config.thresholds
    names = Counter(call.name for call in calls)
    services = sorted({call.source.split(".")[0] for call in calls})
    full = len(names) >= thresholds.recon_calls
    signs = _signs(context, calls, _actor_kind(context, calls[0].event_id), key)
    if not full and not signs.corroborated:
        return None
    if context.is_automation(actor) and not signs.new_addresses:
        return None
    if signs.console and not (signs.new_addresses and signs.heavy_denials):
        if not signs.new_addresses and not signs.heavy_denials:
            return None  # someone browsing the console from where the organisation works
        severity, confidence = Severity.LOW, 0.35  # console pages a user may not open, or a new place to work
    elif signs.heavy_denials and (signs.new_addresses or signs.offensive or signs.root or full):
        severity, confidence = Severity.HIGH, 0.85
    elif signs.root and signs.new_addresses:
        severity, confidence = Severity.HIGH, 0.8
    elif signs.corroborated:
        severity, confidence = Severity.MEDIUM, 0.6
    elif sum(1 for call in calls if call.user_agent and _IAC_AGENTS.search(call.user_agent)) * 2 >= len(calls):
        return None  # infrastructure as code refreshing its state
    else:
        severity, confidence = Severity.LOW, 0.35
    seconds = calls[-1].epoch - calls[0].epoch
    refused = _refusals(calls)
    followed = _what_followed(context, actor, key, calls[-1].time, [ip] if ip else [])
    narrative = (
        f"{describe_caller(actor, key, ip)} made {len(calls)} read-only calls ({len(names)} different, to "
        f"{len(services)} "
        f"services: {', '.join(services)}) within {_duration(seconds)}, {calls[0].time} to {calls[-1].time}: "
        f"{_summary(names)}. {refused}{_sign_sentences(signs)}{followed}"
    ).strip()
    events = _inspect(context, [call.event_id for call in calls])  # only the bursts worth reporting
    hops = _hops_by_name(events)
    title = f"Reconnaissance burst: {len(names)} different read-only calls to {len(services)} services"
    return finding_from(
        context, "recon-burst", "discovery:recon-burst" + ("-with-denials" if signs.heavy_denials else ""), title,
        severity, confidence, _discovery_techniques(calls), events, narrative, hops=hops,
    )  # fmt: skip


def _discovery_techniques(calls: Iterable[_Call]) -> list[Technique]:
    sources = {call.source for call in calls}
    names = {call.name for call in calls}
    techniques = [CLOUD_INFRASTRUCTURE_DISCOVERY, CLOUD_SERVICE_DISCOVERY]
    if sources & {"iam.amazonaws.com", "sts.amazonaws.com", "organizations.amazonaws.com", "sso.amazonaws.com"}:
        techniques.append(CLOUD_ACCOUNT_DISCOVERY)
    if names & {"ListBuckets", "ListObjects", "ListObjectsV2", "GetBucketAcl", "GetBucketPolicy"}:
        techniques.append(STORAGE_OBJECT_DISCOVERY)
    return techniques


# --- denied-burst ------------------------------------------------------------------------------------------------


def denied_burst(context: HuntContext) -> Iterator[Finding]:
    thresholds = context.config.thresholds
    rows = context.case.db.execute(
        f"SELECT actor, access_key, {_CALL_COLUMNS} FROM events WHERE {_DENIED_WHERE} AND actor_kind != 'Service' "
        "ORDER BY actor, access_key, time, event_id",
        _DENIED_PARAMS,
    )

    def enough(_: Counter[str], __: Counter[str], count: int) -> bool:
        return count >= thresholds.denied_calls

    for (actor, key), group in groupby(rows, key=lambda row: (row[0], row[1])):
        calls = [_Call(*row[2:]) for row in group if not service_made(row[9])]
        for run in _dense_runs(calls, thresholds.denied_seconds, enough):
            finding = _denied_finding(context, actor, key, run)
            if finding is not None:
                yield finding


def _denied_finding(context: HuntContext, actor: str, key: str | None, calls: list[_Call]) -> Finding | None:
    names = Counter(call.name for call in calls)
    services = sorted({call.source.split(".")[0] for call in calls})
    signs = _signs(context, calls, _actor_kind(context, calls[0].event_id), key)
    if context.is_automation(actor) and not signs.new_addresses:
        return None
    enumerating = len(names) >= 3 and len(services) >= 2
    chronic = _denied_before(context, actor, sorted(names), calls[0].time)
    if (signs.new_addresses and enumerating) or signs.offensive:
        severity, confidence = Severity.HIGH, 0.8
    elif chronic or (signs.console and not signs.new_addresses):
        severity, confidence = Severity.LOW, 0.35
    else:
        severity, confidence = Severity.MEDIUM, 0.6
    ips = sorted({call.source_ip for call in calls if call.source_ip})
    seconds = calls[-1].epoch - calls[0].epoch
    sentences = [
        f"{describe_caller(actor, key, ', '.join(ips) or None)} was refused {len(calls)} times within "
        f"{_duration(seconds)}, "
        f"{calls[0].time} to {calls[-1].time}: {_summary(names)} ({_codes(calls)})."
    ]
    if enumerating:
        sentences.append(f"It tried {len(names)} different calls across {', '.join(services)}: permission probing.")
    sentences.append(_sign_sentences(signs).strip())
    if chronic:
        sentences.append(
            "The principal was refused the same calls in the baseline: likely a standing misconfiguration."
        )
    sentences.append(_what_followed(context, actor, key, calls[-1].time, ips))
    narrative = " ".join(sentence for sentence in sentences if sentence)
    events = _inspect(context, [call.event_id for call in calls])
    techniques = [VALID_CLOUD_ACCOUNTS]
    if all(is_read_name(name) for name in names):
        techniques.extend(_discovery_techniques(calls))
    title = f"Burst of {len(calls)} refused calls ({len(names)} different)"
    return finding_from(
        context, "denied-burst", "discovery:denied-burst", title, severity, confidence, techniques, events,
        narrative, hops=_hops_by_name(events),
    )  # fmt: skip


def _denied_before(context: HuntContext, actor: str, names: list[str], before: str) -> bool:
    """Whether the principal was refused any of `names` in the baseline, more than an hour before `before`
    (so an intruder's own earlier refusals do not make its burst look like a habit)."""
    source = context.baseline_case or context.case
    sql = f"SELECT 1 FROM events WHERE actor=? AND name IN ({','.join('?' * len(names))}) AND {_DENIED_WHERE}"
    values: list[Any] = [actor, *names, *_DENIED_PARAMS]
    if context.baseline_case is None:
        sql += " AND time < ?"
        values.append(min(shift_time(before, -HOUR), context.baseline_end))
    return source.db.execute(sql + " LIMIT 1", values).fetchone() is not None


# --- activity-spike ------------------------------------------------------------------------------------------------

_SPIKE_KINDS = ("Service", "Account", "Unknown")  # aggregates of many callers: no single owner to compare with


def activity_spike(context: HuntContext) -> Iterator[Finding]:
    thresholds = context.config.thresholds
    busiest = _busiest_baseline_hours(context)
    kinds = ",".join("?" * len(_SPIKE_KINDS))
    sql = (
        f"SELECT actor, substr(time, 1, 13) AS hour, count(*) FROM events WHERE actor_kind NOT IN ({kinds}) "
        "{after} GROUP BY actor, hour HAVING count(*) >= ? ORDER BY actor, hour"
    )
    values: list[Any] = list(_SPIKE_KINDS)
    if context.baseline_case is None:
        sql, values = sql.format(after="AND time >= ?"), [*values, context.baseline_end]
    else:
        sql = sql.format(after="")
    spikes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for actor, hour, count in context.case.db.execute(sql, (*values, thresholds.spike_min_calls)):
        usual = busiest.get(actor)
        if usual and count >= thresholds.spike_factor * usual and not context.is_automation(actor):
            spikes[actor].append((hour, count))
    for actor, hours in spikes.items():
        for run in _consecutive_hours(hours):
            yield _spike_finding(context, actor, run, busiest[actor])


def _busiest_baseline_hours(context: HuntContext) -> dict[str, int]:
    """Each principal's largest number of calls in one clock hour of the baseline."""
    source = context.baseline_case or context.case
    where = "" if context.baseline_case is not None else "WHERE time < ?"
    values = () if context.baseline_case is not None else (context.baseline_end,)
    sql = (
        f"SELECT actor, max(n) FROM (SELECT actor, substr(time, 1, 13) AS hour, count(*) AS n FROM events {where} "
        "GROUP BY actor, hour) GROUP BY actor"
    )
    return {actor: count for actor, count in source.db.execute(sql, values)}


def _consecutive_hours(hours: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """Spike hours ("2026-11-03T11", in order) that follow one another, as one run each."""
    runs: list[list[tuple[str, int]]] = []
    for hour, count in hours:
        if runs and shift_time(runs[-1][-1][0] + ":00:00Z", HOUR) == hour + ":00:00Z":
            runs[-1].append((hour, count))
        else:
            runs.append([(hour, count)])
    return runs


def _spike_finding(context: HuntContext, actor: str, hours: list[tuple[str, int]], usual: int) -> Finding:
    start = hours[0][0] + ":00:00Z"
    end = shift_time(hours[-1][0] + ":00:00Z", HOUR)
    events = list(context.events(where="actor=? AND time >= ? AND time < ?", params=(actor, start, end)))
    total = len(events)
    peak = max(count for _, count in hours)
    known = context.baseline_ips(actor)
    new = sorted(context.outside_addresses(e.row for e in events) - known)
    names = Counter(event.row.name for event in events)
    data = sum(1 for event in events if event.row.category == "Data")
    severity, confidence = (Severity.MEDIUM, 0.6) if new else (Severity.LOW, 0.4)
    where = f" New outside address(es): {', '.join(new)}." if new else " All from addresses it used before."
    narrative = (
        f"{actor} made {total} calls between {events[0].time} and {events[-1].time} (peak {peak} in one hour), "
        f"{peak / usual:.0f} times its busiest baseline hour ({usual} calls): {_summary(names)}."
        f"{f' {data} of them read or wrote data (S3 objects).' if data else ''}{where}"
    )
    techniques = [VALID_CLOUD_ACCOUNTS] + ([DATA_FROM_CLOUD_STORAGE] if data * 2 >= total else [])
    title = f"Activity spike: {peak} calls in an hour, {peak / usual:.0f}x the principal's usual peak"
    return finding_from(
        context, "activity-spike", "collection:activity-spike" if data * 2 >= total else "impact:activity-spike",
        title, severity, confidence, techniques, events, narrative, hops=_hops_by_name(events),
    )  # fmt: skip


# --- attacker-tooling --------------------------------------------------------------------------------------------


def attacker_tooling(context: HuntContext) -> Iterator[Finding]:
    db = context.case.db
    agents = db.execute(
        "SELECT user_agent, min(time) FROM events WHERE user_agent IS NOT NULL GROUP BY user_agent ORDER BY user_agent"
    )
    matched = [(agent, tool) for agent, first in agents if (tool := tool_of(agent, first)) is not None]
    found: dict[tuple[str, str], tuple[Tool, list[HuntEvent]]] = {}
    for agent, tool in matched:
        for event in context.events(where="user_agent=?", params=(agent,)):
            if tool is STALE_SDK and event.time[:4] < str(_STALE_AFTER_YEAR):
                continue
            found.setdefault((event.row.actor, agent_family(agent)), (tool, []))[1].append(event)
    for (actor, family), (tool, events) in sorted(found.items()):
        yield _tool_finding(context, actor, family, tool, sorted(events, key=lambda e: (e.time, e.id)))


def agent_family(agent: str) -> str:
    """The agent without per-run ids (Stratus' and Pacu's session UUIDs) or list brackets some exports add."""
    return _RUN_ID.sub("<id>", agent.strip().removeprefix("[").removesuffix("]"))


def _tool_finding(context: HuntContext, actor: str, agent: str, tool: Tool, events: list[HuntEvent]) -> Finding:
    succeeded = [event for event in events if not event.failed]
    if tool.kind == "offensive":
        severity, confidence = (Severity.HIGH, 0.85) if succeeded else (Severity.MEDIUM, 0.7)
    elif tool.kind == "emulation":
        severity, confidence = Severity.MEDIUM, 0.7
    else:
        severity, confidence = Severity.LOW, 0.4
    names = Counter(event.row.name for event in events)
    ips = sorted({event.row.source_ip for event in events if event.row.source_ip})
    keys = sorted({event.row.access_key for event in events if event.row.access_key})
    refused = len(events) - len(succeeded)
    sentences = [
        f'{actor} used {tool.what}: user agent "{agent}"'
        + (" (<id> stands for ids that change from run to run)." if "<id>" in agent else "."),
        f"{len(events)} call(s) between {events[0].time} and {events[-1].time}"
        f"{' with key ' + ', '.join(keys) if keys else ''}{' from ' + ', '.join(ips) if ips else ''}: "
        f"{_summary(names)}.",
        f"{refused} were refused." if refused else "",
    ]
    narrative = " ".join(sentence for sentence in sentences if sentence)
    techniques = [VALID_CLOUD_ACCOUNTS]
    if any(is_read_name(name) for name in names):
        techniques.append(CLOUD_SERVICE_DISCOVERY)
    if tool.kind == "client" and names.keys() & {"GetObject", "ListObjects", "ListObjectsV2"}:
        techniques.append(DATA_FROM_CLOUD_STORAGE)
    return finding_from(
        context, "attacker-tooling", f"initial-access:{tool.kind}-tool-user-agent", f"{tool.name} user agent",
        severity, confidence, techniques, events, narrative, hops=_hops_by_name(events),
    )  # fmt: skip


# --- shared narrative and path pieces --------------------------------------------------------------------------


def _inspect(context: HuntContext, event_ids: Sequence[str]) -> list[HuntEvent]:
    """The burst's events with their effects, in time order (only these records are read)."""
    events: list[HuntEvent] = []
    for start in range(0, len(event_ids), 900):
        chunk = tuple(event_ids[start : start + 900])
        events.extend(
            context.inspect(row) for row in context.rows(f"event_id IN ({','.join('?' * len(chunk))})", chunk)
        )
    return sorted(events, key=lambda event: (event.time, event.id))


def _hops_by_name(events: Sequence[HuntEvent]) -> list[Hop]:
    """One hop per call name (all its events), so a burst of hundreds reads as a short list of what was tried."""
    by_name: dict[str, list[HuntEvent]] = defaultdict(list)
    for event in events:
        by_name[event.row.name].append(event)
    hops = []
    for name, group in by_name.items():
        first = group[0]
        targets = {event.target for event in group}
        refused = all(event.failed for event in group)
        dst = first.target if len(targets) == 1 else f"{len(targets)} targets"
        action = f"{name} (refused)" if refused else name
        hops.append(Hop(first.row.actor, action, dst, first.time, tuple(event.id for event in group),
                        first.row.source_ip, first.row.access_key))  # fmt: skip
    return hops


def _summary(names: Counter[str], limit: int = 10) -> str:
    parts = [f"{name} x{count}" if count > 1 else name for name, count in names.most_common(limit)]
    more = len(names) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _codes(calls: Iterable[_Call]) -> str:
    codes = Counter(call.error_code for call in calls if call.error_code)
    return ", ".join(f"{code} x{count}" if count > 1 else code for code, count in codes.most_common())


def _refusals(calls: Sequence[_Call]) -> str:
    denied = [call for call in calls if is_denied(call.error_code)]
    if not denied:
        return ""
    return f"{len(denied)} were refused ({_codes(denied)}): the credential was testing what it may do. "


def _sign_sentences(signs: _Signs) -> str:
    parts = []
    if signs.new_addresses:
        parts.append(f"The address {', '.join(signs.new_addresses)} was never used by the organisation before.")
    if signs.tool is not None:
        parts.append(f"The user agent is {signs.tool.what}.")
    if signs.root:
        parts.append("The caller is the account's root user.")
    if signs.console:
        parts.append("The calls came through the AWS console.")
    return " ".join(parts) + (" " if parts else "")


def _what_followed(context: HuntContext, actor: str, key: str | None, after: str, ips: Sequence[str]) -> str:
    """The first changes the same credential made within the hour after the burst (naming any other address,
    since a stolen key's owner may be using it too)."""
    end = shift_time(after, HOUR)
    rows = context.case.db.execute(
        "SELECT name, time, error_code, source_ip FROM events WHERE actor=? AND access_key IS ? AND time > ? "
        "AND time <= ? ORDER BY time LIMIT 500",
        (actor, key, after, end),
    )
    changes: list[str] = []
    for name, time, error, ip in rows:
        if name.startswith((*_READ_PREFIXES, "Head", "Lookup", "Search")) or name in NOT_RECON:
            continue
        elsewhere = f" from {ip}" if ip and ip not in ips else ""
        step = f"{name} at {time}{elsewhere}" + (f" (refused: {error})" if error else "")
        if not any(existing.startswith(name + " ") for existing in changes):
            changes.append(step)
        if len(changes) == 5:
            break
    return f"Within the hour the same credential went on to: {'; '.join(changes)}." if changes else ""


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{seconds // 60} minutes"


HUNTS = [
    HuntSpec(
        name="recon-burst",
        family="activity",
        title="Burst of read-only calls across services",
        description="Many different List/Describe/Get calls to several services by one principal, key and address "
        "within minutes (thresholds recon_calls, recon_services, recon_seconds), as key-checking scripts, "
        "enumerate-iam, Pacu and ScoutSuite make them. A smaller burst counts when it was mostly refused, came "
        "from an address the organisation never used, from root, or from an attacker tool. Console browsing from "
        "known addresses, AWS services' own sessions (Config) and infrastructure-as-code refreshes are left out.",
        techniques=(
            CLOUD_INFRASTRUCTURE_DISCOVERY,
            CLOUD_SERVICE_DISCOVERY,
            CLOUD_ACCOUNT_DISCOVERY,
            STORAGE_OBJECT_DISCOVERY,
        ),
        run=recon_burst,
    ),
    HuntSpec(
        name="denied-burst",
        family="activity",
        title="Burst of refused calls",
        description="Many AccessDenied-type errors (AccessDenied, AccessDeniedException, "
        "Client.UnauthorizedOperation, UnauthorizedOperation, VpceAccessDenied, *NotAuthorized*, *Forbidden*) by "
        "one principal or key within minutes (denied_calls, denied_seconds): a credential probing what it may do. "
        "High from a new address or an attacker tool; low when the principal was refused the same calls in the "
        "baseline (a standing misconfiguration) or clicked through the console from a known address.",
        techniques=(VALID_CLOUD_ACCOUNTS, CLOUD_SERVICE_DISCOVERY),
        run=denied_burst,
    ),
    HuntSpec(
        name="activity-spike",
        family="activity",
        title="Principal far busier than its baseline",
        description="Calls per clock hour of a principal after the baseline against its busiest baseline hour "
        "(spike_factor, spike_min_calls): a stolen credential used in bulk. Principals without a baseline are "
        "left to the hunts for new identities; nightly jobs that also ran in the baseline are not spikes.",
        techniques=(VALID_CLOUD_ACCOUNTS, DATA_FROM_CLOUD_STORAGE),
        run=activity_spike,
    ),
    HuntSpec(
        name="attacker-tooling",
        family="activity",
        title="Attacker or testing tool in the user agent",
        description="User agents of offensive tools and distributions (Kali, Parrot, Pentoo, TruffleHog, Pacu: "
        "high), adversary emulation (Stratus Red Team, Grimoire: medium), bulk S3 clients (S3 Browser, Cyberduck: "
        "low) and pre-2020 CLI/Boto3 agents seen years later (Pacu's substitutes: low). One finding per principal "
        "and agent, with all its calls.",
        techniques=(VALID_CLOUD_ACCOUNTS, CLOUD_SERVICE_DISCOVERY),
        run=attacker_tooling,
    ),
]
