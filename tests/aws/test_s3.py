"""Reading a trail from S3 (moto's server on loopback): the layout walk, downloads, bookkeeping, errors."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import pytest

from graphtrail import ingest as ingest_module
from graphtrail.aws.errors import AwsAccessDenied, AwsError, AwsKmsDenied
from graphtrail.aws.ingest import ingest_s3
from graphtrail.aws.s3 import TrailFilters, parse_s3_url
from graphtrail.aws.session import AwsSettings
from graphtrail.case import Case
from tests.aws.conftest import error_response, northwind_members, recording_session, upload

ORG = "o-mb458j85r0"


def _settings(url: str) -> AwsSettings:
    return AwsSettings(endpoint_url=url)


def _event_ids(case_path: Path) -> list[str]:
    with Case(case_path) as case:
        return [row[0] for row in case.db.execute("SELECT event_id FROM events")]


@pytest.fixture(scope="module")
def log_keys() -> list[str]:
    return sorted(key for key, _ in northwind_members() if "CloudTrail-Digest" not in key)


def test_org_trail_from_s3_gives_the_same_case_as_the_files(
    moto_url: str, northwind_bucket: str, northwind_case: Path, log_keys: list[str], tmp_path: Path
) -> None:
    session, calls = recording_session()
    case_path = tmp_path / "s3.case"
    result = ingest_s3([f"s3://{northwind_bucket}"], case_path, _settings(moto_url), TrailFilters(), session=session,
                       workers=2, threads=8)  # fmt: skip
    summary = result.summary
    assert summary.balanced
    assert sorted(calls.keys("GetObject")) == log_keys  # each log object once, never a digest
    # One object is byte-identical to another (the example's re-delivery): counted as already read.
    assert (summary.files_ingested, summary.files_already_ingested) == (len(log_keys) - 1, 1)
    assert sorted(_event_ids(case_path)) == sorted(_event_ids(northwind_case))
    with Case(case_path) as s3_case, Case(northwind_case) as disk_case:
        for table in ("nodes", "edges", "key_lineage"):
            assert s3_case.scalar(f"SELECT count(*) FROM {table}") == disk_case.scalar(f"SELECT count(*) FROM {table}")
        assert len(s3_case.s3_objects(northwind_bucket)) == len(log_keys)
    # Every listing call is one folder of the layout, never the whole bucket.
    listings = [params for name, params in calls.made if name == "ListObjectsV2"]
    assert listings and all(params.get("Delimiter") == "/" for params in listings)
    assert not any("CloudTrail-Digest" in params["Prefix"] for params in listings)


def test_a_second_run_downloads_nothing_and_changes_nothing(
    moto_url: str, northwind_bucket: str, log_keys: list[str], tmp_path: Path
) -> None:
    case_path = tmp_path / "c.case"
    account = log_keys[0].split("/")[2]
    url = f"s3://{northwind_bucket}/AWSLogs/{ORG}/{account}/"
    ingest_s3([url], case_path, _settings(moto_url), TrailFilters(), workers=1)
    before = sorted(_event_ids(case_path))
    session, calls = recording_session()
    again = ingest_s3([url], case_path, _settings(moto_url), TrailFilters(), session=session, workers=1)
    assert calls.keys("GetObject") == []
    assert again.summary.files_skipped["already-ingested"] == sum(f"/{account}/" in key for key in log_keys)
    assert again.summary.events_ingested == 0
    assert sorted(_event_ids(case_path)) == before


def test_filters_walk_only_the_asked_accounts_regions_and_days(
    moto_url: str, northwind_bucket: str, log_keys: list[str], tmp_path: Path
) -> None:
    account = log_keys[0].split("/")[2]
    wanted = [key for key in log_keys if f"/{account}/CloudTrail/us-east-1/2026/11/03/" in key]
    assert wanted
    filters = TrailFilters(
        accounts=frozenset({account}),
        regions=frozenset({"us-east-1"}),
        org_ids=frozenset({ORG}),
        start=_utc("2026-11-03T00:00:00"),
        end=_utc("2026-11-03T20:00:00"),
    )
    session, calls = recording_session()
    ingest_s3([f"s3://{northwind_bucket}"], tmp_path / "c.case", _settings(moto_url), filters, session=session)
    listed = {params["Prefix"] for name, params in calls.made if name == "ListObjectsV2"}
    assert all(account in prefix for prefix in listed if prefix.count("/") > 3)
    assert not any("/eu-west-1/" in prefix or "/11/02/" in prefix or "/11/04/" in prefix for prefix in listed)
    fetched = calls.keys("GetObject")
    # The day's files up to 20 minutes after --end (records arrive late), none after.
    assert set(fetched) == {key for key in wanted if key.rsplit("_", 2)[1] <= "20261103T2020Z"}
    assert len(fetched) < len(wanted)


def _utc(text: str) -> Any:
    from graphtrail.cloudtrail.timeparse import parse_time

    return parse_time(text)


def _small_trail(count: int = 12) -> list[tuple[str, bytes]]:
    return [(key, data) for key, data in northwind_members() if "CloudTrail-Digest" not in key][:count]


def test_a_corrupt_object_is_rejected_with_its_key_and_the_rest_is_ingested(moto_url: str, tmp_path: Path) -> None:
    members = _small_trail()
    key, data = members[3]
    members[3] = (key, gzip.compress(gzip.decompress(data))[:-20])  # cut inside the gzip stream
    upload(moto_url, "corrupt-object-trail", members)
    case_path = tmp_path / "c.case"
    result = ingest_s3(["s3://corrupt-object-trail"], case_path, _settings(moto_url), TrailFilters(), workers=1)
    summary = result.summary
    assert summary.files_ingested == len(members) - 1
    assert sum(summary.files_rejected.values()) + summary.records_rejected >= 1
    assert any(f"s3://corrupt-object-trail/{key}" in line for line in summary.problems)
    # A corrupt object stays corrupt: it is recorded and not downloaded again.
    session, calls = recording_session()
    ingest_s3(["s3://corrupt-object-trail"], case_path, _settings(moto_url), TrailFilters(), session=session)
    assert calls.keys("GetObject") == []


def test_a_throttled_download_and_listing_are_retried_by_botocore(moto_url: str, tmp_path: Path) -> None:
    members = _small_trail(6)
    upload(moto_url, "throttled-trail", members)
    throttled: list[str] = []

    def throttle_once(operation: str, request: Any) -> Any:
        if operation in ("GetObject", "ListObjectsV2") and operation not in throttled:
            throttled.append(operation)
            return error_response(503, "SlowDown", "Please reduce your request rate.")
        return None

    session, calls = recording_session(throttle_once)
    result = ingest_s3(["s3://throttled-trail"], tmp_path / "c.case", _settings(moto_url), TrailFilters(),
                       session=session, workers=1)  # fmt: skip
    assert throttled == ["ListObjectsV2", "GetObject"]
    assert result.summary.files_ingested == len(members)
    assert result.summary.files_rejected == {}
    assert sorted(set(calls.keys("GetObject"))) == sorted(key for key, _ in members)


def test_an_interrupted_run_resumes_and_reads_each_key_once(
    moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    members = _small_trail(200)  # several batches of files
    upload(moto_url, "interrupted-trail", members)
    case_path = tmp_path / "c.case"
    monkeypatch.setattr(ingest_module, "CHECKPOINT_SECONDS", 0.0)  # commit after every batch
    checkpointed: list[int] = []

    def stop_in_the_second_batch(state: Any) -> None:
        if checkpointed:
            raise KeyboardInterrupt
        checkpointed.append(state.files_done)

    first_session, _ = recording_session()
    with pytest.raises(KeyboardInterrupt):
        ingest_s3(["s3://interrupted-trail"], case_path, _settings(moto_url), TrailFilters(), session=first_session,
                  progress=stop_in_the_second_batch, workers=2)  # fmt: skip
    with Case(case_path) as case:
        stored = case.s3_objects("interrupted-trail")
    assert 0 < len(stored) == checkpointed[0] < len(members)  # the first batch, committed; the second rolled back
    monkeypatch.setattr(ingest_module, "CHECKPOINT_SECONDS", 60.0)
    second_session, second = recording_session()
    result = ingest_s3(["s3://interrupted-trail"], case_path, _settings(moto_url), TrailFilters(),
                       session=second_session, workers=2)  # fmt: skip
    assert sorted(second.keys("GetObject")) == sorted(key for key, _ in members if key not in stored)
    assert result.summary.files_skipped["already-ingested"] == len(stored)
    with Case(case_path) as case:
        assert len(case.s3_objects("interrupted-trail")) == len(members)
        assert case.scalar("SELECT count(*) FROM files") == len(members)
    ids = _event_ids(case_path)
    assert len(ids) == len(set(ids))
    reference = tmp_path / "reference.case"
    ingest_s3(["s3://interrupted-trail"], reference, _settings(moto_url), TrailFilters(), workers=1)
    assert sorted(ids) == sorted(_event_ids(reference))


# --- errors a user will hit --------------------------------------------------------------------------------


def test_access_denied_on_listing_names_s3_listbucket_and_the_prefix(moto_url: str, northwind_bucket: str,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    def deny(operation: str, request: Any) -> Any:
        return error_response(403, "AccessDenied", "Access Denied") if operation == "ListObjectsV2" else None

    session, _ = recording_session(deny)
    with pytest.raises(AwsAccessDenied) as caught:
        ingest_s3([f"s3://{northwind_bucket}/AWSLogs/{ORG}/"], tmp_path / "c.case", _settings(moto_url),
                  TrailFilters(), session=session)  # fmt: skip
    message = str(caught.value)
    assert "s3:ListBucket" in message
    assert f"arn:aws:s3:::{northwind_bucket}" in message and f"AWSLogs/{ORG}/" in message


def test_access_denied_on_download_names_s3_getobject_and_the_key(moto_url: str, northwind_bucket: str,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    def deny(operation: str, request: Any) -> Any:
        return error_response(403, "AccessDenied", "Access Denied") if operation == "GetObject" else None

    session, _ = recording_session(deny)
    with pytest.raises(AwsAccessDenied) as caught:
        ingest_s3([f"s3://{northwind_bucket}"], tmp_path / "c.case", _settings(moto_url), TrailFilters(),
                  session=session)  # fmt: skip
    assert "s3:GetObject" in str(caught.value)
    assert f"arn:aws:s3:::{northwind_bucket}/AWSLogs/{ORG}/" in str(caught.value)
    assert not isinstance(caught.value, AwsKmsDenied)


def test_an_object_encrypted_with_a_kms_key_we_cannot_use_asks_for_kms_decrypt(
    moto_url: str, northwind_bucket: str, tmp_path: Path
) -> None:
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/reader/graphtrail is not authorized to perform: "
        "kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based "
        "policy allows the kms:Decrypt action"
    )

    def deny(operation: str, request: Any) -> Any:
        return error_response(403, "AccessDenied", message) if operation == "GetObject" else None

    session, _ = recording_session(deny)
    with pytest.raises(AwsKmsDenied) as caught:
        ingest_s3([f"s3://{northwind_bucket}"], tmp_path / "c.case", _settings(moto_url), TrailFilters(),
                  session=session)  # fmt: skip
    assert "kms:Decrypt" in str(caught.value)
    assert "SSE-KMS" in str(caught.value)


def test_a_refused_object_after_the_first_is_rejected_and_retried_next_run(moto_url: str, tmp_path: Path) -> None:
    members = _small_trail(5)
    upload(moto_url, "partly-refused-trail", members)
    refused = members[2][0]

    def deny(operation: str, request: Any) -> Any:
        if operation == "GetObject" and refused in request.url:
            return error_response(403, "AccessDenied", "Access Denied")
        return None

    session, _ = recording_session(deny)
    case_path = tmp_path / "c.case"
    result = ingest_s3(["s3://partly-refused-trail"], case_path, _settings(moto_url), TrailFilters(),
                       session=session, workers=1)  # fmt: skip
    assert result.summary.files_rejected == {"unreadable": 1}
    assert any("s3:GetObject" in line and refused in line for line in result.summary.problems)
    retry_session, calls = recording_session()
    ingest_s3(["s3://partly-refused-trail"], case_path, _settings(moto_url), TrailFilters(), session=retry_session)
    assert calls.keys("GetObject") == [refused]


def test_a_bucket_in_another_region_is_read_from_its_region(moto_url: str, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    upload(moto_url, "eu-org-trail", _small_trail(3), region="eu-west-1")
    caplog.set_level(logging.INFO, logger="graphtrail.aws.s3")
    result = ingest_s3(["s3://eu-org-trail"], tmp_path / "c.case", _settings(moto_url), TrailFilters(), workers=1)
    assert result.summary.files_ingested == 3
    assert "s3://eu-org-trail is in eu-west-1" in caplog.text


def test_a_bucket_whose_region_cannot_be_reached_says_so(moto_url: str, northwind_bucket: str,
                                                         tmp_path: Path) -> None:  # fmt: skip
    def redirect(operation: str, request: Any) -> Any:
        if operation == "ListObjectsV2":
            return error_response(301, "PermanentRedirect", "The bucket you are attempting to access must be "
                                  "addressed using the specified endpoint.", {"x-amz-bucket-region": "ap-south-1"})  # fmt: skip
        return None

    session, _ = recording_session(redirect)
    with pytest.raises(AwsError, match="is in Region ap-south-1"):
        ingest_s3([f"s3://{northwind_bucket}"], tmp_path / "c.case", _settings(moto_url), TrailFilters(),
                  session=session)  # fmt: skip


def test_a_prefix_with_nothing_in_it_says_what_is_there(moto_url: str, northwind_bucket: str, tmp_path: Path) -> None:
    with pytest.raises(AwsError, match="the prefix is empty"):
        ingest_s3([f"s3://{northwind_bucket}/logs/"], tmp_path / "c.case", _settings(moto_url), TrailFilters())
    with pytest.raises(AwsError, match=r"--region mars-north-1.*Regions: eu-west-1, us-east-1"):
        ingest_s3([f"s3://{northwind_bucket}"], tmp_path / "c.case", _settings(moto_url),
                  TrailFilters(regions=frozenset({"mars-north-1"})))  # fmt: skip


def test_a_missing_bucket_is_named(moto_url: str, tmp_path: Path) -> None:
    with pytest.raises(AwsError, match="no such bucket: s3://no-such-trail-bucket"):
        ingest_s3(["s3://no-such-trail-bucket"], tmp_path / "c.case", _settings(moto_url), TrailFilters())


def test_urls_and_filters_are_checked_before_any_call() -> None:
    assert parse_s3_url("s3://b/AWSLogs//o-1/").prefix == "AWSLogs/o-1/"
    with pytest.raises(AwsError, match="no bucket name"):
        parse_s3_url("s3:///x")
    with pytest.raises(AwsError, match="12-digit"):
        TrailFilters(accounts=frozenset({"12345"}))
    with pytest.raises(AwsError, match="organization id"):
        TrailFilters(org_ids=frozenset({"org-1"}))


def test_a_url_down_to_a_day_reads_that_day_only(moto_url: str, northwind_bucket: str, log_keys: list[str],
                                                 tmp_path: Path) -> None:  # fmt: skip
    day = "/".join(log_keys[0].split("/")[:8]) + "/"  # AWSLogs/ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
    session, calls = recording_session()
    ingest_s3([f"s3://{northwind_bucket}/{day}"], tmp_path / "c.case", _settings(moto_url), TrailFilters(),
              session=session, workers=1)  # fmt: skip
    assert sorted(calls.keys("GetObject")) == [key for key in log_keys if key.startswith(day)]
    assert {params["Prefix"] for name, params in calls.made if name == "ListObjectsV2"} == {day}
    with pytest.raises(AwsError, match="'CloudTrail-Digest' does not fit CloudTrail's layout"):
        ingest_s3([f"s3://{northwind_bucket}/AWSLogs/{ORG}/{day.split('/')[2]}/CloudTrail-Digest/"],
                  tmp_path / "c.case", _settings(moto_url), TrailFilters())  # fmt: skip
