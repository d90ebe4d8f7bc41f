from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphtrail.findings import Severity
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext
from tests.conftest import DATA, STRATUS, load_records
from tests.hunts.conftest import (
    PANTHER_SCENARIOS,
    SimulatedCase,
    covering,
    flagged_decoys,
    real_case,
    records_case,
    run,
    run_on,
    steps,
)

INVICTUS_LABELS = DATA / "invictus-ir-aws-dataset" / "labels_derived.jsonl"

# Per scenario: the steps (by order) from the door to its use, which must all sit in one finding.
CHAINS = {
    "leaked-ci-key": {3, 4, 5, 6, 7, 8},  # CreateUser, AttachUserPolicy, CreateAccessKey, the new key's calls
    "trust-policy-backdoor": {3, 4, 5, 6, 7},  # UpdateAssumeRolePolicy, AssumeRole by the outsider, its calls
    "federation-token-persistence": {2, 3, 4, 5, 6, 7},  # GetFederationToken, the federated session's calls
    "login-profile-backdoor": {3, 4, 5, 6},  # Create/UpdateLoginProfile, ConsoleLogin as the user, browsing
    "root-console-takeover": {3, 4, 5},  # root CreateAccessKey, the root key's calls
}


@pytest.mark.parametrize("scenario", sorted(CHAINS))
def test_each_backdoor_and_its_use_from_a_new_address_is_one_critical_finding(
    context: HuntContext, simulated: SimulatedCase, scenario: str
) -> None:
    findings = run(context, "persistence-chain")
    chain = steps(simulated, scenario, CHAINS[scenario])
    (finding,) = covering(findings, chain)
    assert chain <= set(finding.event_ids)
    assert set(finding.event_ids) <= simulated.step_events(scenario)  # nothing unrelated pulled in
    assert finding.severity == Severity.CRITICAL
    assert finding.path == sorted(finding.path, key=lambda hop: hop.time)


def test_the_leaked_key_chain_names_the_entry_key_the_backdoor_and_both_addresses(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    (finding,) = covering(run(context, "persistence-chain"), steps(simulated, "leaked-ci-key", {3}))
    attacker = simulated.story("leaked-ci-key")["attacker"]
    assert finding.keys == set(attacker["keys"]) and finding.ips == set(attacker["ips"])
    assert finding.category == "persistence:new-iam-user"
    assert {"T1136.003", "T1098.001", "T1098.003", "T1078.004"} <= set(finding.as_dict()["attack"])
    use_hops = [hop for hop in finding.path if hop.src.endswith("user/svc-ad3b8h")]
    assert len(use_hops) == 1 and len(use_hops[0].event_ids) == 3  # the new key's first calls, grouped
    assert "45.155.205.167" in finding.narrative and "AdministratorAccess" in finding.narrative


def test_the_outside_account_but_not_the_organisations_own_is_named_as_trusted(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    (finding,) = covering(run(context, "persistence-chain"), steps(simulated, "trust-policy-backdoor", {3}))
    assert finding.category == "persistence:trust-policy-backdoor"
    org = simulated.truth["organization"]
    principals = simulated.story("trust-policy-backdoor")["attacker"]["principals"]
    (outsider,) = {p.split(":")[4] for p in principals} - set(org["accounts"].values())
    assert outsider in org["external_accounts"] and outsider in finding.title
    assert org["accounts"]["management"] not in finding.title  # the new policy also trusts the org's own account


def test_no_decoy_and_no_baseline_activity_is_taken_for_persistence(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "persistence-chain")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []  # the key rotation is not even reported
    attack = set().union(*(simulated.step_events(s["name"]) for s in simulated.truth["scenarios"]))
    assert all(set(f.event_ids) <= attack for f in findings)
    replication_role = steps(simulated, "role-chain-exfiltration", {6, 7})  # CreateRole trusting s3, no admin
    assert covering(findings, replication_role) == []
    assert len(findings) == len(CHAINS)


def test_a_trusted_address_for_the_use_downgrades_a_complete_chain_to_high(simulated: SimulatedCase) -> None:
    config = HuntConfig(trusted_cidrs=("45.155.205.0/24",))
    findings = run_on(simulated.path, "persistence-chain", config)
    (finding,) = covering(findings, steps(simulated, "leaked-ci-key", {3}))
    assert finding.severity == Severity.HIGH  # still admin rights for a new user, made from a new address


@pytest.mark.parametrize(
    ("technique", "category", "severity"),
    [
        ("iam-create-admin-user", "persistence:new-iam-user", Severity.HIGH),
        ("iam-create-backdoor-role", "persistence:trust-policy-backdoor", Severity.HIGH),
        ("iam-backdoor-role", "persistence:trust-policy-backdoor", Severity.HIGH),
        ("iam-backdoor-user", "persistence:access-key-for-other-user", Severity.MEDIUM),
        ("iam-create-user-login-profile", "persistence:login-profile-for-other-user", Severity.MEDIUM),
        ("sts-federation-token", "persistence:federation-token", Severity.MEDIUM),
    ],
)
def test_real_stratus_persistence_detonations_are_found_without_claiming_a_new_address(
    tmp_path: Path, technique: str, category: str, severity: Severity
) -> None:
    (finding,) = run_on(real_case(tmp_path, [STRATUS / f"aws.persistence.{technique}.json"]), "persistence-chain")
    assert (finding.category, finding.severity) == (category, severity)
    if technique == "sts-federation-token":  # the federated session's GetCallerIdentity is the use
        assert [hop.action for hop in finding.path] == ["GetFederationToken", "GetCallerIdentity"]


def test_refused_backdoor_attempts_are_low(tmp_path: Path) -> None:
    records = load_records(STRATUS / "aws.persistence.iam-create-admin-user.json")
    for record in records:
        record.update(errorCode="AccessDenied", errorMessage="not authorized", responseElements=None)
    (finding,) = run_on(records_case(tmp_path, records, "refused"), "persistence-chain")
    assert finding.severity == Severity.LOW and "refused" in finding.title


def test_real_panther_root_compromise_backdoor_user_used_from_the_attacker_address_is_critical(
    tmp_path: Path,
) -> None:
    case_path = real_case(tmp_path, sorted(PANTHER_SCENARIOS.glob("compromised-root-creds__*.json")))
    findings = {f.category: f for f in run_on(case_path, "persistence-chain")}
    chain = findings["persistence:new-iam-user"]
    assert chain.severity == Severity.CRITICAL and chain.ips == {"92.55.146.245"}
    assert [hop.action for hop in chain.path].count("AttachUserPolicy") == 3
    assert chain.path[-1].action == "RunInstances" and chain.path[-1].src.endswith("user/tracy_stone")
    assert findings["persistence:root-access-key-created"].severity == Severity.HIGH  # created, never used


def test_real_panther_victim_activity_alone_is_not_persistence(tmp_path: Path) -> None:
    assert (
        run_on(
            real_case(tmp_path, [PANTHER_SCENARIOS / "compromised-root-creds__victim_cloudtrail.json"]),
            "persistence-chain",
        )
        == []
    )


def test_real_invictus_stratus_backdoors_are_found_and_terraform_warmup_is_not(invictus_case: Path) -> None:
    findings = run_on(invictus_case, "persistence-chain")
    labels = {}
    for line in INVICTUS_LABELS.read_text().splitlines():
        entry = json.loads(line)
        labels[entry["eventID"]] = entry["label"]
    flagged = {event_id for f in findings for event_id in f.event_ids}
    assert {labels[event_id] for event_id in flagged} == {"stratus_tool"}
    titles = " | ".join(f.title for f in findings)
    assert "malicious-iam-user" in titles and "stratus-red-team-backdoor-r-role trusting 193672423079" in titles
    login = next(f for f in findings if any(hop.action == "ConsoleLogin" for hop in f.path))
    assert login.category == "persistence:login-profile-for-other-user"
    assert login.severity == Severity.MEDIUM  # completed, but from the creator's own usual (private) address
    assert all(f.severity < Severity.CRITICAL for f in findings)
