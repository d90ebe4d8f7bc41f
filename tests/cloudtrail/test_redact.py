from __future__ import annotations

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


def test_redacted_json_removes_the_sts_session_token() -> None:
    from graphtrail.cloudtrail.redact import redacted_json

    record = {
        "eventName": "AssumeRole",
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "sessionToken": "IQoJb3JpZ2luX2Vj"}},
    }
    blob = redacted_json(record)
    assert b"IQoJb3JpZ2lu" not in blob and b"ASIAEXAMPLE" in blob
