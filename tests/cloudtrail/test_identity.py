from __future__ import annotations

import pytest

from graphtrail.cloudtrail.event import Fields
from graphtrail.cloudtrail.identity import resolve_principal
from graphtrail.errors import RecordRejected
from tests.conftest import AWSDOCS, STRATUS, find, load_records


def _docs() -> list[dict]:
    return load_records(AWSDOCS / "cloudtrail-user-guide_examples.jsonl") + load_records(
        AWSDOCS / "iam-user-guide_examples.jsonl"
    )


def _principal(record: dict):
    return resolve_principal(Fields(record["userIdentity"]), region=record.get("awsRegion"))


def test_iam_user_is_keyed_by_its_arn() -> None:
    record = find(_docs(), lambda r: r["eventName"] == "GetUserPolicy")
    principal = _principal(record)
    assert (principal.kind, principal.key, principal.name) == (
        "User",
        "arn:aws:iam::444455556666:user/JaneDoe",
        "JaneDoe",
    )


def test_console_failure_without_arn_keys_user_by_account_and_name() -> None:
    record = find(_docs(), lambda r: r["userIdentity"].get("userName") == "HIDDEN_DUE_TO_SECURITY_REASONS")
    principal = _principal(record)
    assert principal.key == "arn:aws:iam::123456789012:user/HIDDEN_DUE_TO_SECURITY_REASONS"
    assert principal.kind == "User"


def test_root_is_keyed_by_root_arn() -> None:
    principal = _principal(find(_docs(), lambda r: r["userIdentity"].get("type") == "Root"))
    assert (principal.kind, principal.key, principal.account) == (
        "Root",
        "arn:aws:iam::111122223333:root",
        "111122223333",
    )


def test_cross_account_caller_seen_as_aws_account() -> None:
    principal = _principal(find(_docs(), lambda r: r["userIdentity"].get("type") == "AWSAccount"))
    assert (principal.kind, principal.key, principal.principal_id) == (
        "Account",
        "777788889999",
        "AIDAQRSTUVWXYZEXAMPLE",
    )


def test_saml_and_web_identity_users_are_external_identities() -> None:
    saml = _principal(find(_docs(), lambda r: r["userIdentity"].get("type") == "SAMLUser"))
    oidc = _principal(find(_docs(), lambda r: r["userIdentity"].get("type") == "WebIdentityUser"))
    assert saml.kind == oidc.kind == "ExternalIdentity"
    assert saml.key.startswith("saml:") and saml.name == "SamlExample"
    assert oidc.key.startswith("oidc:accounts.google.com:") and oidc.provider == "accounts.google.com"


def test_service_event_without_type_is_the_invoking_service() -> None:
    record = find(_docs(), lambda r: r["eventName"] == "RotateKey")
    principal = _principal(record)
    assert (principal.kind, principal.key) == ("Service", "AWS Internal")


def test_assumed_role_keeps_issuer_role_path() -> None:
    records = load_records(STRATUS / "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json")
    record = find(records, lambda r: r["userIdentity"].get("type") == "AssumedRole")
    principal = _principal(record)
    assert principal.kind == "Session"
    assert principal.key.startswith("arn:aws:sts::") and ":assumed-role/AWSReservedSSO_" in principal.key
    assert principal.issuer_arn is not None
    assert "/aws-reserved/sso.amazonaws.com/" in principal.issuer_arn  # the path survives


def test_federated_user_points_at_issuing_user() -> None:
    records = load_records(STRATUS / "aws.persistence.sts-federation-token.json")
    principal = _principal(find(records, lambda r: r["userIdentity"]["type"] == "FederatedUser"))
    assert principal.kind == "FederatedUser"
    assert principal.key.startswith("arn:aws:sts::") and ":federated-user/" in principal.key
    assert principal.issuer_arn is not None and ":user/" in principal.issuer_arn


def test_ec2_instance_profile_session_is_marked() -> None:
    from tests.conftest import invictus_records

    record = find(invictus_records(), lambda r: r["userIdentity"].get("sessionContext", {}).get("ec2RoleDelivery"))
    principal = _principal(record)
    assert principal.ec2_role_delivery in ("1.0", "2.0")
    assert principal.session_name.startswith("i-")
    assert principal.issuer_arn == "arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role"


@pytest.mark.parametrize(
    ("identity", "region", "partition"),
    [
        (
            {"type": "IAMUser", "arn": "arn:aws-us-gov:iam::123456789012:user/a", "accountId": "123456789012"},
            None,
            "aws-us-gov",
        ),
        (
            {"type": "IAMUser", "arn": "arn:aws-cn:iam::123456789012:user/a", "accountId": "123456789012"},
            None,
            "aws-cn",
        ),
        ({"type": "Root", "accountId": "123456789012"}, "cn-north-1", "aws-cn"),
        ({"type": "Root", "accountId": "123456789012"}, "us-gov-west-1", "aws-us-gov"),
    ],
)
def test_partition_comes_from_arn_or_region(identity: dict, region: str | None, partition: str) -> None:
    principal = resolve_principal(Fields(identity), region=region)
    assert principal.partition == partition
    assert principal.key.startswith(f"arn:{partition}:iam::")


def test_identity_center_user_keyed_by_user_id() -> None:
    identity = {
        "type": "IdentityCenterUser",
        "accountId": "123456789012",
        "onBehalfOf": {
            "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
            "identityStoreArn": "arn:aws:identitystore::123456789012:identitystore/d-9067642ac7",
        },
        "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE",
    }
    principal = resolve_principal(Fields(identity))
    assert (principal.kind, principal.key) == (
        "ExternalIdentity",
        "identitycenter:544894e8-80c1-707f-60e3-3ba6510dfac1",
    )


def test_anonymous_s3_caller_is_the_anonymous_account() -> None:
    principal = resolve_principal(Fields({"type": "AWSAccount", "accountId": "anonymous", "principalId": ""}))
    assert (principal.kind, principal.key) == ("Account", "anonymous")


def test_role_identity_and_unknown_identity() -> None:
    role = resolve_principal(
        Fields({"type": "Role", "arn": "arn:aws:iam::123456789012:role/path/r", "accountId": "123456789012"})
    )
    assert (role.kind, role.key, role.name) == ("Role", "arn:aws:iam::123456789012:role/path/r", "r")
    unknown = resolve_principal(Fields({"type": "Unknown", "principalId": "xyz", "accountId": "123456789012"}))
    assert (unknown.kind, unknown.key) == ("Unknown", "unknown:xyz")


def test_undocumented_identity_type_is_rejected_with_reason() -> None:
    with pytest.raises(RecordRejected) as caught:
        resolve_principal(Fields({"type": "userIdentityType1", "principalId": "x"}))
    assert caught.value.reason == "unknown-identity-type"


def test_lowercased_keys_from_lake_are_found() -> None:
    principal = resolve_principal(
        Fields(
            {
                "type": "IAMUser",
                "arn": "arn:aws:iam::123456789012:user/bob",
                "accountid": "123456789012",
                "username": "bob",
            }
        )
    )
    assert (principal.account, principal.name) == ("123456789012", "bob")
