"""Ingest: sources → normalized events → case. Incremental, idempotent, and it accounts for every record.

Each log file is read, normalized and aggregated on its own (in worker processes when there are several
files and cores), into a `FileResult`: event rows for the case and a small graph of that file's events.
The main process alone touches the case: it drops files already ingested, deduplicates events against
what the case holds, stores the rows and folds each file's graph into the case's. Files are folded in
listing order, so the case is the same whatever the number of workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import multiprocessing.connection
import operator
import os
import signal
import time as clock
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from graphtrail.accumulate import EdgeState, EventGroups, GraphAccumulator
from graphtrail.case import Case, StoredFile, pack_records
from graphtrail.cloudtrail.actions import ActionEffect, resolve_action
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.normalize import normalize_copy, normalize_record
from graphtrail.cloudtrail.timeparse import format_time
from graphtrail.collector import fewer_collections
from graphtrail.errors import GraphtrailError, RecordRejected
from graphtrail.lineage import Issuance, KeyLineage, KeyUse, resolve_lineage
from graphtrail.recurring import RecurringRecords, block_reading_of, reading_of, worker_memo
from graphtrail.schema import MINTED
from graphtrail.sources import LogFile, ReadLimits, iter_log_files, read_records
from graphtrail.sources.records import Notice, RawRecord, RecordCopy, RecurringRecord, Rejected, SkippedFile

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 60.0  # the least time between two checkpoints of a run
# A checkpoint rewrites the whole graph, which grows with the run (a million events of 50 accounts: 500,000
# edges, 5 s). Spacing checkpoints by this many times the last one's duration keeps their writing under a
# tenth of a long run; a fixed minute would let it grow toward most of the run.
CHECKPOINT_SPACING = 9.0


def next_checkpoint_interval(seconds_taken: float) -> float:
    """Seconds from the end of a checkpoint that took `seconds_taken` to the next one."""
    return max(CHECKPOINT_SECONDS, seconds_taken * CHECKPOINT_SPACING)


MAX_PROBLEM_LINES = 200


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
    workers: int = 1
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
            "workers": self.workers,
            "balanced": self.balanced,
        }


@dataclass(frozen=True, slots=True)
class IngestProgress:
    files_done: int
    files_total: int
    events: int
    bytes_read: int


@dataclass(frozen=True, slots=True)
class Problem:
    """A reject, where it happened and why (never the record's content: it may hold secrets)."""

    source: str
    reason: str
    detail: str
    position: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where = f"{self.source}:{self.line}"
        elif self.position is not None:
            where = f"{self.source} record {self.position}"
        return f"{where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class FileResult:
    """One file, read and aggregated on its own; nothing in it has touched the case yet.

    Its tallies are plain dicts, not Counters: a worker pickles every file's result, and unpickling a
    Counter runs Python code (five of them made unpickling a small file's result 2.7 times as slow).
    """

    source: str
    sha256: str = ""
    size: int = 0
    status: str = "ingested"  # ingested | rejected | skipped:REASON | unreadable | known
    shapes: dict[str, int] = field(default_factory=dict)
    records: int = 0
    duplicates: int = 0  # the same eventID twice within this file
    rejected: dict[str, int] = field(default_factory=dict)
    file_rejects: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # EventRow fields, file_id left None
    insights: list[tuple[str, str, str, str, str | None, str | None, int]] = field(default_factory=list)
    frame: bytes = b""  # the records of `rows` and `insights`, one a line (`pack_records`)
    issuances: list[Issuance] = field(default_factory=list)
    graph: GraphAccumulator | None = None  # only when read on its own (read_log_file without `into`)

    def __reduce__(self) -> tuple[Any, ...]:
        return FileResult, _file_result_fields(self)  # as NodeState's: a worker sends one per file

    @property
    def event_ids(self) -> list[str]:
        return [row[0] for row in self.rows] + [row[0] for row in self.insights]


_file_result_fields = operator.attrgetter(*(item.name for item in dataclasses.fields(FileResult)))


@dataclass
class BatchResult:
    """Neighbouring files read together: each file's rows and accounting, and one graph of all their events."""

    files: list[FileResult]
    graph: GraphAccumulator


_NOT_HASHED = ("unreadable", "known")  # files whose content the main process need not look up
BATCH_BYTES = 1 << 20  # compressed bytes of log files handed to a worker at once
BATCH_FILES = 64
_UNKNOWN_SIZE = 64 << 10


def plan_batches(files: Sequence[LogFile]) -> list[range]:
    """Neighbouring files in groups of about BATCH_BYTES; fixed by the listing alone, never by the workers."""
    batches: list[range] = []
    start = size = 0
    for index, log_file in enumerate(files):
        size += log_file.size if log_file.size is not None else _UNKNOWN_SIZE
        if size >= BATCH_BYTES or index + 1 - start >= BATCH_FILES:
            batches.append(range(start, index + 1))
            start, size = index + 1, 0
    if start < len(files):
        batches.append(range(start, len(files)))
    return batches


def read_log_batch(
    log_files: Sequence[LogFile],
    limits: ReadLimits,
    *,
    known: Collection[str] = (),
    exclude: Collection[str] = (),
    recurring: RecurringRecords | None = None,
) -> BatchResult:
    """Read a few files into one aggregate. Pure: no case, no globals; safe in a worker process.

    One graph per batch rather than per file: the main process then merges (and a worker pickles) each
    node and structural edge once per batch, and alike events from neighbouring files group together.
    An event id seen earlier in the batch counts as a duplicate, as it would if the files were folded
    one after the other.
    """
    graph = GraphAccumulator()
    groups = EventGroups(graph)
    seen: set[str] = set()
    files = [read_log_file(log_file, limits, known=known, exclude=exclude, into=groups, seen=seen, recurring=recurring)
             for log_file in log_files]  # fmt: skip
    groups.flush()
    return BatchResult(files, graph)


def read_log_file(
    log_file: LogFile,
    limits: ReadLimits,
    *,
    known: Collection[str] = (),
    exclude: Collection[str] = (),
    into: EventGroups | None = None,
    seen: set[str] | None = None,
    recurring: RecurringRecords | None = None,
) -> FileResult:
    """Read, normalize and aggregate one file. Pure: no case, no globals; safe in a worker process.

    `known` holds content hashes already in the case (the file is then not parsed); `exclude` holds event
    ids the case already has (they count as duplicates and stay out of the aggregate). Given `into` (and
    `seen`, the event ids already added to it), the file's events join that batch's aggregate; otherwise
    the result carries a graph of its own. `recurring`, a worker's memo of records, changes nothing in the
    result, only its cost (`graphtrail.recurring`).
    """
    result = FileResult(source=log_file.source)
    try:
        data = log_file.read_bytes()
    except OSError as exc:
        result.status = "unreadable"
        _tally(result.file_rejects, "unreadable")
        result.problems.append(Problem(log_file.source, "unreadable", str(exc)))
        return result
    result.size = len(data)
    result.sha256 = hashlib.sha256(data).hexdigest()
    if result.sha256 in known:
        result.status = "known"
        return result
    groups = into if into is not None else EventGroups(GraphAccumulator())
    if into is None:
        result.graph = groups.graph
    if seen is None:
        seen = set()
    shapes = result.shapes
    records: list[bytes] = []  # the redacted JSON of the events kept, stored as the file's frame
    for item in read_records(log_file.source, data, limits, recurring):
        if type(item) is RecurringRecord:  # a copy of an earlier record but for its ids and time
            result.records += 1
            shapes["records"] = shapes.get("records", 0) + 1
            event_id = item.event_id
            if event_id in seen or event_id in exclude:
                result.duplicates += 1
                continue
            seen.add(event_id)
            reading = item.reading
            line = len(records)
            records.append(item.record_json)
            groups.add_keyed(reading.group, reading.event, reading.effect, item.when, event_id)
            result.rows.append(
                _event_row(event_id, item.when, reading.row_head, item.shared_event_id, reading.effect, line)
            )
        elif isinstance(item, (RawRecord, RecordCopy)):
            result.records += 1
            if type(item) is RecordCopy:  # a copy of an earlier record but for its ids, time and blocks
                reading = item.reading
                event = normalize_copy(reading.event, item.event_id, item.when, item.request_id,
                                       item.shared_event_id, item.pieces, item.blocks)  # fmt: skip
                if event is None:  # a block only orjson's path may judge: the record is read whole
                    try:
                        item = RawRecord(orjson.loads(item.raw), item.origin, "records", item.recurrence)
                    except orjson.JSONDecodeError as exc:  # never seen: its blocks parsed, the rest is a record's
                        _tally(result.rejected, "malformed-json")
                        origin = item.origin
                        result.problems.append(Problem(origin.source, "malformed-json", str(exc)[:100], origin.index))
                        continue
                else:
                    shapes["records"] = shapes.get("records", 0) + 1
                    row_head = reading.row_head
                    block_token = -1
            if type(item) is RawRecord:
                shapes[item.shape] = shapes.get(item.shape, 0) + 1
                try:
                    event = normalize_record(item.data)
                except RecordRejected as exc:
                    _tally(result.rejected, exc.reason)
                    origin = item.origin
                    result.problems.append(Problem(origin.source, exc.reason, exc.detail, origin.index, origin.line))
                    continue
                row_head = None
                block_token = item.block_recurrence
            if event.event_id in seen or event.event_id in exclude:
                result.duplicates += 1
                continue
            seen.add(event.event_id)
            line = len(records)
            records.append(event.record_json)
            if event.is_insight:
                # Insights describe call rates, not identities: kept apart from the graph.
                result.insights.append((event.event_id, event.when, event.name, event.source, event.account,
                                        event.region, line))  # fmt: skip
                continue
            effect = resolve_action(event)
            groups.add(event, effect)
            issuance = Issuance.from_event(event)
            if issuance is not None:
                result.issuances.append(issuance)
            if row_head is None:
                row_head = _row_head(event)
            result.rows.append(_event_row(event.event_id, event.when, row_head, event.shared_event_id, effect, line))
            if recurring is not None:  # seen before: its copies may share its reading
                if item.recurrence >= 0:
                    recurring.learn(item.recurrence, reading_of(event, effect, row_head), event.record_json)
                if block_token >= 0:
                    recurring.learn(block_token, block_reading_of(event, row_head), event.record_json)
        elif isinstance(item, Rejected):
            origin = item.origin
            if item.whole_file:
                result.status = "rejected"
                _tally(result.file_rejects, item.reason)
                result.problems.append(Problem(origin.source, item.reason, item.detail))
            else:
                result.records += 1
                _tally(result.rejected, item.reason)
                result.problems.append(Problem(origin.source, item.reason, item.detail, origin.index, origin.line))
        elif isinstance(item, SkippedFile):
            result.status = f"skipped:{item.reason}"
            _tally(result.skipped, item.reason)
        elif isinstance(item, Notice):
            _tally(result.notices, item.reason)
            log.info("%s: %s %s", item.source, item.reason, item.detail)
    if records:
        result.frame = pack_records(records)
    if into is None:
        groups.flush()
    return result


def _event_row(
    event_id: str, when: str, head: tuple[Any, ...], shared_event_id: str | None, effect: ActionEffect, line: int
) -> tuple[Any, ...]:
    """An event's case row: `EventRow`'s fields, file_id left None (the main process knows it)."""
    return (event_id, when, *head, shared_event_id, effect.target.key, None, line)


def _row_head(event: Event) -> tuple[Any, ...]:
    """An event's case row (`EventRow`) from `name` to `category`: what copies of its record share."""
    principal = event.principal
    return (event.name, event.source, event.region, event.account, principal.key, principal.kind,
            event.access_key_id, event.source_ip or event.source_service, event.user_agent, event.error_code,
            event.category)  # fmt: skip


def _tally(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1


# Set in the parent before the workers fork, so tasks are plain numbers (LogFile loaders are closures).
_WORK: tuple[list[LogFile], list[range], ReadLimits, frozenset[str]] | None = None

# A worker's task: (task id, None, ()) reads batch number `task id`; (task id, file numbers, event ids) reads
# those files again leaving the events out (ids of such re-reads are negative).
_Task = tuple[int, list[int] | None, Collection[str]]


def _work_loop(tasks: Any, results: Any) -> None:
    """A worker: read the batches it is handed until told to stop. Ctrl-C is left to the main process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert _WORK is not None
    files, batches, limits, known = _WORK
    recurring = worker_memo()
    while (task := tasks.get()) is not None:
        task_id, numbers, exclude = task
        try:
            if numbers is None:
                batch = [files[number] for number in batches[task_id]]
                result = read_log_batch(batch, limits, known=known, recurring=recurring)
            else:
                batch = [files[number] for number in numbers]
                result = read_log_batch(batch, limits, exclude=exclude, recurring=recurring)
            results.put((task_id, result, None))
        except BaseException as exc:  # reported to the main process, which stops the run
            results.put((task_id, None, f"{type(exc).__name__}: {exc}"))


class _FileWorkers:
    """Worker processes that read batches of files and hand back results in listing order.

    Written out rather than multiprocessing.Pool: a Pool can hang when it is terminated while results are
    in flight (Ctrl-C, an error in the main process); these workers are simply killed.
    """

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self._tasks = context.SimpleQueue()
        self._results = context.SimpleQueue()
        self._processes = [
            context.Process(target=_work_loop, args=(self._tasks, self._results), daemon=True) for _ in range(workers)
        ]
        for process in self._processes:
            process.start()
        self._ready: dict[int, BatchResult] = {}
        self._again = 0

    def results(self, count: int, ahead: int) -> Iterator[BatchResult]:
        """Results for batches 0..count-1 in order, with at most `ahead` handed out and not yet used."""
        submitted = 0
        for wanted in range(count):
            while submitted < count and submitted < wanted + ahead:
                self._tasks.put((submitted, None, ()))
                submitted += 1
            yield self._wait_for(wanted)

    def read_again(self, numbers: Sequence[int], exclude: Collection[str]) -> BatchResult:
        """Files read once more, without `exclude`, by a worker (the batches handed out carry on meanwhile).

        In a worker rather than here so the main process keeps none of the normalizer's caches: filled by
        re-reads, they made its memory grow with every one.
        """
        self._again -= 1
        task: _Task = (self._again, list(numbers), frozenset(exclude))
        self._tasks.put(task)
        return self._wait_for(self._again)

    def _wait_for(self, task_id: int) -> BatchResult:
        while task_id not in self._ready:
            index, result, error = self._receive()
            if error is not None:
                raise GraphtrailError(f"an ingest worker failed on task {index}: {error}")
            assert result is not None
            self._ready[index] = result
        return self._ready.pop(task_id)

    def _receive(self) -> tuple[int, BatchResult | None, str | None]:
        reader = self._results._reader
        while True:
            waited = multiprocessing.connection.wait([reader, *(p.sentinel for p in self._processes)], timeout=5.0)
            if reader in waited:
                return self._results.get()
            dead = [p for p in self._processes if not p.is_alive()]
            if dead:
                raise GraphtrailError(f"an ingest worker stopped unexpectedly (exit code {dead[0].exitcode})")

    def stop(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.kill()
        for process in self._processes:
            process.join(timeout=5.0)
        self._tasks.close()
        self._results.close()


class _Run:
    """The main process's side of one ingest run: the only code that writes the case."""

    def __init__(
        self,
        case: Case,
        run_id: int,
        summary: IngestSummary,
        accumulator: GraphAccumulator,
        read_again: Callable[[Sequence[int], Collection[str]], BatchResult],
    ) -> None:
        self.case = case
        self.read_again = read_again
        self.run_id = run_id
        self.summary = summary
        self.acc = accumulator
        self.next_file_id = case.next_file_id()
        self.last_checkpoint = clock.monotonic()
        self.checkpoint_interval = CHECKPOINT_SECONDS

    def problem(self, problem: Problem) -> None:
        log.info("rejected %s", problem)
        if len(self.summary.problems) < MAX_PROBLEM_LINES:
            self.summary.problems.append(str(problem))
        self.case.add_reject(
            problem.source, problem.position, problem.line, problem.reason, problem.detail, self.run_id
        )

    def fold(self, batch: BatchResult, numbers: Sequence[int], log_files: Sequence[LogFile]) -> list[FileResult]:
        """Store a batch's files in the case (but those it has already) and fold in their graph.

        Returns each file's result as finally counted. The batch's files and issuances are written with one
        statement each: on a month of 50 accounts (2.6 events a file) a statement per file cost the main
        process a tenth of its time.
        """
        summary = self.summary
        stored: list[tuple[int, int]] = []  # (position in the batch, file id) of the files stored
        results = list(batch.files)
        held = self.case.known_among([result.sha256 for result in results if result.status not in _NOT_HASHED])
        frames: list[tuple[int, bytes]] = []
        again = False  # the batch's graph holds events that are not to be counted: aggregate once more
        for position, result in enumerate(batch.files):
            summary.bytes_read += result.size
            if result.status == "unreadable":
                summary.files_rejected.update(result.file_rejects)
                for problem in result.problems:
                    self.problem(problem)
                continue
            if result.status == "known" or result.sha256 in held:
                summary.files_already_ingested += 1
                again = again or result.status != "known"  # read in this run under another name
                continue
            held.add(result.sha256)
            file_id = self.next_file_id
            self.next_file_id += 1
            count = self.case.add_events(result.rows, file_id)
            if result.insights:
                count += self.case.add_insights((*row, file_id) for row in result.insights)
            if result.frame:
                frames.append((file_id, result.frame))
            # Fewer stored means events already in the case (another trail, a re-delivery).
            again = again or count < len(result.rows) + len(result.insights)
            stored.append((position, file_id))
        graph: GraphAccumulator | None = batch.graph
        if again:
            # Aggregate the stored files again, without the events the case held before them.
            graph = None
            if stored:
                event_ids = [event_id for position, _ in stored for event_id in results[position].event_ids]
                existing = self.case.event_ids_from_other_files(event_ids, [file_id for _, file_id in stored])
                reread = self.read_again([numbers[position] for position, _ in stored], existing)
                graph = reread.graph
                for (position, _), result in zip(stored, reread.files, strict=True):
                    results[position] = result
        self.case.add_files([self._count(results[at], file_id, log_files[at]) for at, file_id in stored])
        self.case.add_records(frames)
        issuances = [issuance for position, _ in stored for issuance in results[position].issuances]
        if issuances:
            self.case.add_issuances(issuances)
        if graph is not None:
            self.acc.merge(graph)
        return results

    def _count(self, result: FileResult, file_id: int, log_file: LogFile) -> StoredFile:
        summary = self.summary
        summary.records_read += result.records
        summary.events_ingested += len(result.rows)
        summary.insights_ingested += len(result.insights)
        summary.duplicates += result.duplicates
        for tally, counts in (
            (summary.rejected, result.rejected),
            (summary.files_rejected, result.file_rejects),
            (summary.files_skipped, result.skipped),
            (summary.notices, result.notices),
            (summary.shapes, result.shapes),
        ):
            if counts:  # Counter.update runs Python code even for nothing
                tally.update(counts)
        if result.status == "ingested":
            summary.files_ingested += 1
        for problem in result.problems:
            self.problem(problem)
        return StoredFile(
            id=file_id,
            source=log_file.source,
            sha256=result.sha256,
            size=result.size,
            shapes=",".join(sorted(result.shapes)),
            records=result.records,
            ingested=len(result.rows) + len(result.insights),
            duplicates=result.duplicates,
            rejected=sum(result.rejected.values()),
            status=result.status,
            run_id=self.run_id,
        )

    def checkpoint(self, *, final: bool) -> None:
        """Write the graph with the events it summarises, in one transaction."""
        began = clock.monotonic()
        derived: list[EdgeState] = []
        if final:
            self.case.ensure_indexes()
            renames = self.acc.canonicalize_iam_paths()
            if renames:
                self.case.rename_targets(renames)
            derived = finalize_lineage(self.case, self.acc)
        self.case.replace_graph(self.acc.iter_nodes(), self.acc.iter_edges(), derived)
        self.case.commit()
        self.last_checkpoint = clock.monotonic()
        self.checkpoint_interval = next_checkpoint_interval(self.last_checkpoint - began)
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
            workload_type=node.props.get("workload_type"),
            acts_as_kind=_kind_of(acc, node.props.get("owner")),
            console=bool(node.props.get("console")),
        )
        for node in acc.nodes.values()
        if node.kind == "AccessKey" and node.props.get("temporary")
    ]
    lineage = resolve_lineage(case.issuances(), uses, case.last_console_login)
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


def _kind_of(acc: GraphAccumulator, key: str | None) -> str | None:
    node = acc.nodes.get(key) if key else None
    return node.kind if node is not None else None


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


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def ingest_paths(
    paths: Sequence[str],
    case_path: str | Path,
    *,
    limits: ReadLimits | None = None,
    stdin: BinaryIO | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
    workers: int | None = None,
) -> IngestSummary:
    """Read `paths` into the case at `case_path` (created if missing). Re-running adds only what is new.

    `workers` processes read and aggregate files in parallel (default: one per core); the result does not
    depend on it.
    """
    limits = limits or ReadLimits()
    listed = iter_log_files(paths, stdin=stdin, limits=limits)
    if "-" in paths:
        workers = 1
    return ingest_log_files(listed, case_path, run_paths=paths, limits=limits, progress=progress, workers=workers)


@dataclass(frozen=True, slots=True)
class RunHooks:
    """For sources that act at points of a run (graphtrail.aws: S3 downloads and their bookkeeping)."""

    started: Callable[[], None] | None = None  # once worker processes exist: start threads here, after the fork
    folded: Callable[[Case, LogFile, FileResult], None] | None = None  # after each file, in the run's transaction


@fewer_collections()  # the workers, forked inside, inherit it
def ingest_log_files(
    listed: Iterable[LogFile | Rejected | SkippedFile],
    case_path: str | Path,
    *,
    run_paths: Sequence[str],
    limits: ReadLimits | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
    workers: int | None = None,
    hooks: RunHooks | None = None,
) -> IngestSummary:
    """Read already-listed files (from disk, S3 or an API) into the case; `run_paths` names them in the case."""
    global _WORK
    limits = limits or ReadLimits()
    hooks = hooks or RunHooks()
    paths = list(run_paths)
    summary = IngestSummary()
    started = clock.monotonic()
    listed = list(listed)
    files = [item for item in listed if isinstance(item, LogFile)]
    workers = default_workers() if workers is None else max(1, workers)
    if len(files) < 2 or multiprocessing.get_start_method(allow_none=True) not in (None, "fork"):
        workers = 1
    summary.workers = workers
    with Case(case_path, create=True) as case:
        run_id = case.start_run(_now(), paths)
        accumulator = GraphAccumulator()
        accumulator.load(case.node_states(), case.edge_states())

        def read_here(numbers: Sequence[int], exclude: Collection[str]) -> BatchResult:
            return read_log_batch([files[number] for number in numbers], limits, exclude=exclude)

        run = _Run(case, run_id, summary, accumulator, read_here)
        for item in listed:
            summary.files_seen += 1
            if isinstance(item, SkippedFile):
                summary.files_skipped[item.reason] += 1
            elif isinstance(item, Rejected):
                summary.files_rejected[item.reason] += 1
                run.problem(Problem(item.origin.source, item.reason, item.detail))
        known = frozenset(case.known_file_hashes())
        case.begin()
        pool: _FileWorkers | None = None
        try:
            batches = plan_batches(files)
            if workers > 1:
                _WORK = (files, batches, limits, known)
                pool = _FileWorkers(workers)
                run.read_again = pool.read_again
                results: Iterable[BatchResult] = pool.results(len(batches), ahead=2 * workers)
            else:
                recurring = worker_memo()
                results = (
                    read_log_batch([files[i] for i in batch], limits, known=known, recurring=recurring)
                    for batch in batches
                )
            if hooks.started is not None:
                hooks.started()
            for batch, result in zip(batches, results, strict=True):
                log_files = [files[i] for i in batch]
                for log_file, file_result in zip(log_files, run.fold(result, batch, log_files), strict=True):
                    if hooks.folded is not None:
                        hooks.folded(case, log_file, file_result)
                if progress is not None:
                    progress(IngestProgress(batch.stop, len(files), summary.events_ingested, summary.bytes_read))
                if clock.monotonic() - run.last_checkpoint > run.checkpoint_interval:
                    run.checkpoint(final=False)
            summary.seconds = clock.monotonic() - started
            case.finish_run(run_id, _now(), summary.as_dict())
            run.checkpoint(final=True)
        except BaseException:
            case.rollback()
            raise
        finally:
            _WORK = None
            if pool is not None:
                pool.stop()
    return summary


def _now() -> str:
    return format_time(datetime.now(tz=UTC))
