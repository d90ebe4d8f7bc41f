"""Cases the report tests run on, each ingested once per session, and every report built from them.

- the simulated organisation with all nine attacks and six decoys (seed 2, the hunts' tests' settings), with
  one extra file holding a record whose STS response carries a fake secret access key and session token;
- the bundled northwind example;
- the Invictus IR data set (real CloudTrail).

`SECRETS` are strings that must never appear in any output: the extra record's, and every session token the
simulator put into its STS responses (collected from the trail itself).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.hunts import HuntReport, hunt_report
from graphtrail.hunts.context import HuntContext
from graphtrail.ingest import ingest_paths
from graphtrail.report import Report, build_report
from graphtrail.simulate import SimulationConfig, simulate
from tests.conftest import INVICTUS

FAKE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
FAKE_SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEzzTOKENzzIQoJb3JpZ2luX2VjEAMPLEzzSESSIONzz"


@dataclass
class ReportedCase:
    path: Path
    hunts: HuntReport
    report: Report
    truth: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)


def _reported(path: Path, **extra: Any) -> ReportedCase:
    with Case(path) as case:
        context = HuntContext(case)
        hunts = hunt_report(context)
        report = build_report(context, hunts)
    return ReportedCase(path, hunts, report, **extra)


def _secret_record() -> dict[str, Any]:
    """An AssumeRole whose response holds credentials, as CloudTrail would log it if it logged everything."""
    return {
        "eventVersion": "1.08",
        "eventTime": "2026-11-03T12:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.99",
        "userAgent": "aws-cli/2.22.2",
        "eventID": "0b4c7a52-5e0e-4c55-9d1e-5ec7e7000001",
        "eventType": "AwsApiCall",
        "recipientAccountId": "155852606522",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEREPORTTEST",
            "arn": "arn:aws:iam::155852606522:user/report-test",
            "accountId": "155852606522",
            "accessKeyId": "AKIACISMKBQ5REPORTTE",
            "userName": "report-test",
        },
        "requestParameters": {"roleArn": "arn:aws:iam::155852606522:role/app-server", "roleSessionName": "rt"},
        "responseElements": {
            "credentials": {
                "accessKeyId": "ASIACISMKBQ5REPORTTE",
                "secretAccessKey": FAKE_SECRET_KEY,
                "sessionToken": FAKE_SESSION_TOKEN,
                "expiration": "Nov 3, 2026, 1:00:00 PM",
            },
            "assumedRoleUser": {
                "assumedRoleId": "AROAEXAMPLE:rt",
                "arn": "arn:aws:sts::155852606522:assumed-role/app-server/rt",
            },
        },
    }


def _session_tokens(trail: Path) -> set[str]:
    tokens: set[str] = set()
    for path in trail.rglob("*.json.gz"):
        document = json.loads(gzip.decompress(path.read_bytes()))
        for record in document.get("Records", []):
            credentials = (record.get("responseElements") or {}).get("credentials") or {}
            for name in ("sessionToken", "secretAccessKey"):
                if isinstance(credentials.get(name), str):
                    tokens.add(credentials[name])
    return tokens


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> ReportedCase:
    root = tmp_path_factory.mktemp("report-sim")
    trail = root / "trail"
    simulate(SimulationConfig(out=trail, seed=2, days=3, events=30_000))
    (trail / "extra.json").write_text(json.dumps({"Records": [_secret_record()]}))
    case_path = root / "sim.case"
    ingest_paths([str(trail)], case_path, workers=1)
    secrets = _session_tokens(trail) | {FAKE_SECRET_KEY, FAKE_SESSION_TOKEN}
    truth = orjson.loads((trail / "ground_truth.json").read_bytes())
    return _reported(case_path, truth=truth, secrets=secrets)


@pytest.fixture(scope="session")
def northwind(northwind_case: Path) -> ReportedCase:
    return _reported(northwind_case)


@pytest.fixture(scope="session")
def invictus(tmp_path_factory: pytest.TempPathFactory) -> ReportedCase:
    path = tmp_path_factory.mktemp("report-invictus") / "invictus.case"
    ingest_paths([str(INVICTUS)], path, workers=1)
    return _reported(path)


@pytest.fixture(params=["simulated", "northwind", "invictus"])
def any_case(request: pytest.FixtureRequest) -> ReportedCase:
    return request.getfixturevalue(request.param)
