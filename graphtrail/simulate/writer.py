"""Writes records the way an organisation trail delivers them to S3.

- `AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16
  chars>.json.gz`, one file per account, Region and ~5-minute delivery, named after its delivery time;
- a record reaches a file a few minutes after it happened (so a file holds records from before its window),
  and records inside a file are in no particular order;
- now and then a record is delivered twice (the same eventID in two files), as CloudTrail warns it may be;
- an hourly digest file per account and Region under `CloudTrail-Digest/`, listing that hour's log files with
  their SHA-256 (the digests are not signed: there is no AWS key to sign them with).

Memory holds only the records whose delivery window is still open; files are written as windows close.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from graphtrail.simulate.ids import iso_time
from graphtrail.simulate.org import REGIONS, TRAIL_NAME, Organization
from graphtrail.simulate.records import Timed

WINDOW = 300
IN_FLIGHT = 4  # files being compressed and written at once
MAX_RECORDS_PER_FILE = 5_000  # bounds the memory a file in flight takes, whatever the event rate
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass
class _Window:
    records: list[bytes] = field(default_factory=list)
    oldest: int = 1 << 62
    newest: int = 0


@dataclass(frozen=True, slots=True)
class _Delivered:
    key: str
    written: Future[tuple[int, str]]  # (compressed size, SHA-256 of the content), once written
    oldest: int
    newest: int


@dataclass
class WriterTotals:
    events: int = 0  # distinct records handed in
    duplicates: int = 0  # extra deliveries of a record already delivered
    files: int = 0
    digests: int = 0
    bytes: int = 0  # compressed bytes written


class TrailWriter:
    def __init__(
        self, out: Path, org: Organization, rng: random.Random, *, duplicate_rate: float = 0.0005, level: int = 6
    ) -> None:
        self.out = out
        self.org = org
        self.rng = rng
        self.duplicate_rate = duplicate_rate
        self.level = level
        self.bucket = org.buckets["trail"]
        self.totals = WriterTotals()
        self._windows: dict[tuple[int, str, str], _Window] = defaultdict(_Window)  # (end, account, region)
        self._delivered: dict[tuple[str, str], list[_Delivered]] = defaultdict(list)  # this digest hour
        self._previous_digest: dict[tuple[str, str], tuple[str, str]] = {}
        self._digest_hour: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._pending: list[Future[tuple[int, str]]] = []

    def add(self, call: Timed) -> None:
        record = call.record
        data = bytes(memoryview(orjson.dumps(record)))  # a right-sized copy: orjson's own buffer keeps ~8 KiB
        account, region = record["recipientAccountId"], record["awsRegion"]
        end = (call.time + self.rng.randint(20, 560)) // WINDOW * WINDOW + WINDOW
        self._put(end, account, region, data, call.time)
        self.totals.events += 1
        if self.rng.random() < self.duplicate_rate:
            self._put(end + WINDOW * self.rng.randint(1, 3), account, region, data, call.time)
            self.totals.duplicates += 1

    def _put(self, end: int, account: str, region: str, data: bytes, time: int) -> None:
        window = self._windows[(end, account, region)]
        window.records.append(data)
        window.oldest = min(window.oldest, time)
        window.newest = max(window.newest, time)

    def flush(self, until: int) -> None:
        """Deliver every window that ends at or before `until` (no later call can land in it)."""
        for key in sorted(k for k in self._windows if k[0] <= until):
            end, account, region = key
            self._digest_until(end)
            self._deliver(end, account, region, self._windows.pop(key))
        self._digest_until(until)

    def close(self, end: int) -> None:
        """Deliver everything still open, then the last hour's digests."""
        last = max((k[0] for k in self._windows), default=end)
        self.flush(last)
        self._digest_until(last - last % 3600 + 3600)
        for future in self._pending:
            self.totals.bytes += future.result()[0]
        self._pool.shutdown()

    def _deliver(self, end: int, account: str, region: str, window: _Window) -> None:
        records = window.records
        self.rng.shuffle(records)  # records inside a file are not ordered
        stamp = datetime.fromtimestamp(end, UTC)
        folder = self.out / "AWSLogs" / self.org.org_id / account / "CloudTrail" / region / stamp.strftime("%Y/%m/%d")
        for first in range(0, len(records), MAX_RECORDS_PER_FILE):
            chunk = records[first : first + MAX_RECORDS_PER_FILE]
            body = b'{"Records":[' + b",".join(chunk) + b"]}"
            suffix = "".join(self.rng.choices(_NAME_CHARS, k=16))
            name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{suffix}.json.gz"
            path = folder / name
            written = self._write(path, body)
            key = path.relative_to(self.out).as_posix()
            self._delivered[(account, region)].append(_Delivered(key, written, window.oldest, window.newest))
            self.totals.files += 1

    def _write(self, path: Path, body: bytes) -> Future[tuple[int, str]]:
        """Hash, compress and write on a worker thread (both release the GIL); a few files in flight at most."""
        while len(self._pending) >= IN_FLIGHT:
            self.totals.bytes += self._pending.pop(0).result()[0]
        future = self._pool.submit(_write_gzip, path, body, self.level)
        self._pending.append(future)
        return future

    def _digest_until(self, moment: int) -> None:
        """Write the digests of every hour that ended at or before `moment`."""
        hour_end = moment - moment % 3600
        if self._digest_hour is None:
            self._digest_hour = hour_end
            return
        while self._digest_hour < hour_end:
            self._digest_hour += 3600
            for account in self.org.accounts:
                for region in REGIONS:
                    self._write_digest(account.id, region, self._digest_hour)
            self._delivered.clear()

    def _write_digest(self, account: str, region: str, end: int) -> None:
        files = self._delivered.get((account, region), [])
        stamp = datetime.fromtimestamp(end, UTC)
        folder = (
            self.out / "AWSLogs" / self.org.org_id / account / "CloudTrail-Digest" / region / stamp.strftime("%Y/%m/%d")
        )
        name = f"{account}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{stamp:%Y%m%dT%H%M%SZ}.json.gz"
        path = folder / name
        previous = self._previous_digest.get((account, region))
        digest = {
            "awsAccountId": account,
            "digestStartTime": iso_time(end - 3600),
            "digestEndTime": iso_time(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": path.relative_to(self.out).as_posix(),
            "digestPublicKeyFingerprint": hashlib.md5(account.encode(), usedforsecurity=False).hexdigest(),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": iso_time(max(f.newest for f in files)) if files else None,
            "oldestEventTime": iso_time(min(f.oldest for f in files)) if files else None,
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": None,
            "logFiles": [
                {
                    "s3Bucket": self.bucket,
                    "s3Object": f.key,
                    "hashValue": f.written.result()[1],
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": iso_time(f.newest),
                    "oldestEventTime": iso_time(f.oldest),
                }
                for f in files
            ],
        }
        body = orjson.dumps(digest)
        self._previous_digest[(account, region)] = (digest["digestS3Object"], hashlib.sha256(body).hexdigest())
        self._write(path, body)
        self.totals.digests += 1


def _write_gzip(path: Path, body: bytes, level: int) -> tuple[int, str]:
    digest = hashlib.sha256(body).hexdigest()
    data = gzip.compress(body, compresslevel=level, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data), digest
