from __future__ import annotations

from pathlib import Path

import pytest

from graphtrail.case import Case
from graphtrail.findings import Severity
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext
from tests.conftest import INVICTUS, STRATUS
from tests.hunts.conftest import (
    PANTHER_SCENARIOS,
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    real_case,
    run,
    run_on,
    steps,
)

# Per scenario: the stolen long-term key, the new address, and the steps (by order) of its first calls there.
STOLEN_KEYS = {
    "leaked-ci-key": ("AKIALDCBXKIHVUM6ZSFP", "185.220.101.234", {1, 2, 3, 4, 5}),
    "defense-evasion": ("AKIAB4LUU5GCMCJUHXT6", "45.155.205.65", {1, 2, 3, 4, 5, 6, 7}),
    "login-profile-backdoor": ("AKIAB4LUU5GCMCJUHXT6", "194.26.29.84", {1, 2, 3, 4}),
    "federation-token-persistence": ("AKIAOQK2CO6IVZC6IGZ7", "103.251.167.179", {1, 2}),
}


# -- key-from-new-ip -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(STOLEN_KEYS))
def test_a_stolen_long_term_key_first_used_with_get_caller_identity_from_a_new_address_is_high(
    context: HuntContext, simulated: SimulatedCase, scenario: str
) -> None:
    key, ip, orders = STOLEN_KEYS[scenario]
    findings = [f for f in run(context, "key-from-new-ip") if f.keys == {key} and f.ips == {ip}]
    (finding,) = findings  # one finding per key and new address
    assert steps(simulated, scenario, orders) <= set(finding.event_ids)
    assert finding.severity == Severity.HIGH
    assert finding.path[0].action == "GetCallerIdentity" and len(finding.path[0].event_ids) == 1
    assert {"T1078.004", "T1087.004"} <= set(finding.as_dict()["attack"])


def test_a_federated_session_is_measured_against_the_user_who_minted_it(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    session_calls = steps(simulated, "federation-token-persistence", {3, 4, 5, 6, 7})
    (finding,) = covering(run(context, "key-from-new-ip"), session_calls)
    assert session_calls <= set(finding.event_ids)
    assert "reporting-svc" in finding.title and finding.severity >= Severity.MEDIUM


def test_an_identity_center_session_is_measured_against_the_person_across_accounts(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    # ana.lima worked in the backup account during the baseline; her prod session later comes from the attacker
    hijack = steps(simulated, "trust-policy-backdoor", {1, 2, 3})
    (finding,) = covering(run(context, "key-from-new-ip"), hijack)
    assert hijack <= set(finding.event_ids)
    assert finding.severity == Severity.MEDIUM  # a session (not a long-term key), first call GetCallerIdentity
    assert "62.210.16.10" in finding.narrative  # her usual address, for the responder to compare


def test_no_decoy_no_baseline_activity_and_no_aws_address_is_a_new_ip(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "key-from-new-ip")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []  # rotation, new employee, CI role chain…
    assert all(set(f.event_ids) <= attack_events(simulated) for f in findings)
    assert all(context.is_outside(hop.source_ip) for f in findings for hop in f.path)  # never AWS's
    assert len({(frozenset(f.keys), frozenset(f.ips)) for f in findings}) == len(findings)


def test_a_principal_first_seen_after_the_baseline_is_reported_lower(context: HuntContext) -> None:
    findings = run(context, "key-from-new-ip")
    (backdoor,) = [f for f in findings if f.keys == {"AKIALDCBXKIHYGVVCSOE"}]  # svc-ad3b8h, created that day
    assert backdoor.severity == Severity.MEDIUM  # a long-term key starting with GetCallerIdentity, but no habits
    assert "first appears later" in backdoor.narrative


def test_a_trusted_network_is_never_a_new_address(simulated: SimulatedCase) -> None:
    findings = run_on(simulated.path, "key-from-new-ip", HuntConfig(trusted_cidrs=("185.220.101.0/24",)))
    assert not any("185.220.101.234" in f.ips for f in findings)
    assert any("45.155.205.65" in f.ips for f in findings)


def test_real_panther_root_compromise_from_a_new_address_is_found(tmp_path: Path) -> None:
    case_path = real_case(tmp_path, sorted(PANTHER_SCENARIOS.glob("compromised-root-creds__*.json")))
    findings = run_on(case_path, "key-from-new-ip")
    (root,) = [f for f in findings if any(hop.src.endswith(":root") for hop in f.path)]
    assert root.ips == {"92.55.146.245"} and root.severity == Severity.MEDIUM  # root console, no recon
    actions = [hop.action for hop in root.path]
    assert actions[0] == "ConsoleLogin" and "CreateAccessKey" in " ".join(actions)
    assert not any(hop.source_ip == "71.253.251.71" for f in findings for hop in f.path)  # the owner's address


def test_real_invictus_private_addresses_and_aws_services_are_never_new(invictus_case: Path) -> None:
    assert run_on(invictus_case, "key-from-new-ip") == []


def test_a_case_without_a_baseline_calls_nothing_new(tmp_path: Path) -> None:
    assert run_on(real_case(tmp_path, [STRATUS / "aws.persistence.sts-federation-token.json"]), "key-from-new-ip") == []


# -- new-key-used --------------------------------------------------------------------------------------------


def test_a_key_made_for_a_new_user_and_used_minutes_later_elsewhere_is_critical(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "new-key-used")
    created_and_used = steps(simulated, "leaked-ci-key", {5, 6, 7, 8})
    (finding,) = covering(findings, created_and_used)
    assert set(finding.event_ids) == created_and_used
    assert finding.severity == Severity.CRITICAL
    assert finding.category == "persistence:backdoor-key-used"
    assert finding.path[0].action == "CreateAccessKey" and len(finding.path) == 2


def test_an_own_key_rotation_used_from_the_usual_address_is_not_reported(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "new-key-used")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []
    assert all(set(f.event_ids) <= attack_events(simulated) for f in findings)


def test_the_use_window_is_the_configured_threshold(simulated: SimulatedCase) -> None:
    # the backdoor key's first use comes 16 minutes after CreateAccessKey
    with Case(simulated.path) as case:
        config = HuntConfig.from_dict({"thresholds": {"new_key_use_seconds": 600}})
        assert run(HuntContext(case, config), "new-key-used") == []


def test_real_keys_created_but_never_used_are_not_new_key_use(tmp_path: Path) -> None:
    paths = [INVICTUS, STRATUS / "aws.persistence.iam-create-admin-user.json"]
    with Case(real_case(tmp_path, paths)) as case:
        context = HuntContext(case)
        created = list(context.events(["CreateAccessKey"]))
        assert len(created) >= 3
        assert run(context, "new-key-used") == []
