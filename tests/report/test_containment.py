"""Containment steps name the right keys, users, roles, policies, trails and resources on the simulated
organisation's nine attacks (checked against its ground truth), and nothing for its six decoys."""

from __future__ import annotations

import pytest

from graphtrail import arn as arns
from graphtrail.report.model import ContainmentStep
from tests.report.conftest import ReportedCase


def _steps(case: ReportedCase) -> list[ContainmentStep]:
    return [step for incident in case.report.incidents for step in incident.containment]


def _has(steps: list[ContainmentStep], kind: str, subject_part: str, command_part: str | None = None) -> bool:
    return any(
        step.kind == kind
        and subject_part in step.subject
        and (command_part is None or any(command_part in command for command in step.commands))
        for step in steps
    )


def test_every_stolen_long_term_key_of_the_organisation_is_switched_off(simulated: ReportedCase) -> None:
    steps = _steps(simulated)
    own = set(simulated.truth["organization"]["accounts"].values())
    checked = 0
    for attack in simulated.truth["scenarios"]:
        for key in attack["attacker"]["keys"]:
            if arns.is_temporary_key(key) or arns.account_of_access_key(key) not in own:
                continue  # an outside account's key is not ours to switch off
            kinds = {s.kind for s in steps if s.subject == key}
            assert kinds & {"deactivate-access-key", "delete-access-key", "delete-root-access-key"}, (
                attack["name"],
                key,
            )
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize(
    ("scenario", "kind", "subject", "command"),
    [
        ("leaked-ci-key", "deactivate-access-key", "AKIALDCBXKIHVUM6ZSFP", "--user-name ci-deployer --access-key-id AKIALDCBXKIHVUM6ZSFP --status Inactive"),
        ("leaked-ci-key", "delete-access-key", "AKIALDCBXKIHYGVVCSOE", "delete-access-key --user-name svc-ad3b8h"),
        ("leaked-ci-key", "delete-user", "user/svc-ad3b8h", "delete-user --user-name svc-ad3b8h"),
        ("leaked-ci-key", "detach-policy", "AdministratorAccess from arn:aws:iam::762494538255:user/svc-ad3b8h", "detach-user-policy --user-name svc-ad3b8h --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"),
        ("stolen-instance-credentials", "revoke-role-sessions", "role/app-server", "--role-name app-server --policy-name AWSRevokeOlderSessions"),
        ("stolen-instance-credentials", "isolate-instance", "i-8eb7f6e8c72239222", "--instance-id i-8eb7f6e8c72239222 --http-tokens required"),
        ("role-chain-exfiltration", "revoke-role-sessions", "role/ci/deploy", "--role-name deploy"),
        ("role-chain-exfiltration", "revoke-role-sessions", "role/data/data-reader", "--role-name data-reader"),
        ("role-chain-exfiltration", "suspend-identity-center-user", "grace.kim@northwind.example", None),
        ("role-chain-exfiltration", "delete-bucket-replication", "northwind-prod-datalake-155852606522", "delete-bucket-replication --bucket northwind-prod-datalake-155852606522"),
        ("trust-policy-backdoor", "remove-trust-principal", "role/OrganizationAccountAccessRole", "update-assume-role-policy --role-name OrganizationAccountAccessRole"),
        ("trust-policy-backdoor", "revoke-role-sessions", "role/OrganizationAccountAccessRole", "--role-name OrganizationAccountAccessRole"),
        ("defense-evasion", "restore-trail-logging", "trail/org-trail", "start-logging --name arn:aws:cloudtrail:us-east-1:129630529924:trail/org-trail"),
        ("defense-evasion", "recreate-trail", "trail/org-trail", "create-trail --name org-trail"),
        ("defense-evasion", "restore-event-selectors", "trail/org-trail", None),
        ("defense-evasion", "restore-guardduty", "us-east-1:129630529924:detector/", "create-detector --enable --region us-east-1"),
        ("defense-evasion", "restore-guardduty", "eu-west-1:129630529924:detector/", "create-detector --enable --region eu-west-1"),
        ("exposure", "revoke-security-group-ingress", "sg-e4d1595adc3c88364 0.0.0.0/0 22", "--group-id sg-e4d1595adc3c88364 --protocol tcp --port 22 --cidr 0.0.0.0/0"),
        ("exposure", "revoke-security-group-ingress", "sg-e4d1595adc3c88364 0.0.0.0/0 3389", "--port 3389 --cidr 0.0.0.0/0"),
        ("exposure", "unshare-snapshot", "snap-a45096d22c3ecce74", "--snapshot-id snap-a45096d22c3ecce74 --attribute createVolumePermission --operation-type remove --user-ids 566417161154"),
        ("exposure", "restore-bucket-policy", "northwind-prod-web-assets-155852606522", "put-public-access-block --bucket northwind-prod-web-assets-155852606522"),
        ("root-console-takeover", "delete-root-access-key", "AKIACISMKBQ5JTTA6PQG", None),
        ("root-console-takeover", "secure-root-user", "arn:aws:iam::155852606522:root", None),
        ("federation-token-persistence", "deactivate-access-key", "AKIAOQK2CO6IVZC6IGZ7", "--user-name reporting-svc"),
        ("federation-token-persistence", "revoke-user-sessions", "user/reporting-svc", "put-user-policy --user-name reporting-svc"),
        ("login-profile-backdoor", "delete-login-profile", "user/billing-viewer", "delete-login-profile --user-name billing-viewer"),
        ("login-profile-backdoor", "revoke-user-sessions", "user/billing-viewer", "put-user-policy --user-name billing-viewer"),
        ("login-profile-backdoor", "deactivate-access-key", "AKIAB4LUU5GCMCJUHXT6", "--user-name ops-admin"),
    ],
)  # fmt: skip
def test_attack_gets_its_concrete_step(
    simulated: ReportedCase, scenario: str, kind: str, subject: str, command: str | None
) -> None:
    attack = next(s for s in simulated.truth["scenarios"] if s["name"] == scenario)
    truth_events = {e for step in attack["steps"] for e in step["event_ids"]}
    matching = [
        step for step in _steps(simulated)
        if step.kind == kind and subject in step.subject
        and (command is None or any(command in c for c in step.commands))
    ]  # fmt: skip
    assert matching, f"{scenario}: no {kind} step for {subject}"
    assert any(set(step.event_ids) & truth_events for step in matching), "the step cites none of the attack's events"


def test_the_trust_policy_step_names_only_the_outside_account(simulated: ReportedCase) -> None:
    step = next(s for s in _steps(simulated) if s.kind == "remove-trust-principal")
    assert (
        step.title
        == "Remove arn:aws:iam::124775559402:root from the trust policy of role OrganizationAccountAccessRole"
    )
    assert "129630529924" not in step.title  # the management account, one of the organisation's own


def test_identity_center_roles_are_revoked_through_their_permission_set(simulated: ReportedCase) -> None:
    steps = [s for s in _steps(simulated) if s.kind == "revoke-role-sessions" and "AWSReservedSSO_" in s.subject]
    assert {s.title.split(" issued")[0] for s in steps} == {
        "Revoke the sessions of permission set AdministratorAccess",
        "Revoke the sessions of permission set PowerUserAccess",
    }
    assert all(not s.commands for s in steps)  # IAM refuses edits to Identity Center's roles: no put-role-policy


def test_a_role_revocation_covers_the_last_use_of_every_stolen_session(simulated: ReportedCase) -> None:
    step = next(s for s in _steps(simulated) if s.kind == "revoke-role-sessions" and "AdministratorAccess" in s.subject)
    assert step.title.endswith("issued before 2026-11-03T11:31:14Z")  # the second session's last call, not the first's


def test_decoys_get_no_containment(simulated: ReportedCase) -> None:
    steps = _steps(simulated)
    cited = {e for step in steps for e in step.event_ids}
    for decoy in simulated.truth["decoys"]:
        decoy_events = {e for step in decoy["steps"] for e in step["event_ids"]}
        assert not cited & decoy_events, decoy["name"]
        actors = {step["actor"] for step in decoy["steps"]}
        assert not [s for s in steps if s.subject in actors], decoy["name"]


def test_no_containment_below_medium(simulated: ReportedCase) -> None:
    for incident in simulated.report.incidents:
        if incident.severity in ("low", "info"):
            assert incident.containment == ()


def test_commands_quote_names_from_the_logs() -> None:
    from graphtrail.report.containment import _q

    assert _q("svc;rm -rf ~") == "'svc;rm -rf ~'"
    assert _q("plain-name") == "plain-name"
