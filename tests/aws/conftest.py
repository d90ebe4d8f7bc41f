"""moto's S3 server on loopback, a bucket holding the northwind organization trail, and error injection.

Errors and throttling are injected as real HTTP responses on the client's `before-send` event: botocore
then parses them and runs its own retry logic, exactly as with an answer from AWS.
"""

from __future__ import annotations

import logging
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto.server import ThreadedMotoServer

from tests.conftest import NORTHWIND

REGION = "us-east-1"
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may find real credentials or profiles, or ask the instance metadata service."""
    empty = tmp_path_factory.mktemp("aws-config")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def static_session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


def s3_client(url: str, region: str = REGION) -> Any:
    return static_session().client("s3", endpoint_url=url, region_name=region)


def northwind_members() -> list[tuple[str, bytes]]:
    """(key, bytes) of every file in the example trail, keys as CloudTrail writes them (AWSLogs/…)."""
    members = []
    with tarfile.open(NORTHWIND) as archive:
        for info in archive:
            if info.isfile() and "/AWSLogs/" in f"/{info.name}":
                stream = archive.extractfile(info)
                assert stream is not None
                members.append((info.name[info.name.index("AWSLogs/") :], stream.read()))
    return members


def upload(url: str, bucket: str, members: list[tuple[str, bytes]], *, region: str = REGION) -> None:
    client = s3_client(url, region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket, **config)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda member: client.put_object(Bucket=bucket, Key=member[0], Body=member[1]), members))


@pytest.fixture(scope="session")
def northwind_bucket(moto_url: str) -> str:
    upload(moto_url, "northwind-org-trail", northwind_members())
    return "northwind-org-trail"


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AWSResponse:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()
    return AWSResponse("http://127.0.0.1/", status, {"Content-Type": "application/xml", **(headers or {})}, _Body(body))


@dataclass
class Calls:
    """What a session's clients asked S3: operation names and their parameters."""

    made: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def count(self) -> Counter[str]:
        return Counter(name for name, _ in self.made)

    def keys(self, operation: str) -> list[str]:
        return [params["Key"] for name, params in self.made if name == operation]


def recording_session(
    inject: Callable[[str, Any], AWSResponse | None] | None = None,
) -> tuple[boto3.Session, Calls]:
    """A session whose S3 calls are recorded; `inject(operation, request)` may answer a request instead of S3."""
    session = static_session()
    calls = Calls()

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        calls.made.append((model.name, dict(params)))

    def send(request: Any, **kwargs: Any) -> AWSResponse | None:
        operation = kwargs["event_name"].split(".")[-1]
        return inject(operation, request) if inject is not None else None

    session.events.register("provide-client-params.s3", record)
    session.events.register("before-send.s3", send)
    return session, calls
