"""The action table on IAM, STS and sign-in records: who gains which credentials and rights."""

from __future__ import annotations

from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.actions.policy import load_policy, summarize_policy
from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.schema import AUTHENTICATES, MINTED, SESSION_OF
from tests.cloudtrail.actions_support import (
    AWSDOCS,
    INVICTUS,
    PANTHER,
    PANTHER_SCENARIOS,
    STRATUS,
    effect_of,
    params,
    record,
    resolved,
)

# --- IAM: keys and passwords -------------------------------------------------------------------------------


def test_access_key_created_for_another_user_authenticates_as_that_user() -> None:
    event, effect = resolved(STRATUS / "aws.persistence.iam-create-admin-user.json", "CreateAccessKey")
    victim = "arn:aws:iam::229654561268:user/malicious-iam-user"
    assert effect.target.kind == "AccessKey"
    assert effect.target.key == "AKIAXAFZN8JEPF6L682H"
    assert effect.target.props["temporary"] is False
    assert effect.target.props["owner"] == victim
    assert effect.target.props["minted_by_event"] == event.event_id
    assert (effect.target.key, AUTHENTICATES, victim) in {(s.src, s.type, s.dst) for s in effect.structural}
    assert effect.facts["for_other_user"] is True
    assert effect.traversable


def test_access_key_created_without_user_name_belongs_to_the_caller() -> None:
    event, effect = resolved(
        PANTHER, "CreateAccessKey", lambda r: not params(r) and r["userIdentity"]["type"] == "Root"
    )
    assert effect.target.kind == "AccessKey"
    assert [(s.src, s.type, s.dst) for s in effect.structural] == [
        (effect.target.key, AUTHENTICATES, event.principal.key)
    ]
    assert effect.target.props["owner"] == "arn:aws:iam::123456789012:root"
    assert effect.facts["for_other_user"] is False


def test_own_access_key_keeps_the_callers_arn_with_its_path() -> None:
    raw = record(INVICTUS, "CreateAccessKey")
    raw["userIdentity"]["arn"] = "arn:aws:iam::123837392027:user/ops/bert-jan"
    raw["requestParameters"] = {"userName": "bert-jan"}
    effect = effect_of(raw)
    assert effect.target.props["owner"] == "arn:aws:iam::123837392027:user/ops/bert-jan"
    assert effect.facts["for_other_user"] is False


def test_failed_access_key_creation_points_at_the_user_and_is_not_traversable() -> None:
    _, effect = resolved(PANTHER, "CreateAccessKey", lambda r: r.get("errorCode") == "LimitExceededException")
    assert effect.target.kind == "User"
    assert not effect.traversable
    assert not effect.structural


def test_login_profile_for_another_user_is_traversable_to_that_user() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-user-login-profile.json", "CreateLoginProfile")
    assert effect.target.key == "arn:aws:iam::070411556318:user/stratus-red-team-login-profile-user"
    assert effect.target.kind == "User"
    assert effect.facts == {"for_other_user": True, "password_reset_required": False}
    assert effect.traversable


def test_login_profile_update_is_traversable_and_stores_no_password() -> None:
    _, effect = resolved(STRATUS / "aws.privilege-escalation.iam-update-user-login-profile.json", "UpdateLoginProfile")
    assert effect.target.name == "stratus-red-team-update-login-profile-user"
    assert effect.traversable
    assert not any("password" in str(value).lower() for value in effect.facts.values())


def test_failed_login_profile_deletion_still_names_its_user() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-user-login-profile.json", "DeleteLoginProfile")
    assert effect.target.name == "stratus-red-team-login-profile-user"
    assert not effect.traversable


def test_create_user_points_at_the_new_user() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-admin-user.json", "CreateUser")
    assert (effect.target.kind, effect.target.key) == ("User", "arn:aws:iam::229654561268:user/malicious-iam-user")
    assert effect.traversable


def test_user_added_to_group_gets_the_group_beside_it() -> None:
    _, effect = resolved(AWSDOCS / "cloudtrail-user-guide_examples.jsonl", "AddUserToGroup")
    assert effect.target.key == "arn:aws:iam::123456789012:user/Bob"
    assert effect.facts["group"] == "admin"
    assert [node.resource_type for node in effect.nodes] == ["iam:group"]
    assert effect.traversable


# --- IAM: policies -----------------------------------------------------------------------------------------


def test_administrator_access_attached_to_user_is_admin_and_traversable() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-admin-user.json", "AttachUserPolicy")
    assert effect.target.key == "arn:aws:iam::229654561268:user/malicious-iam-user"
    assert effect.facts == {"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess", "admin": True}
    assert effect.nodes[0].resource_type == "iam:policy"
    assert effect.traversable


def test_administrator_access_attached_to_role_points_at_the_role() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-backdoor-role.json", "AttachRolePolicy")
    assert (effect.target.kind, effect.target.name) == ("Role", "stratus-red-team-malicious-iam-role")
    assert effect.facts["admin"] is True
    assert effect.traversable


def test_non_admin_policy_attachment_is_not_traversable() -> None:
    scenario = PANTHER_SCENARIOS / "compromised-root-creds__attacker_cloudtrail.json"
    _, effect = resolved(scenario, "AttachUserPolicy", lambda r: params(r)["policyArn"].endswith("AmazonEC2FullAccess"))
    assert effect.target.key == "arn:aws:iam::493859302102:user/tracy_stone"
    assert effect.facts["admin"] is False
    assert not effect.traversable


def test_iam_full_access_counts_as_admin() -> None:
    scenario = PANTHER_SCENARIOS / "compromised-root-creds__attacker_cloudtrail.json"
    _, effect = resolved(scenario, "AttachUserPolicy", lambda r: params(r)["policyArn"].endswith("/IAMFullAccess"))
    assert effect.facts["admin"] is True
    assert effect.traversable


def test_inline_deny_all_policy_is_not_admin() -> None:
    _, effect = resolved(PANTHER, "PutUserPolicy", lambda r: params(r).get("policyName") == "TestUserDenyAll")
    assert effect.target.key == "arn:aws:iam::123456789012:user/test-user"
    assert effect.facts["admin"] is False
    assert not effect.traversable


def test_inline_policy_allowing_everything_is_admin_and_traversable() -> None:
    raw = record(INVICTUS, "PutRolePolicy")
    raw["requestParameters"]["policyDocument"] = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":["*"]}}'
    )
    effect = effect_of(raw)
    assert effect.facts["admin"] is True
    assert effect.facts["actions"] == ("iam:*",)
    assert effect.traversable


def test_policy_summary_reads_the_url_encoded_trust_document_of_create_role_responses() -> None:
    raw = record(STRATUS / "aws.persistence.iam-create-backdoor-role.json", "CreateRole")
    encoded = raw["responseElements"]["role"]["assumeRolePolicyDocument"]
    assert encoded.startswith("%7B")
    assert load_policy(encoded) is not None
    assert summarize_policy(encoded).accounts == ("193672423079",)


# --- IAM: trust --------------------------------------------------------------------------------------------


def test_trust_policy_update_naming_an_outside_account_flags_it() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-backdoor-role.json", "UpdateAssumeRolePolicy")
    assert effect.target.key == "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role"
    assert effect.facts["external_accounts"] == ("193672423079",)
    assert set(effect.facts["trusted_principals"]) == {"ec2.amazonaws.com", "arn:aws:iam::193672423079:root"}
    assert effect.facts["external"] is True
    assert [(node.kind, node.key) for node in effect.nodes] == [("Account", "193672423079")]
    assert effect.traversable


def test_trust_policy_of_the_own_account_is_not_external() -> None:
    _, effect = resolved(
        INVICTUS, "CreateRole", lambda r: "123837392027" in params(r).get("assumeRolePolicyDocument", "")
    )
    assert effect.facts["trusted_principals"] == ("123837392027",)
    assert effect.facts["external"] is False
    assert not effect.nodes
    assert not effect.traversable


def test_trust_policy_for_anyone_is_a_wildcard_but_not_public_when_conditioned() -> None:
    raw = record(STRATUS / "aws.persistence.iam-backdoor-role.json", "UpdateAssumeRolePolicy")
    raw["requestParameters"]["policyDocument"] = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",'
        '"Condition":{"StringEquals":{"sts:ExternalId":"12345"}}}]}'
    )
    effect = effect_of(raw)
    assert effect.facts["wildcard_principal"] is True
    assert effect.facts["public"] is False  # an sts:ExternalId condition narrows it
    assert effect.facts["external"] is True


def test_create_role_trusting_an_outside_account_names_it() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.iam-create-backdoor-role.json", "CreateRole")
    assert effect.target.key == "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role"
    assert effect.facts["external_accounts"] == ("193672423079",)


# --- STS ---------------------------------------------------------------------------------------------------


def test_assume_role_points_at_the_session_it_created() -> None:
    event, effect = resolved(STRATUS / "aws.defense-evasion.organizations-leave.json", "AssumeRole")
    session = "arn:aws:sts::307578594326:assumed-role/stratus-red-team-leave-org-role/aws-go-sdk-1722587398902687000"
    role = "arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role"
    assert (effect.target.kind, effect.target.key) == ("Session", session)
    assert effect.target.props["role"] == role
    assert effect.facts["role_arn"] == role
    assert effect.facts["cross_account"] is False
    key = event.issued.access_key_id  # type: ignore[union-attr]
    assert {(s.src, s.type, s.dst) for s in effect.structural} == {
        (key, AUTHENTICATES, session),
        (event.principal.key, MINTED, key),
        (session, SESSION_OF, role),
    }
    issued = next(node for node in effect.nodes if node.kind == "AccessKey")
    assert issued.props["temporary"] is True
    assert effect.traversable


def test_denied_assume_role_without_parameters_points_at_the_role_named_in_the_error() -> None:
    _, effect = resolved(
        STRATUS / "aws.credential-access.ec2-get-password-data.json", "AssumeRole", lambda r: "errorCode" in r
    )
    assert (effect.target.kind, effect.target.key) == (
        "Role",
        "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
    )
    assert not effect.traversable
    assert not effect.structural


def test_failed_assume_role_with_parameters_points_at_the_requested_role() -> None:
    raw = record(STRATUS / "aws.defense-evasion.organizations-leave.json", "AssumeRole")
    raw["errorCode"], raw["errorMessage"], raw["responseElements"] = "AccessDenied", "Access denied", None
    effect = effect_of(raw)
    assert effect.target.kind == "Role"
    assert effect.facts["session_name"] == "aws-go-sdk-1722587398902687000"
    assert not effect.traversable


def test_cross_account_assume_role_is_flagged() -> None:
    _, effect = resolved(AWSDOCS / "iam-user-guide_examples.jsonl", "AssumeRole", lambda r: "arn" in r["userIdentity"])
    assert effect.facts["cross_account"] is True
    assert effect.facts["mfa_used"] is True
    assert effect.facts["source_identity"] == "JohnDoe"


def test_federation_token_points_at_the_federated_user_issued_by_the_caller() -> None:
    event, effect = resolved(STRATUS / "aws.persistence.sts-federation-token.json", "GetFederationToken")
    federated = "arn:aws:sts::742491224508:federated-user/stratus_red_team"
    assert (effect.target.kind, effect.target.key) == ("FederatedUser", federated)
    edges = {(s.src, s.type, s.dst) for s in effect.structural}
    assert ("ASIASTJKC5GCM7ZE6LUP", AUTHENTICATES, federated) in edges
    assert (federated, SESSION_OF, event.principal.key) in edges
    assert effect.facts["session_policy_allows_all"] is True
    assert effect.traversable


def test_session_token_points_at_the_new_temporary_key_acting_as_the_caller() -> None:
    raw = record(PANTHER, "GetSessionToken", lambda r: "errorCode" not in r and r["userIdentity"]["type"] == "IAMUser")
    raw["responseElements"] = {"credentials": {"accessKeyId": "ASIAEXAMPLEEXAMPLE12", "sessionToken": "secret-token"}}
    event = normalize_record(raw)
    effect = resolve_action(event, strict=True)
    assert (effect.target.kind, effect.target.key) == ("AccessKey", "ASIAEXAMPLEEXAMPLE12")
    assert (effect.target.key, AUTHENTICATES, event.principal.key) in {
        (s.src, s.type, s.dst) for s in effect.structural
    }
    assert effect.traversable
    assert "secret-token" not in repr(effect)


def test_session_token_without_a_response_points_at_sts_and_does_not_traverse() -> None:
    _, effect = resolved(PANTHER, "GetSessionToken", lambda r: r["userIdentity"].get("userName") == "example-user")
    assert (effect.target.kind, effect.target.key) == ("Service", "sts.amazonaws.com")
    assert not effect.traversable


def test_get_caller_identity_points_at_sts() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.sts-federation-token.json", "GetCallerIdentity")
    assert (effect.target.kind, effect.target.key) == ("Service", "sts.amazonaws.com")
    assert effect.facts == {}
    assert not effect.traversable


# --- sign-in -----------------------------------------------------------------------------------------------


def test_console_login_without_mfa_is_recorded_as_such() -> None:
    _, effect = resolved(STRATUS / "aws.initial-access.console-login-without-mfa.json", "ConsoleLogin")
    assert (effect.target.kind, effect.target.key) == ("Service", "signin.amazonaws.com")
    assert effect.facts == {"login_result": "Success", "mfa_used": False}
    assert not effect.traversable


def test_failed_console_login_is_marked_failed() -> None:
    _, effect = resolved(
        AWSDOCS / "cloudtrail-user-guide_examples.jsonl",
        "ConsoleLogin",
        lambda r: (r.get("responseElements") or {}).get("ConsoleLogin") == "Failure",
    )
    assert effect.facts["login_result"] == "Failure"
    assert effect.facts["failed_login"] is True


def test_signin_token_turns_a_session_into_a_console_login() -> None:
    _, effect = resolved(PANTHER, "GetSigninToken")
    assert effect.target.key == "signin.amazonaws.com"
    assert effect.facts == {"console_from_session": True}
    assert effect.traversable


def test_check_mfa_keeps_the_mfa_type() -> None:
    _, effect = resolved(AWSDOCS / "cloudtrail-user-guide_examples.jsonl", "CheckMfa")
    assert effect.facts == {"mfa_result": "Success", "mfa_type": "U2F MFA"}
