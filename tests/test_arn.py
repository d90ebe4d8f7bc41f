from __future__ import annotations

from graphtrail import arn as arns


def test_account_is_decoded_from_a_key_id() -> None:
    # The worked example published for this encoding.
    assert arns.account_of_access_key("ASIAY34FZKBOKMUTVV7A") == "609629065308"
    assert arns.account_of_access_key("short") is None


def test_assumed_role_arn_splits_into_role_and_session() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/deploy/ci@example.com"
    assert arns.role_name_of_session(arn) == ("deploy", "ci@example.com")
    assert arns.role_name_of_session("arn:aws:iam::123456789012:role/deploy") is None


def test_role_path_is_kept_and_names_are_the_last_element() -> None:
    parsed = arns.parse_arn("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1")
    assert parsed is not None
    assert parsed.resource_name == "AWSReservedSSO_Admin_1"
    assert parsed.resource_type == "role"
    assert arns.role_arn("aws", "123456789012", "r", "/a/b/") == "arn:aws:iam::123456789012:role/a/b/r"


def test_non_arns_parse_to_none() -> None:
    for text in (None, "", "arn:aws", "not an arn", "arn::::"):
        assert arns.parse_arn(text) is None
