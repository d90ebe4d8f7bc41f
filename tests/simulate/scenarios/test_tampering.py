"""Attacks 5 and 6: logging and detection torn down in the management account, and prod opened to the world."""

from __future__ import annotations

from typing import Any

import pytest

from graphtrail.arn import s3_bucket_arn
from graphtrail.simulate.api import trail_arn_of
from graphtrail.simulate.org import ATTACKER_PREFIXES, REGIONS, Organization
from graphtrail.simulate.scenarios import ATTACK_ORDER
from graphtrail.simulate.scenarios.tampering import SCENARIOS
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World
from tests.simulate.conftest import SPECS, played, records

NAMES = ("defense-evasion", "exposure")


def in_order(story: Story) -> list[dict[str, Any]]:
    return [call.record for call in sorted(story.events, key=lambda call: call.time)]


# --- common ------------------------------------------------------------------------------------------------------


def test_tampering_attacks_have_their_fixed_names_and_findings() -> None:
    assert tuple(spec.name for spec in SCENARIOS) == NAMES
    assert all(spec.kind == "attack" and spec.name in ATTACK_ORDER for spec in SCENARIOS)
    assert {"defense-evasion:data-events-dropped", "defense-evasion:cloudtrail-stopped",
            "defense-evasion:guardduty-disabled", "defense-evasion:trail-deleted"} <= set(SPECS["defense-evasion"].findings)  # fmt: skip
    assert {"defense-evasion:security-group-opened-to-internet", "exfiltration:snapshot-shared-externally",
            "exfiltration:bucket-made-public"} <= set(SPECS["exposure"].findings)  # fmt: skip


def test_defense_evasion_is_short_so_it_can_run_last() -> None:
    assert SPECS["defense-evasion"].hours <= 2


@pytest.mark.parametrize("name", NAMES)
def test_tampering_attack_is_all_steps_with_no_background(world: World, name: str) -> None:
    story = played(world, name)
    assert story.event_ids
    assert {event_id for step in story.steps for event_id in step.event_ids} == story.event_ids


@pytest.mark.parametrize("name", NAMES)
def test_tampering_attack_comes_only_from_attacker_addresses(world: World, name: str) -> None:
    story = played(world, name)
    assert all(record["sourceIPAddress"].startswith(ATTACKER_PREFIXES) for record in records(story))
    assert all("errorCode" not in record for record in records(story))


# --- defense-evasion ---------------------------------------------------------------------------------------------


def test_defense_evasion_uses_the_ops_admin_key_in_the_management_account(org: Organization, world: World) -> None:
    story = played(world, "defense-evasion")
    ops = org.users["ops-admin"]
    for record in records(story):
        assert record["userIdentity"]["accessKeyId"] == ops.key
        assert record["userIdentity"]["arn"] == ops.arn
        assert record["recipientAccountId"] == org.management
        assert record["sourceIPAddress"] not in ops.ips
    assert ops.key in story.keys


def test_defense_evasion_drops_data_events_stops_logging_kills_guardduty_then_deletes_the_trail(
    org: Organization, world: World
) -> None:
    story = played(world, "defense-evasion")
    trail = trail_arn_of(org.management)
    changes = [r for r in in_order(story) if not r["readOnly"]]
    assert [r["eventName"] for r in changes] == ["PutEventSelectors", "StopLogging", "DeleteDetector",
                                                 "DeleteDetector", "DeleteTrail"]  # fmt: skip
    selectors, stop, *detectors, delete = changes
    assert selectors["requestParameters"]["trailName"] == trail
    assert all(not s["dataResources"] for s in selectors["requestParameters"]["eventSelectors"])
    assert stop["requestParameters"] == {"name": trail} == delete["requestParameters"]
    assert {(d["awsRegion"], d["requestParameters"]["detectorId"]) for d in detectors} == {
        (region, org.detectors[(org.management, region)]) for region in REGIONS
    }
    targets = {step.target for step in story.steps}
    assert trail in targets
    assert {
        f"arn:aws:guardduty:{r}:{org.management}:detector/{org.detectors[(org.management, r)]}" for r in REGIONS
    } <= targets


# --- exposure ----------------------------------------------------------------------------------------------------


def test_exposure_signs_an_admin_in_to_prod_from_an_attacker_address(org: Organization, world: World) -> None:
    story = played(world, "exposure")
    (saml,) = records(story, "AssumeRoleWithSAML")
    admin = next(p for p in org.people if p.email == saml["requestParameters"]["roleSessionName"])
    assert admin.permission_set == "AdministratorAccess"
    assert saml["requestParameters"]["roleArn"] == org.sso_roles[(org.prod, "AdministratorAccess")].arn
    assert saml["sourceIPAddress"] != admin.ip and saml["sourceIPAddress"].startswith(ATTACKER_PREFIXES)
    key = saml["responseElements"]["credentials"]["accessKeyId"]
    assert key in story.keys
    assert all(r["userIdentity"]["accessKeyId"] == key for r in records(story) if r is not saml)


def test_exposure_opens_ssh_and_rdp_to_the_internet_on_a_prod_group(org: Organization, world: World) -> None:
    story = played(world, "exposure")
    rules = records(story, "AuthorizeSecurityGroupIngress")
    ports = set()
    for rule in rules:
        (permission,) = rule["requestParameters"]["ipPermissions"]["items"]
        assert [item["cidrIp"] for item in permission["ipRanges"]["items"]] == ["0.0.0.0/0"]
        assert permission["fromPort"] == permission["toPort"]
        group = rule["requestParameters"]["groupId"]
        assert group == org.security_groups[(org.prod, rule["awsRegion"])]
        assert rule["recipientAccountId"] == org.prod
        ports.add(permission["fromPort"])
    assert ports == {22, 3389} and len(rules) == 2
    assert [step.target for step in story.steps if step.action == "AuthorizeSecurityGroupIngress"] == [group, group]


def test_exposure_shares_the_snapshot_and_makes_the_assets_bucket_public(org: Organization, world: World) -> None:
    story = played(world, "exposure")
    (share,) = records(story, "ModifySnapshotAttribute")
    assert share["requestParameters"]["snapshotId"] == org.snapshots[org.prod]
    assert share["requestParameters"]["createVolumePermission"]["add"]["items"] == [
        {"userId": org.external_accounts[0]}
    ]
    (policy,) = records(story, "PutBucketPolicy")
    bucket = org.buckets["assets"]
    assert policy["requestParameters"]["bucketName"] == bucket
    (statement,) = policy["requestParameters"]["bucketPolicy"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
    targets = {step.target for step in story.steps}
    assert {org.snapshots[org.prod], s3_bucket_arn(bucket)} <= targets
