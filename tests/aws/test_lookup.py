"""LookupEvents (botocore's Stubber: moto does not implement it), with real records from tests/data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from graphtrail.aws.errors import AwsAccessDenied, AwsError
from graphtrail.aws.ingest import ingest_lookup
from graphtrail.aws.lookup import PAGE_SIZE, LookupQuery, TokenBucket, iter_pages, lookup_notes, parse_attribute
from graphtrail.aws.session import AwsSettings
from graphtrail.case import Case
from tests.aws.conftest import static_session
from tests.conftest import invictus_records

START = datetime(2023, 7, 10, tzinfo=UTC)
END = datetime(2023, 7, 12, tzinfo=UTC)


class FakeClock:
    """Time that moves only when slept: the token bucket's waits are measured, not waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _event(record: dict[str, Any]) -> dict[str, Any]:
    """One LookupEvents result as AWS returns it: the record travels as a JSON string."""
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "EventTime": datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
        "EventSource": record["eventSource"],
        "CloudTrailEvent": json.dumps(record),
    }


def _stub_pages(client: Any, records: list[dict[str, Any]], expected: dict[str, Any]) -> Stubber:
    stubber = Stubber(client)
    pages = [records[at : at + PAGE_SIZE] for at in range(0, len(records), PAGE_SIZE)]
    for number, page in enumerate(pages):
        response: dict[str, Any] = {"Events": [_event(record) for record in page]}
        params = dict(expected)
        if number:
            params["NextToken"] = f"token-{number}"
        if number + 1 < len(pages):
            response["NextToken"] = f"token-{number + 1}"
        stubber.add_response("lookup_events", response, params)
    stubber.activate()
    return stubber


def _client(region: str) -> Any:
    return static_session().client("cloudtrail", region_name=region)


def _buckets(clock: FakeClock, *regions: str) -> dict[str, TokenBucket]:
    return {region: TokenBucket(clock=clock, sleep=clock.sleep) for region in regions}


def test_pages_of_every_region_become_events_in_the_case(tmp_path: Path) -> None:
    records = invictus_records()
    east, west = records[:120], records[120:190]
    expected = {"MaxResults": PAGE_SIZE, "StartTime": START, "EndTime": END}
    clients = {"us-east-1": _client("us-east-1"), "eu-west-1": _client("eu-west-1")}
    stubs = [_stub_pages(clients["us-east-1"], east, expected), _stub_pages(clients["eu-west-1"], west, expected)]
    clock = FakeClock()
    query = LookupQuery(regions=("us-east-1", "eu-west-1"), start=START, end=END)
    result = ingest_lookup(query, tmp_path / "c.case", AwsSettings(), clients=clients,
                           buckets=_buckets(clock, "us-east-1", "eu-west-1"), round_pages=2)  # fmt: skip
    for stub in stubs:
        stub.assert_no_pending_responses()
    summary = result.summary
    assert summary.balanced
    assert summary.files_seen == 5  # 50 + 50 + 20 and 50 + 20
    assert summary.shapes == {"lookup-events": 190}
    unique = {record["eventID"] for record in records[:190]}
    assert summary.events_ingested + summary.duplicates == 190
    with Case(tmp_path / "c.case") as case:
        stored = {row[0] for row in case.db.execute("SELECT event_id FROM events")}
        assert stored == unique
        assert case.scalar("SELECT count(*) FROM runs") == 3  # stored in rounds of two pages
    assert any("data events" in note and "90 days" in note for note in result.notes)


def test_an_attribute_is_sent_as_a_lookup_attribute(tmp_path: Path) -> None:
    records = [record for record in invictus_records() if record["eventName"] == "ListBuckets"][:3]
    assert records
    client = _client("us-east-1")
    expected = {
        "MaxResults": PAGE_SIZE,
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListBuckets"}],
    }
    stub = _stub_pages(client, records, expected)
    query = LookupQuery(regions=("us-east-1",), attributes=(parse_attribute("eventname=ListBuckets"),))
    result = ingest_lookup(query, tmp_path / "c.case", AwsSettings(), clients={"us-east-1": client},
                           buckets=_buckets(FakeClock(), "us-east-1"))  # fmt: skip
    stub.assert_no_pending_responses()
    assert result.summary.events_ingested == len({record["eventID"] for record in records})


def test_requests_are_spaced_to_two_per_second_per_region() -> None:
    records = invictus_records()[:250]  # five pages
    client = _client("us-east-1")
    _stub_pages(client, records, {"MaxResults": PAGE_SIZE})
    clock = FakeClock()
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    pages = list(iter_pages(client, "us-east-1", LookupQuery(regions=("us-east-1",)), bucket))
    assert [len(page.events) for page in pages] == [50] * 5
    assert clock.now == pytest.approx(2.0)  # the first call at once, then one every half second
    assert all(wait <= 0.5 for wait in clock.slept)


def test_the_token_bucket_allows_bursts_only_up_to_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        bucket.acquire()
    assert clock.now == 0.0
    for _ in range(4):
        bucket.acquire()
    assert clock.now == pytest.approx(2.0)
    clock.now += 10.0  # idle time does not bank more than the capacity
    for _ in range(3):
        bucket.acquire()
    assert clock.now == pytest.approx(12.5)


def test_throttling_beyond_botocore_retries_waits_and_carries_on() -> None:
    records = invictus_records()[:60]
    client = _client("us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("lookup_events", {"Events": [_event(record) for record in records[:50]], "NextToken": "t"})
    stubber.add_response("lookup_events", {"Events": [_event(record) for record in records[50:]]})
    stubber.activate()
    clock = FakeClock()
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    pages = list(iter_pages(client, "us-east-1", LookupQuery(regions=("us-east-1",)), bucket, sleep=clock.sleep))
    stubber.assert_no_pending_responses()
    assert sum(len(page.events) for page in pages) == 60
    assert 2.0 in clock.slept  # backed off before asking again


def test_access_denied_names_cloudtrail_lookupevents(tmp_path: Path) -> None:
    client = _client("eu-west-1")
    stubber = Stubber(client)
    stubber.add_client_error("lookup_events", service_error_code="AccessDeniedException", http_status_code=400)
    stubber.activate()
    with pytest.raises(AwsAccessDenied, match="cloudtrail:LookupEvents on Region eu-west-1"):
        ingest_lookup(LookupQuery(regions=("eu-west-1",)), tmp_path / "c.case", AwsSettings(),
                      clients={"eu-west-1": client}, buckets=_buckets(FakeClock(), "eu-west-1"))  # fmt: skip


def test_a_malformed_cloudtrail_event_is_counted_as_a_reject(tmp_path: Path) -> None:
    records = invictus_records()[:3]
    events = [_event(record) for record in records]
    events[1]["CloudTrailEvent"] = events[1]["CloudTrailEvent"][:40]
    client = _client("us-east-1")
    stubber = Stubber(client)
    stubber.add_response("lookup_events", {"Events": events})
    stubber.activate()
    result = ingest_lookup(LookupQuery(regions=("us-east-1",)), tmp_path / "c.case", AwsSettings(),
                           clients={"us-east-1": client}, buckets=_buckets(FakeClock(), "us-east-1"))  # fmt: skip
    summary = result.summary
    assert summary.balanced
    assert summary.rejected == {"malformed-json": 1}
    assert summary.events_ingested + summary.duplicates == 2


def test_the_user_is_told_what_lookup_events_cannot_see() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    recent = lookup_notes(LookupQuery(regions=("us-east-1",), start=now - timedelta(days=3)), now)
    assert len(recent) == 1 and "no data events" in recent[0] and "older than 90 days" in recent[0]
    old = lookup_notes(LookupQuery(regions=("us-east-1",), start=now - timedelta(days=200),
                                   end=now - timedelta(days=120)), now)  # fmt: skip
    assert any("more than 90 days ago" in note for note in old)
    assert any("will return nothing" in note for note in old)


def test_attributes_are_checked() -> None:
    assert parse_attribute("Username=alice") == ("Username", "alice")
    assert parse_attribute("accesskeyid=AKIAEXAMPLE=") == ("AccessKeyId", "AKIAEXAMPLE=")
    for bad in ("User=alice", "Username", "Username="):
        with pytest.raises(AwsError, match="KEY=VALUE"):
            parse_attribute(bad)
