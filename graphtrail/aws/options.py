"""The `ingest` command's AWS options, and the one function the command calls with them.

Imported by the CLI at start-up, so it must not import boto3: the AWS modules load only when a run asks
for S3 or LookupEvents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from graphtrail.errors import GraphtrailError

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--account", "accounts", multiple=True, metavar="ID", help="S3: only these accounts (repeat)."),
    click.option(
        "--region", "regions", multiple=True, metavar="REGION", help="S3: only these Regions; --lookup: query these."
    ),
    click.option("--start", metavar="TIME", help="S3 and --lookup: from this time (ISO 8601, UTC by default)."),
    click.option("--end", metavar="TIME", help="S3 and --lookup: up to this time."),
    click.option("--org-id", "org_ids", multiple=True, metavar="o-…", help="S3: only this organization's folder."),
    click.option("--profile", metavar="NAME", help="AWS profile (default: the standard credential chain)."),
    click.option("--role-arn", metavar="ARN", help="Assume this role first (e.g. in the log-archive account)."),
    click.option("--endpoint-url", metavar="URL", help="Send AWS calls here (an S3-compatible or test server)."),
    click.option("--lookup", is_flag=True, help="Read the last 90 days of management events with LookupEvents."),
    click.option(
        "--attribute", "attributes", multiple=True, metavar="KEY=VALUE", help="--lookup: filter (e.g. Username=alice)."
    ),
    click.option(
        "--threads", type=click.IntRange(1, 128), default=16, show_default=True, help="S3: parallel downloads."
    ),
)

_AWS_ONLY = {
    "accounts": "--account",
    "regions": "--region",
    "org_ids": "--org-id",
    "start": "--start",
    "end": "--end",
    "profile": "--profile",
    "role_arn": "--role-arn",
    "endpoint_url": "--endpoint-url",
    "attributes": "--attribute",
}


def aws_ingest_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def wants_aws(paths: Sequence[str], options: dict[str, Any]) -> bool:
    """Whether this run reads from AWS; mixing S3 URLs and local paths in one run is refused."""
    remote = [path for path in paths if path.startswith("s3://")]
    if options.get("lookup"):
        if paths:
            raise click.UsageError("--lookup reads from the API: give no PATHS with it")
        return True
    if remote and len(remote) != len(paths):
        raise click.UsageError("ingest s3:// URLs and local paths in separate runs")
    if not paths:
        raise click.UsageError("give at least one PATH (or s3://BUCKET/PREFIX, or --lookup)")
    if not remote:
        for name, flag in _AWS_ONLY.items():
            if options.get(name):
                raise click.UsageError(f"{flag} applies to s3:// URLs and --lookup only")
    return bool(remote)


def ingest_from_aws(
    paths: Sequence[str],
    case_path: Path,
    options: dict[str, Any],
    *,
    limits: Any,
    progress: Callable[[Any], None],
    workers: int | None,
) -> Any:
    """Run an S3 or LookupEvents ingest for the CLI; returns an `AwsIngestResult`."""
    from graphtrail.aws.ingest import ingest_lookup, ingest_s3
    from graphtrail.aws.lookup import LookupQuery, parse_attribute
    from graphtrail.aws.s3 import TrailFilters
    from graphtrail.aws.session import AwsSettings

    settings = AwsSettings(
        profile=options.get("profile"), role_arn=options.get("role_arn"), endpoint_url=options.get("endpoint_url")
    )
    start, end = _time(options.get("start"), "--start"), _time(options.get("end"), "--end")
    if options.get("lookup"):
        if options.get("accounts") or options.get("org_ids"):
            raise GraphtrailError("--account and --org-id apply to S3: LookupEvents reads the credentials' account")
        query = LookupQuery(
            regions=tuple(dict.fromkeys(options.get("regions") or ())),
            start=start,
            end=end,
            attributes=tuple(parse_attribute(text) for text in options.get("attributes") or ()),
        )
        return ingest_lookup(query, case_path, settings, limits=limits, progress=progress)
    if options.get("attributes"):
        raise GraphtrailError("--attribute applies to --lookup only")
    filters = TrailFilters(
        accounts=frozenset(options.get("accounts") or ()),
        regions=frozenset(options.get("regions") or ()),
        org_ids=frozenset(options.get("org_ids") or ()),
        start=start,
        end=end,
    )
    return ingest_s3(
        list(paths),
        case_path,
        settings,
        filters,
        limits=limits,
        progress=progress,
        workers=workers,
        threads=options.get("threads") or 16,
    )


def _time(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    from graphtrail.cloudtrail.timeparse import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise GraphtrailError(f"{flag} {text!r} is not a time (e.g. 2026-11-02 or 2026-11-02T13:00:00Z)") from None
