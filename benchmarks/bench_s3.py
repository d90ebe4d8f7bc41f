"""S3 ingest from moto's server on loopback against local-disk ingest of the same files, in the same run.

    .venv/bin/python benchmarks/bench_s3.py --corpus /tmp/sim1m [--workers N] [--threads 16]

Make the corpus first: `graphtrail simulate --out /tmp/sim1m --events 1000000 --days 7 --accounts 5 --seed 11`.
moto's server runs in its own process (so it does not share this process's interpreter lock), the corpus is
uploaded to it, then the local folder and the bucket are each ingested into a fresh case. Both runs use the
same number of worker processes; the S3 run adds listing, downloads on a thread pool and the bookkeeping.
moto answers far slower than S3 does per request, so the ratio is a floor for what a real bucket gives.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from graphtrail.aws.ingest import ingest_s3  # noqa: E402
from graphtrail.aws.s3 import TrailFilters  # noqa: E402
from graphtrail.aws.session import AwsSettings  # noqa: E402
from graphtrail.ingest import ingest_paths  # noqa: E402

BUCKET = "bench-org-trail"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's server did not start")


def upload(url: str, corpus: Path, threads: int) -> tuple[int, int, float]:
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    files = [path for path in sorted((corpus / "AWSLogs").rglob("*")) if path.is_file()]
    start = time.perf_counter()

    def put(path: Path) -> int:
        client.put_object(Bucket=BUCKET, Key=str(path.relative_to(corpus)), Body=path.read_bytes())
        return path.stat().st_size

    with ThreadPoolExecutor(threads) as pool:
        size = sum(pool.map(put, files))
    return len(files), size, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/sim1m"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    if not (args.corpus / "AWSLogs").is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: make it with `graphtrail simulate --out {args.corpus} …`")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    try:
        objects, size, upload_seconds = upload(url, args.corpus, args.threads)
        with tempfile.TemporaryDirectory(prefix="bench-s3-") as work:
            start = time.perf_counter()
            local = ingest_paths([str(args.corpus)], Path(work) / "local.case", workers=args.workers)
            local_seconds = time.perf_counter() - start
            start = time.perf_counter()
            remote = ingest_s3([f"s3://{BUCKET}"], Path(work) / "s3.case", AwsSettings(endpoint_url=url),
                               TrailFilters(), workers=args.workers, threads=args.threads)  # fmt: skip
            s3_seconds = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "objects": objects,
        "bytes": size,
        "upload_seconds": round(upload_seconds, 1),
        "workers": local.workers,
        "threads": args.threads,
        "local": {"events": local.events_ingested, "seconds": round(local_seconds, 1),
                  "events_per_s": round(local.events_ingested / local_seconds)},
        "s3": {"events": remote.summary.events_ingested, "seconds": round(s3_seconds, 1),
               "events_per_s": round(remote.summary.events_ingested / s3_seconds),
               "objects_downloaded": remote.objects_downloaded, "list_calls": remote.list_calls,
               "balanced": remote.summary.balanced},
        "s3_over_local": round(local_seconds / s3_seconds, 3),
    }  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
