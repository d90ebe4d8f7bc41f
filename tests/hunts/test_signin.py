from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest

from graphtrail.case import Case
from graphtrail.findings import Severity
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS
from tests.hunts.conftest import (
    PANTHER_SCENARIOS,
    SimulatedCase,
    covering,
    flagged_decoys,
    panther_record,
    real_case,
    records_case,
    run,
    run_on,
)

ROOT_ATTACKER_IP = "92.55.146.245"  # the compromised-root-creds scenario's README


def compromised_root(tmp_path: Path) -> Path:
    names = ("compromised-root-creds__attacker_cloudtrail.json", "compromised-root-creds__victim_cloudtrail.json")
    return real_case(tmp_path, [PANTHER_SCENARIOS / name for name in names])


def at(record: dict[str, Any], time: str) -> dict[str, Any]:
    moved = copy.deepcopy(record)
    moved["eventTime"] = time
    return moved


# -- root-use ------------------------------------------------------------------------------------------------


def test_root_console_takeover_is_one_critical_finding_from_sign_in_to_key_use(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    steps = simulated.step_events("root-console-takeover")
    (finding,) = covering(run(context, "root-use"), steps)
    assert steps <= set(finding.event_ids)  # sign-in, browsing, CreateAccessKey, the key's use from elsewhere
    assert finding.severity == Severity.CRITICAL
    attacker = simulated.story("root-console-takeover")["attacker"]
    assert finding.ips == set(attacker["ips"]) and set(attacker["keys"]) <= finding.keys | finding.resources
    assert "WITHOUT MFA" in finding.narrative and "CreateAccessKey" in finding.narrative
    assert {"T1078.004", "T1098.001"} <= set(finding.as_dict()["attack"])


def test_root_use_is_quiet_on_the_baseline_and_decoys(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "root-use")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []
    assert all(set(f.event_ids) <= simulated.step_events("root-console-takeover") for f in findings)


def test_real_compromised_root_sign_in_then_iam_changes_is_critical(tmp_path: Path) -> None:
    findings = run_on(compromised_root(tmp_path), "root-use")
    (critical,) = [f for f in findings if f.severity == Severity.CRITICAL]
    actions = {hop.action for hop in critical.path}
    assert {"ConsoleLogin", "CreateAccessKey", "CreateUser", "AttachUserPolicy"} <= actions
    assert critical.ips == {ROOT_ATTACKER_IP}
    refused = [f for f in findings if f.title == "Refused root sign-in or call"]
    assert len(refused) == 3 and all(f.severity == Severity.LOW for f in refused)


def test_real_root_reads_and_service_linked_role_are_low_and_iam_users_are_not_root(tmp_path: Path) -> None:
    rule = "AWS.Root.Activity"
    records = [panther_record(rule, "Root Read-Only Enumeration"), panther_record(rule, "IAMUser Activity"),
               at(panther_record(rule, "Root Activity - CreateServiceLinkedRole"), "2022-01-01T10:00:00Z")]  # fmt: skip
    with Case(records_case(tmp_path, records, fresh_ids=True)) as case:
        assert all(case.event(str(uuid.UUID(int=n))) is not None for n in (1, 2, 3))
        findings = run(HuntContext(case), "root-use")
    assert findings and all(f.severity == Severity.LOW for f in findings)
    assert str(uuid.UUID(int=2)) not in {e for f in findings for e in f.event_ids}  # the IAM user's GetBucketAcl


# -- console-login-without-mfa ---------------------------------------------------------------------------------


def test_backdoored_user_and_root_sign_ins_without_mfa_are_high(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "console-login-without-mfa")
    for scenario in ("login-profile-backdoor", "root-console-takeover"):
        login = simulated.step_events(scenario, "ConsoleLogin")
        (finding,) = covering(findings, login)
        assert finding.severity == Severity.HIGH, scenario
    (backdoor,) = covering(findings, simulated.step_events("login-profile-backdoor", "ConsoleLogin"))
    assert simulated.step_events("login-profile-backdoor", "UpdateLoginProfile") <= set(backdoor.event_ids)
    assert "ops-admin" in backdoor.narrative  # who set the password


def test_identity_center_sign_ins_are_never_judged_on_mfa(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "console-login-without-mfa")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []  # new-employee-first-signin above all
    assert all(":assumed-role/" not in principal for f in findings for principal in f.principals)
    assert len(findings) == 2


@pytest.mark.parametrize(
    ("test_name", "fires"),
    [
        ("No MFA Login - IAM User", True),
        ("No MFA Login - Root User", True),
        ("MFA Login - SAML", False),  # an IAM user federated through Okta: SamlProviderArn
        ("MFA Login", False),
        ("No MFA - Login Failed", False),
        ("No MFA - IAM Role and External IDP", False),
        ("AWS SSOv2 Login", False),
    ],
)
def test_real_panther_sign_ins_without_mfa(tmp_path: Path, test_name: str, fires: bool) -> None:
    record = panther_record("AWS.Console.LoginWithoutMFA", test_name)
    if record["userIdentity"].get("arn", "").startswith("arn:aws:sts::xxx:"):  # sanitized account id
        record["userIdentity"]["arn"] = record["userIdentity"]["arn"].replace("::xxx:", "::123456789012:")
    with Case(records_case(tmp_path, [record], fresh_ids=True)) as case:
        assert case.event(str(uuid.UUID(int=1))) is not None
        findings = run(HuntContext(case), "console-login-without-mfa")
    assert bool(findings) is fires


def test_real_stratus_console_login_without_mfa_is_found(tmp_path: Path) -> None:
    (finding,) = run_on(
        real_case(tmp_path, [STRATUS / "aws.initial-access.console-login-without-mfa.json"]),
        "console-login-without-mfa",
    )
    assert finding.severity >= Severity.MEDIUM  # an address never seen for the user


# -- signin-failures-then-success --------------------------------------------------------------------------------


def test_signin_failures_hunt_is_quiet_on_the_simulated_organisation(context: HuntContext) -> None:
    assert run(context, "signin-failures-then-success") == []  # it has no refused sign-ins


def test_real_slow_root_password_guessing_then_sign_in_is_high(tmp_path: Path) -> None:
    (finding,) = run_on(compromised_root(tmp_path), "signin-failures-then-success")
    assert [hop.action for hop in finding.path] == ["ConsoleLogin (refused)"] * 3 + ["ConsoleLogin"]
    assert finding.severity == Severity.HIGH and finding.ips == {ROOT_ATTACKER_IP}
    assert "CreateAccessKey" in finding.narrative  # what the sign-in led to


def test_guessing_within_the_hour_without_mfa_is_high_and_typos_before_mfa_are_low(tmp_path: Path) -> None:
    failed = panther_record("Standard.BruteForceByUser", "AWS.CloudTrail - Failed Login")
    success = panther_record("Standard.BruteForceByUser", "AWS.CloudTrail - Successful Login")
    guessing = [at(failed, f"2024-03-01T10:0{n}:00Z") for n in range(4)] + [at(success, "2024-03-01T10:05:00Z")]
    (finding,) = run_on(records_case(tmp_path, guessing, "guessing", fresh_ids=True), "signin-failures-then-success")
    assert len(finding.event_ids) == 5 and finding.severity == Severity.HIGH

    with_mfa = copy.deepcopy(success)
    with_mfa["additionalEventData"]["MFAUsed"] = "Yes"
    usual = [at(with_mfa, f"2024-02-{day:02d}T09:00:00Z") for day in range(1, 20)]  # the user's own address
    typos = [at(failed, f"2024-03-01T10:0{n}:00Z") for n in range(3)] + [at(with_mfa, "2024-03-01T10:04:00Z")]
    (finding,) = run_on(records_case(tmp_path, usual + typos, "typos", fresh_ids=True), "signin-failures-then-success")
    assert finding.severity == Severity.LOW


def test_two_refusals_or_refusals_without_a_sign_in_are_not_guessing(tmp_path: Path) -> None:
    failed = panther_record("Standard.BruteForceByUser", "AWS.CloudTrail - Failed Login")
    success = panther_record("Standard.BruteForceByUser", "AWS.CloudTrail - Successful Login")
    records = [at(failed, "2024-03-01T10:00:00Z"), at(failed, "2024-03-01T10:01:00Z"),
               at(success, "2024-03-01T10:02:00Z"), at(failed, "2024-03-02T10:00:00Z"),
               at(failed, "2024-03-02T10:01:00Z"), at(failed, "2024-03-02T10:02:00Z")]  # fmt: skip
    assert run_on(records_case(tmp_path, records, fresh_ids=True), "signin-failures-then-success") == []
