"""Rebuild the bundled simulated example, `examples/northwind/`, from the simulator (never by hand).

    .venv/bin/python scripts/make_example.py [--check]

Writes `trail.tar.gz` (the organisation trail as S3 would hold it, digests and ground truth included) and a
copy of `ground_truth.json` beside it for reading. The archive is byte-identical for the same simulator:
members sorted, times and owners zeroed. `--check` rebuilds into memory and exits 1 if the committed files
differ (the test suite runs it, so a simulator change that alters the example cannot go unnoticed).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from graphtrail.simulate import SimulationConfig, simulate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "northwind"
SETTINGS = {
    "seed": 1,
    "accounts": 4,
    "days": 3,
    "events": 6000,
    "start": datetime(2026, 11, 2, tzinfo=UTC),
    "scenarios": ("leaked-ci-key", "stolen-instance-credentials", "admin-key-rotation", "ci-role-chain", "nightly-etl"),
}


def build() -> tuple[bytes, bytes]:
    """The example's archive and ground truth, made fresh."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "northwind"
        simulate(SimulationConfig(out=out, **SETTINGS))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted(out.rglob("*")):
                info = archive.gettarinfo(str(path), arcname=path.relative_to(out.parent).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_dir():
                    archive.addfile(info)
                else:
                    with path.open("rb") as handle:
                        archive.addfile(info, handle)
        truth = (out / "ground_truth.json").read_bytes()
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0), truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed example instead of writing")
    args = parser.parse_args()
    archive, truth = build()
    targets = {EXAMPLE / "trail.tar.gz": archive, EXAMPLE / "ground_truth.json": truth}
    if args.check:
        stale = [str(path) for path, data in targets.items() if not path.exists() or path.read_bytes() != data]
        for path in stale:
            print(f"{path} differs from what the simulator makes now; run scripts/make_example.py", file=sys.stderr)
        return 1 if stale else 0
    EXAMPLE.mkdir(parents=True, exist_ok=True)
    for path, data in targets.items():
        path.write_bytes(data)
        print(f"wrote {path} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
