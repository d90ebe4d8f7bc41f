from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from graphtrail.findings import Severity
from graphtrail.hunts.config import HuntConfig, Thresholds
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS, invictus_records
from tests.hunts.conftest import (
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    real_case,
    records_case,
    run,
    run_on,
)

LATERAL = ("role-chain", "first-time-role-assumption", "workload-pivot", "workload-key-outside-aws")


# -- role-chain ------------------------------------------------------------------------------------------------


def test_stolen_sso_session_chaining_into_prod_data_is_one_critical_cross_account_chain(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "role-chain")
    steps = simulated.step_events("role-chain-exfiltration")
    (finding,) = [f for f in covering(findings, steps) if f.severity >= Severity.MEDIUM]
    # every step after the thief's first GetCallerIdentity (made with the stolen session itself, not the chain)
    assert steps - simulated.step_events("role-chain-exfiltration", "GetCallerIdentity") <= set(finding.event_ids)
    assert finding.severity == Severity.CRITICAL
    assert finding.category == "lateral-movement:cross-account-role-chain"
    first_hop = finding.path[0]
    assert set(first_hop.event_ids) == simulated.step_events("role-chain-exfiltration", "AssumeRole") - set(
        finding.path[1].event_ids
    )  # both accounts' copies of the cross-account hop in one hop
    assert len(first_hop.event_ids) == 2
    assert [hop.action for hop in finding.path[:2]] == ["AssumeRole", "AssumeRole"]
    attacker = simulated.story("role-chain-exfiltration")["attacker"]
    assert finding.ips == set(attacker["ips"]) and finding.keys <= set(attacker["keys"])
    assert "PutBucketReplication" in finding.narrative and "GetObject" in finding.narrative


def test_daily_ci_chain_is_one_informational_routine_finding_per_chain(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "role-chain")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []
    (ci,) = covering(findings, simulated.step_events("ci-role-chain"))
    assert ci.severity == Severity.INFO and ci.category == "lateral-movement:routine-role-chain"
    assert "ci-pipeline" in ci.narrative
    attack = attack_events(simulated)
    for finding in findings:
        if not set(finding.event_ids) & attack:
            assert finding.severity == Severity.INFO and finding.category == "lateral-movement:routine-role-chain"


def test_no_role_chain_in_invictus_where_users_assume_single_roles(invictus_case: Path) -> None:
    assert run_on(invictus_case, "role-chain") == []


IP_OUTSIDE = "185.220.101.7"
ACCOUNT = "111122223333"


def _identity_of_session(role: str, session: str, key: str, created: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE{role.upper()}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": f"AROAEXAMPLE{role.upper()}",
                              "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT, "userName": role},
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        },
    }  # fmt: skip


USER = {"type": "IAMUser", "principalId": "AIDAEXAMPLEDEV", "arn": f"arn:aws:iam::{ACCOUNT}:user/dev",
        "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEDEVKEY001", "userName": "dev"}  # fmt: skip


def _record(number: int, time: str, name: str, identity: dict[str, Any], **fields: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "1.08", "userIdentity": identity, "eventTime": time, "eventSource": "sts.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": IP_OUTSIDE, "userAgent": "Boto3/1.35.71",
        "requestParameters": None, "responseElements": None, "eventID": f"00000000-0000-4000-8000-{number:012d}",
        "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }  # fmt: skip
    record.update(fields)
    return record


def _assume(number: int, time: str, caller: dict[str, Any], role: str, key: str) -> dict[str, Any]:
    session = f"botocore-session-{number}"
    return _record(
        number, time, "AssumeRole", caller,
        requestParameters={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "roleSessionName": session},
        responseElements={
            "credentials": {"accessKeyId": key, "sessionToken": "x", "expiration": "Nov 3, 2026, 11:00:00 AM"},
            "assumedRoleUser": {"assumedRoleId": f"AROAEXAMPLE{role.upper()}:{session}",
                                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"},
        },
        resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{ACCOUNT}:role/{role}"}],
    )  # fmt: skip


def _chain_records(roles: list[str]) -> list[dict[str, Any]]:
    """dev's key (known from the office on day 1) assumes roles[0], whose session assumes roles[1], …; the last
    session reads an object. All from an address outside AWS on day 3."""
    records = [_record(1, "2026-11-01T09:00:00Z", "GetCallerIdentity", USER, sourceIPAddress="62.210.16.10")]
    caller, number = USER, 10
    for hop, role in enumerate(roles):
        key = f"ASIAEXAMPLECHAIN{hop:04d}"
        time = f"2026-11-03T10:0{hop}:00Z"
        records.append(_assume(number, time, caller, role, key))
        caller = _identity_of_session(role, f"botocore-session-{number}", key, time)
        number += 1
    records.append(
        _record(
            99, "2026-11-03T10:09:00Z", "GetObject", caller, eventSource="s3.amazonaws.com",
            requestParameters={"bucketName": "finance-data", "key": "q3.csv"}, eventCategory="Data",
            managementEvent=False,
            resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::finance-data/q3.csv"},
                       {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::finance-data"}],
        )
    )  # fmt: skip
    return records


def test_role_juggling_back_to_a_role_of_the_chain_is_reported_with_what_it_read(tmp_path: Path) -> None:
    case_path = records_case(tmp_path, _chain_records(["ops", "audit", "ops"]))
    (finding,) = run_on(case_path, "role-chain")
    assert finding.category == "lateral-movement:role-juggling"
    assert [hop.action for hop in finding.path] == ["AssumeRole", "AssumeRole", "AssumeRole", "GetObject"]
    assert finding.severity == Severity.CRITICAL  # outside AWS, juggling, and it read data
    assert finding.ips == {IP_OUTSIDE}


def test_short_chain_within_one_account_waits_for_the_chain_hops_threshold(tmp_path: Path) -> None:
    case_path = records_case(tmp_path, _chain_records(["ops", "audit"]))
    assert run_on(case_path, "role-chain") == []  # two role hops, one account: below chain_hops=3
    (finding,) = run_on(case_path, "role-chain", HuntConfig(thresholds=Thresholds(chain_hops=2)))
    assert finding.category == "lateral-movement:role-chain" and finding.severity == Severity.HIGH


def test_a_chain_by_listed_automation_stays_low(tmp_path: Path) -> None:
    case_path = records_case(tmp_path, _chain_records(["ops", "audit", "ops"]))
    config = HuntConfig(automation=(f"arn:aws:iam::{ACCOUNT}:user/dev",))
    (finding,) = run_on(case_path, "role-chain", config)
    assert finding.severity == Severity.LOW


# -- first-time-role-assumption --------------------------------------------------------------------------------


def test_outside_account_assuming_the_backdoored_role_is_high(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "first-time-role-assumption")
    assumed = simulated.step_events("trust-policy-backdoor", "AssumeRole")
    (finding,) = covering(findings, assumed)
    assert finding.severity == Severity.HIGH
    assert finding.category == "initial-access:external-account-assumed-role"
    backdoor_use = {e for step in simulated.story("trust-policy-backdoor")["steps"]
                    if "OrganizationAccountAccessRole/" in step["actor"] for e in step["event_ids"]}  # fmt: skip
    assert backdoor_use
    assert assumed | backdoor_use <= set(finding.event_ids)  # and what the session then did
    assert "124775559402" in finding.principals


def test_each_new_hop_of_the_stolen_chain_is_a_first_time_assumption(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "first-time-role-assumption")
    hops = simulated.step_events("role-chain-exfiltration", "AssumeRole")
    found = covering(findings, hops)
    assert hops <= {e for f in found for e in f.event_ids}
    assert {f.severity for f in found} == {Severity.MEDIUM}


def test_first_time_assumptions_spare_decoys_and_baseline(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "first-time-role-assumption")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []
    attack = attack_events(simulated)
    assert all(set(f.event_ids) & attack for f in findings)


def test_invictus_user_assuming_stratus_roles_after_the_baseline_is_found(invictus_case: Path) -> None:
    findings = run_on(invictus_case, "first-time-role-assumption")
    roles = {f.title.split(" (")[0].removeprefix("First assumption of ") for f in findings}
    assert "stratus-red-team-leave-org-role" in roles
    assert all(f.severity == Severity.MEDIUM for f in findings)
    # AWS services assuming workload roles (ec2, lambda, rds, inspector2, rolesanywhere) are not principals moving
    assert all(principal.endswith("user/bert-jan") for f in findings for principal in f.principals
               if ":user/" in principal or principal.endswith(".amazonaws.com"))  # fmt: skip


def test_a_stratus_detonation_that_is_the_whole_case_still_counts_as_a_first_assumption(tmp_path: Path) -> None:
    # the AssumeRole falls inside the case's own baseline period: the activity under review is left out of it
    case_path = real_case(tmp_path, [STRATUS / "aws.defense-evasion.organizations-leave.json"])
    (finding,) = run_on(case_path, "first-time-role-assumption")
    assert finding.severity == Severity.MEDIUM and "stratus-red-team-leave-org-role" in finding.title
    assert [hop.action for hop in finding.path][:2] == ["AssumeRole", "AssumeRole"]


# -- workload-pivot ----------------------------------------------------------------------------------------------


def test_no_workload_pivot_in_the_simulated_organisation(context: HuntContext) -> None:
    assert run(context, "workload-pivot") == []  # no RunInstances, CreateFunction or SSM there


def test_invictus_instance_launched_with_a_role_then_its_key_taken_by_command_is_high(invictus_case: Path) -> None:
    findings = run_on(invictus_case, "workload-pivot")
    (taken,) = [f for f in findings if f.category == "lateral-movement:workload-credentials-taken"]
    assert taken.severity == Severity.HIGH
    actions = [hop.action for hop in taken.path]
    assert actions.index("RunInstances") < actions.index("SendCommand") < actions.index("GetCallerIdentity")
    assert "ASIATFQR7NSC36DZQP7P" in taken.keys and "192.168.10.20" in taken.ips
    functions = [f for f in findings if "CreateFunction" in f.title]
    assert functions and all(f.severity == Severity.MEDIUM for f in functions)  # a role passed, from outside


def test_stratus_ssm_detonations_are_pivots_and_stolen_instance_key_is_high(tmp_path: Path) -> None:
    names = ("aws.execution.ssm-start-session", "aws.execution.ssm-send-command",
             "aws.credential-access.ec2-steal-instance-credentials")  # fmt: skip
    case_path = real_case(tmp_path, [STRATUS / f"{name}.json" for name in names])
    findings = run_on(case_path, "workload-pivot")
    by_action = {hop.action: f for f in findings for hop in f.path if hop.action in ("StartSession", "SendCommand")}
    assert by_action["StartSession"].severity == Severity.MEDIUM
    assert {"T1021.007"} <= set(by_action["StartSession"].as_dict()["attack"])
    stolen = [f for f in findings if f.category == "lateral-movement:workload-credentials-taken"]
    # the instance's key was used from the address that sent the command (anonymised to an AWS one here)
    assert len(stolen) == 1 and stolen[0].severity == Severity.HIGH and "caller's own address" in stolen[0].narrative


# -- workload-key-outside-aws ----------------------------------------------------------------------------------


def test_instance_key_used_from_outside_aws_to_copy_the_data_lake_is_critical(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "workload-key-outside-aws")
    steps = simulated.step_events("stolen-instance-credentials")
    (finding,) = covering(findings, steps)
    assert steps <= set(finding.event_ids)
    assert finding.severity == Severity.CRITICAL
    assert finding.path[0].action == "AssumeRole" and finding.path[0].src == "ec2.amazonaws.com"
    attacker = simulated.story("stolen-instance-credentials")["attacker"]
    assert finding.ips == set(attacker["ips"]) and finding.keys == set(attacker["keys"])
    assert {"T1552.005", "T1530"} <= set(finding.as_dict()["attack"])


def test_workloads_calling_from_aws_are_not_flagged(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "workload-key-outside-aws")
    assert flagged_decoys(findings, simulated, Severity.INFO) == []  # nightly ETL, CI runners
    assert len(findings) == 1


def test_invictus_instance_key_from_a_private_address_without_vpc_endpoint_is_outside(invictus_case: Path) -> None:
    (finding,) = run_on(invictus_case, "workload-key-outside-aws")
    assert finding.severity == Severity.HIGH  # GetCallerIdentity and DescribeInstances: no data, no IAM change
    assert finding.keys == {"ASIATFQR7NSC36DZQP7P"} and finding.ips == {"192.168.10.20"}
    # the SSM agent's own key on the instances, from their AWS addresses, is not in it
    assert "ASIATFQR7NSCSHSEVYP5" not in finding.keys


def test_private_address_through_a_vpc_endpoint_counts_as_inside(tmp_path: Path) -> None:
    records = copy.deepcopy(invictus_records())
    for record in records:
        if record.get("sourceIPAddress") == "192.168.10.20":
            record["vpcEndpointId"] = "vpce-0a1b2c3d4e5f60789"
    case_path = records_case(tmp_path, records)
    assert run_on(case_path, "workload-key-outside-aws") == []


def test_lateral_hunts_flag_no_decoy_at_medium_or_above(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = [f for hunt in LATERAL for f in run(context, hunt)]
    assert flagged_decoys(findings, simulated) == []
    lineage_events = {hop.event_id for hop in context.lineage.values() if hop.event_id}
    attack = attack_events(simulated)
    for finding in findings:
        if finding.severity >= Severity.MEDIUM:  # only attack steps, and the AWS-issued keys they used
            assert set(finding.event_ids) - attack <= lineage_events, finding.title
