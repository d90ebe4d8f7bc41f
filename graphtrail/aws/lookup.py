"""CloudTrail LookupEvents: page through the last 90 days of management events, within AWS's rate limit.

Each page (at most 50 events) becomes one in-memory `LogFile` in the `aws cloudtrail lookup-events` shape,
so the records inside (`CloudTrailEvent`, a JSON string per event) are unwrapped, checked and counted by the
same reader as every other file. LookupEvents allows 2 requests per second per account and Region: each
Region gets its own token bucket, and Regions are queried side by side.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from graphtrail.aws.errors import AwsError, error_code, explain, is_throttling
from graphtrail.cloudtrail.timeparse import format_time
from graphtrail.sources import LogFile

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # the most LookupEvents returns per call
REQUESTS_PER_SECOND = 2.0  # per account and Region
RETENTION = timedelta(days=90)
ATTRIBUTE_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
BLIND_SPOTS = (
    "LookupEvents sees only management events of the last 90 days, in the account the credentials belong to: "
    "no data events (S3 object reads and writes, Lambda invocations, DynamoDB items), no Insights events, "
    "nothing older than 90 days and nothing from the organization's other accounts; read the trail's S3 "
    "bucket for those (graphtrail ingest s3://BUCKET …)"
)


@dataclass(frozen=True, slots=True)
class LookupQuery:
    regions: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # each one is its own query: LookupEvents takes one at a time


def parse_attribute(text: str) -> tuple[str, str]:
    """`KEY=VALUE` with KEY one of LookupEvents' attributes (case-insensitive)."""
    key, sep, value = text.partition("=")
    canonical = {name.lower(): name for name in ATTRIBUTE_KEYS}.get(key.strip().lower())
    if not sep or canonical is None or not value:
        raise AwsError(f"--attribute {text!r}: expected KEY=VALUE with KEY one of {', '.join(ATTRIBUTE_KEYS)}")
    return canonical, value


def lookup_notes(query: LookupQuery, now: datetime) -> list[str]:
    """What the user should know about what this query cannot return."""
    notes = [BLIND_SPOTS]
    oldest = now - RETENTION
    if query.start is not None and query.start < oldest:
        notes.append(
            f"--start {format_time(query.start)} is more than 90 days ago: LookupEvents returns nothing before "
            f"{format_time(oldest)}"
        )
    if query.end is not None and query.end < oldest:
        notes.append("the whole --start/--end window is older than 90 days: LookupEvents will return nothing")
    return notes


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts of at most `capacity`. Thread-safe."""

    def __init__(
        self,
        rate: float = REQUESTS_PER_SECOND,
        capacity: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.sleep = sleep
        self.tokens = capacity
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                wait = (1.0 - self.tokens) / self.rate
            self.sleep(wait)


@dataclass(frozen=True, slots=True)
class LookupPage:
    region: str
    attribute: tuple[str, str] | None
    number: int
    events: list[dict[str, Any]]

    @property
    def source(self) -> str:
        what = f"{self.attribute[0]}={self.attribute[1]}" if self.attribute else "all"
        return f"lookup-events:{self.region}:{what}:page-{self.number}"

    def log_file(self) -> LogFile:
        """The page as an `aws cloudtrail lookup-events` document, read by the shared record reader."""
        data = orjson.dumps(
            {
                "Events": [
                    {"EventId": event.get("EventId"), "EventName": event.get("EventName"),
                     "CloudTrailEvent": event.get("CloudTrailEvent")}
                    for event in self.events
                ]
            }
        )  # fmt: skip
        return LogFile(self.source, len(data), _Bytes(data))


@dataclass(frozen=True, slots=True)
class _Bytes:
    data: bytes

    def __call__(self) -> bytes:
        return self.data


def iter_pages(
    client: Any,
    region: str,
    query: LookupQuery,
    bucket: TokenBucket,
    attribute: tuple[str, str] | None = None,
    *,
    stop: threading.Event | None = None,
    throttle_rounds: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LookupPage]:
    """Every page of one query in one Region, each call waiting for a token first."""
    kwargs: dict[str, Any] = {"MaxResults": PAGE_SIZE}
    if query.start is not None:
        kwargs["StartTime"] = query.start
    if query.end is not None:
        kwargs["EndTime"] = query.end
    if attribute is not None:
        kwargs["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]
    number = 0
    while stop is None or not stop.is_set():
        response = _call(client, kwargs, region, bucket, throttle_rounds, sleep)
        number += 1
        events = response.get("Events", [])
        if events:
            yield LookupPage(region, attribute, number, events)
        token = response.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def _call(
    client: Any,
    kwargs: dict[str, Any],
    region: str,
    bucket: TokenBucket,
    rounds: int,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """One LookupEvents call. botocore retries throttling with backoff; if AWS still throttles, slow down more."""
    for attempt in range(rounds + 1):
        bucket.acquire()
        try:
            return client.lookup_events(**kwargs)
        except ClientError as exc:
            if is_throttling(exc) and attempt < rounds:
                pause = min(30.0, 2.0 ** (attempt + 1))
                log.warning("LookupEvents in %s is throttled (%s); waiting %.0f s", region, error_code(exc), pause)
                sleep(pause)
                continue
            raise explain(exc, "cloudtrail:LookupEvents", f"Region {region}") from None
        except BotoCoreError as exc:
            raise explain(exc, "cloudtrail:LookupEvents", f"Region {region}") from None
    raise AssertionError("unreachable")


def iter_all_pages(
    clients: dict[str, Any], query: LookupQuery, *, buckets: dict[str, TokenBucket] | None = None
) -> Iterator[LookupPage]:
    """Pages of every Region and attribute, fetched side by side (one thread per query), as they arrive."""
    buckets = buckets if buckets is not None else {region: TokenBucket() for region in clients}
    jobs: Sequence[tuple[str, tuple[str, str] | None]] = [
        (region, attribute) for region in query.regions for attribute in (query.attributes or (None,))
    ]
    pages: queue.Queue[LookupPage | BaseException | None] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def produce(region: str, attribute: tuple[str, str] | None) -> None:
        try:
            for page in iter_pages(clients[region], region, query, buckets[region], attribute, stop=stop):
                _put(pages, page, stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(pages, exc, stop)
        finally:
            _put(pages, None, stop)

    threads = [threading.Thread(target=produce, args=job, name=f"lookup-{job[0]}", daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = pages.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def _put(pages: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def utc_now() -> datetime:
    return datetime.now(tz=UTC)
