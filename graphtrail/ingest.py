"""Ingest: sources → normalized events → case. Incremental, idempotent, and it accounts for every record."""

from __future__ import annotations

import hashlib
import logging
import time as clock
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from graphtrail.accumulate import EdgeState, GraphAccumulator
from graphtrail.case import Case, EventRow, pack_record
from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.cloudtrail.timeparse import format_time
from graphtrail.errors import RecordRejected
from graphtrail.lineage import Issuance, KeyLineage, KeyUse, resolve_lineage
from graphtrail.schema import MINTED
from graphtrail.sources import LogFile, ReadLimits, iter_log_files, read_records
from graphtrail.sources.records import Notice, RawRecord, Rejected, SkippedFile

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
CHECKPOINT_SECONDS = 60.0


@dataclass
class IngestSummary:
    """The accounting of one run: every file and every record ends up in exactly one bucket."""

    files_seen: int = 0
    files_ingested: int = 0
    files_already_ingested: int = 0
    files_skipped: Counter[str] = field(default_factory=Counter)
    files_rejected: Counter[str] = field(default_factory=Counter)
    records_read: int = 0
    events_ingested: int = 0
    insights_ingested: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    shapes: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # one line per reject, for the user (capped)

    @property
    def records_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def balanced(self) -> bool:
        accounted = self.events_ingested + self.insights_ingested + self.duplicates + self.records_rejected
        return self.records_read == accounted

    @property
    def any_rejects(self) -> bool:
        return bool(self.records_rejected or sum(self.files_rejected.values()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": {
                "seen": self.files_seen,
                "ingested": self.files_ingested,
                "already_ingested": self.files_already_ingested,
                "skipped": dict(sorted(self.files_skipped.items())),
                "rejected": dict(sorted(self.files_rejected.items())),
            },
            "records": {
                "read": self.records_read,
                "ingested": self.events_ingested,
                "insights": self.insights_ingested,
                "duplicates": self.duplicates,
                "rejected": self.records_rejected,
                "rejected_by_reason": dict(sorted(self.rejected.items())),
            },
            "notices": dict(sorted(self.notices.items())),
            "shapes": dict(sorted(self.shapes.items())),
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "balanced": self.balanced,
        }


@dataclass(frozen=True, slots=True)
class IngestProgress:
    files_done: int
    files_total: int
    events: int
    bytes_read: int


MAX_PROBLEM_LINES = 200


class _Run:
    """State of one ingest run."""

    def __init__(self, case: Case, run_id: int, summary: IngestSummary, accumulator: GraphAccumulator) -> None:
        self.case = case
        self.run_id = run_id
        self.summary = summary
        self.acc = accumulator
        self.last_checkpoint = clock.monotonic()

    def problem(
        self, source: str, reason: str, detail: str, position: int | None = None, line: int | None = None
    ) -> None:
        where = source if line is None else f"{source}:{line}"
        if position is not None and line is None:
            where = f"{source} record {position}"
        text = f"{where}: {reason}" + (f" ({detail})" if detail else "")
        log.warning("rejected %s", text)
        if len(self.summary.problems) < MAX_PROBLEM_LINES:
            self.summary.problems.append(text)
        self.case.add_reject(source, position, line, reason, detail, self.run_id)

    def ingest_file(self, log_file: LogFile, limits: ReadLimits) -> None:
        summary = self.summary
        try:
            data = log_file.read_bytes()
        except OSError as exc:
            summary.files_rejected["unreadable"] += 1
            self.problem(log_file.source, "unreadable", str(exc))
            return
        summary.bytes_read += len(data)
        digest = hashlib.sha256(data).hexdigest()
        if self.case.file_known(digest):
            summary.files_already_ingested += 1
            return
        file_id = self.case.add_file(log_file.source, digest, len(data), self.run_id)
        counts = Counter[str]()
        shapes: set[str] = set()
        status = "ingested"
        batch: list[tuple[Event, bytes]] = []
        for item in read_records(log_file.source, data, limits):
            if isinstance(item, RawRecord):
                counts["records"] += 1
                summary.records_read += 1
                shapes.add(item.shape)
                summary.shapes[item.shape] += 1
                try:
                    event = normalize_record(item.data)
                except RecordRejected as exc:
                    counts["rejected"] += 1
                    summary.rejected[exc.reason] += 1
                    self.problem(item.origin.source, exc.reason, exc.detail, item.origin.index, item.origin.line)
                    continue
                batch.append((event, pack_record(event.record_json)))
                if len(batch) >= BATCH_SIZE:
                    self._flush(batch, file_id, counts)
                    batch = []
            elif isinstance(item, Rejected):
                if item.whole_file:
                    status = "rejected"
                    summary.files_rejected[item.reason] += 1
                    self.problem(item.origin.source, item.reason, item.detail)
                else:
                    counts["records"] += 1
                    counts["rejected"] += 1
                    summary.records_read += 1
                    summary.rejected[item.reason] += 1
                    self.problem(item.origin.source, item.reason, item.detail, item.origin.index, item.origin.line)
            elif isinstance(item, SkippedFile):
                status = f"skipped:{item.reason}"
                summary.files_skipped[item.reason] += 1
            elif isinstance(item, Notice):
                summary.notices[item.reason] += 1
                log.info("%s: %s %s", item.source, item.reason, item.detail)
        if batch:
            self._flush(batch, file_id, counts)
        if status == "ingested":
            summary.files_ingested += 1
        self.case.finish_file(
            file_id,
            shapes=shapes,
            records=counts["records"],
            ingested=counts["ingested"],
            duplicates=counts["duplicates"],
            rejected=counts["rejected"],
            status=status,
        )

    def _flush(self, batch: list[tuple[Event, bytes]], file_id: int, counts: Counter[str]) -> None:
        existing = self.case.existing_event_ids([event.event_id for event, _ in batch])
        rows: list[EventRow] = []
        insights: list[tuple[str, str, str, str, str | None, str | None, int, bytes]] = []
        issuances: list[Issuance] = []
        for event, raw in batch:
            if event.event_id in existing:
                counts["duplicates"] += 1
                self.summary.duplicates += 1
                continue
            existing.add(event.event_id)
            counts["ingested"] += 1
            when = format_time(event.time)
            if event.is_insight:
                # Insights describe rates, not identities: kept apart from the graph.
                self.summary.insights_ingested += 1
                insights.append(
                    (event.event_id, when, event.name, event.source, event.account, event.region, file_id, raw)
                )
                continue
            self.summary.events_ingested += 1
            effect = resolve_action(event)
            self.acc.add_event(event, effect)
            issuance = Issuance.from_event(event)
            if issuance is not None:
                issuances.append(issuance)
            principal = event.principal
            rows.append(
                EventRow(
                    event.event_id, when, event.name, event.source, event.region, event.account, principal.key,
                    principal.kind, event.access_key_id, event.source_ip or event.source_service, event.user_agent,
                    event.error_code, event.category, event.shared_event_id, effect.target.key, file_id, raw,
                )
            )  # fmt: skip
        self.case.add_events(rows)
        if insights:
            self.case.add_insights(insights)
        if issuances:
            self.case.add_issuances(issuances)

    def checkpoint(self, *, final: bool) -> None:
        """Write the graph with the events it summarises, in one transaction."""
        derived = finalize_lineage(self.case, self.acc) if final else []
        self.case.replace_graph(self.acc.iter_nodes(), self.acc.iter_edges(), derived)
        self.case.commit()
        self.last_checkpoint = clock.monotonic()
        if not final:
            self.case.begin()


def finalize_lineage(case: Case, acc: GraphAccumulator) -> list[EdgeState]:
    """Resolve every temporary key's lineage over the whole case; returns the MINTED edges it implies."""
    uses = [
        KeyUse(
            access_key_id=node.key,
            acts_as=node.props.get("owner"),
            role_arn=node.props.get("role"),
            session_name=node.props.get("session_name"),
            session_created=node.props.get("session_created"),
            ec2_role_delivery=node.props.get("ec2_role_delivery"),
            workload=node.props.get("workload"),
        )
        for node in acc.nodes.values()
        if node.kind == "AccessKey" and node.props.get("temporary")
    ]
    lineage = resolve_lineage(case.issuances(), uses)
    case.replace_lineage(sorted(lineage.values(), key=lambda item: item.access_key_id))
    derived: list[EdgeState] = []
    for item in sorted(lineage.values(), key=lambda item: item.access_key_id):
        key_node = acc.nodes.get(item.access_key_id)
        if key_node is None:
            continue
        _apply_lineage(key_node.props, item)
        if not item.resolved or item.issuer is None:
            continue
        when = item.time or key_node.first_seen or ""
        if item.issuer not in acc.nodes:
            acc.node(item.issuer, item.issuer_kind or "Unknown", when, name=item.issuer)
        edge = EdgeState(src=item.issuer, type=MINTED, dst=item.access_key_id, count=1, traversable=True)
        edge.seen(when)
        if item.event_id:
            edge.early = [(when, item.event_id)]
        edge.facts = {"method": {item.method: when}}
        if item.via:
            edge.facts["via"] = {item.via: when}
        if item.issuer_key:
            edge.access_keys = {item.issuer_key: when}
        if item.source_ip:
            edge.source_ips = {item.source_ip: when}
        if item.user_agent:
            edge.user_agents = {item.user_agent: when}
        derived.append(edge)
    return derived


def _apply_lineage(props: dict[str, Any], item: KeyLineage) -> None:
    props["lineage"] = item.method
    for name, value in (
        ("minted_by", item.issuer),
        ("minted_by_event", item.event_id),
        ("minted_with_key", item.issuer_key),
        ("minted_from_ip", item.source_ip),
        ("minted_at", item.time),
        ("minted_via", item.via),
    ):
        if value is not None:
            props[name] = value
        else:
            props.pop(name, None)


def ingest_paths(
    paths: Sequence[str],
    case_path: str | Path,
    *,
    limits: ReadLimits | None = None,
    stdin: BinaryIO | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestSummary:
    """Read `paths` into the case at `case_path` (created if missing). Re-running adds only what is new."""
    limits = limits or ReadLimits()
    summary = IngestSummary()
    started = clock.monotonic()
    items = list(iter_log_files(paths, stdin=stdin, limits=limits))
    files_total = sum(1 for item in items if isinstance(item, LogFile))
    with Case(case_path, create=True) as case:
        run_id = case.start_run(_now(), paths)
        accumulator = GraphAccumulator()
        accumulator.load(case.node_states(), case.edge_states())
        run = _Run(case, run_id, summary, accumulator)
        case.begin()
        done = 0
        try:
            for item in items:
                summary.files_seen += 1
                if isinstance(item, SkippedFile):
                    summary.files_skipped[item.reason] += 1
                elif isinstance(item, Rejected):
                    summary.files_rejected[item.reason] += 1
                    run.problem(item.origin.source, item.reason, item.detail)
                else:
                    run.ingest_file(item, limits)
                    done += 1
                    if progress is not None:
                        progress(IngestProgress(done, files_total, summary.events_ingested, summary.bytes_read))
                    if clock.monotonic() - run.last_checkpoint > CHECKPOINT_SECONDS:
                        run.checkpoint(final=False)
            summary.seconds = clock.monotonic() - started
            case.finish_run(run_id, _now(), summary.as_dict())
            run.checkpoint(final=True)
        except BaseException:
            case.rollback()
            raise
    return summary


def _now() -> str:
    return format_time(datetime.now(tz=UTC))
