"""Data access: S3 object reads and writes that are new for the principal, in bulk, or at night.

S3 data events are most of a case's volume, so every hunt here counts with SQL on the events table and
inspects (parses) only the few candidates: the principal/bucket pairs the baseline never saw, the hours with
enough GetObject calls to be a bulk read, people's night-time calls. Volumes count data events only: the VPC
endpoint network-activity copy of a call is left out so nothing is counted twice.

"Who" is compared at the level that stays stable over time: the sessions of a workload role
(``app-server/i-0abc…``, ``etl-job/<task>``) are one identity, since their names change with each instance,
task or hour; a person's session (Identity Center, or any session named after an email) is that person.

The helpers `bulk_reads`, `suspicion` and `grouped_hops` are shared with the exfiltration hunt, which asks
"did this principal just read a lot of data?" before rating a bucket or snapshot shared outside.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

from graphtrail import arn as arns
from graphtrail.cloudtrail.timeparse import format_time, parse_time, shift_time
from graphtrail.findings import Finding, Hop, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import DATA_FROM_CLOUD_STORAGE, STORAGE_OBJECT_DISCOVERY, bursts, finding_from
from graphtrail.hunts.context import HuntContext, HuntEvent, seconds_between

OBJECT_CALLS = (
    "GetObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects",
    "ListObjects", "ListObjectsV2", "ListBucket", "ListObjectVersions",
)  # fmt: skip
LISTINGS = ("ListBuckets", "ListObjects", "ListObjectsV2", "ListBucket", "ListObjectVersions")
DATA_CALLS = (*OBJECT_CALLS, "ListBuckets")
WINDOW_SECONDS = 3600  # the "one hour" of thresholds.bulk_objects and bulk_bytes
ROUTINE_FACTOR = 2.0  # a burst up to this many times the identity's usual busiest two hours is the usual job
BYTES_SAMPLE = 3  # calls parsed to judge whether a short run of large objects could pass bulk_bytes
PRELUDE_SECONDS = 3600  # bucket and object listings this long before a bulk read are part of it
HALF_DAY_HOURS = 12  # usual volume is measured at least this far from the burst: on another day
STEADY_HOURS = 6  # a routine run of reads longer than this is steady traffic; a longer new one is shown in part
FIRST_ACCESS_GAP_SECONDS = 3600  # a new-bucket finding shows the first run of calls with no longer pause
MAX_FIRST_ACCESS_EVENTS = 2000
NIGHT_GAP_SECONDS = 3 * 3600  # off-hours calls of one person with no longer pause are one night's work
_NOT_NETWORK = "category != 'NetworkActivity'"
_ON_BUCKET = "target LIKE 'arn:%:s3:::%'"


def _names(names: Sequence[str]) -> str:
    return f"name IN ({','.join(repr(name) for name in names)})"  # fixed names of ours, never user text


def inspected(context: HuntContext, where: str, params: tuple[Any, ...] = ()) -> list[HuntEvent]:
    """Events matching a fixed SQL condition (names written inline), in time order, with their effects."""
    return [context.inspect(row) for row in context.case.events(where, params)]


# -- who is who -----------------------------------------------------------------------------------------------


def person_name(actor: str) -> str | None:
    """The person behind an Identity Center (or email-named) session or SAML identity: their user name, the
    same in every account they sign in to. None for anything else."""
    parsed = arns.role_name_of_session(actor)
    if parsed is not None:
        role, session = parsed
        return session.lower() if role.startswith("AWSReservedSSO_") or "@" in session else None
    if actor.startswith("saml:"):
        provider, _, name = actor[len("saml:") :].rpartition(":")
        return name.lower() if name and ("@" in name or provider.startswith("AWSSSO_")) else None
    return None


PERSON = "person:"  # prefix of a person's identity, to tell it from an actor or role ARN


def identity_of(actor: str) -> str:
    """The stable identity behind an actor: ``person:<name>`` for a person's sessions, the role for a workload
    role's sessions, else the actor itself."""
    person = person_name(actor)
    if person is not None:
        return PERSON + person
    parsed = arns.role_name_of_session(actor)
    arn = arns.parse_arn(actor)
    if parsed is None or arn is None:
        return actor
    return f"arn:{arn.partition}:iam::{arn.account}:role/{parsed[0]}"


def shown(identity: str) -> str:
    return identity.removeprefix(PERSON)


# -- the baseline, read lazily and shared by the hunts of one context -------------------------------------------


class DataBaseline:
    """What the baseline says about identities and buckets, each question asked of SQL once per context."""

    def __init__(self, context: HuntContext) -> None:
        self.context = context
        self.db = (context.baseline_case or context.case).db
        self.end = None if context.baseline_case is not None else context.baseline_end

    def before_end(self, where: str, params: tuple[Any, ...] = ()) -> tuple[str, tuple[Any, ...]]:
        if self.end is None:
            return where, params
        return f"{where} AND time < ?", (*params, self.end)

    @cached_property
    def has_data_events(self) -> bool:
        """Without any S3 object call in the baseline, "never touched before" means nothing."""
        where, params = self.before_end(_names(OBJECT_CALLS))
        return self.db.execute(f"SELECT 1 FROM events WHERE {where} LIMIT 1", params).fetchone() is not None

    @cached_property
    def buckets_touched(self) -> set[tuple[str, str]]:
        """(identity, bucket ARN) pairs of the baseline's object calls, refused ones included."""
        where, params = self.before_end(f"{_names(OBJECT_CALLS)} AND {_ON_BUCKET} AND {_NOT_NETWORK}")
        rows = self.db.execute(f"SELECT DISTINCT actor, target FROM events WHERE {where}", params)
        return {(identity_of(actor), target) for actor, target in rows}

    @cached_property
    def addresses(self) -> dict[str, set[str]]:
        """Identity -> the addresses its actors called from in the baseline (empty set: it called, from none)."""
        found: dict[str, set[str]] = defaultdict(set)
        for actor, ips in self.context.baseline_addresses.items():
            found[identity_of(actor)].update(ips)
        return dict(found)

    def identity_ips(self, identity: str) -> set[str]:
        """Addresses any actor of `identity` called from in the baseline."""
        return self.addresses.get(identity, set())

    def identity_known(self, identity: str) -> bool:
        """Did `identity` make (or receive a copy of) any call in the baseline?"""
        return identity in self.addresses


_BASELINES: WeakKeyDictionary[HuntContext, DataBaseline] = WeakKeyDictionary()


def data_baseline(context: HuntContext) -> DataBaseline:
    if context not in _BASELINES:
        _BASELINES[context] = DataBaseline(context)
    return _BASELINES[context]


def suspicion(context: HuntContext, actor: str, calls: Sequence[HuntEvent], *, addresses: bool = True) -> list[str]:
    """Why the credentials of these calls (by `actor`'s identity) look stolen: an outside address new for the
    identity (unless `addresses` is false), or a key whose lineage passes through a session issued to an outside
    address new for its issuer."""
    base = data_baseline(context)
    identity = identity_of(actor)
    reasons: list[str] = []
    flagged: set[str] = set()
    for ip in sorted(context.outside_addresses(e.row for e in calls) if addresses else ()):
        if ip not in base.identity_ips(identity):
            flagged.add(ip)
            reasons.append(f"{ip} is outside AWS and an address {shown(identity)} never used in the baseline")
    for key in sorted({e.row.access_key for e in calls if e.row.access_key}):
        for hop in context.chain(key):
            ip = hop.source_ip
            if not hop.issuer or ip in flagged or not context.is_outside_use(ip, hop.issuer_key):
                continue
            if ip not in base.identity_ips(identity_of(hop.issuer)):
                flagged.add(ip)  # type: ignore[arg-type]
                reasons.append(
                    f"key {key} descends from {hop.via or 'a session'} by {hop.issuer} at {hop.time} from {ip}, "
                    "an address that principal never used in the baseline"
                )
    return reasons


# -- presentation -------------------------------------------------------------------------------------------------


def grouped_hops(events: Sequence[HuntEvent]) -> list[Hop]:
    """One hop per run of the same call by the same actor, key and address on the same target; a run's last
    call is a hop of its own, so the path (and the finding's last_seen) ends when the run did."""
    runs: list[list[HuntEvent]] = []
    for event in sorted(events, key=lambda e: (e.time, e.id)):
        if runs and _hop_signature(runs[-1][0]) == _hop_signature(event):
            runs[-1].append(event)
        else:
            runs.append([event])
    hops = []
    for run in runs:
        if len(run) > 2:
            parts = [(run[:-1], f" x{len(run) - 1}"), (run[-1:], f" (last of {len(run)})")]
        else:
            parts = [([event], "") for event in run]
        for part, label in parts:
            first = part[0]
            hops.append(Hop(first.row.actor, first.row.name + label, first.target, first.time,
                            tuple(e.id for e in part), first.row.source_ip, first.row.access_key))  # fmt: skip
    return hops


def _hop_signature(event: HuntEvent) -> tuple[str | None, ...]:
    row = event.row
    return (row.actor, row.name, event.target, row.access_key, row.source_ip)


def size_text(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} bytes"


def call_counts(events: Iterable[HuntEvent]) -> str:
    counts: dict[str, list[int]] = {}
    for event in events:
        done = counts.setdefault(event.row.name, [0, 0])
        done[0] += 1
        done[1] += 0 if event.failed else 1
    parts = []
    for name, (total, succeeded) in sorted(counts.items()):
        refused = f", {total - succeeded} refused" if succeeded < total else ""
        parts.append(f"{name} x{total}{refused}")
    return ", ".join(parts)


def _addresses(context: HuntContext, events: Iterable[HuntEvent]) -> str:
    events = list(events)
    ips = sorted({e.row.source_ip for e in events if e.row.source_ip})
    outside = context.outside_addresses(e.row for e in events)
    labels = [f"{ip} ({'outside AWS' if ip in outside else 'AWS or trusted'})" for ip in ips[:5]]
    return ", ".join(labels) + (f" and {len(ips) - 5} more" if len(ips) > 5 else "") if ips else "no address"


def _bytes_moved(events: Iterable[HuntEvent]) -> int:
    total = 0
    for event in events:
        for name in ("bytes_out", "bytes_in"):
            value = event.facts.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                total += value
    return total


def _after(context: HuntContext, keys: Iterable[str], time: str) -> str:
    """What the same keys did after `time`: a count and the last call, so the narrative says what came next."""
    keys = sorted(set(keys))
    if not keys:
        return ""
    marks = ",".join("?" * len(keys))
    count, last, names = context.case.db.execute(
        "SELECT count(*), max(time), group_concat(DISTINCT name) FROM events "
        f"WHERE access_key IN ({marks}) AND time > ?",
        (*keys, time),
    ).fetchone()
    if not count:
        return " The same key made no later call in the case."
    called = sorted((names or "").split(","))
    listed = ", ".join(called[:8]) + (", ..." if len(called) > 8 else "")
    return f" The same key made {count} later call(s) until {last}: {listed}."


# -- bulk reads -------------------------------------------------------------------------------------------------


@dataclass
class BulkRead:
    """GetObject calls by one actor on one bucket dense enough to pass the thresholds in some hour."""

    actor: str
    bucket: str
    reads: list[HuntEvent]
    listings: list[HuntEvent]
    bytes_out: int
    severity: Severity = Severity.MEDIUM
    reasons: list[str] = field(default_factory=list)  # why the credentials look stolen
    routine: str = ""  # why it looks like the usual job, when it does
    continued: str = ""  # the reads around the part inspected, when the activity lasted longer
    outside: bool = False  # some reads came from outside AWS and the trusted networks

    @property
    def first(self) -> str:
        return self.reads[0].time

    @property
    def last(self) -> str:
        return self.reads[-1].time

    @property
    def keys(self) -> set[str]:
        return {e.row.access_key for e in self.reads if e.row.access_key}


_BULK: WeakKeyDictionary[HuntContext, list[BulkRead]] = WeakKeyDictionary()


def bulk_reads(context: HuntContext) -> list[BulkRead]:
    """Every bulk read of the case, rated (cached per context: the exfiltration hunt asks again)."""
    if context not in _BULK:
        _BULK[context] = list(_find_bulk_reads(context))
    return _BULK[context]


def _hour_start(hour: str) -> int:
    return int(parse_time(f"{hour}:00:00Z").timestamp()) // 3600


_READS = f"name = 'GetObject' AND error_code IS NULL AND {_ON_BUCKET} AND {_NOT_NETWORK}"
_HOURLY_READS = (
    f"SELECT actor, target, source_ip, substr(time, 1, 13), count(*) FROM events WHERE {_READS} GROUP BY 1, 2, 3, 4"
)
Hours = dict[int, int]


def _find_bulk_reads(context: HuntContext) -> Iterator[BulkRead]:
    """Successful GetObject counted per actor, bucket, address and clock hour in SQL; only the hours that can
    hold a bulk read, and are not the identity's usual traffic, are parsed. Reads from another address are
    another run: stolen credentials used from outside next to the workload's own traffic stay apart."""
    thresholds = context.config.thresholds
    candidate_min = max(2, min(thresholds.bulk_objects, thresholds.bulk_objects // 5))  # a few large objects
    hourly: dict[tuple[str, str, str | None], Hours] = defaultdict(dict)
    for actor, bucket, ip, hour, count in context.case.db.execute(_HOURLY_READS):
        hourly[(actor, bucket, ip)][_hour_start(hour)] = count
    habits = _Habits(context, hourly)
    where = "name = 'GetObject' AND actor = ? AND target = ? AND source_ip IS ? AND time >= ? AND time < ? " + (
        f"AND error_code IS NULL AND {_NOT_NETWORK}"
    )
    found: list[BulkRead] = []
    for (actor, bucket, ip), hours in sorted(
        hourly.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
    ):
        by_count = _candidate_spans(hours, thresholds.bulk_objects)
        covered = {hour for start, end, _ in by_count for hour in range(start, end)}
        by_bytes = _candidate_spans({h: c for h, c in hours.items() if h not in covered}, candidate_min)
        for start, end, peak in sorted(by_count + by_bytes):
            usual, when = habits.usual(actor, bucket, ip, hours, start, end, candidate_min)
            routine = ""
            if usual and peak <= usual * ROUTINE_FACTOR:
                if end - start > STEADY_HOURS:
                    continue  # the identity's steady traffic, as busy on other days: not a burst
                routine = (
                    f"{shown(identity_of(actor))} read up to {usual} objects within two hours from this bucket {when}"
                )
            first, stop = _busiest_stretch(hours, start, end)
            params = (actor, bucket, ip, _hour_text(first), _hour_text(stop))
            if peak < thresholds.bulk_objects and not _could_reach_bytes(context, where, params, peak):
                continue
            around = sum(hours.get(hour, 0) for hour in range(start, end) if not first <= hour < stop)
            context_text = (
                f"{around} more reads by the same actor from the same address between {_hour_text(start)} and "
                f"{_hour_text(end)}, around the part shown"
                if around
                else ""
            )
            for run in _dense_runs(inspected(context, where, params), thresholds.bulk_objects, thresholds.bulk_bytes):
                found.append(_bulk_read(context, actor, bucket, run, routine, context_text))
    return iter(sorted(found, key=lambda b: (b.first, b.actor)))


def _busiest_stretch(hours: Hours, start: int, end: int) -> tuple[int, int]:
    """[first, stop) hours to parse: the whole span, or STEADY_HOURS around its busiest two hours."""
    if end - start <= STEADY_HOURS:
        return start, end
    peak = max(range(start, end), key=lambda hour: hours.get(hour, 0) + hours.get(hour + 1, 0))
    first = max(start, min(peak - 1, end - STEADY_HOURS))
    return first, first + STEADY_HOURS


class _Habits:
    """How much each identity reads from each bucket within two hours when nothing is wrong: its busiest two
    hours on other days, from an address of the same kind (the same address, for one outside AWS)."""

    def __init__(self, context: HuntContext, hourly: dict[tuple[str, str, str | None], Hours]) -> None:
        self.context = context
        self.separate = context.baseline_case is not None
        source = hourly
        if self.separate:
            source = defaultdict(dict)
            for actor, bucket, ip, hour, count in data_baseline(context).db.execute(_HOURLY_READS):
                source[(actor, bucket, ip)][_hour_start(hour)] = count
        self.by_identity: dict[tuple[str, str], list[tuple[str | None, Hours]]] = defaultdict(list)
        for (actor, bucket, ip), hours in source.items():
            self.by_identity[(identity_of(actor), bucket)].append((ip, hours))
        end = context.baseline_end
        self.baseline_hour = _hour_start(end[:13]) if end else 0
        self._ranked: dict[tuple[str, str, str | None, bool], list[tuple[int, int]]] = {}

    def _pairs(self, identity: str, bucket: str, ip: str | None, baseline_only: bool) -> list[tuple[int, int]]:
        """(calls in hours h and h+1, h) of the identity's compatible reads on the bucket, busiest first."""
        outside = self.context.is_outside_address(ip)
        key = (identity, bucket, ip if outside else None, baseline_only)
        if key not in self._ranked:
            summed: Hours = defaultdict(int)
            for other_ip, hours in self.by_identity.get((identity, bucket), ()):
                if (other_ip != ip) if outside else self.context.is_outside_address(other_ip):
                    continue
                for hour, count in hours.items():
                    if not baseline_only or hour + 1 < self.baseline_hour:
                        summed[hour] += count
            pairs = [(count + summed.get(hour + 1, 0), hour) for hour, count in summed.items()]
            self._ranked[key] = sorted(pairs, reverse=True)
        return self._ranked[key]

    def usual(
        self, actor: str, bucket: str, ip: str | None, hours: Hours, start: int, end: int, minimum: int
    ) -> tuple[int, str]:
        """(The least, over the span's busy hours, of the busiest two hours at least half a day away; where
        that was seen). A burst inside the baseline is measured against the rest of the case: recurrence
        vouches for it, since the baseline cannot vouch for itself."""
        identity = identity_of(actor)
        in_baseline = not self.separate and start < self.baseline_hour
        ranked = self._pairs(identity, bucket, ip, baseline_only=not self.separate and not in_baseline)
        when = "on other days of the case" if in_baseline else "in the baseline"
        least = None
        for hour in range(start, end):
            if hours.get(hour, 0) + hours.get(hour + 1, 0) < minimum:
                continue
            busiest = 0
            for count, other in ranked:
                if self.separate or abs(other - hour) >= HALF_DAY_HOURS:
                    busiest = count
                    break
            least = busiest if least is None else min(least, busiest)
        return least or 0, when


def _could_reach_bytes(context: HuntContext, where: str, params: tuple[Any, ...], calls: int) -> bool:
    """Too few calls for the object threshold: parse a sample, and all of them only if `calls` objects as large
    as the sample's largest could add up to thresholds.bulk_bytes in an hour."""
    sample = [context.inspect(row) for row in context.case.events(where, params, limit=BYTES_SAMPLE)]
    largest = max((_bytes_moved([event]) for event in sample), default=0)
    return largest * calls >= context.config.thresholds.bulk_bytes


def _hour_text(hour: int) -> str:
    return format_time(parse_time(0) + timedelta(hours=hour))


def _candidate_spans(hours: dict[int, int], minimum: int) -> list[tuple[int, int, int]]:
    """Merged [start, end) hour spans where two neighbouring clock hours together reach `minimum` calls, each
    with its busiest such pair of hours (a one-hour window lies within two neighbouring clock hours)."""
    spans: list[list[int]] = []
    for hour in sorted(hours):
        pair = hours[hour] + hours.get(hour + 1, 0)
        if pair < minimum:
            continue
        if spans and spans[-1][1] >= hour:
            spans[-1][1] = max(spans[-1][1], hour + 2)
            spans[-1][2] = max(spans[-1][2], pair)
        else:
            spans.append([hour, hour + 2, pair])
    return [(start, end, peak) for start, end, peak in spans]


def _dense_runs(reads: list[HuntEvent], objects: int, volume: int) -> list[list[HuntEvent]]:
    """The reads that lie in some one-hour window holding >= `objects` calls or >= `volume` bytes, split where
    no such window joins them."""
    sizes = [_bytes_moved([event]) for event in reads]
    marked = [False] * len(reads)
    start = 0
    total = 0
    for end, event in enumerate(reads):
        total += sizes[end]
        while seconds_between(reads[start].time, event.time) > WINDOW_SECONDS:
            total -= sizes[start]
            start += 1
        if end - start + 1 >= objects or total >= volume:
            for index in range(start, end + 1):
                marked[index] = True
    runs: list[list[HuntEvent]] = []
    for index, event in enumerate(reads):
        if not marked[index]:
            continue
        if runs and seconds_between(runs[-1][-1].time, event.time) <= WINDOW_SECONDS and marked[index - 1]:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


def _bulk_read(
    context: HuntContext, actor: str, bucket: str, reads: list[HuntEvent], routine: str, around: str
) -> BulkRead:
    first = reads[0].time
    since = shift_time(first, -PRELUDE_SECONDS)
    listings = [
        event
        for event in inspected(
            context, f"{_names(LISTINGS)} AND actor = ? AND time >= ? AND time <= ?", (actor, since, reads[-1].time)
        )
        if event.row.name == "ListBuckets" or event.target == bucket
    ]
    bulk = BulkRead(actor, bucket, reads, listings, _bytes_moved(reads), routine=routine)
    bulk.continued = around
    bulk.reasons = suspicion(context, actor, reads)
    bulk.outside = outside = bool(context.outside_addresses(e.row for e in reads))
    if bulk.reasons:
        bulk.severity, bulk.routine = Severity.HIGH, ""
    elif routine:
        bulk.severity = Severity.LOW if outside else Severity.INFO
    elif outside:
        bulk.severity = Severity.HIGH
    else:
        bulk.severity = Severity.MEDIUM
    return bulk


def bulk_data_read(context: HuntContext) -> Iterator[Finding]:
    for bulk in bulk_reads(context):
        reads, listings = bulk.reads, bulk.listings
        minutes = max(1, round(seconds_between(bulk.first, bulk.last) / 60))
        agents = sorted({e.row.user_agent for e in reads if e.row.user_agent})
        agent = f" with {agents[0]}" if len(agents) == 1 else ""
        prelude = f" Before it: {call_counts(listings)}." if listings else ""
        why = f" Suspicious: {'; '.join(bulk.reasons)}." if bulk.reasons else ""
        routine = f" Routine: {bulk.routine}, so this looks like its usual job." if bulk.routine else ""
        routine += f" There were {bulk.continued}." if bulk.continued else ""
        outside = not bulk.routine and not bulk.reasons and bulk.outside
        where = " The reads came from outside AWS and the configured networks." if outside else ""
        keys = ", ".join(sorted(bulk.keys)) or "no key"
        narrative = (
            f"{bulk.actor} (key {keys}) read {len(reads)} objects ({size_text(bulk.bytes_out)}) from {bulk.bucket} "
            f"between {bulk.first} and {bulk.last} (about {minutes} min) from {_addresses(context, reads)}{agent}."
            f"{prelude}{why}{where}{routine}"
        )
        if bulk.severity >= Severity.MEDIUM:
            narrative += _after(context, bulk.keys, bulk.last)
        confidence = {Severity.HIGH: 0.85 if bulk.reasons else 0.7, Severity.MEDIUM: 0.5}.get(bulk.severity, 0.3)
        techniques = [DATA_FROM_CLOUD_STORAGE] + ([STORAGE_OBJECT_DISCOVERY] if listings else [])
        events = [*listings, *reads]
        yield finding_from(
            context, "bulk-data-read", "collection:bulk-s3-read",
            f"Bulk read of {len(reads)} objects from {bulk.bucket.rsplit(':', 1)[-1]}", bulk.severity, confidence,
            techniques, events, narrative, hops=grouped_hops(events),
        )  # fmt: skip


# -- new bucket for the principal ------------------------------------------------------------------------------


def new_bucket_access(context: HuntContext) -> Iterator[Finding]:
    base = data_baseline(context)
    if not base.has_data_events:
        return
    since = context.baseline_end
    sql = (
        "SELECT actor, target, min(time) FROM events "
        f"WHERE {_names(OBJECT_CALLS)} AND {_ON_BUCKET} AND {_NOT_NETWORK} AND time >= ? GROUP BY actor, target"
    )
    newcomers: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for actor, bucket, first in context.case.db.execute(sql, (since,)):
        identity = identity_of(actor)
        if (identity, bucket) not in base.buckets_touched and not context.is_automation(actor):
            newcomers[(identity, bucket)].append((first, actor))
    for (identity, bucket), firsts in sorted(newcomers.items(), key=lambda item: min(item[1])):
        actors = sorted({actor for _, actor in firsts})
        events = _first_run(context, actors, bucket, min(firsts)[0])
        if events:
            yield _new_bucket_finding(context, identity, bucket, events)


def _first_run(context: HuntContext, actors: list[str], bucket: str, since: str) -> list[HuntEvent]:
    marks = ",".join("?" * len(actors))
    where = f"actor IN ({marks}) AND target = ? AND {_names(OBJECT_CALLS)} AND {_NOT_NETWORK} AND time >= ?"
    rows = context.case.events(where, (*actors, bucket, since), limit=MAX_FIRST_ACCESS_EVENTS)
    events: list[HuntEvent] = []
    for row in rows:
        if events and seconds_between(events[-1].time, row.time) > FIRST_ACCESS_GAP_SECONDS:
            break
        events.append(context.inspect(row))
    return events


def _new_bucket_finding(context: HuntContext, identity: str, bucket: str, events: list[HuntEvent]) -> Finding:
    base = data_baseline(context)
    first = events[0]
    succeeded = [e for e in events if not e.failed]
    keys = {e.row.access_key for e in events if e.row.access_key}
    reasons = suspicion(context, first.row.actor, events)
    if not base.identity_known(identity):
        reasons.insert(0, f"{shown(identity)} itself made no call in the baseline")
    outside = sorted(context.outside_addresses(e.row for e in events))
    if outside and not reasons:
        reasons.append(f"the calls came from outside AWS ({', '.join(outside)})")
    if succeeded:
        severity = Severity.HIGH if reasons else Severity.MEDIUM
    else:
        severity = Severity.MEDIUM if reasons else Severity.LOW
    moved = _bytes_moved(succeeded)
    volume = f", {size_text(moved)} moved" if moved else ""
    why = f" Suspicious: {'; '.join(reasons)}." if reasons else ""
    refused = "" if succeeded else " Every call was refused."
    narrative = (
        f"{first.row.actor} (key {first.row.access_key or 'none'}, from {first.row.source_ip or 'no address'}) "
        f"touched {bucket} at {first.time}, a bucket {shown(identity)} never read, wrote or listed in the baseline "
        f"(before {context.baseline_end}). First run of calls until {events[-1].time}: {call_counts(events)}"
        f"{volume}, from {_addresses(context, events)}.{refused}{why}"
    )
    if severity >= Severity.MEDIUM:
        narrative += _after(context, keys, events[-1].time)
    listing_only = all(e.row.name in LISTINGS for e in events)
    techniques = [STORAGE_OBJECT_DISCOVERY] if listing_only else [DATA_FROM_CLOUD_STORAGE]
    confidence = 0.8 if reasons and succeeded else 0.5 if succeeded else 0.4
    return finding_from(
        context, "new-bucket-access", "collection:new-bucket-access",
        f"First access to {bucket.rsplit(':', 1)[-1]} by {shown(identity).rsplit('/', 1)[-1]}", severity, confidence,
        techniques, events, narrative, hops=grouped_hops(events),
    )  # fmt: skip


# -- off hours ----------------------------------------------------------------------------------------------------


def _off_hours_sql(context: HuntContext) -> str:
    start, end = (int(hour) for hour in context.config.thresholds.work_hours)
    hour = "CAST(substr(time, 12, 2) AS INTEGER)"
    if start <= end:
        return f"NOT ({hour} >= {start} AND {hour} < {end})"
    return f"NOT ({hour} >= {start} OR {hour} < {end})"  # working hours that wrap past midnight


@dataclass(frozen=True)
class _Person:
    actor: str  # the principal to name: an IAM user, root, or the person's session
    key: str  # what stays the same for that person across accounts (an SSO session's email)
    via_chain: bool  # the calls were made by a role session that descends from the person


def _person_of(context: HuntContext, actor: str, kind: str, key: str | None) -> _Person | None:
    """The human behind a call: the caller when it is a user, root or a person's session, else the first
    person up the key's lineage (a role chain started by someone)."""
    if context.is_automation(actor):
        return None
    if kind in ("User", "Root") or (kind == "Session" and person_name(actor) is not None):
        return _Person(actor, identity_of(actor), False)
    if not key:
        return None
    for hop in context.chain(key):
        issuer = hop.issuer or ""
        if context.is_automation(issuer):
            return None
        if hop.issuer_kind in ("User", "Root") or (hop.issuer_kind == "Session" and person_name(issuer) is not None):
            return _Person(issuer, identity_of(issuer), True)
    return None


def _access_kind(name: str) -> str:
    return "bucket listing" if name == "ListBuckets" else "object access"


def off_hours_data_access(context: HuntContext) -> Iterator[Finding]:
    base = data_baseline(context)
    if not base.has_data_events:
        return
    night_calls = f"{_names(DATA_CALLS)} AND {_NOT_NETWORK} AND {_off_hours_sql(context)}"
    distinct = "SELECT DISTINCT actor, actor_kind, access_key, name FROM events WHERE "
    where, params = base.before_end(night_calls)
    known: set[tuple[str, str]] = set()
    for actor, kind, key, name in base.db.execute(distinct + where, params):
        person = _person_of(context, actor, kind, key)
        if person is not None:
            known.add((person.key, _access_kind(name)))
    people: dict[tuple[str, str | None], _Person] = {}
    for actor, kind, key, name in context.case.db.execute(f"{distinct}{night_calls} AND time >= ?",
                                                          (context.baseline_end,)):  # fmt: skip
        person = _person_of(context, actor, kind, key)
        if person is not None and (person.key, _access_kind(name)) not in known:
            people[(actor, key)] = person
    found: list[tuple[_Person, HuntEvent]] = []
    for (actor, key), person in people.items():
        rows = context.case.events(
            f"actor = ? AND access_key IS ? AND {night_calls} AND time >= ?", (actor, key, context.baseline_end)
        )
        found += [(person, context.inspect(row)) for row in rows if (person.key, _access_kind(row.name)) not in known]
    person_of = {event.id: person for person, event in found}
    events = sorted((event for _, event in found), key=lambda e: (e.time, e.id))
    for night in bursts(events, NIGHT_GAP_SECONDS, key=lambda e: person_of[e.id].key):
        yield _night_finding(context, person_of[night[0].id], night)


def _night_finding(context: HuntContext, person: _Person, night: list[HuntEvent]) -> Finding:
    base = data_baseline(context)
    keys = {e.row.access_key for e in night if e.row.access_key}
    known_ips = base.identity_ips(identity_of(person.actor))
    new_ips = sorted(ip for ip in context.outside_addresses(e.row for e in night) if ip not in known_ips)
    reasons = [f"{ip} is an outside address {person.actor} never used in the baseline" for ip in new_ips]
    reasons += [r for r in suspicion(context, night[0].row.actor, night, addresses=False) if r not in reasons]
    reads = sum(1 for e in night if e.row.name == "GetObject" and not e.failed)
    heavy = reads >= context.config.thresholds.bulk_objects
    if reasons and (heavy or person.via_chain):
        severity = Severity.HIGH
    elif reasons:
        severity = Severity.MEDIUM
    else:
        severity = Severity.LOW
    start, end = context.config.thresholds.work_hours
    kinds = sorted({_access_kind(e.row.name) for e in night})
    actors = sorted({e.row.actor for e in night} - {person.actor})
    chain = f" through {', '.join(actors)} (a session descending from that person)" if actors else ""
    buckets = sorted({e.target for e in night if e.row.name != "ListBuckets"})
    on = f" on {', '.join(buckets[:5])}" if buckets else ""
    why = f" Suspicious: {'; '.join(reasons)}." if reasons else ""
    narrative = (
        f"{person.actor}{chain} made {len(night)} S3 call(s){on} between {night[0].time} and {night[-1].time}, "
        f"outside working hours ({start:02d}:00-{end:02d}:00 UTC): {call_counts(night)}, from "
        f"{_addresses(context, night)}. The baseline shows no {' or '.join(kinds)} by this person at night.{why}"
    )
    if severity >= Severity.MEDIUM:
        narrative += _after(context, keys, night[-1].time)
    objects = any(e.row.name != "ListBuckets" for e in night)
    techniques = [DATA_FROM_CLOUD_STORAGE] if objects else [STORAGE_OBJECT_DISCOVERY]
    confidence = {Severity.HIGH: 0.75, Severity.MEDIUM: 0.55}.get(severity, 0.3)
    return finding_from(
        context, "off-hours-data-access", "collection:off-hours-data-access",
        f"Night-time S3 access by {person.actor.rsplit('/', 1)[-1]}", severity, confidence, techniques, night,
        narrative, hops=grouped_hops(night),
    )  # fmt: skip


HUNTS = [
    HuntSpec(
        name="bulk-data-read",
        family="data-access",
        title="Bulk reads from an S3 bucket",
        description="One principal reading at least thresholds.bulk_objects objects or thresholds.bulk_bytes bytes "
        "from one bucket within an hour (GetObject data events), with the listings that led to it. High when the "
        "reads come from outside AWS and the trusted networks, or the key looks stolen (an address new for the "
        "identity, or a lineage through such an address); info (low from outside AWS) when the same identity read "
        "as much from the bucket on another day of the baseline (for a burst inside the baseline: of the case), "
        "like a nightly ETL job; medium otherwise. Reads from each address are counted apart; steady traffic as "
        "heavy as on other days is not reported.",
        techniques=(DATA_FROM_CLOUD_STORAGE, STORAGE_OBJECT_DISCOVERY),
        run=bulk_data_read,
    ),
    HuntSpec(
        name="new-bucket-access",
        family="data-access",
        title="A principal reads or writes a bucket it never touched",
        description="S3 object calls (get, put, copy, delete, list) on a bucket the identity never touched in the "
        "baseline; a workload role's sessions count as one identity. Medium; high when from outside AWS and the "
        "trusted networks, by an identity the baseline never saw at all, or with a key that looks stolen; low "
        "when every call was refused.",
        techniques=(DATA_FROM_CLOUD_STORAGE, STORAGE_OBJECT_DISCOVERY),
        run=new_bucket_access,
    ),
    HuntSpec(
        name="off-hours-data-access",
        family="data-access",
        title="People reading S3 data at night for the first time",
        description="S3 data calls outside thresholds.work_hours (UTC) by a person (IAM user, root, Identity Center "
        "session, or a role chain started by one) whose baseline has no such night-time access (bucket listing "
        "and object access counted apart). Low; medium from an outside address new for the person; high when, "
        "in addition, the calls went through a role chain or read at least thresholds.bulk_objects objects.",
        techniques=(DATA_FROM_CLOUD_STORAGE, STORAGE_OBJECT_DISCOVERY),
        run=off_hours_data_access,
    ),
]
