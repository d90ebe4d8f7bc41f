"""Attacks 3 and 4: a stolen SSO session chained into prod's data, and a backdoored trust policy used from outside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphtrail.arn import s3_bucket_arn
from graphtrail.lineage import chain_of
from graphtrail.simulate.org import ATTACKER_PREFIXES, Organization
from graphtrail.simulate.scenarios import ATTACK_ORDER
from graphtrail.simulate.scenarios.movement import ORG_ACCESS_ROLE, SCENARIOS
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World
from tests.simulate.conftest import SPECS, ingest_calls, open_case, played, records

NAMES = ("role-chain-exfiltration", "trust-policy-backdoor")


def step_records(story: Story, target: str, action: str | None = None) -> list[dict[str, Any]]:
    """The records of the steps aimed at `target` (and with `action`), in step order."""
    by_id = {call.record["eventID"]: call.record for call in story.events}
    return [by_id[event_id] for step in story.steps if step.target == target and action in (None, step.action)
            for event_id in step.event_ids]  # fmt: skip


def time_of(story: Story, record: dict[str, Any]) -> int:
    (call,) = [call for call in story.events if call.record["eventID"] == record["eventID"]]
    return call.time


def step_ids(story: Story) -> set[str]:
    return {event_id for step in story.steps for event_id in step.event_ids}


# --- common ------------------------------------------------------------------------------------------------------


def test_movement_attacks_have_their_fixed_names_and_findings() -> None:
    assert tuple(spec.name for spec in SCENARIOS) == NAMES
    assert all(spec.kind == "attack" and spec.name in ATTACK_ORDER for spec in SCENARIOS)
    assert "lateral-movement:cross-account-role-chain" in SPECS["role-chain-exfiltration"].findings
    assert "exfiltration:bucket-replication-to-external-account" in SPECS["role-chain-exfiltration"].findings
    assert {"persistence:trust-policy-backdoor", "initial-access:external-account-assumed-role"} <= set(
        SPECS["trust-policy-backdoor"].findings
    )


@pytest.mark.parametrize("name", NAMES)
def test_movement_attack_steps_come_from_attacker_addresses_and_the_owner_only_from_home(
    org: Organization, world: World, name: str
) -> None:
    story = played(world, name)
    steps = step_ids(story)
    people_ips = {person.ip for person in org.people}
    for record in records(story):
        if record["eventID"] in steps:
            assert record["sourceIPAddress"].startswith(ATTACKER_PREFIXES)
        else:
            assert record["sourceIPAddress"] in people_ips
    assert story.as_dict()["attacker"]["ips"]
    assert all(ip.startswith(ATTACKER_PREFIXES) for ip in story.as_dict()["attacker"]["ips"])


@pytest.mark.parametrize("name", NAMES)
def test_movement_attack_uses_each_session_key_only_while_it_is_valid(world: World, name: str) -> None:
    story = played(world, name)
    valid: dict[str, tuple[int, int]] = {}
    for call in story.events:
        response = call.record["responseElements"] or {}
        if "credentials" in response:
            duration = call.record["requestParameters"]["durationSeconds"]
            valid[response["credentials"]["accessKeyId"]] = (call.time, call.time + duration)
    assert len(valid) >= 2
    used = 0
    for call in story.events:
        key = call.record["userIdentity"].get("accessKeyId", "")
        if key.startswith("ASIA"):
            issued, expires = valid[key]
            assert issued <= call.time < expires, call.record["eventName"]
            used += 1
    assert used


# --- role-chain-exfiltration -------------------------------------------------------------------------------------


def test_role_chain_starts_from_a_developers_sso_session_first_used_from_their_own_address(
    org: Organization, world: World
) -> None:
    story = played(world, "role-chain-exfiltration")
    (saml,) = records(story, "AssumeRoleWithSAML")
    developer = next(p for p in org.people if p.email == saml["requestParameters"]["roleSessionName"])
    assert developer.permission_set == "PowerUserAccess"
    assert saml["requestParameters"]["roleArn"] == org.sso_roles[(org.tooling, "PowerUserAccess")].arn
    assert saml["requestParameters"]["principalArn"] == org.saml_providers[org.tooling]
    key = saml["responseElements"]["credentials"]["accessKeyId"]
    uses = [r for r in records(story) if r["userIdentity"].get("accessKeyId") == key]
    ips = [r["sourceIPAddress"] for r in sorted(uses, key=lambda r: r["eventTime"])]
    assert ips[0] == developer.ip
    assert ips[-1].startswith(ATTACKER_PREFIXES)
    assert key in story.keys


def test_role_chain_cross_account_hop_is_one_step_holding_both_copies(org: Organization, world: World) -> None:
    story = played(world, "role-chain-exfiltration")
    deploy = org.role(org.prod, "deploy")
    (step,) = [step for step in story.steps if step.target == deploy.arn]
    assert step.action == "AssumeRole" and len(step.event_ids) == 2
    mine, theirs = step_records(story, deploy.arn)
    assert mine["sharedEventID"] == theirs["sharedEventID"]
    assert mine["requestID"] == theirs["requestID"]
    assert mine["eventID"] != theirs["eventID"]
    assert (mine["recipientAccountId"], theirs["recipientAccountId"]) == (org.tooling, org.prod)
    assert mine["userIdentity"]["type"] == "AssumedRole"
    assert (
        mine["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        == org.sso_roles[(org.tooling, "PowerUserAccess")].arn
    )
    assert theirs["userIdentity"] == {"type": "AWSAccount", "principalId": mine["userIdentity"]["principalId"],
                                      "accountId": org.tooling}  # fmt: skip


def test_role_chain_data_reader_key_chains_back_through_deploy_to_the_saml_session(
    org: Organization, world: World, tmp_path: Path
) -> None:
    story = played(world, "role-chain-exfiltration")
    (saml,) = records(story, "AssumeRoleWithSAML")
    issued = {r["requestParameters"]["roleArn"]: r["responseElements"]["credentials"]["accessKeyId"]
              for r in records(story, "AssumeRole")}  # fmt: skip
    saml_key = saml["responseElements"]["credentials"]["accessKeyId"]
    deploy_key = issued[org.role(org.prod, "deploy").arn]
    data_key = issued[org.role(org.prod, "data-reader").arn]
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()
    assert lineage[data_key].issuer_key == deploy_key
    assert lineage[deploy_key].issuer_key == saml_key
    assert lineage[saml_key].via == "AssumeRoleWithSAML"
    assert [hop.access_key_id for hop in chain_of(data_key, lineage)] == [data_key, deploy_key, saml_key]
    assert all(hop.method == "issuing-event" for hop in chain_of(data_key, lineage))


def test_role_chain_reads_the_data_lake_in_bulk_with_the_data_reader_session(org: Organization, world: World) -> None:
    story = played(world, "role-chain-exfiltration")
    bucket = org.buckets["datalake"]
    reads = step_records(story, s3_bucket_arn(bucket), "bulk-GetObject")
    assert 60 <= len(reads) <= 120
    assert len(records(story, "GetObject")) == len(reads)
    data_role = org.role(org.prod, "data-reader")
    for read in reads:
        assert read["eventCategory"] == "Data" and read["managementEvent"] is False
        assert read["requestParameters"]["bucketName"] == bucket
        assert read["recipientAccountId"] == org.prod
        assert read["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == data_role.arn
        assert read["additionalEventData"]["bytesTransferredOut"] > 0
    assert len({read["requestParameters"]["key"] for read in reads}) == len(reads)


def test_role_chain_replicates_the_data_lake_to_an_outside_account(org: Organization, world: World) -> None:
    story = played(world, "role-chain-exfiltration")
    (replication,) = records(story, "PutBucketReplication")
    (created,) = records(story, "CreateRole")
    configuration = replication["requestParameters"]["ReplicationConfiguration"]
    destination = configuration["Rule"]["Destination"]
    assert replication["requestParameters"]["bucketName"] == org.buckets["datalake"]
    assert destination["Account"] == org.external_accounts[0]
    assert destination["Account"] not in {account.id for account in org.accounts}
    assert configuration["Role"] == created["responseElements"]["role"]["arn"]
    trust = json.loads(created["requestParameters"]["assumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    deploy = org.role(org.prod, "deploy")
    for record in (created, replication, *records(story, "PutRolePolicy")):
        assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == deploy.arn
        assert record["recipientAccountId"] == org.prod
    assert s3_bucket_arn(org.buckets["datalake"]) in {
        step.target for step in story.steps if step.action == "PutBucketReplication"
    }


# --- trust-policy-backdoor ---------------------------------------------------------------------------------------


def test_backdoor_rewrites_the_org_access_role_trust_to_an_outside_root(org: Organization, world: World) -> None:
    story = played(world, "trust-policy-backdoor")
    (update,) = records(story, "UpdateAssumeRolePolicy")
    role = org.role(org.prod, ORG_ACCESS_ROLE)
    assert update["requestParameters"]["roleName"] == ORG_ACCESS_ROLE
    document = json.loads(update["requestParameters"]["policyDocument"])
    assert f"arn:aws:iam::{org.external_accounts[1]}:root" in document["Statement"][0]["Principal"]["AWS"]
    assert update["recipientAccountId"] == org.prod
    assert (
        update["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        == org.sso_roles[(org.prod, "AdministratorAccess")].arn
    )
    assert update["sourceIPAddress"].startswith(ATTACKER_PREFIXES)
    assert [step.target for step in story.steps if step.action == "UpdateAssumeRolePolicy"] == [role.arn]


def test_backdoor_assumption_is_logged_only_as_the_role_owners_aws_account_copy(
    org: Organization, world: World
) -> None:
    story = played(world, "trust-policy-backdoor")
    role = org.role(org.prod, ORG_ACCESS_ROLE)
    external = org.external_accounts[1]
    (assumed,) = records(story, "AssumeRole")
    identity = assumed["userIdentity"]
    assert identity["type"] == "AWSAccount"
    assert "accessKeyId" not in identity and "arn" not in identity
    assert identity["accountId"] == external
    assert identity["principalId"].startswith("AIDA")
    assert assumed["recipientAccountId"] == org.prod
    assert assumed["sharedEventID"]
    assert assumed["requestParameters"]["roleArn"] == role.arn
    (update,) = records(story, "UpdateAssumeRolePolicy")
    assert 3600 <= time_of(story, assumed) - time_of(story, update) <= 4 * 3600 + 120


def test_backdoor_session_is_used_from_outside_and_resolves_to_the_outside_account(
    org: Organization, world: World, tmp_path: Path
) -> None:
    story = played(world, "trust-policy-backdoor")
    (assumed,) = records(story, "AssumeRole")
    key = assumed["responseElements"]["credentials"]["accessKeyId"]
    uses = [r for r in records(story) if r["userIdentity"].get("accessKeyId") == key]
    assert {r["eventName"] for r in uses} == {"GetCallerIdentity", "ListBuckets", "ListRoles"}
    assert all(r["sourceIPAddress"] == assumed["sourceIPAddress"] for r in uses)
    assert all(r["recipientAccountId"] == org.prod for r in uses)
    assert key in story.keys
    case_path, _ = ingest_calls(story.events, tmp_path)
    hop = open_case(case_path).lineage()[key]
    assert hop.method == "issuing-event"
    assert hop.event_id == assumed["eventID"]
    assert hop.issuer_key is None
    assert org.external_accounts[1] in (hop.issuer or "")
