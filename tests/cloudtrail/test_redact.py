from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from graphtrail.cloudtrail.redact import REDACTED, redact_secrets


def test_secrets_are_replaced_wherever_they_nest() -> None:
    record = {
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "sessionToken": "IQoJb3JpZ2lu..."}},
        "requestParameters": {"items": [{"Password": "hunter2"}, {"keyMaterial": "-----BEGIN"}]},
    }
    redact_secrets(record)
    assert record["responseElements"]["credentials"] == {"accessKeyId": "ASIAEXAMPLE", "sessionToken": REDACTED}
    assert record["requestParameters"]["items"] == [{"Password": REDACTED}, {"keyMaterial": REDACTED}]


def test_empty_secret_fields_stay_as_they_were() -> None:
    record = {"credentials": {"sessionToken": None, "secretAccessKey": ""}}
    redact_secrets(record)
    assert record == {"credentials": {"sessionToken": None, "secretAccessKey": ""}}


def test_redacted_record_removes_the_sts_session_token() -> None:
    from graphtrail.cloudtrail.redact import redacted_record

    record = {
        "eventName": "AssumeRole",
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "sessionToken": "IQoJb3JpZ2luX2Vj"}},
    }
    blob = redacted_record(record).json
    assert b"IQoJb3JpZ2lu" not in blob and b"ASIAEXAMPLE" in blob


SECRET = "IQoJb3JpZ2luX2VjEXAMPLESECRET"


def _leaks(record: dict) -> bool:
    from graphtrail.cloudtrail.redact import redacted_record

    return SECRET.encode() in redacted_record(record).json


def test_token_in_any_block_or_spelling_is_removed() -> None:
    assert not _leaks({"ResponseElements": {"Credentials": {"SessionToken": SECRET}}})
    assert not _leaks({"addendum": {"sessionToken": SECRET}})
    assert not _leaks({"userIdentity": {"sessionContext": {"sessionToken": SECRET}}})
    assert not _leaks({"responseElements": {"items": [{"clientSecret": SECRET}]}})
    assert not _leaks({"requestParameters": {"masterUserPassword": SECRET}})


def test_token_inside_json_held_in_a_string_is_removed() -> None:
    # CloudTrail Lake keeps responseElements as map<string,string>: nested objects arrive as JSON text.
    credentials = '{"accessKeyId": "ASIAEXAMPLE", "sessionToken": "' + SECRET + '"}'
    record = {"responseelements": {"credentials": credentials}}
    assert not _leaks(record)
    assert "ASIAEXAMPLE" in record["responseelements"]["credentials"]  # the key id stays: lineage needs it
    assert not _leaks({"responseElements": '{"credentials": {"sessionToken": "' + SECRET + '"}}'})
    assert not _leaks({"responseelements": {"credentials": "{accessKeyId=ASIAEXAMPLE, sessionToken=" + SECRET + "}"}})


def test_pagination_tokens_and_secret_names_are_kept() -> None:
    from graphtrail.cloudtrail.redact import redacted_record

    record = {"requestParameters": {"nextToken": "page-2", "secretId": "arn:aws:secretsmanager:x:1:secret:db"}}
    blob = redacted_record(record).json
    assert b"page-2" in blob and b"secret:db" in blob


def test_values_that_only_mention_secrets_are_kept() -> None:
    from graphtrail.cloudtrail.redact import redacted_record

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password-token-AbCdEf"
    record = {"requestParameters": {"secretId": arn}, "errorMessage": "no sessionToken in [request]"}
    blob = redacted_record(record).json
    assert arn.encode() in blob and b"no sessionToken in [request]" in blob


def test_secret_in_text_that_is_not_json_is_removed() -> None:
    # A Python repr and a query string: no JSON parser reads them, the key=value rule does.
    assert not _leaks({"requestParameters": {"config": "{'password': '" + SECRET + "'}"}})
    assert not _leaks({"requestParameters": {"url": "https://x.example/cb?access_token=" + SECRET + "&a=1"}})
    assert not _leaks({"requestParameters": {"lines": ["[default]", "aws_session_token = " + SECRET]}})


def test_key_whose_unicode_lower_cases_to_a_secret_name_is_removed() -> None:
    # U+212A KELVIN SIGN lower-cases to "k": "to\u212aen" is "token" to a case-insensitive reader.
    assert not _leaks({"requestParameters": {"sessionTo\u212aen": SECRET}})
    assert not _leaks({"requestParameters": {"blob": '{"SESSIONTO\u212aEN": "' + SECRET + '"}'}})


def test_plain_top_level_fields_are_left_as_logged() -> None:
    from graphtrail.cloudtrail.redact import redacted_record

    agent = "curl/8 {password=not-ours}"
    record = {"userAgent": agent, "eventName": "ListBuckets", "requestParameters": {"password": "x"}}
    blob = redacted_record(record).json
    assert agent.encode() in blob and b'"password":"x"' not in blob


def test_json_held_in_a_string_is_rewritten_compactly_with_its_order_kept() -> None:
    value = ' {"b": 1, "sessionToken": "' + SECRET + '", "a": [true, null, 2.5]} '
    record = {"responseElements": {"credentials": value}}
    redact_secrets(record)
    assert record["responseElements"]["credentials"] == '{"b":1,"sessionToken":"' + REDACTED + '","a":[true,null,2.5]}'


def test_records_without_secrets_are_not_changed() -> None:
    import copy

    record = {
        "requestParameters": {"nextToken": "abc", "filter": "{x=1}", "passwordResetRequired": False, "ids": [1, 2]},
        "userIdentity": {"type": "IAMUser", "sessionContext": {"attributes": {"mfaAuthenticated": "false"}}},
    }
    before = copy.deepcopy(record)
    redact_secrets(record)
    assert record == before


def _orjson_path(record: dict) -> bytes:
    import copy

    import orjson

    return orjson.dumps(redact_secrets(copy.deepcopy(record)), option=orjson.OPT_NON_STR_KEYS)


def test_one_pass_writer_matches_orjson_byte_for_byte_on_every_bundled_record() -> None:
    import copy

    from graphtrail.cloudtrail.redact import redacted_record
    from graphtrail.sources.files import LogFile, iter_log_files
    from graphtrail.sources.records import RawRecord
    from graphtrail.sources.shapes import read_records
    from tests.conftest import DATA, NORTHWIND

    compared = 0
    for item in iter_log_files([str(DATA), str(NORTHWIND)]):
        if not isinstance(item, LogFile):
            continue
        for read in read_records(item.source, item.read_bytes()):
            if isinstance(read, RawRecord) and isinstance(read.data, dict):
                record = copy.deepcopy(read.data)
                written = redacted_record(record)
                assert written.json == _orjson_path(read.data), item.source
                assert written.identity_json == (
                    _orjson_path(record["userIdentity"]) if "userIdentity" in record else None
                )
                compared += 1
    assert compared > 12_000


def test_one_pass_writer_spells_numbers_and_control_characters_as_orjson_does() -> None:
    from graphtrail.cloudtrail.redact import redacted_record

    record = {
        "requestParameters": {
            "numbers": [
                1.0,
                0.1,
                1e-7,
                1e16,
                1.2345678901234568e20,
                -0.0,
                5e-324,
                1e300,
                2**63 - 1,
                -(2**63),
                2**64 - 1,
            ],
            "not numbers": [float("nan"), float("inf")],
            "text": '\x00\x01\x08\t\n\x0c\r\x1f\x7f"\\ \u2028 é 🦀',
            "flags": [True, False, None],
        },
        "userIdentity": {"type": "IAMUser", "userName": 'a"b'},
    }
    written = redacted_record(record)
    assert written.json == _orjson_path(record)
    assert written.identity_json == b'{"type":"IAMUser","userName":"a\\"b"}'


def test_records_no_parser_yields_take_orjson_path_with_its_verdict() -> None:
    import orjson
    import pytest

    from graphtrail.cloudtrail.redact import redacted_record

    # Keys that are not text (orjson writes them as text) and tuples are written by orjson.
    odd = {"requestParameters": {1: "one", "pair": (1, 2), "password": "hunter2"}}
    written = redacted_record(odd)
    assert written.json == b'{"requestParameters":{"1":"one","pair":[1,2],"password":"' + REDACTED.encode() + b'"}}'
    assert written.identity_json is None
    with pytest.raises(orjson.JSONEncodeError):
        redacted_record({"requestParameters": {"n": 2**64}})  # orjson refuses integers past 64 bits
    deep: dict = {}
    for _ in range(300):
        deep = {"d": deep}
    with pytest.raises(orjson.JSONEncodeError):
        redacted_record({"requestParameters": deep})  # nesting orjson refuses


_ESCAPED = st.text(
    st.sampled_from(['"', "\\", "\x00", "\n", "\x1f", "\x7f", "é", "🦀", "a", "b", " ", "{", "="]), max_size=40
)


@given(st.lists(_ESCAPED, max_size=4), _ESCAPED)
def test_one_pass_writer_escapes_any_text_as_orjson_does(texts: list[str], key: str) -> None:
    # Escapes anywhere: the writer looks for the next one eight bytes at a time, then byte by byte.
    from graphtrail.cloudtrail.redact import redacted_record

    record = {"requestParameters": {"texts": texts, key or "k": "".join(texts)}, "userAgent": "".join(reversed(texts))}
    assert redacted_record(record).json == _orjson_path(record)
