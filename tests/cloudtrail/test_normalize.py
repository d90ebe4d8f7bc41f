from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from graphtrail.cloudtrail.event import Event, Fields
from graphtrail.cloudtrail.normalize import normalize_copy, normalize_record
from graphtrail.cloudtrail.redact import REDACTED, redacted_value_json
from graphtrail.errors import RecordRejected
from graphtrail.sources.records import VARYING_BLOCKS
from tests.conftest import AWSDOCS, STRATUS, find, invictus_records, load_records


def _stratus(name: str) -> list[dict]:
    return load_records(STRATUS / f"{name}.json")


def test_assume_role_response_yields_the_issued_key_without_its_token() -> None:
    record = find(_stratus("aws.defense-evasion.organizations-leave"), lambda r: r["eventName"] == "AssumeRole")
    event = normalize_record(record)
    assert event.issued is not None
    assert event.issued.access_key_id.startswith("ASIA")
    assert event.issued.role_arn == "arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role"
    assert event.issued.session_key.startswith(
        "arn:aws:sts::307578594326:assumed-role/stratus-red-team-leave-org-role/"
    )
    assert event.response.sub("credentials")["sessionToken"] == REDACTED
    assert event.read_only is True


def test_failed_issuing_call_issues_nothing() -> None:
    record = find(_stratus("aws.defense-evasion.organizations-leave"), lambda r: r["eventName"] == "AssumeRole")
    record["errorCode"] = "AccessDenied"
    assert normalize_record(record).issued is None


def test_two_addresses_in_source_ip_are_both_kept() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    record["sourceIPAddress"] = "198.51.100.7, 203.0.113.9"
    event = normalize_record(record)
    assert event.source_ips == ("198.51.100.7", "203.0.113.9")
    assert event.source_ip == "198.51.100.7"


def test_service_name_as_source_ip_is_not_an_address() -> None:
    record = find(load_records(AWSDOCS / "iam-user-guide_examples.jsonl"), lambda r: r["eventName"] == "GetUserPolicy")
    event = normalize_record(record)
    assert event.source_ips == ()
    assert event.source_service == "signin.amazonaws.com"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventTime", "2022-09-27 17:09:18"),  # Panther's export format
        ("@timestamp", "2022-09-27T17:09:18.000Z"),  # a SIEM that renamed the field
        ("eventTime", "2022-09-27T19:09:18+02:00"),
    ],
)
def test_time_variants_normalise_to_utc(field: str, value: str) -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    del record["eventTime"]
    record[field] = value
    assert normalize_record(record).time == datetime(2022, 9, 27, 17, 9, 18, tzinfo=UTC)


def test_lake_style_record_with_string_values_and_lowercase_keys() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    lake = {key.lower(): value for key, value in record.items()}
    lake["readonly"] = "false"
    event = normalize_record(lake)
    assert event.name == "StopLogging"
    assert event.read_only is False
    assert event.principal.kind in ("User", "Session")


def test_record_without_event_id_gets_a_stable_synthetic_one() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    del record["eventID"]
    first = normalize_record(copy.deepcopy(record)).event_id
    assert first.startswith("gt-") and first == normalize_record(copy.deepcopy(record)).event_id


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        (lambda r: r.pop("eventTime"), "missing-eventTime"),
        (lambda r: r.update(eventTime="yesterday"), "bad-eventTime"),
        (lambda r: r.pop("userIdentity"), "missing-userIdentity"),
        (lambda r: r.pop("eventName"), "missing-eventName"),
        (lambda r: r.update(userIdentity={"type": "IAMUser"}), "incomplete-identity"),
    ],
)
def test_unusable_records_are_rejected_with_a_reason(mutation, reason: str) -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    mutation(record)
    with pytest.raises(RecordRejected) as caught:
        normalize_record(record)
    assert caught.value.reason == reason


def test_data_event_category_from_management_flag() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    record.pop("eventCategory", None)
    record["managementEvent"] = False
    assert normalize_record(record).category == "Data"


def test_failed_console_login_counts_as_a_failed_call() -> None:
    docs = load_records(AWSDOCS / "cloudtrail-user-guide_examples.jsonl")
    failed = find(
        docs, lambda r: r["eventName"] == "ConsoleLogin" and r["responseElements"]["ConsoleLogin"] == "Failure"
    )
    succeeded = find(
        docs, lambda r: r["eventName"] == "ConsoleLogin" and r["responseElements"]["ConsoleLogin"] == "Success"
    )
    assert normalize_record(failed).error_code == "Failed authentication"
    assert normalize_record(succeeded).error_code is None


def test_console_session_flag_is_read_from_the_top_level() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    record["sessionCredentialFromConsole"] = "true"
    assert normalize_record(record).console_session is True


def test_reused_non_guid_event_ids_do_not_swallow_distinct_events() -> None:
    from tests.conftest import DATA

    scenario = load_records(
        DATA / "panther-analysis" / "test_scenarios_records" / "compromised-root-creds__attacker_cloudtrail.json"
    )
    assert {record["eventID"] for record in scenario} == {"1"}  # hand-written: every event says "1"
    ids = {normalize_record(copy.deepcopy(record)).event_id for record in scenario}
    assert len(ids) == len(scenario)
    assert all(event_id.startswith("1~") for event_id in ids)
    again = {normalize_record(copy.deepcopy(record)).event_id for record in scenario}
    assert again == ids  # stable, so re-ingesting still deduplicates


def test_guid_event_ids_are_kept_as_they_are() -> None:
    record = find(_stratus("aws.defense-evasion.cloudtrail-stop"), lambda r: True)
    assert normalize_record(copy.deepcopy(record)).event_id == record["eventID"]


# --- a copy read by its parameter blocks (graphtrail.recurring) ---------------------------------------------


def _plain(event: Event) -> tuple[object, ...]:
    """The event with its parameter views as the dicts they read (a Fields compares by identity)."""
    return tuple(value.raw if isinstance(value, Fields) else value for value in event)


def _copy_of(template: dict[str, object], record: dict[str, object]) -> Event | None:
    """`normalize_copy` of `record` from `template`'s Event, given the record's blocks and the stored JSON
    around them as the memo hands them over."""
    event = normalize_record(copy.deepcopy(template))
    record = copy.deepcopy(record)
    blocks = [(name, record[name]) for name in record if name in VARYING_BLOCKS]
    json = normalize_record(copy.deepcopy(record)).record_json
    pieces, rest = [], json
    for name, _ in blocks:  # cut the stored JSON around each block's written value
        start = rest.index(b'"' + name.encode() + b'":') + len(name) + 3
        written = redacted_value_json(copy.deepcopy(record[name]))
        assert written is not None
        pieces.append(rest[:start])
        rest = rest[start + len(written[0]) :]
    pieces.append(rest)
    ids = (record["eventID"], record["eventTime"], record.get("requestID"), record.get("sharedEventID"))
    return normalize_copy(event, ids[0], ids[1], ids[2], ids[3], pieces, blocks)  # type: ignore[arg-type]


DECRYPT = find(invictus_records(), lambda record: record["eventName"] == "Decrypt")


def _other_decrypt(number: int, **blocks: object) -> dict[str, object]:
    record = copy.deepcopy(DECRYPT)
    record["eventID"] = f"{number:08x}-0000-4000-8000-000000000000"
    record["eventTime"] = f"2024-03-01T10:00:{number:02d}Z"
    record["requestParameters"]["encryptionContext"] = {
        "SecretARN": f"arn:aws:secretsmanager:us-east-1:1:secret:s-{number}"
    }  # type: ignore[index]
    record.update(blocks)
    return record


def test_copy_read_by_its_blocks_is_the_event_its_record_makes() -> None:
    copy_record = _other_decrypt(7, additionalEventData={"keyMaterialId": "ab" * 32})
    made = _copy_of(_other_decrypt(3, additionalEventData={"keyMaterialId": "cd" * 32}), copy_record)
    assert made is not None
    assert _plain(made) == _plain(normalize_record(copy.deepcopy(copy_record)))


def test_secret_in_a_copys_block_is_redacted_as_in_its_record() -> None:
    leaky = {"encryptionContext": {"note": '{"sessionToken": "FwoGZX"}'}, "password": "hunter2"}
    copy_record = _other_decrypt(8, requestParameters=leaky)
    made = _copy_of(_other_decrypt(3), copy_record)
    assert made is not None
    assert b"hunter2" not in made.record_json and b"FwoGZX" not in made.record_json
    assert made.request.get("password") == REDACTED
    assert _plain(made) == _plain(normalize_record(copy.deepcopy(copy_record)))


def test_copy_whose_id_is_not_a_guid_is_read_whole() -> None:
    assert _copy_of(_other_decrypt(3), {**_other_decrypt(4), "eventID": "4"}) is None
