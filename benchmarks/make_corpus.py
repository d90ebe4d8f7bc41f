"""Build a large CloudTrail corpus for the ingest benchmark by replicating real records.

Every event is a copy of one record of the Invictus-IR dataset (2,900 events of one real account, 2023-07-10
11:42-12:37Z) with a fresh ``eventID`` and ``eventTime``; principals, keys, IPs, requests and responses are
kept. So a corpus of 2M events describes the same organisation over the same hour as a corpus of 1M, only
denser: the graph is the same size and only the event count doubles, which is what shows whether ingest
memory follows the graph or the events.

Timeline: the records are sorted by time, and each record's copies get times between it and the next record
(N/2,900 copies each), so the corpus follows the original activity curve. Copies are sorted by their new
time, which mixes the records of a burst within each output file.

Output: the S3 delivery layout, ``AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/
<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz``, each file ``{"Records":[...]}`` with 5-10k
records from one 5-minute window (the name carries the window's end, as AWS's do). gzip level 6 by default:
it is gzip's and zlib's default, and on this data it decompresses faster than level 1, so the baseline is
not slowed down artificially. Memory stays constant: one block of ~4k events and one open file per
(account, Region) at a time, with a few files being compressed and written by worker threads.

Deterministic: the same source, ``--events`` and ``--seed`` give the same bytes.

    python benchmarks/make_corpus.py --out /tmp/corpus-1m --events 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import os
import random
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / "tests" / "data" / "cloudtrail" / "invictus-ir-aws-dataset" / "CloudTrail"
DEFAULT_LEVEL = 6
WINDOW_SECONDS = 300  # CloudTrail delivers a file per account and Region about every 5 minutes
BLOCK_EVENTS = 4096  # events generated and sorted together; bounds memory
_TIME_MARK = "@@graphtrail-event-time@@"
_ID_MARK = "@@graphtrail-event-id@@"
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class Template:
    """A source record serialized once, with holes where each copy's eventTime and eventID go."""

    second: int  # original eventTime, epoch seconds
    account: str
    region: str
    head: bytes
    middle: bytes
    tail: bytes
    time_first: bool  # eventTime comes before eventID: a copy is head + time + middle + id + tail


@dataclass(slots=True)
class CorpusStats:
    """What a run wrote. ``json_bytes`` is before compression."""

    files: int = 0
    events: int = 0
    gzip_bytes: int = 0
    json_bytes: int = 0
    seconds: float = 0.0
    first_time: str = ""
    last_time: str = ""


@dataclass(slots=True)
class _OpenFile:
    window: int
    target: int
    records: list[bytes] = field(default_factory=list)


def _epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _iso(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_template(record: dict[str, object]) -> Template | None:
    """Serialize a record with markers for the two fields that change, then cut it at the markers."""
    try:
        second = _epoch(str(record["eventTime"]))
    except (KeyError, ValueError):
        return None
    account = str(record.get("recipientAccountId") or "000000000000")
    region = str(record.get("awsRegion") or "us-east-1")
    marked = dict(record, eventTime=_TIME_MARK, eventID=_ID_MARK)
    text = orjson.dumps(marked)
    time_mark, id_mark = f'"{_TIME_MARK}"'.encode(), f'"{_ID_MARK}"'.encode()
    if text.count(time_mark) != 1 or text.count(id_mark) != 1:
        return None
    time_at, id_at = text.index(time_mark), text.index(id_mark)
    first, second_mark = (time_mark, id_mark) if time_at < id_at else (id_mark, time_mark)
    head, rest = text.split(first)
    middle, tail = rest.split(second_mark)
    return Template(second, account, region, head + b'"', b'"' + middle + b'"', b'"' + tail, time_at < id_at)


def read_templates(source: Path) -> list[Template]:
    """The source records (``{"Records":[...]}`` files, .json or .json.gz) as templates, oldest first."""
    paths = sorted([*source.glob("*.json"), *source.glob("*.json.gz")])
    if not paths:
        raise SystemExit(f"no CloudTrail files in {source}; pass --source")
    templates: list[Template] = []
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        document = orjson.loads(data)
        records = document.get("Records") if isinstance(document, dict) else None
        for record in records if isinstance(records, list) else ():
            template = _make_template(record) if isinstance(record, dict) else None
            if template is not None:
                templates.append(template)
    if not templates:
        raise SystemExit(f"no usable records in {source}")
    templates.sort(key=lambda template: template.second)  # stable: same-second records keep file order
    return templates


def _event_ids(seed: int, batch: int = 4096) -> Iterator[bytes]:
    """UUID-shaped (version 4) event ids: id number c is cut from SHAKE-128(seed, c // batch), so it depends
    only on (seed, counter), looks random like AWS's ids (no ordered index inserts), and costs one hash per
    ``batch`` ids. Collisions are as unlikely as between two random UUIDs."""
    variant = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))
    for block in itertools.count():
        digest = hashlib.shake_128(f"graphtrail-corpus:{seed}:{block}".encode()).hexdigest(16 * batch)
        for at in range(0, 32 * batch, 32):
            h = digest[at : at + 32]
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:]}".encode()


def _timeline(templates: list[Template], events: int, rng: random.Random) -> Iterator[tuple[int, Template]]:
    """Yield (epoch second, template) for ``events`` copies, in time order, one block at a time.

    Record j gets ``events/len(templates)`` copies (spread evenly, so counts differ by at most one), at times
    drawn between its own time and the next record's.
    """
    total = len(templates)
    per_block = max(1, round(BLOCK_EVENTS * total / events))
    for block_start in range(0, total, per_block):
        block: list[tuple[float, int]] = []
        for index in range(block_start, min(block_start + per_block, total)):
            copies = (index + 1) * events // total - index * events // total
            start = templates[index].second
            gap = max(1, templates[index + 1].second - start) if index + 1 < total else 1
            block.extend((start + rng.random() * gap, index) for _ in range(copies))
        block.sort()
        for moment, index in block:
            yield int(moment), templates[index]


def _file_name(account: str, region: str, window: int, rng: random.Random) -> str:
    """``AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<end>_<16 chars>.json.gz``."""
    end = datetime.fromtimestamp((window + 1) * WINDOW_SECONDS, UTC)
    suffix = "".join(rng.choices(_NAME_CHARS, k=16))
    return (
        f"AWSLogs/{account}/CloudTrail/{region}/{end:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{end:%Y%m%dT%H%MZ}_{suffix}.json.gz"
    )


def _write_file(path: Path, payload: bytes, level: int) -> int:
    """Compress and write one log file; runs in a worker thread (zlib releases the GIL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compressed = gzip.compress(payload, compresslevel=level, mtime=0)
    path.write_bytes(compressed)
    return len(compressed)


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Refuse to mix with other log files: a corpus of unknown size would make every figure wrong."""
    logs = out / "AWSLogs"
    if out.exists():
        for path in out.iterdir():
            if path != logs and (path.is_dir() or path.name.endswith((".json", ".json.gz"))):
                raise SystemExit(f"{out} holds {path.name}; a corpus must not mix with other files")
    if logs.exists():
        if not overwrite:
            raise SystemExit(f"{logs} exists; pass --overwrite to replace it")
        shutil.rmtree(logs)


def make_corpus(
    out: Path,
    events: int,
    *,
    seed: int = 0,
    source: Path = DEFAULT_SOURCE,
    level: int = DEFAULT_LEVEL,
    min_records: int = 5000,
    max_records: int = 10000,
    workers: int | None = None,
    overwrite: bool = False,
) -> CorpusStats:
    """Write ``events`` replicated events under ``out`` and return the counts.

    ``out`` must hold no log files; with ``overwrite``, an older corpus's ``out/AWSLogs`` is deleted first.
    """
    if events < 1 or not 1 <= min_records <= max_records:
        raise ValueError("need events >= 1 and 1 <= min_records <= max_records")
    _prepare_out(out, overwrite)
    started = time.perf_counter()
    templates = read_templates(source)
    event_rng, file_rng = random.Random(f"{seed}:events"), random.Random(f"{seed}:files")
    event_ids = _event_ids(seed)
    stamps = {second: _iso(second).encode() for second in range(templates[0].second, templates[-1].second + 2)}
    stats = CorpusStats(first_time=_iso(templates[0].second), last_time=_iso(templates[-1].second))
    open_files: dict[tuple[str, str], _OpenFile] = {}
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    pending: deque[Future[int]] = deque()

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def flush(key: tuple[str, str], current: _OpenFile) -> None:
            payload = b'{"Records":[' + b",".join(current.records) + b"]}"
            path = out / _file_name(key[0], key[1], current.window, file_rng)
            pending.append(pool.submit(_write_file, path, payload, level))
            stats.files += 1
            stats.json_bytes += len(payload)
            while len(pending) > 2 * workers:  # bounded: memory does not grow with the corpus
                stats.gzip_bytes += pending.popleft().result()

        for second, template in _timeline(templates, events, event_rng):
            key = (template.account, template.region)
            window = second // WINDOW_SECONDS
            current = open_files.get(key)
            if current is not None and (current.window != window or len(current.records) >= current.target):
                flush(key, current)
                current = None
            if current is None:
                current = open_files[key] = _OpenFile(window, file_rng.randint(min_records, max_records))
            if template.time_first:
                parts = (template.head, stamps[second], template.middle, next(event_ids), template.tail)
            else:
                parts = (template.head, next(event_ids), template.middle, stamps[second], template.tail)
            current.records.append(b"".join(parts))
        stats.events = events
        for key, current in open_files.items():
            flush(key, current)
        while pending:
            stats.gzip_bytes += pending.popleft().result()
    stats.seconds = time.perf_counter() - started
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="empty or new directory for AWSLogs/...")
    parser.add_argument("--events", type=int, required=True, help="number of events to write")
    parser.add_argument("--seed", type=int, default=0, help="seed for event ids, times and file names")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of {'Records':[...]} files")
    parser.add_argument("--level", type=int, default=DEFAULT_LEVEL, choices=range(1, 10), help="gzip level")
    parser.add_argument("--min-records", type=int, default=5000, help="fewest records per full file")
    parser.add_argument("--max-records", type=int, default=10000, help="most records per file")
    parser.add_argument("--overwrite", action="store_true", help="delete an older corpus in OUT/AWSLogs first")
    args = parser.parse_args(argv)
    stats = make_corpus(
        args.out,
        args.events,
        seed=args.seed,
        source=args.source,
        level=args.level,
        min_records=args.min_records,
        max_records=args.max_records,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {stats.files} files, {stats.events} events, {stats.gzip_bytes} bytes gzip "
        f"({stats.json_bytes} bytes JSON, level {args.level}) in {stats.seconds:.1f}s "
        f"({stats.events / stats.seconds:,.0f} events/s); event times {stats.first_time} .. {stats.last_time} "
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
