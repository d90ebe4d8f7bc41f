"""Ingest from AWS: orchestrates listing (s3 / lookup), downloading and `graphtrail.ingest.ingest_log_files`.

S3 keeps a bookkeeping table in the case (bucket, key, ETag): an object is recorded in the same
transaction as its events, so a re-run (or a run after an interrupted one) downloads only the objects not
yet stored, and none is ingested twice. An object that could not be downloaded is not recorded: the next
run tries it again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from graphtrail.aws.errors import AwsError
from graphtrail.aws.lookup import LookupPage, LookupQuery, TokenBucket, iter_all_pages, lookup_notes, utc_now
from graphtrail.aws.s3 import (
    S3Location,
    S3Object,
    Spool,
    SpooledObject,
    TrailFilters,
    TrailListing,
    bucket_client,
    describe_empty,
    parse_s3_url,
    walk_trail,
)
from graphtrail.aws.session import AwsSettings, make_client, make_session, session_region
from graphtrail.case import Case
from graphtrail.ingest import (
    BATCH_FILES,
    FileResult,
    IngestProgress,
    IngestSummary,
    RunHooks,
    default_workers,
    ingest_log_files,
)
from graphtrail.sources import LogFile, ReadLimits, SkippedFile

log = logging.getLogger(__name__)

DEFAULT_THREADS = 16
LOOKUP_ROUND_PAGES = 400  # pages (20,000 events) stored per round, so an interruption loses little


@dataclass
class AwsIngestResult:
    summary: IngestSummary
    notes: list[str] = field(default_factory=list)  # what the user should know (blind spots, what was skipped)
    objects_listed: int = 0
    objects_downloaded: int = 0
    bytes_downloaded: int = 0
    list_calls: int = 0


def ingest_s3(
    urls: Sequence[str],
    case_path: str | Path,
    settings: AwsSettings,
    filters: TrailFilters,
    *,
    limits: ReadLimits | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    session: boto3.Session | None = None,
) -> AwsIngestResult:
    """Read the trails under `urls` (s3://BUCKET[/PREFIX]) into the case; a re-run reads only new objects."""
    limits = limits or ReadLimits()
    session = session or make_session(settings)
    clients: dict[str, Any] = {}
    skipped: list[SkippedFile] = []
    objects: list[S3Object] = []
    calls = 0
    with Case(case_path, create=True) as case:
        for url in urls:
            location = parse_s3_url(url)
            if location.bucket not in clients:
                clients[location.bucket] = bucket_client(
                    lambda region: make_client(session, "s3", settings, region=region, pool=threads), location.bucket
                )
            done = case.s3_objects(location.bucket, location.prefix)
            listing = walk_trail(clients[location.bucket], location, filters, done=done, threads=min(threads, 8))
            calls += listing.calls
            _check_found(location, listing, filters)
            objects.extend(listing.objects)
            skipped.extend(listing.skipped)
    objects = list({(obj.bucket, obj.key): obj for obj in objects}.values())  # overlapping URLs
    already = sum(1 for item in skipped if item.reason == "already-ingested")
    log.info("%d objects to read, %d already in the case, %d list calls", len(objects), already, calls)
    # Workers take whole batches, handed out ahead of the fold: the window covers those, so none waits long.
    window = max(2 * threads, BATCH_FILES * (2 * (workers or default_workers()) + 2))
    spool = Spool(clients, objects, threads=threads, window=window, max_bytes=limits.max_file_bytes)
    try:
        spool.fetch_first()
        listed: list[LogFile | SkippedFile] = [*skipped, *spool.log_files()]
        hooks = RunHooks(started=spool.start, folded=_recorder(spool))
        summary = ingest_log_files(
            listed,
            case_path,
            run_paths=[*urls, *_filter_words(filters)],
            limits=limits,
            progress=progress,
            workers=workers,
            hooks=hooks,
        )
    finally:
        spool.close()
    notes = []
    if already:
        notes.append(f"{already:,} objects were read by an earlier run and skipped without downloading them")
    return AwsIngestResult(summary, notes, len(objects) + already, len(spool.etags), spool.bytes_downloaded, calls)


def _check_found(location: S3Location, listing: TrailListing, filters: TrailFilters) -> None:
    if not listing.objects and not any(item.reason == "already-ingested" for item in listing.skipped):
        raise AwsError(describe_empty(location, listing, filters))


def _recorder(spool: Spool) -> Callable[[Case, LogFile, FileResult], None]:
    """Record each stored object in the case; one that could not be downloaded stays unrecorded (retried)."""

    def folded(case: Case, log_file: LogFile, result: FileResult) -> None:
        loader = log_file.loader
        if not isinstance(loader, SpooledObject):
            return
        spool.done(loader.index)
        if result.status == "unreadable":
            return
        obj = loader.obj
        case.add_s3_object(obj.bucket, obj.key, spool.etags.get(loader.index, obj.etag), result.status)

    return folded


def _filter_words(filters: TrailFilters) -> list[str]:
    words = [f"--account={value}" for value in sorted(filters.accounts)]
    words += [f"--region={value}" for value in sorted(filters.regions)]
    words += [f"--org-id={value}" for value in sorted(filters.org_ids)]
    if filters.start:
        words.append(f"--start={filters.start.isoformat()}")
    if filters.end:
        words.append(f"--end={filters.end.isoformat()}")
    return words


def ingest_lookup(
    query: LookupQuery,
    case_path: str | Path,
    settings: AwsSettings,
    *,
    limits: ReadLimits | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
    session: boto3.Session | None = None,
    clients: dict[str, Any] | None = None,
    buckets: dict[str, TokenBucket] | None = None,
    round_pages: int = LOOKUP_ROUND_PAGES,
) -> AwsIngestResult:
    """Page LookupEvents in every Region of `query` into the case, storing every `round_pages` pages."""
    if clients is None:
        session = session or make_session(settings)
        regions = query.regions or (session_region(session, settings),)
        query = dataclasses.replace(query, regions=tuple(regions))
        clients = {region: make_client(session, "cloudtrail", settings, region=region) for region in regions}
    notes = lookup_notes(query, utc_now())
    total = IngestSummary()
    run_paths = ["lookup-events", *[f"--region={region}" for region in query.regions]]
    run_paths += [f"--attribute={key}={value}" for key, value in query.attributes]
    offset = IngestProgress(0, 0, 0, 0)

    def shifted(state: IngestProgress) -> None:
        if progress is not None:
            progress(IngestProgress(offset.files_done + state.files_done, offset.files_done + state.files_total,
                                    offset.events + state.events, offset.bytes_read + state.bytes_read))  # fmt: skip

    batch: list[LookupPage] = []
    pages = iter_all_pages(clients, query, buckets=buckets)
    rounds = 0
    for page in pages:
        batch.append(page)
        if len(batch) >= round_pages:
            _merge(total, _store(batch, case_path, run_paths, limits, shifted))
            offset = IngestProgress(total.files_seen, total.files_seen, total.events_ingested, total.bytes_read)
            batch = []
            rounds += 1
    if batch or rounds == 0:
        _merge(total, _store(batch, case_path, run_paths, limits, shifted))
    return AwsIngestResult(total, notes)


def _store(
    batch: list[LookupPage],
    case_path: str | Path,
    run_paths: list[str],
    limits: ReadLimits | None,
    progress: Callable[[IngestProgress], None],
) -> IngestSummary:
    files = [page.log_file() for page in batch]
    return ingest_log_files(files, case_path, run_paths=run_paths, limits=limits, progress=progress, workers=1)


def _merge(total: IngestSummary, part: IngestSummary) -> None:
    """Add one round's accounting to the total (counts add, the problem lines are capped like a run's)."""
    for item in dataclasses.fields(IngestSummary):
        mine, theirs = getattr(total, item.name), getattr(part, item.name)
        if item.name == "workers":
            total.workers = max(mine, theirs)
        elif item.name == "problems":
            mine.extend(theirs[: max(0, 200 - len(mine))])
        elif isinstance(mine, dict):
            mine.update(theirs)
        else:
            setattr(total, item.name, mine + theirs)
