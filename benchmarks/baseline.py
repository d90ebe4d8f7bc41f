"""The floor for ingest speed: read, gunzip and JSON-parse CloudTrail files, and nothing else.

Any ingest has to do at least this much, so ingest figures are reported as a ratio to it, measured on the same
files in the same run (the design's rule: speed is measured side by side, not hoped for). The parser is
orjson, the fastest JSON parser graphtrail depends on, and gzip goes through ``zlib.decompress`` in one call,
so the baseline is as fast as a plain Python reader gets (CloudTrail files are single-member gzip).

    from baseline import baseline_parse, find_log_files   # from another script in benchmarks/
    events, seconds = baseline_parse(find_log_files(corpus))

    python benchmarks/baseline.py /tmp/corpus-1m --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import orjson

__all__ = ["baseline_parse", "find_log_files"]

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # expect a gzip header


def find_log_files(root: str | Path) -> list[Path]:
    """Every log file (``.json``, ``.json.gz``) under ``root``, sorted, so runs read files in the same order."""
    root = Path(root)
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.name.endswith((".json", ".json.gz")) and _is_log_path(path.relative_to(root))
    )


def _is_log_path(relative: Path) -> bool:
    """Digests and a simulation's ground truth are not logs: ingest skips them, so the baseline does too."""
    return "CloudTrail-Digest" not in relative.parts and relative.name != "ground_truth.json"


def baseline_parse(paths: Iterable[str | Path]) -> tuple[int, float]:
    """Read, gunzip and parse each ``{"Records":[...]}`` file; return (events, seconds).

    Events are counted as the length of each file's ``Records`` list; nothing is looked at inside them.
    Only the loop is timed: collect the paths before calling.
    """
    events = 0
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == _GZIP_MAGIC:
            data = zlib.decompress(data, _GZIP_WBITS)
        document = orjson.loads(data)
        records = document.get("Records") if isinstance(document, dict) else None
        if isinstance(records, list):
            events += len(records)
    return events, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Baseline: gunzip + orjson-parse every CloudTrail file in DIR.")
    parser.add_argument("directory", type=Path, help="folder to search for .json / .json.gz files")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (first may be cold)")
    args = parser.parse_args(argv)
    paths = find_log_files(args.directory)
    if not paths:
        print(f"no .json or .json.gz files under {args.directory}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in paths)
    best = float("inf")
    events = 0
    for run in range(1, max(1, args.repeat) + 1):
        events, seconds = baseline_parse(paths)
        best = min(best, seconds)
        print(f"run {run}: {events} events in {seconds:.2f}s = {events / seconds:,.0f} events/s", file=sys.stderr)
    print(
        f"baseline (gunzip + orjson): {len(paths)} files, {size / 1e6:.1f} MB on disk, {events} events, "
        f"best {best:.2f}s = {events / best:,.0f} events/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
