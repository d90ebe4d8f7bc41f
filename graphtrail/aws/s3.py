"""Walk a trail's S3 bucket by its delivery layout and download the objects in parallel, into a spool.

CloudTrail writes `[PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE.json.gz`. The walk
lists one level at a time with `Delimiter='/'`, so filters on organization, account, Region and date prune
whole subtrees instead of listing the bucket; digest folders (`CloudTrail-Digest/`) are never entered.

Downloads run on a bounded thread pool in the main process, sharing one (thread-safe) client per bucket.
Each object is streamed in chunks into a spool folder and renamed into place when complete; the `LogFile`
loader for that object waits for its spool file, reads it and deletes it. The loader holds only a path, so
it works the same in forked ingest workers (which never touch boto3) and in the main process; the spool
never holds more than `window` objects (the run releases one slot per file it has stored), so disk and
memory stay bounded whatever the size of the trail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from graphtrail.aws.errors import AwsAccessDenied, AwsError, error_code, explain, is_throttling
from graphtrail.sources import LogFile, SkippedFile

log = logging.getLogger(__name__)

DELIVERY_SLACK = timedelta(minutes=20)  # CloudTrail delivers a record within about 15 minutes of the call
_CHUNK = 1 << 20
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_FILE_TIME = re.compile(r"_(\d{8}T\d{4})Z[_.]")
_SERVICES = ("CloudTrail", "CloudTrail-Insight")  # CloudTrail-Digest holds only digests
_LOG_SUFFIXES = (".json.gz", ".json", ".jsonl.gz", ".jsonl", ".gz")
_REDIRECT_CODES = ("PermanentRedirect", "301", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ends with "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True, slots=True)
class TrailFilters:
    """What to read. Empty sets read everything; times select log files by the time in their name."""

    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    org_ids: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for account in self.accounts:
            if not _ACCOUNT.match(account):
                raise AwsError(f"--account {account!r} is not a 12-digit AWS account id")
        for org in self.org_ids:
            if not _ORG.match(org):
                raise AwsError(f"--org-id {org!r} is not an organization id (o- and 10 to 32 letters or digits)")
        if self.start and self.end and self.start > self.end:
            raise AwsError("--start is after --end")

    def keeps_span(self, first: datetime, after: datetime) -> bool:
        """Whether a date folder covering [first, after) can hold files in the window."""
        if self.start is not None and after <= self.start:
            return False
        return self.end is None or first <= self.end + DELIVERY_SLACK

    def keeps_file(self, name: str) -> bool:
        if self.start is None and self.end is None:
            return True
        match = _FILE_TIME.search(name)
        if match is None:
            return True  # no time in the name: the date folder already matched
        written = datetime.strptime(match.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)
        return self.keeps_span(written, written + timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    size: int

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class TrailListing:
    """What a walk found: objects to read, files deliberately skipped, and what each level held."""

    objects: list[S3Object] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)  # level -> names found there (for error messages)
    calls: int = 0


def parse_s3_url(url: str) -> S3Location:
    if not url.startswith("s3://"):
        raise AwsError(f"{url}: not an s3:// URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise AwsError(f"{url}: no bucket name (s3://BUCKET[/PREFIX])")
    segments = [segment for segment in prefix.split("/") if segment]
    return S3Location(bucket, "".join(f"{segment}/" for segment in segments))


def bucket_client(make: Callable[[str | None], Any], bucket: str) -> Any:
    """A client in the bucket's own Region (found with HeadBucket, whose answer names it even when refused)."""
    client = make(None)
    try:
        response = client.head_bucket(Bucket=bucket)
        region = response.get("BucketRegion") or _region_header(response)
    except ClientError as exc:
        code = error_code(exc)
        region = _region_header(exc.response)
        if code in ("404", "NoSuchBucket"):
            raise AwsError(f"no such bucket: s3://{bucket}") from None
        if code in _REDIRECT_CODES and region is None:
            raise AwsError(
                f"s3://{bucket} is in another Region than {client.meta.region_name} and AWS did not say which: "
                "set AWS_REGION (or the profile's region) to the bucket's Region"
            ) from None
        if code not in (*_REDIRECT_CODES, "403", "AccessDenied"):
            raise explain(exc, "s3:ListBucket", f"arn:aws:s3:::{bucket}") from None
        # 403: HeadBucket needs s3:ListBucket on the whole bucket; a policy limited to a prefix still lists it.
    except BotoCoreError as exc:
        raise explain(exc, "s3:ListBucket", f"arn:aws:s3:::{bucket}") from None
    if region and region != client.meta.region_name:
        log.info("s3://%s is in %s; using a client there", bucket, region)
        client = make(region)
    return client


def _region_header(response: dict[str, Any]) -> str | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers.get("x-amz-bucket-region")


# --- the walk ---------------------------------------------------------------------------------------------


def walk_trail(
    client: Any, location: S3Location, filters: TrailFilters, *, done: dict[str, str] | None = None, threads: int = 8
) -> TrailListing:
    """List the trail's log objects under `location` that pass `filters`, level by level.

    `done` maps keys already in the case to their ETag: those (unchanged) become `already-ingested` skips.
    """
    listing = TrailListing()
    level, start = _start_level(location)
    frontier = [(level, start)]
    if level == "root":
        frontier = _find_awslogs(client, location, listing)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-list") as pool:
        while frontier:
            children = pool.map(lambda item: _list_level(client, location.bucket, item[1], listing), frontier)
            next_frontier: list[tuple[str, str]] = []
            for (level, prefix), (prefixes, objects) in zip(frontier, children, strict=True):
                if level == "day":
                    _add_objects(location.bucket, objects, filters, done or {}, listing)
                    continue
                for child in prefixes:
                    name = child[len(prefix) :].rstrip("/")
                    child_level = _child_level(level, name)
                    listing.seen.setdefault(child_level or f"{level}:other", set()).add(name)
                    if child_level is None:
                        if name == "CloudTrail-Digest":
                            log.info("skipped the digest folder %s", child)
                        continue
                    if _keeps(child_level, name, child, filters):
                        next_frontier.append((child_level, child))
            frontier = next_frontier
    listing.objects.sort(key=lambda obj: obj.key)
    return listing


def _start_level(location: S3Location) -> tuple[str, str]:
    """Where in the layout the user's prefix points (a URL may go as deep as a day folder)."""
    segments = [segment for segment in location.prefix.split("/") if segment]
    if "AWSLogs" not in segments:
        return "root", location.prefix
    index = segments.index("AWSLogs")
    level = "awslogs"
    for name in segments[index + 1 :]:
        child = _child_level(level, name)
        if child is None:
            raise AwsError(
                f"{location.url}: {name!r} does not fit CloudTrail's layout "
                "AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ (digest folders are not read)"
            )
        level = child
    return level, location.prefix


def _child_level(level: str, name: str) -> str | None:
    if level == "root":
        return "awslogs" if name == "AWSLogs" else None
    if level == "awslogs":
        return "org" if _ORG.match(name) else "account" if _ACCOUNT.match(name) else None
    if level == "org":
        return "account" if _ACCOUNT.match(name) else None
    if level == "account":
        return "service" if name in _SERVICES else None
    if level == "service":
        return "region" if _REGION.match(name) else None
    if level == "region":
        return "year" if len(name) == 4 and name.isdigit() else None
    if level == "year":
        return "month" if len(name) == 2 and name.isdigit() else None
    if level == "month":
        return "day" if len(name) == 2 and name.isdigit() else None
    return None


def _keeps(level: str, name: str, prefix: str, filters: TrailFilters) -> bool:
    if level == "org":
        return not filters.org_ids or name in filters.org_ids
    if level == "account":
        return not filters.accounts or name in filters.accounts
    if level == "region":
        return not filters.regions or name in filters.regions
    if level in ("year", "month", "day"):
        span = _date_span(prefix, level)
        return span is None or filters.keeps_span(*span)
    return True


def _date_span(prefix: str, level: str) -> tuple[datetime, datetime] | None:
    parts = prefix.rstrip("/").split("/")
    try:
        if level == "year":
            year = int(parts[-1])
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        if level == "month":
            year, month = int(parts[-2]), int(parts[-1])
            first = datetime(year, month, 1, tzinfo=UTC)
            after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            return first, after
        year, month, day = int(parts[-3]), int(parts[-2]), int(parts[-1])
        first = datetime(year, month, day, tzinfo=UTC)
        return first, first + timedelta(days=1)
    except ValueError:
        return None  # not a real date (month 13): keep it, the files decide


def _find_awslogs(client: Any, location: S3Location, listing: TrailListing) -> list[tuple[str, str]]:
    """`AWSLogs/` under the prefix, or one level further down (a trail with its own key prefix)."""
    prefixes, _ = _list_level(client, location.bucket, location.prefix, listing)
    names = [child[len(location.prefix) :].rstrip("/") for child in prefixes]
    listing.seen["top"] = set(names)
    if "AWSLogs" in names:
        return [("awslogs", f"{location.prefix}AWSLogs/")]
    found = []
    for child in prefixes[:50]:
        below, _ = _list_level(client, location.bucket, child, listing)
        if f"{child}AWSLogs/" in below:
            found.append(("awslogs", f"{child}AWSLogs/"))
    return found


def _list_level(client: Any, bucket: str, prefix: str, listing: TrailListing) -> tuple[list[str], list[dict[str, Any]]]:
    """One folder: its sub-prefixes and its objects (every page)."""
    prefixes: list[str] = []
    objects: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    while True:
        try:
            page = _with_throttle_retries(lambda: client.list_objects_v2(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise _listing_error(exc, bucket, prefix) from None
        listing.calls += 1
        prefixes.extend(item["Prefix"] for item in page.get("CommonPrefixes", ()))
        objects.extend(page.get("Contents", ()))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return prefixes, objects
        kwargs["ContinuationToken"] = token


def _listing_error(exc: BaseException, bucket: str, prefix: str) -> AwsError:
    if isinstance(exc, ClientError) and error_code(exc) in _REDIRECT_CODES:
        region = _region_header(exc.response) or exc.response.get("Error", {}).get("Region")
        where = f"Region {region}" if region else "another Region"
        return AwsError(f"s3://{bucket} is in {where}: set AWS_REGION (or the profile's region) to it")
    resource = f"arn:aws:s3:::{bucket}" + (f" with s3:prefix {prefix!r}" if prefix else "")
    return explain(exc, "s3:ListBucket", resource)


def _add_objects(
    bucket: str, objects: Iterable[dict[str, Any]], filters: TrailFilters, done: dict[str, str], listing: TrailListing
) -> None:
    for item in objects:
        key = item["Key"]
        name = key.rsplit("/", 1)[-1]
        source = f"s3://{bucket}/{key}"
        if "CloudTrail-Digest" in name:
            listing.skipped.append(SkippedFile(source, "digest"))
        elif not name.lower().endswith(_LOG_SUFFIXES):
            listing.skipped.append(SkippedFile(source, "not-a-log"))
        elif not filters.keeps_file(name):
            continue  # outside the time window: not part of what was asked for
        elif done.get(key) == item.get("ETag", ""):
            listing.skipped.append(SkippedFile(source, "already-ingested"))
        else:
            listing.objects.append(S3Object(bucket, key, item.get("ETag", ""), int(item.get("Size", 0))))


def _with_throttle_retries(call: Callable[[], Any], rounds: int = 4) -> Any:
    """botocore already retried with backoff; when AWS still throttles, wait longer and try a few more times."""
    for attempt in range(rounds + 1):
        try:
            return call()
        except ClientError as exc:
            if not is_throttling(exc) or attempt == rounds:
                raise
            pause = min(30.0, 2.0 ** (attempt + 1)) * (0.5 + random.random() / 2)
            log.warning("AWS is throttling (%s); waiting %.1f s", error_code(exc), pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def describe_empty(location: S3Location, listing: TrailListing, filters: TrailFilters) -> str:
    """Why a walk found nothing, with what it did find, so the user can fix the prefix or the filters."""
    found = []
    for level, label in (("top", "folders"), ("org", "organizations"), ("account", "accounts"), ("region", "Regions")):
        names = sorted(listing.seen.get(level, ()))
        if names:
            shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
            found.append(f"{label}: {shown}")
    asked = [
        f"{flag} {', '.join(sorted(values))}"
        for flag, values in (("--org-id", filters.org_ids), ("--account", filters.accounts),
                             ("--region", filters.regions)) if values
    ]  # fmt: skip
    if filters.start or filters.end:
        asked.append("the --start/--end window")
    message = f"no CloudTrail log files under {location.url}"
    if asked:
        message += " matching " + "; ".join(asked)
    if found:
        message += " (found " + "; ".join(found) + ")"
    elif not listing.seen.get("top") and location.prefix:
        message += " (the prefix is empty: check its spelling)"
    return message


# --- the downloads ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpooledObject:
    """A `LogFile` loader: waits for the object's spool file and reads it. Holds no client.

    The file stays until the run has stored the object (`Spool.done`): ingest may read a file twice.
    """

    path: str
    index: int
    obj: S3Object
    timeout: float = 1800.0

    def __call__(self) -> bytes:
        failed = self.path + ".err"
        delay = 0.0005
        deadline = time.monotonic() + self.timeout
        while True:
            if os.path.exists(self.path):
                with open(self.path, "rb") as stream:
                    return stream.read()
            if os.path.exists(failed):
                with open(failed, encoding="utf-8") as stream:
                    message = stream.read()
                raise OSError(message)
            if time.monotonic() > deadline:
                raise OSError(f"gave up waiting {self.timeout:.0f} s for the download of {self.obj.source}")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


class Spool:
    """Downloads `objects` in order on `threads` threads, at most `window` ahead of what the run has stored."""

    def __init__(
        self,
        clients: dict[str, Any],
        objects: Sequence[S3Object],
        *,
        threads: int = 16,
        window: int = 64,
        max_bytes: int = 512 << 20,
    ) -> None:
        self.clients = clients
        self.objects = list(objects)
        self.threads = max(1, threads)
        self.window = max(1, window)
        self.max_bytes = max_bytes
        self.directory = tempfile.mkdtemp(prefix="graphtrail-s3-")
        self.etags: dict[int, str] = {}  # the ETag of the version actually read
        self.bytes_downloaded = 0
        self._slots = threading.Semaphore(self.window)
        self._lock = threading.Lock()
        self._stopping = False
        self._next = 0
        self._feeder: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def log_files(self) -> list[LogFile]:
        return [
            LogFile(obj.source, obj.size, SpooledObject(os.path.join(self.directory, str(index)), index, obj))
            for index, obj in enumerate(self.objects)
        ]

    def fetch_first(self) -> None:
        """Download the first object now, in this thread: a refused GetObject or kms:Decrypt stops the run
        before anything else starts (an error on later objects only rejects those objects)."""
        if not self.objects or self._next:
            return
        self._slots.acquire()
        self._next = 1
        error = self._download(0)
        if isinstance(error, AwsAccessDenied):
            raise error

    def start(self) -> None:
        """Start the download threads (call after any fork: threads and forks do not mix)."""
        if self._feeder is not None or self._next >= len(self.objects):
            return
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="s3-get")
        self._feeder = threading.Thread(target=self._feed, name="s3-feed", daemon=True)
        self._feeder.start()

    def done(self, index: int) -> None:
        """The run has stored object `index`: drop its spool file and let one more object be downloaded."""
        for path in (os.path.join(self.directory, str(index)), os.path.join(self.directory, f"{index}.err")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._slots.release()

    def close(self) -> None:
        self._stopping = True
        for _ in range(self.threads + 1):
            self._slots.release()
        if self._feeder is not None:
            self._feeder.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _feed(self) -> None:
        assert self._pool is not None
        while self._next < len(self.objects):
            self._slots.acquire()
            if self._stopping:
                return
            index = self._next
            self._next += 1
            self._pool.submit(self._download, index)

    def _download(self, index: int) -> AwsError | None:
        """Stream one object to its spool file; on failure leave a `.err` file the loader turns into OSError."""
        obj = self.objects[index]
        target = os.path.join(self.directory, str(index))
        error: AwsError | None = None
        for attempt in range(4):
            if self._stopping:
                return None
            try:
                etag, size = _stream_object(self.clients[obj.bucket], obj, target + ".part", self.max_bytes)
            except (ClientError, BotoCoreError, OSError) as exc:
                error = explain(exc, "s3:GetObject", f"arn:aws:s3:::{obj.bucket}/{obj.key}")
                if isinstance(error, AwsAccessDenied) or (
                    isinstance(exc, ClientError) and not is_throttling(exc) and error_code(exc) != "InternalError"
                ):
                    break  # refused or missing: retrying cannot help
                pause = min(30.0, 2.0 ** (attempt + 1)) * (0.5 + random.random() / 2)
                log.warning("%s: %s; retrying in %.1f s", obj.source, error, pause)
                time.sleep(pause)
                continue
            with self._lock:
                self.etags[index] = etag
                self.bytes_downloaded += size
            os.replace(target + ".part", target)
            return None
        assert error is not None
        with open(target + ".err.part", "w", encoding="utf-8") as stream:
            stream.write(str(error))
        os.replace(target + ".err.part", target + ".err")
        return error


def _stream_object(client: Any, obj: S3Object, path: str, max_bytes: int) -> tuple[str, int]:
    """GET one object into `path` chunk by chunk; stops one byte past `max_bytes` (the reader rejects it)."""
    response = client.get_object(Bucket=obj.bucket, Key=obj.key)
    body = response["Body"]
    written = 0
    try:
        with open(path, "wb") as stream:
            for chunk in _chunks(body):
                stream.write(chunk)
                written += len(chunk)
                if written > max_bytes:
                    break
    finally:
        body.close()
    return str(response.get("ETag", obj.etag)), written


def _chunks(body: Any) -> Iterator[bytes]:
    yield from body.iter_chunks(_CHUNK)
