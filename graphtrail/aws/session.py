"""Credentials and clients: a profile, the default chain, or a role assumed with STS; an optional endpoint.

The boto3 session is made once, in the main process, and its clients are shared by threads only (botocore
clients are thread-safe; sessions are not, and neither survives a fork). Credentials are never logged,
stored or put in an error message: only the profile name and the role ARN are.
"""

from __future__ import annotations

import getpass
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from graphtrail.aws.errors import AwsError, explain

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
ROLE_SESSION_SECONDS = 3600
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """How to reach AWS. Everything optional: without any, boto3's default credential chain is used."""

    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    region: str | None = None  # the Region clients start in (S3 moves to the bucket's own Region)
    external_id: str | None = None

    def __post_init__(self) -> None:
        if self.role_arn is not None and not _ROLE_ARN.match(self.role_arn):
            raise AwsError(f"--role-arn {self.role_arn!r} is not a role ARN (arn:aws:iam::123456789012:role/NAME)")


def client_config(*, pool: int = 10, max_attempts: int = 8) -> Config:
    """Retries with backoff for throttling and transient errors, done by botocore (adaptive mode also slows
    the client down when AWS throttles it); a connection pool as large as the threads that share the client."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        max_pool_connections=max(10, pool),
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="graphtrail",
    )


def make_session(settings: AwsSettings) -> boto3.Session:
    """A boto3 session for `settings`: the profile (or default chain), then the role if one is given."""
    try:
        base = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except BotoCoreError as exc:
        raise explain(exc, "loading the AWS profile", settings.profile or "default") from None
    if settings.role_arn is None:
        return base
    return _assume_role_session(base, settings)


def session_region(session: boto3.Session, settings: AwsSettings) -> str:
    return settings.region or session.region_name or DEFAULT_REGION


def make_client(session: boto3.Session, service: str, settings: AwsSettings, *, region: str | None = None,
                pool: int = 10) -> Any:  # fmt: skip
    """A client for `service`; `--endpoint-url` (a test server such as moto's) applies to every service."""
    return session.client(
        service,
        region_name=region or session_region(session, settings),
        endpoint_url=settings.endpoint_url,
        config=client_config(pool=pool),
    )


def _assume_role_session(base: boto3.Session, settings: AwsSettings) -> boto3.Session:
    """A session whose credentials come from sts:AssumeRole and are renewed before they expire."""
    assert settings.role_arn is not None
    sts = make_client(base, "sts", settings)
    session_name = _role_session_name()

    def fetch() -> dict[str, str]:
        kwargs: dict[str, Any] = {
            "RoleArn": settings.role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if settings.external_id:
            kwargs["ExternalId"] = settings.external_id
        try:
            credentials = sts.assume_role(**kwargs)["Credentials"]
        except (BotoCoreError, ClientError) as exc:
            raise explain(exc, "sts:AssumeRole", settings.role_arn) from None
        expiration = credentials["Expiration"]
        if isinstance(expiration, datetime):
            expiration = expiration.astimezone(UTC).isoformat()
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiration,
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    log.info("assumed %s as session %s", settings.role_arn, session_name)
    # botocore has no public setter for refreshable credentials; its own assume-role provider sets this too.
    base._session._credentials = credentials
    return base


def _role_session_name() -> str:
    """`graphtrail-USER`: shows in the log-archive account's own CloudTrail who read the logs."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    cleaned = re.sub(r"[^\w+=,.@-]", "-", user)[:40]
    return f"graphtrail-{cleaned}"
