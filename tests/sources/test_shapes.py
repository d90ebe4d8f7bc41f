"""read_records: every envelope CloudTrail arrives in is unwrapped to the same record; bad bytes are accounted for."""

from __future__ import annotations

import base64
import bz2
import copy
import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graphtrail.sources import Notice, RawRecord, ReadLimits, Rejected, SkippedFile, SourceItem, read_records
from graphtrail.sources.lake import parse_lake_value, parse_trino

DATA = Path(__file__).parent.parent / "data" / "cloudtrail"
INVICTUS = DATA / "invictus-ir-aws-dataset" / "CloudTrail"
STRATUS = DATA / "stratus-red-team-detonation-logs" / "detonation-logs"
LIBRARY = DATA / "aws-cloudtrail-processing-library-tests"
MALFORMED_2022 = DATA / "cloudtrail2sightings-stratus-2022" / "extracted" / "aws.execution.ec2-user-data.json"


def invictus_records() -> list[dict[str, Any]]:
    return [r for path in sorted(INVICTUS.glob("*.json")) for r in json.loads(path.read_bytes())["Records"]]


def real_record(kind: str = "AssumedRole") -> dict[str, Any]:
    """A real record whose userIdentity has `kind` and a session context (nested structs for Lake)."""
    for record in invictus_records():
        identity = record["userIdentity"]
        if identity["type"] == kind and identity.get("sessionContext", {}).get("sessionIssuer"):
            return copy.deepcopy(record)
    raise LookupError(kind)


def real_records(count: int) -> list[dict[str, Any]]:
    return copy.deepcopy(invictus_records()[:count])


def read(data: bytes, limits: ReadLimits | None = None, source: str = "test.json") -> list[SourceItem]:
    return list(read_records(source, data, limits or ReadLimits()))


def records(items: list[SourceItem]) -> list[RawRecord]:
    return [item for item in items if isinstance(item, RawRecord)]


def rejects(items: list[SourceItem]) -> list[Rejected]:
    return [item for item in items if isinstance(item, Rejected)]


def tally(items: list[SourceItem]) -> Counter[str]:
    """`record:<shape>`, `reject:<reason>` (`!` for whole-file), `skip:<reason>`, `notice:<reason>`."""
    counts: Counter[str] = Counter()
    for item in items:
        if isinstance(item, RawRecord):
            counts[f"record:{item.shape}"] += 1
        elif isinstance(item, Rejected):
            counts[f"reject:{item.reason}{'!' if item.whole_file else ''}"] += 1
        elif isinstance(item, SkippedFile):
            counts[f"skip:{item.reason}"] += 1
        else:
            counts[f"notice:{item.reason}"] += 1
    return counts


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- shapes ---------------------------------------------------------------------------------------------------


def test_records_wrapper_yields_every_record_in_order() -> None:
    batch = real_records(5)
    items = read(dumps({"Records": batch}))
    assert tally(items) == {"record:records": 5}
    assert [item.data for item in records(items)] == batch
    assert [item.origin.index for item in records(items)] == [0, 1, 2, 3, 4]
    assert {item.origin.source for item in records(items)} == {"test.json"}


def test_real_bare_array_file_reads_as_shape_array() -> None:
    path = STRATUS / "aws.persistence.iam-backdoor-user.json"
    items = read(path.read_bytes(), source=str(path))
    assert [item.data for item in records(items)] == json.loads(path.read_bytes())
    assert set(tally(items)) == {"record:array"}


def test_single_record_document_reads_as_shape_single() -> None:
    record = real_record()
    items = read(json.dumps(record, indent=2).encode())
    assert [(item.shape, item.data) for item in records(items)] == [("single", record)]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_json_lines_yield_one_record_per_line_and_ignore_blank_lines(compress: bool) -> None:
    batch = real_records(3)
    text = dumps(batch[0]) + b"\n\n" + dumps(batch[1]) + b"\r\n   \n" + dumps(batch[2]) + b"\n"
    items = read(gzip.compress(text) if compress else text, source="x.jsonl")
    assert tally(items) == {"record:jsonl": 3}
    assert [item.data for item in records(items)] == batch
    assert [item.origin.line for item in records(items)] == [1, 3, 5]


def test_json_lines_may_carry_any_envelope_per_line() -> None:
    first, second, third = real_records(3)
    lines = [
        dumps({"Records": [first]}),
        dumps({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": second}),
        dumps({"EventId": third["eventID"], "CloudTrailEvent": json.dumps(third)}),
    ]
    items = read(b"\n".join(lines))
    assert [(item.shape, item.data, item.origin.line) for item in records(items)] == [
        ("records", first, 1),
        ("eventbridge", second, 2),
        ("lookup-events", third, 3),
    ]


def test_lookup_events_output_parses_each_cloudtrail_event_string() -> None:
    batch = real_records(2)
    output = {
        "Events": [
            {
                "EventId": record["eventID"],
                "EventName": record["eventName"],
                "EventTime": "2023-07-10T13:45:00+02:00",
                "Username": "someone",
                "Resources": [],
                "CloudTrailEvent": json.dumps(record),
            }
            for record in batch
        ],
        "NextToken": "token",
    }
    items = read(json.dumps(output, indent=4).encode())
    assert [(item.shape, item.data) for item in records(items)] == [("lookup-events", record) for record in batch]


def test_lookup_event_with_a_broken_cloudtrail_event_string_is_rejected_alone() -> None:
    record = real_record()
    output = {"Events": [{"CloudTrailEvent": '{"eventVersion": "1.08", oops'}, {"CloudTrailEvent": json.dumps(record)}]}
    items = read(dumps(output))
    assert tally(items) == {"reject:malformed-json": 1, "record:lookup-events": 1}
    (rejected,) = rejects(items)
    assert (
        rejected.detail
        == "Events[0].CloudTrailEvent: JSON error at line 1 column 26: unexpected character, expected a string key"
    )
    assert (rejected.origin.index, records(items)[0].origin.index) == (0, 1)


def test_eventbridge_envelope_unwraps_detail() -> None:
    record = real_record()
    envelope = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sts",
        "account": "218007301253",
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }
    assert [(item.shape, item.data) for item in records(read(dumps(envelope)))] == [("eventbridge", record)]


def test_eventbridge_event_from_another_service_is_not_cloudtrail() -> None:
    finding = {"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"severity": 5}}
    assert tally(read(dumps(finding))) == {"reject:not-cloudtrail!": 1}


def cloudwatch_payload(batch: list[dict[str, Any]], message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    return {
        "messageType": message_type,
        "owner": "218007301253",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "218007301253_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-siem"],
        "logEvents": [
            {"id": str(n), "timestamp": 1688989500000 + n, "message": json.dumps(record)}
            for n, record in enumerate(batch)
        ],
    }


def test_cloudwatch_logs_subscription_payload_unwraps_each_message() -> None:
    batch = real_records(3)
    items = read(dumps(cloudwatch_payload(batch)))
    assert [(item.shape, item.data) for item in records(items)] == [("cloudwatch-logs", record) for record in batch]


def test_cloudwatch_logs_lambda_event_is_base64_of_gzip() -> None:
    batch = real_records(2)
    event = {"awslogs": {"data": base64.b64encode(gzip.compress(dumps(cloudwatch_payload(batch)))).decode()}}
    assert [(item.shape, item.data) for item in records(read(dumps(event)))] == [
        ("cloudwatch-logs", record) for record in batch
    ]


def test_cloudwatch_logs_control_message_is_skipped() -> None:
    payload = cloudwatch_payload([], "CONTROL_MESSAGE")
    payload["logEvents"] = [
        {"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination"}
    ]
    assert read(dumps(payload)) == [SkippedFile("test.json", "control-message")]
    event = {"awslogs": {"data": base64.b64encode(gzip.compress(dumps(payload))).decode()}}
    assert read(dumps(event)) == [SkippedFile("test.json", "control-message")]


def test_firehose_object_of_concatenated_gzip_payloads_reads_every_data_message() -> None:
    batch = real_records(3)
    control = cloudwatch_payload([], "CONTROL_MESSAGE")
    members = [dumps(cloudwatch_payload(batch[:2])), dumps(control), dumps(cloudwatch_payload(batch[2:]))]
    items = read(b"".join(gzip.compress(member) for member in members), source="stream-1-2023-07-10-12-00")
    assert tally(items) == {"record:cloudwatch-logs": 3, "notice:control-message": 1}
    assert [item.data for item in records(items)] == batch


def trino(value: Any) -> str:
    """Render a value the way CloudTrail Lake (Trino) prints a struct/map/array column."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={trino(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(trino(item) for item in value) + "]"
    if value is None:
        return "null"
    return str(value)


def lake_row(record: dict[str, Any]) -> list[dict[str, str]]:
    """A GetQueryResults row: one single-key map per column, every value a string."""
    row = []
    for key, value in record.items():
        if key == "userIdentity":
            text = trino(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        elif isinstance(value, dict | list):
            text = json.dumps(value)
        else:
            text = str(value)
        row.append({key: text})
    return row


def test_lake_rows_are_merged_and_their_string_values_restored() -> None:
    record = real_record()
    record["responseElements"] = None
    assert isinstance(record["readOnly"], bool)
    output = {"QueryStatus": "FINISHED", "QueryStatistics": {"ResultsCount": 1}, "QueryResultRows": [lake_row(record)]}
    (item,) = read(dumps(output))
    assert isinstance(item, RawRecord)
    assert item.shape == "lake"
    assert item.data == record  # struct string, JSON strings, booleans and null all come back


def test_trino_struct_strings_are_parsed_best_effort() -> None:
    text = "{type=IAMUser, principalid=AIDAEXAMPLE, arn=arn:aws:iam::111122223333:user/alice, accesskeyid=null}"
    assert parse_trino(text) == {
        "type": "IAMUser",
        "principalid": "AIDAEXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accesskeyid": None,
    }
    assert parse_lake_value("[{accountid=1, type=AWS::S3::Bucket}, {accountid=2, type=x}]") == [
        {"accountid": "1", "type": "AWS::S3::Bucket"},
        {"accountid": "2", "type": "x"},
    ]
    assert parse_lake_value("{not a struct") == "{not a struct"  # unreadable stays a string
    assert parse_lake_value("1.08") == "1.08"
    assert [parse_lake_value(v) for v in ("true", "false", "null")] == [True, False, None]


def test_siem_export_with_renamed_time_field_is_shape_siem_and_left_untouched() -> None:
    record = real_record()
    record["@timestamp"] = record.pop("eventTime")
    exported = copy.deepcopy(record)
    (item,) = read(dumps(record))
    assert isinstance(item, RawRecord)
    assert (item.shape, item.data) == ("siem", exported)


def test_elastic_search_hits_and_source_lines_unwrap_to_siem_records() -> None:
    first, second = real_records(2)
    first["@timestamp"] = first.pop("eventTime")
    response = {"took": 3, "hits": {"total": {"value": 2}, "hits": [{"_index": "ct", "_id": "1", "_source": first}]}}
    assert [(item.shape, item.data) for item in records(read(dumps(response)))] == [("siem", first)]
    lines = dumps({"_index": "ct", "_source": first}) + b"\n" + dumps({"_index": "ct", "_source": second})
    assert [(item.shape, item.data) for item in records(read(lines))] == [("siem", first), ("siem", second)]


def test_pretty_printed_values_one_after_another_read_as_a_stream() -> None:
    batch = real_records(3)
    text = "\n".join(json.dumps(record, indent=2) for record in batch).encode()  # `jq '.Records[]'` output
    items = read(text)
    assert [(item.shape, item.data) for item in records(items)] == [("jsonl", record) for record in batch]
    heights = [json.dumps(record, indent=2).count("\n") + 1 for record in batch]
    assert [item.origin.line for item in records(items)] == [1, 1 + heights[0], 1 + heights[0] + heights[1]]


def test_digest_content_is_skipped() -> None:
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2023-07-10T11:00:00Z",
        "digestEndTime": "2023-07-10T12:00:00Z",
        "digestS3Bucket": "bucket",
        "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2023/07/10/x.json.gz",
        "previousDigestSignature": "abc",
        "logFiles": [],
    }
    assert read(gzip.compress(dumps(digest))) == [SkippedFile("test.json", "digest")]


def test_json_that_is_not_cloudtrail_is_rejected_whole() -> None:
    assert tally(read(b'{"name": "a package manifest", "version": "1.0"}')) == {"reject:not-cloudtrail!": 1}
    assert tally(read(b"42")) == {"reject:not-cloudtrail!": 1}


def test_awsdocs_wrapper_lines_are_not_cloudtrail_records() -> None:
    # Each line is {"doc": ..., "event": {...}}: a wrapper made for the test data, not a CloudTrail shape. The
    # reader does not guess at it; every line is counted as not-cloudtrail and nothing reaches the normalizer.
    path = DATA / "awsdocs-examples" / "iam-user-guide_examples.jsonl"
    items = read(path.read_bytes(), source=str(path))
    assert tally(items) == {"reject:not-cloudtrail": 9}
    assert [item.origin.line for item in rejects(items)] == list(range(1, 10))


def test_elements_that_are_not_objects_are_rejected_one_by_one() -> None:
    record = real_record()
    items = read(dumps({"Records": [record, "oops", None, [1], record]}))
    assert tally(items) == {"record:records": 2, "reject:not-an-object": 3}
    assert [item.origin.index for item in items] == [0, 1, 2, 3, 4]
    assert rejects(items)[0].detail == "Records[1] is a JSON string, not an object"
    mixed = read(dumps([record, 7, {"unrelated": True}]))
    assert tally(mixed) == {"record:array": 1, "reject:not-an-object": 1, "reject:not-cloudtrail": 1}


def test_byte_order_marks_are_handled() -> None:
    record = real_record()
    assert tally(read(b"\xef\xbb\xbf" + dumps({"Records": [record]}))) == {"record:records": 1}
    utf16 = read(json.dumps({"Records": [record]}).encode("utf-16"))  # Windows PowerShell `>` writes this
    assert tally(utf16) == {"record:records": 1, "notice:not-utf8-repaired": 1}
    assert records(utf16)[0].data == record


def test_lone_surrogate_escapes_are_replaced_not_fatal() -> None:
    record = real_record()
    record["userAgent"] = "agent"
    text = dumps({"Records": [record]}).replace(b'"agent"', b'"ag\\ud800ent"')
    items = read(text)
    assert tally(items) == {"record:records": 1, "notice:not-utf8-repaired": 1}
    assert records(items)[0].data["userAgent"] == "ag\ufffdent"
    bad_line = dumps(record).replace(b'"agent"', b'"ag\\udc00ent"')
    line_items = read(dumps(real_record()) + b"\n" + bad_line + b"\n")
    assert tally(line_items) == {"record:jsonl": 2, "notice:not-utf8-repaired": 1}
    assert records(line_items)[1].data["userAgent"] == "ag\ufffdent"


# --- bad input --------------------------------------------------------------------------------------------------


def test_truncated_gzip_json_lines_keep_the_complete_lines_before_the_cut() -> None:
    batch = real_records(40)
    blob = gzip.compress(b"\n".join(dumps(record) for record in batch) + b"\n")
    items = read(blob[: len(blob) // 2], source="cut.jsonl.gz")
    got = records(items)
    assert 0 < len(got) < 40
    assert [item.data for item in got] == batch[: len(got)]
    assert isinstance(items[-1], Rejected)
    assert (items[-1].reason, items[-1].whole_file, items[-1].origin.line) == ("truncated-gzip", False, len(got) + 1)
    assert "the gzip stream ends before its end marker" in items[-1].detail


def test_truncated_gzip_records_document_keeps_the_records_before_the_cut() -> None:
    batch = real_records(40)
    blob = gzip.compress(json.dumps({"Records": batch}, indent=2).encode())
    items = read(blob[: len(blob) // 2])
    got = records(items)
    assert 0 < len(got) < 40 and [item.data for item in got] == batch[: len(got)]
    assert tally(items)["notice:records-salvaged"] == 1
    assert [(item.reason, item.whole_file) for item in rejects(items)] == [("truncated-gzip", False)]


def test_truncated_gzip_single_document_is_rejected_whole() -> None:
    blob = gzip.compress(json.dumps(real_record(), indent=2).encode())
    (item,) = read(blob[: len(blob) // 2])
    assert isinstance(item, Rejected)
    assert (item.reason, item.whole_file) == ("truncated-gzip", True)
    assert re.fullmatch(
        r"the gzip stream ends before its end marker \(cut after [\d,]+ decompressed bytes\); "
        r"JSON error at line \d+ column \d+: unexpected end of data",
        item.detail,
    )
    (header_only,) = read(blob[:5])
    assert isinstance(header_only, Rejected)
    assert (header_only.reason, header_only.whole_file) == ("truncated-gzip", True)
    assert header_only.detail.endswith("nothing was decoded before the cut")


def test_corrupt_gzip_is_rejected_with_its_own_reason() -> None:
    blob = bytearray(gzip.compress(dumps({"Records": real_records(5)})))
    blob[20:40] = b"\xff" * 20
    assert tally(read(bytes(blob)))["reject:corrupt-gzip!"] == 1


def test_gzip_bomb_stops_at_the_decompressed_size_cap() -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 10_000
    (item,) = read(bomb, ReadLimits(max_file_bytes=1_000_000))
    assert isinstance(item, Rejected)
    assert (item.reason, item.whole_file) == ("decompressed-too-large", True)
    assert item.detail == "decompresses to more than the 1,000,000-byte limit"


def test_plain_file_over_the_size_cap_is_rejected() -> None:
    (item,) = read(dumps({"Records": real_records(20)}), ReadLimits(max_file_bytes=1000))
    assert isinstance(item, Rejected) and (item.reason, item.whole_file) == ("file-too-large", True)


def test_non_utf8_bytes_are_repaired_with_one_notice() -> None:
    batch = real_records(3)
    batch[1]["userAgent"] = "agent"
    document = dumps({"Records": batch}).replace(b'"agent"', b'"ag\xff\xfeent"')
    items = read(document)
    assert tally(items) == {"record:records": 3, "notice:not-utf8-repaired": 1}
    assert records(items)[1].data["userAgent"] == "ag\ufffd\ufffdent"
    notice = next(item for item in items if isinstance(item, Notice))
    assert notice.detail.startswith("invalid UTF-8 at byte ")
    lines = b"\n".join(dumps(record) for record in batch).replace(b'"agent"', b'"\xc3("')
    assert tally(read(lines)) == {"record:jsonl": 3, "notice:not-utf8-repaired": 1}


def test_empty_and_blank_files_are_rejected_as_empty() -> None:
    for data in (b"", b"  \n\t\r\n", gzip.compress(b""), gzip.compress(b"\n\n")):
        (item,) = read(data)
        assert isinstance(item, Rejected) and (item.reason, item.whole_file) == ("empty-file", True), data


def test_record_over_the_record_size_cap_is_rejected_alone() -> None:
    small, huge = real_records(2)
    huge["requestParameters"] = {"padding": "x" * 5000}
    limits = ReadLimits(max_record_bytes=4000)
    document = read(dumps({"Records": [small, huge, small]}), limits)
    assert tally(document) == {"record:records": 2, "reject:record-too-large": 1}
    assert rejects(document)[0].origin.index == 1
    lines = read(b"\n".join(dumps(record) for record in (small, huge, small)), limits)
    assert tally(lines) == {"record:jsonl": 2, "reject:record-too-large": 1}
    assert rejects(lines)[0].origin.line == 2
    lookup = read(dumps({"Events": [{"CloudTrailEvent": json.dumps(huge)}]}), limits)
    assert tally(lookup) == {"reject:record-too-large": 1}


def test_malformed_line_is_rejected_with_its_position_and_the_rest_carries_on() -> None:
    first, second = real_records(2)
    secret = '{"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", oops}'
    items = read(dumps(first) + b"\n" + secret.encode() + b"\n" + dumps(second) + b"\n")
    assert tally(items) == {"record:jsonl": 2, "reject:malformed-json": 1}
    (rejected,) = rejects(items)
    assert rejected.origin.line == 2
    assert rejected.detail == "JSON error at line 2 column 65: unexpected character, expected a string key"
    assert "wJalr" not in rejected.detail  # positions only, never content


def test_random_garbage_is_not_json() -> None:
    (item,) = read(b"\x00\x01\x02 this is not a log \xff")
    assert isinstance(item, Rejected) and (item.reason, item.whole_file) == ("not-json", True)


def test_unsupported_compression_and_archives_are_named() -> None:
    (item,) = read(bz2.compress(dumps({"Records": real_records(1)})))
    assert isinstance(item, Rejected) and item.reason == "unsupported-compression"
    assert item.detail.startswith("bzip2-compressed")


def test_real_malformed_file_is_salvaged_record_by_record() -> None:
    # Upstream, the three records of this file are not separated by commas.
    items = read(MALFORMED_2022.read_bytes(), source=MALFORMED_2022.name)
    assert tally(items) == {"record:records": 3, "notice:records-salvaged": 1}
    notice = items[0]
    assert isinstance(notice, Notice)
    assert notice.detail.startswith("JSON error at line 112 column 1: unexpected character, expected ',' or ']'")
    assert [item.data["eventName"] for item in records(items)] == [
        "StopInstances",
        "ModifyInstanceAttribute",
        "StartInstances",
    ]
    assert [item.origin.line for item in records(items)] == [3, 112, 201]


def test_broken_record_in_a_pretty_printed_file_is_rejected_and_the_next_one_read() -> None:
    path = LIBRARY / "SerializerTestFileBadJsonFormat.json"
    items = read(path.read_bytes(), source=path.name)
    assert tally(items) == {"record:records": 1, "reject:malformed-json": 1, "notice:records-salvaged": 1}
    (rejected,) = rejects(items)
    assert (rejected.origin.index, rejected.origin.line) == (0, 3)
    assert rejected.detail.startswith("record at line 3: JSON error at line 37 column 9")
    assert records(items)[0].data["eventVersion"] == "1.2"


def test_malformed_compact_document_is_rejected_whole_with_its_position() -> None:
    (item,) = read(b'{"Records": [{"eventTime": "2023-07-10T11:42:18Z", "readOnly": tru}, {"eventTime": "x"}]}')
    assert isinstance(item, Rejected) and (item.reason, item.whole_file) == ("malformed-json", True)
    assert item.detail == "JSON error at line 1 column 64: invalid literal, expected 'true'; no record could be read"


def test_missing_commas_between_whole_records_are_bridged() -> None:
    first, second = real_records(2)
    items = read(b'{"Records": [' + dumps(first) + b" " + dumps(second) + b"]}")
    assert tally(items) == {"notice:records-salvaged": 1, "record:records": 2}


def test_indexes_count_records_and_rejects_in_file_order() -> None:
    record = real_record()
    lines = [dumps(record), b"{oops", dumps({"Records": [record, 5]}), dumps(record)]
    items = read(b"\n".join(lines))
    assert [(type(item).__name__, item.origin.index, item.origin.line) for item in items] == [  # type: ignore[union-attr]
        ("RawRecord", 0, 1),
        ("Rejected", 1, 2),
        ("RawRecord", 2, 3),
        ("Rejected", 3, 3),
        ("RawRecord", 4, 4),
    ]
