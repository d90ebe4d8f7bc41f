"""Records that recur but for their ids and time: recognised by their bytes, read once, and nothing changes."""

from __future__ import annotations

import copy
import itertools
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphtrail.accumulate import GraphAccumulator
from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.normalize import normalize_copy, normalize_record
from graphtrail.ingest import FileResult, read_log_batch
from graphtrail.recurring import RecurringRecords, block_reading_of, reading_of, worker_memo
from graphtrail.sources import LogFile, ReadLimits, iter_log_files
from graphtrail.sources.records import VARYING_BLOCKS
from tests.conftest import find, invictus_records

LIMITS = ReadLimits()
RECORDS = invictus_records()
DESCRIBE = find(RECORDS, lambda record: record["eventName"] == "DescribeRouteTables")
DECRYPT = find(RECORDS, lambda record: record["eventName"] == "Decrypt")
ASSUME_ROLE = find(RECORDS, lambda record: record["eventName"] == "AssumeRole" and "errorCode" not in record)
CREATE_ACCESS_KEY = find(RECORDS, lambda record: record["eventName"] == "CreateAccessKey")


def _copy(record: dict[str, Any], number: int, **changes: Any) -> dict[str, Any]:
    """The record with other ids and time (and `changes`), as a later call of the same kind would be."""
    return {
        **copy.deepcopy(record),
        "eventID": f"{number:08x}-0000-4000-8000-000000000000",
        "eventTime": f"2024-03-01T10:{number // 60 % 60:02d}:{number % 60:02d}Z",
        "requestID": f"request-{number}",
        **changes,
    }


def _document(*records: dict[str, Any]) -> bytes:
    return orjson.dumps({"Records": list(records)})


def _learned(memo: RecurringRecords, record: dict[str, Any], reading: Any = "the reading") -> None:
    """Show the memo `record` twice, and hand over a reading at the second sighting."""
    memo.split(_document(_copy(record, 1)))
    [(_, token, _)] = memo.split(_document(_copy(record, 2)))
    assert token == 0
    memo.learn(token, reading, normalize_record(_copy(record, 2)).record_json)


def test_record_seen_twice_is_asked_for_then_comes_as_its_reading() -> None:
    shared = {**DESCRIBE, "sharedEventID": "5a7e0000-0000-4000-8000-000000000000"}
    memo = RecurringRecords(1 << 20)
    [(raw, token, _)] = memo.split(_document(_copy(shared, 1)))
    assert orjson.loads(raw) == _copy(shared, 1)
    assert token == -1  # seen once: nothing to ask
    [(_, token, _)] = memo.split(_document(_copy(shared, 2)))
    assert token == 0
    memo.learn(token, "the reading", normalize_record(_copy(shared, 2)).record_json)
    third = _copy(shared, 3, sharedEventID="5a7e0000-0000-4000-8000-000000000003")
    [(reading, event_id, when, shared_event_id, record_json)] = memo.split(_document(third))
    assert (reading, event_id, when, shared_event_id) == (
        "the reading",
        third["eventID"],
        third["eventTime"],
        third["sharedEventID"],
    )
    assert record_json == normalize_record(copy.deepcopy(third)).record_json
    assert len(memo) == 1


def test_stored_json_of_a_copy_is_what_the_writer_writes_for_it() -> None:
    memo = RecurringRecords(1 << 20)
    _learned(memo, DECRYPT)
    copies = [_copy(DECRYPT, number) for number in range(10, 20)]
    split = memo.split(_document(*copies))
    assert [item[4] for item in split] == [normalize_record(copy.deepcopy(item)).record_json for item in copies]


def test_record_differing_in_another_field_is_not_a_copy() -> None:
    memo = RecurringRecords(1 << 20)
    _learned(memo, DESCRIBE)
    [(raw, token, _)] = memo.split(_document(_copy(DESCRIBE, 5, userAgent="another agent")))
    assert isinstance(raw, bytes)
    assert token == -1


@pytest.mark.parametrize(
    "change",
    [
        {"eventTime": "2024-03-01T10:00:05.123Z"},  # another form of time: parsed, not kept as it is
        {"eventTime": "2023-02-29T10:00:00Z"},  # no such day: the normalizer rejects it
        {"eventTime": "2024-03-01T24:00:00Z"},
        {"eventID": "1"},  # not a GUID: the id gets a hash of the whole record
        {"eventID": "0000000A-0000-4000-8000-00000000000"},
        {"requestID": "request-\\u0041"},  # plain text only
        {"requestID": ""},
        {"sharedEventID": 7},
    ],
)
def test_copies_whose_ids_or_time_are_not_plain_never_come_as_a_reading(change: dict[str, Any]) -> None:
    memo = RecurringRecords(1 << 20)
    _learned(memo, DESCRIBE)
    record = _copy(DESCRIBE, 5, **change)
    content = _document(record).replace(b"\\\\u0041", b"\\u0041")  # a real escape in the JSON
    [(raw, token, _)] = memo.split(content)
    assert (raw, token) == (content[len(b'{"Records":[') : -2], -1)


@pytest.mark.parametrize(
    "content",
    [
        b'[{"eventID": "x"}]',  # a bare array
        b'{"Records": [1]}',  # a record that is not an object: the reader rejects it by name
        b'{"Records": [], "more": 1}',
        b'{"Records": {}}',
        b'{"Records": [{"a": 1}]} {"Records": []}',  # two documents one after the other
        b'{"Records": [{"a": 1}',  # cut short
        b'{"Records": [{"a" 1}]}',
        b'{"Records": [{"a": 1},]}',
        b'{"Records": [{"a": "\xff"}]}',  # not UTF-8
        b'{"Rec\\u006frds": [{"a": 1}]}',
        b'{"eventTime": "2024-03-01T10:00:00Z"}\n{"eventTime": "2024-03-01T10:00:00Z"}\n',
    ],
)
def test_only_a_records_document_is_split(content: bytes) -> None:
    assert RecurringRecords(1 << 20).split(content) is None


def test_split_keeps_every_record_of_a_records_document_in_order() -> None:
    records = [_copy(DESCRIBE, 1), {"odd": [1, {"]": "}"}], "text": 'a \\" quote'}, _copy(DECRYPT, 2)]
    content = b' \n{ "Records" : [\n' + b" ,\n".join(orjson.dumps(record) for record in records) + b"\n] }\n"
    split = RecurringRecords(1 << 20).split(content)
    assert [orjson.loads(raw) for raw, _, _ in split] == records


def test_refused_reading_is_not_asked_for_again() -> None:
    memo = RecurringRecords(1 << 20)
    _learned(memo, DESCRIBE, reading=None)
    assert [token for _, token, _ in memo.split(_document(_copy(DESCRIBE, 3), _copy(DESCRIBE, 4)))] == [-1, -1]
    assert len(memo) == 0


def test_memo_over_its_budget_forgets_and_keeps_answering() -> None:
    memo = RecurringRecords(4096)  # two or three records' worth
    for round_ in range(3):
        for number, record in enumerate((DESCRIBE, DECRYPT, ASSUME_ROLE)):
            split = memo.split(_document(_copy(record, 10 * round_ + number)))
            assert len(split) == 1 and isinstance(split[0][0], bytes)


def test_memo_rests_while_too_few_records_recur_then_tries_again() -> None:
    memo = RecurringRecords(1 << 20)
    distinct = iter(range(1 << 20))

    def new_records() -> bytes:  # 256 records none of which recurs (each has a user agent of its own)
        return _document(*(_copy(DESCRIBE, 0, userAgent=f"agent {next(distinct)}") for _ in range(256)))

    answers = [memo.split(new_records()) for _ in range(400)]
    resting = [index for index, answer in enumerate(answers) if answer is None]
    assert resting, "the memo never rested"
    later = answers[resting[0] :]
    assert all(answer is not None for answer in answers[: resting[0]])  # it split until it rested,
    assert any(answer is not None for answer in later)  # tries again after a while,
    assert len(resting) > len(later) / 2  # and rests most of the time


def test_memo_does_not_rest_while_records_recur() -> None:
    memo = RecurringRecords(1 << 20)
    _learned(memo, DESCRIBE)
    for round_ in range(100):
        split = memo.split(_document(*(_copy(DESCRIBE, 256 * round_ + number) for number in range(256))))
        assert split is not None and all(len(item) == 5 for item in split)


def test_reading_of_a_routine_call_is_shared_by_its_copies() -> None:
    event = normalize_record(_copy(DESCRIBE, 1))
    effect = resolve_action(event)
    reading = reading_of(event, effect, ("row",))
    assert reading is not None
    assert (reading.event, reading.effect, reading.row_head) == (event, effect, ("row",))


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(CREATE_ACCESS_KEY, id="the new key's node names the event that minted it"),
        pytest.param(ASSUME_ROLE, id="an issued key is a node of its own"),
        pytest.param(
            {**DESCRIBE, "eventType": "AwsCloudTrailInsight", "insightDetails": {"state": "Start"}}, id="insight"
        ),
    ],
)
def test_reading_is_refused_when_copies_could_mean_something_else(record: dict[str, Any]) -> None:
    event = normalize_record(copy.deepcopy(record))
    effect = resolve_action(event)
    assert reading_of(event, effect, ()) is None


@pytest.mark.parametrize("number", [0, 1])
def test_reading_is_refused_even_when_the_event_has_the_probes_ids(number: int) -> None:
    """Found by the property test: an event whose id was the probe's own passed the probe."""
    record = _copy(CREATE_ACCESS_KEY, number, sharedEventID=f"00000000-0000-4000-8000-00000000000{number}")
    record["requestID"] = f"graphtrail-probe-{number}"
    event = normalize_record(record)
    assert reading_of(event, resolve_action(event), ()) is None


# --- copies that differ in their parameter blocks too --------------------------------------------------


def _object_read(number: int, key: str | None = None) -> dict[str, Any]:
    """An S3 object read by DECRYPT's caller: another object, and other bytes, each time."""
    key = key or f"exports/part-{number:04d}.csv"
    return _copy(
        DECRYPT,
        number,
        eventSource="s3.amazonaws.com",
        eventName="GetObject",
        eventCategory="Data",
        managementEvent=False,
        requestParameters={"bucketName": "exports", "Host": "exports.s3.amazonaws.com", "key": key},
        additionalEventData={"bytesTransferredOut": 1000 + number, "x-amz-id-2": f"id/{number}="},
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::exports/{key}"},
            {"accountId": DECRYPT["recipientAccountId"], "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::exports"},
        ],
    )


def _block_learned(memo: RecurringRecords) -> None:
    """Show the memo two object reads, and hand over the second's reading but for its blocks."""
    [(_, token, block_token)] = memo.split(_document(_object_read(1)))
    assert (token, block_token) == (-1, -1)
    [(_, token, block_token)] = memo.split(_document(_object_read(2)))
    assert (token, block_token) == (-1, 0)  # the same record but for its blocks, seen before
    event = normalize_record(_object_read(2))
    memo.learn(block_token, block_reading_of(event, ("row",)), event.record_json)


def test_copy_differing_in_its_blocks_comes_with_them_and_makes_its_records_event() -> None:
    memo = worker_memo()
    _block_learned(memo)
    third = _object_read(3)
    [entry] = memo.split(_document(third))
    reading, event_id, when, shared_event_id, request_id, pieces, blocks, token, raw = entry
    assert (event_id, when, request_id, token) == (third["eventID"], third["eventTime"], third["requestID"], -1)
    assert orjson.loads(raw) == third
    parsed = [(VARYING_BLOCKS[field], orjson.loads(value)) for field, value in blocks]
    assert parsed == [(name, value) for name, value in third.items() if name in VARYING_BLOCKS]  # in their order
    made = normalize_copy(reading.event, event_id, when, request_id, shared_event_id, pieces, parsed)
    assert made is not None
    expected = normalize_record(copy.deepcopy(third))
    assert made.record_json == expected.record_json
    assert (made.request.raw, made.additional.raw, made.resources) == (
        expected.request.raw,
        expected.additional.raw,
        expected.resources,
    )
    assert resolve_action(made) == resolve_action(expected)


def test_exact_copy_of_a_call_whose_blocks_vary_still_comes_as_its_reading() -> None:
    memo = worker_memo()
    _block_learned(memo)
    same = [_object_read(number, key="exports/same.csv") for number in (4, 5, 6)]
    split = memo.split(_document(same[0]))
    assert len(split[0]) == 9 and split[0][7] == -1  # a copy of the learnt record but for its blocks, new as it is
    split = memo.split(_document({**same[1], "additionalEventData": same[0]["additionalEventData"]}))
    assert len(split[0]) == 9 and split[0][7] == 0  # seen before as it is: its own reading is asked for
    memo.learn(0, "exact reading", normalize_record(copy.deepcopy(same[1])).record_json)
    [entry] = memo.split(_document({**same[2], "additionalEventData": same[0]["additionalEventData"]}))
    assert len(entry) == 5 and entry[0] == "exact reading"


def test_call_whose_blocks_vary_but_has_none_comes_as_its_reading() -> None:
    # Masked with its blocks or not, such a record is the same bytes: the two tiers must not meet.
    memo = worker_memo()
    bare = {key: value for key, value in _object_read(1).items() if key not in VARYING_BLOCKS}
    split = [memo.split(_document({**bare, **_copy(bare, number)}))[0] for number in (1, 2)]
    assert [entry[1:] for entry in split] == [(-1, -1), (0, -1)]
    memo.learn(0, "exact reading", normalize_record(copy.deepcopy(_copy(bare, 2))).record_json)
    [entry] = memo.split(_document(_copy(bare, 3)))
    assert len(entry) == 5 and entry[0] == "exact reading"


def test_calls_whose_blocks_do_not_vary_never_come_as_block_copies() -> None:
    memo = worker_memo()
    for number in range(1, 5):
        other = _copy(DESCRIBE, number, requestParameters={"routeTableIdSet": {}, "filterSet": {"n": number}})
        [entry] = memo.split(_document(other))
        assert len(entry) == 3 and entry[2] == -1


# --- the memo changes nothing that ingest keeps ----------------------------------------------------------

OBJECT_READ: dict[str, Any] = {}  # stands for `_object_read` among the bases drawn
_TIMES = st.sampled_from(["canonical", "canonical", "canonical", "millis", "no such day"])


@st.composite
def _log_files(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Files of copies of a few records: repeated ids (duplicates), other time forms, other user agents."""
    records = []
    bases = st.sampled_from([DESCRIBE, DECRYPT, ASSUME_ROLE, CREATE_ACCESS_KEY, OBJECT_READ])
    for base in draw(st.lists(bases, min_size=1, max_size=25)):
        number = draw(st.integers(0, 30))
        changes: dict[str, Any] = {}
        if base is OBJECT_READ:  # other objects (a few, so that some reads recur as they are)
            base = _object_read(number, key=draw(st.sampled_from(["a.csv", "b.csv", "c.csv", None])))
        elif base is DECRYPT and draw(st.booleans()):  # another encryption context, a secret in it at times
            context = draw(st.sampled_from(["s-1", "s-2", '{"sessionToken": "FwoGZX"}']))
            changes["requestParameters"] = {**DECRYPT["requestParameters"], "encryptionContext": {"SecretARN": context}}
        time = draw(_TIMES)
        if time == "millis":
            changes["eventTime"] = f"2024-03-01T11:00:{number % 60:02d}.500Z"
        elif time == "no such day":
            changes["eventTime"] = "2024-02-30T11:00:00Z"
        if draw(st.integers(0, 5)) == 0:
            changes["userAgent"] = "another agent"
        changes["sharedEventID"] = f"5a7e0000-0000-4000-8000-{draw(st.integers(0, 9)):012d}"
        records.append(_copy(base, number, **changes))
    cuts = sorted(draw(st.lists(st.integers(0, len(records)), max_size=4)))
    bounds = [0, *cuts, len(records)]
    return [records[start:end] for start, end in itertools.pairwise(bounds)]


def _comparable(result: FileResult) -> tuple[Any, ...]:
    return tuple(getattr(result, name) for name in FileResult.__dataclass_fields__ if name != "graph")


def _graph(graph: GraphAccumulator) -> tuple[Any, ...]:
    states = pickle.loads(pickle.dumps((graph.nodes, graph.edges)))
    return (list(graph.nodes), list(graph.edges), *states)


def _log_file_list(folder: Path, files: list[list[dict[str, Any]]], name: str) -> list[LogFile]:
    folder.mkdir()
    for number, records in enumerate(files):
        (folder / f"{name}-{number:03d}.json").write_bytes(_document(*records))
    return [item for item in iter_log_files([str(folder)], limits=LIMITS) if isinstance(item, LogFile)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=_log_files(), second=_log_files())
def test_memo_changes_nothing_ingest_keeps(
    tmp_path_factory: pytest.TempPathFactory, first: list[list[dict[str, Any]]], second: list[list[dict[str, Any]]]
) -> None:
    folder = tmp_path_factory.mktemp("logs")
    batches = [_log_file_list(folder / "a", first, "a"), _log_file_list(folder / "b", second, "b")]
    memo = worker_memo()
    for log_files in batches:  # the memo carries over from batch to batch, as in a worker
        plain = read_log_batch(log_files, LIMITS)
        with_memo = read_log_batch(log_files, LIMITS, recurring=memo)
        assert [_comparable(result) for result in with_memo.files] == [_comparable(result) for result in plain.files]
        assert _graph(with_memo.graph) == _graph(plain.graph)


def test_group_of_copies_spans_their_own_times(tmp_path: Path) -> None:
    memo = RecurringRecords(1 << 20)
    memo.split(_document(_copy(DESCRIBE, 1)))  # seen once: the memo asks for the next copy's reading
    learning = _log_file_list(tmp_path / "learning", [[_copy(DESCRIBE, 2)]], "l")
    read_log_batch(learning, LIMITS, recurring=memo)  # asked for, and the reading handed over by ingest
    copies = _log_file_list(tmp_path / "copies", [[_copy(DESCRIBE, number) for number in (40, 30, 50)]], "c")
    plain = read_log_batch(copies, LIMITS)
    with_memo = read_log_batch(copies, LIMITS, recurring=memo)
    [edge] = [edge for edge in with_memo.graph.edges.values() if edge.type == "DescribeRouteTables"]
    assert (edge.first_seen, edge.last_seen, edge.count) == ("2024-03-01T10:00:30Z", "2024-03-01T10:00:50Z", 3)
    assert _graph(with_memo.graph) == _graph(plain.graph)
    assert [_comparable(result) for result in with_memo.files] == [_comparable(result) for result in plain.files]


def test_memo_changes_nothing_on_real_logs() -> None:
    log_files = [item for item in iter_log_files([str(Path(__file__).parent / "data")], limits=LIMITS)
                 if isinstance(item, LogFile)]  # fmt: skip
    memo = worker_memo()
    for _ in range(3):  # seen, asked for, then read as the reading: each record recurs in the next round
        plain = read_log_batch(log_files, LIMITS)
        with_memo = read_log_batch(log_files, LIMITS, recurring=memo)
        assert [_comparable(result) for result in with_memo.files] == [_comparable(result) for result in plain.files]
        assert _graph(with_memo.graph) == _graph(plain.graph)
    assert len(memo) > 100
