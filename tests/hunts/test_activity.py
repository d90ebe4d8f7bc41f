from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

from graphtrail.case import Case
from graphtrail.findings import Severity
from graphtrail.hunts.activity import agent_family, tool_of
from graphtrail.hunts.config import HuntConfig, Thresholds
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS
from tests.hunts.conftest import (
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    panther_record,
    real_case,
    records_case,
    run,
    run_on,
)

KALI_SCENARIOS = ("leaked-ci-key", "trust-policy-backdoor", "defense-evasion")


# Services an enumerate-iam run walks through, one argument-less read each, seconds apart.
ENUMERATION = [
    ("iam.amazonaws.com", "ListUsers"), ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
    ("ec2.amazonaws.com", "DescribeInstances"), ("s3.amazonaws.com", "ListBuckets"),
    ("secretsmanager.amazonaws.com", "ListSecrets"), ("kms.amazonaws.com", "ListKeys"),
    ("lambda.amazonaws.com", "ListFunctions20150331"), ("rds.amazonaws.com", "DescribeDBInstances"),
    ("dynamodb.amazonaws.com", "ListTables"), ("sns.amazonaws.com", "ListTopics"),
    ("sqs.amazonaws.com", "ListQueues"), ("organizations.amazonaws.com", "DescribeOrganization"),
]  # fmt: skip


def enumeration_from(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Panther's real denied GetRole record, repeated across services as enumerate-iam makes them."""
    burst = []
    for second, (source, name) in enumerate(ENUMERATION):
        call = copy.deepcopy(record)
        call.update(eventSource=source, eventName=name, eventTime=f"2019-01-01T00:00:{second * 3:02d}Z")
        burst.append(call)
    return burst


# -- recon-burst -----------------------------------------------------------------------------------------------


def test_leaked_ci_key_recon_is_one_high_burst_with_its_denials_and_what_followed(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    recon = simulated.step_events("leaked-ci-key", "recon")
    (finding,) = covering(run(context, "recon-burst"), recon)
    first_check = {
        e for step in simulated.story("leaked-ci-key")["steps"] if step["order"] == 1 for e in step["event_ids"]
    }
    assert recon | first_check <= set(finding.event_ids)  # GetCallerIdentity, then the burst
    assert finding.severity == Severity.HIGH
    assert finding.category == "discovery:recon-burst-with-denials"
    assert finding.ips == {"185.220.101.234"} and finding.keys == {"AKIALDCBXKIHVUM6ZSFP"}
    assert "CreateUser" in finding.narrative  # what the key did next
    assert {"T1580", "T1526", "T1087.004"} <= set(finding.as_dict()["attack"])


def test_root_takeover_recon_with_the_new_root_key_is_high_though_small(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    recon = simulated.step_events("root-console-takeover", "recon")
    (finding,) = covering(run(context, "recon-burst"), recon)
    assert recon <= set(finding.event_ids)
    assert len({hop.action for hop in finding.path}) < context.config.thresholds.recon_calls  # below the full size
    assert finding.severity == Severity.HIGH
    assert finding.keys == {simulated.story("root-console-takeover")["attacker"]["keys"][0]}


def test_recon_burst_leaves_console_browsing_aws_config_and_decoys_alone(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "recon-burst")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []
    assert all(set(f.event_ids) <= attack_events(simulated) for f in findings)
    assert not any("AWSServiceRoleForConfig" in principal for f in findings for principal in f.principals)


def test_an_enumerate_iam_burst_of_real_denied_records_is_high(tmp_path: Path) -> None:
    record = panther_record("AWS.IAMUser.ReconAccessDenied", "Unauthorized API Call")
    (finding,) = run_on(records_case(tmp_path, enumeration_from(record), fresh_ids=True), "recon-burst")
    assert finding.severity == Severity.HIGH
    assert len(finding.event_ids) == len(ENUMERATION)


def test_real_scripted_audit_and_console_bursts_in_invictus_stay_low(invictus_case: Path) -> None:
    with Case(invictus_case) as case:
        context = HuntContext(case)
        findings = run(context, "recon-burst")
        agents = {row.event_id: row.user_agent or "" for row in case.events()}
    # Only the Stratus Red Team detonation (its Terraform warm-up carries the tool's name) rises to medium.
    for finding in findings:
        tooled = sum(1 for event in finding.event_ids if "stratus-red-team" in agents[event])
        assert finding.severity <= Severity.LOW or tooled * 3 >= len(finding.event_ids)
    assert any(f.severity == Severity.LOW for f in findings)  # benjamin's Boto3 S3 audit: reported, but low


# -- denied-burst ----------------------------------------------------------------------------------------------


def test_leaked_ci_key_denials_are_one_high_burst(context: HuntContext, simulated: SimulatedCase) -> None:
    recon = simulated.step_events("leaked-ci-key", "recon")
    (finding,) = covering(run(context, "denied-burst"), recon)
    assert set(finding.event_ids) <= recon and len(finding.event_ids) >= 5
    assert finding.severity == Severity.HIGH
    assert all(hop.action.endswith("(refused)") for hop in finding.path)


def test_denied_burst_is_quiet_on_the_baseline_and_decoys(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "denied-burst")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []
    assert all(set(f.event_ids) <= attack_events(simulated) for f in findings)


def test_real_stratus_user_data_download_refusals_are_a_burst(tmp_path: Path) -> None:
    findings = run_on(real_case(tmp_path, [STRATUS / "aws.discovery.ec2-download-user-data.json"]), "denied-burst")
    (finding,) = [f for f in findings if any("get-usr-data-role" in p for p in f.principals)]
    assert [hop.action for hop in finding.path] == ["DescribeInstanceAttribute (refused)"]
    assert len(finding.event_ids) == 15 and finding.severity == Severity.MEDIUM  # every refusal of the detonation


def test_a_single_real_refusal_or_refusals_made_by_aws_are_not_a_burst(tmp_path: Path) -> None:
    by_service = panther_record("AWS.CloudTrail.UnauthorizedAPICall", "Unauthorized API Call from Within AWS (FQDN)")
    repeated = [copy.deepcopy(by_service) for _ in range(8)]  # sourceIPAddress sqs.amazonaws.com
    assert run_on(records_case(tmp_path, repeated, fresh_ids=True), "denied-burst") == []
    assert (
        run_on(real_case(tmp_path, [STRATUS / "aws.execution.ec2-launch-unusual-instances.json"]), "denied-burst") == []
    )


# -- activity-spike --------------------------------------------------------------------------------------------


def test_nightly_etl_ci_and_new_principals_are_not_spikes(context: HuntContext, simulated: SimulatedCase) -> None:
    assert run(context, "activity-spike") == []
    sensitive = HuntContext(context.case, HuntConfig(thresholds=Thresholds(spike_factor=4)))
    findings = run(sensitive, "activity-spike")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []
    assert covering(findings, simulated.step_events("role-chain-exfiltration")) == []  # sessions with no baseline


def test_stolen_instance_credentials_are_a_spike_against_the_instance_baseline(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    sensitive = HuntContext(context.case, HuntConfig(thresholds=Thresholds(spike_factor=4)))
    bulk = simulated.step_events("stolen-instance-credentials", "bulk-download")
    (finding,) = covering(run(sensitive, "activity-spike"), bulk)
    assert bulk <= set(finding.event_ids)
    assert finding.severity == Severity.MEDIUM
    assert set(simulated.story("stolen-instance-credentials")["attacker"]["ips"]) <= finding.ips
    assert "T1530" in finding.as_dict()["attack"]


def test_no_real_invictus_principal_spikes(invictus_case: Path) -> None:
    assert run_on(invictus_case, "activity-spike") == []


# -- attacker-tooling ------------------------------------------------------------------------------------------


def test_kali_agents_of_the_attacks_are_high_and_decoys_carry_none(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "attacker-tooling")
    for scenario in KALI_SCENARIOS:
        found = covering(findings, simulated.step_events(scenario))
        assert found and all(f.severity == Severity.HIGH and "Kali" in f.title for f in found), scenario
    assert flagged_decoys(findings, simulated, Severity.INFO) == []
    assert all(set(f.event_ids) <= attack_events(simulated) for f in findings)
    # One finding per principal and agent.
    keys = [(hop.src, f.narrative.split('user agent "')[1].split('"')[0]) for f in findings for hop in f.path[:1]]
    assert len(keys) == len(set(keys))


def test_real_trufflehog_key_checks_are_high_and_a_plain_cli_is_not(tmp_path: Path) -> None:
    rule = "AWS.STS.GetCallerIdentity.TruffleHog"
    names = ("TruffleHog GetCallerIdentity", "TruffleHog User Agent Variant", "Normal GetCallerIdentity")
    records = [panther_record(rule, name) for name in names]
    records[2]["userIdentity"]["accountId"] = "123456789012"  # the test record names no account: CloudTrail does
    with Case(records_case(tmp_path, records, fresh_ids=True)) as case:
        assert case.event(str(uuid.UUID(int=3))) is not None
        findings = run(HuntContext(case), "attacker-tooling")
    assert len(findings) == 2  # one per agent ("TruffleHog", "trufflehog/3.63.0") of the compromised user
    assert all(f.severity == Severity.HIGH and f.title == "TruffleHog user agent" for f in findings)
    assert str(uuid.UUID(int=3)) not in {event for f in findings for event in f.event_ids}  # aws-cli/2.15.0


def test_real_stratus_detonations_in_invictus_are_medium_per_principal_and_agent(invictus_case: Path) -> None:
    with Case(invictus_case) as case:
        findings = run(HuntContext(case), "attacker-tooling")
        agents = {row.event_id: row.user_agent or "" for row in case.events()}
    assert findings and all(
        f.severity == Severity.MEDIUM and f.title == "Stratus Red Team user agent" for f in findings
    )
    assert all("stratus-red-team" in agents[event] for f in findings for event in f.event_ids)
    assert sum(len(f.event_ids) for f in findings) == sum("stratus-red-team" in a for a in agents.values())


def test_old_cli_agents_count_only_years_after_their_release() -> None:
    pacu_agent = "aws-cli/1.16.145 Python/3.6.7 Linux/4.15.0-45-generic botocore/1.12.135"
    stale = tool_of(pacu_agent, "2024-05-01T10:00:00Z")
    assert stale is not None and stale.kind == "stale"
    assert tool_of(pacu_agent, "2019-05-01T10:00:00Z") is None
    assert tool_of("aws-cli/1.18.39 Python/3.7.2 Darwin/19.4.0 botocore/1.15.39", "2024-01-01T00:00:00Z") is None
    assert tool_of("Boto3/1.42.97 md/Botocore#1.42.97 ua/2.1 os/linux", "2026-01-01T00:00:00Z") is None
    assert agent_family("[stratus-red-team_0362e208-cc47-4ba7-9c39-195518d6e937]") == "stratus-red-team_<id>"
