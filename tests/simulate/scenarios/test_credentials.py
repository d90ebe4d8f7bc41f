"""The credential attacks: each does what makes it the attack (test_all_scenarios checks what all must do)."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

import pytest

from graphtrail.simulate.org import AWS_EC2_PREFIXES, Organization
from graphtrail.simulate.records import Timed
from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.scenarios.credentials import SCENARIOS
from graphtrail.simulate.truth import Story
from graphtrail.simulate.workloads import workload_session
from graphtrail.simulate.world import World
from tests.simulate.conftest import DAY, SPAN_START, START, ingest_calls, open_case, played


def _named(story: Story, name: str) -> list[Timed]:
    return [call for call in story.events if call.record["eventName"] == name]


def _aws_address(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(p) for prefixes in AWS_EC2_PREFIXES.values() for p in prefixes)


def test_the_module_offers_the_five_credential_attacks_in_order() -> None:
    assert [spec.name for spec in SCENARIOS] == ["leaked-ci-key", "stolen-instance-credentials",
                                                 "root-console-takeover", "federation-token-persistence",
                                                 "login-profile-backdoor"]  # fmt: skip
    assert all(spec.kind == "attack" and spec.findings for spec in SCENARIOS)


@pytest.mark.parametrize("spec", SCENARIOS, ids=lambda spec: spec.name)
def test_attackers_call_only_from_outside_aws_and_the_organisation(
    world: World, org: Organization, spec: ScenarioSpec
) -> None:
    story = played(world, spec.name)
    own = {ip for user in org.users.values() for ip in user.ips} | {w.ip for w in org.workloads}
    own |= {person.ip for person in org.people}
    assert story.ips
    assert not story.ips & own
    assert not any(_aws_address(ip) for ip in story.ips)


@pytest.mark.parametrize("spec", SCENARIOS, ids=lambda spec: spec.name)
def test_attacker_keys_are_keys_the_story_shows_in_use_or_minted(world: World, spec: ScenarioSpec) -> None:
    story = played(world, spec.name)
    used = {call.record["userIdentity"].get("accessKeyId") for call in story.events}
    minted = {
        key
        for call in story.events
        for block in ("accessKey", "credentials")
        if (key := ((call.record["responseElements"] or {}).get(block) or {}).get("accessKeyId"))
    }
    assert story.keys
    assert story.keys <= used | minted


# --- attack 1: leaked-ci-key -------------------------------------------------------------------------------------


def test_leaked_ci_key_plants_a_user_whose_new_key_is_used_from_a_second_address(
    world: World, org: Organization
) -> None:
    story = played(world, "leaked-ci-key")
    ci = org.users["ci-deployer"]
    (created,) = _named(story, "CreateAccessKey")
    new_key = created.record["responseElements"]["accessKey"]["accessKeyId"]
    assert created.record["userIdentity"]["accessKeyId"] == ci.key
    assert new_key in story.keys
    later = [call for call in story.events if call.record["userIdentity"].get("accessKeyId") == new_key]
    assert later and all(call.time > created.time for call in later)
    assert {call.record["sourceIPAddress"] for call in later}.isdisjoint({created.record["sourceIPAddress"]})
    assert any("errorCode" in call.record for call in story.events)  # the recon burst is mostly denied


# --- attack 2: stolen-instance-credentials ----------------------------------------------------------------------


@pytest.mark.parametrize("offset", [30, 1234, 3500], ids=["hour-start", "mid-hour", "hour-end"])
def test_stolen_instance_key_is_the_instance_session_and_used_while_valid(world: World, offset: int) -> None:
    start = SPAN_START + DAY + 14 * 3600 + offset
    story = played(world, "stolen-instance-credentials", start)
    keys = {call.record["userIdentity"]["accessKeyId"] for call in story.events}
    assert len(keys) == 1
    (key,) = keys
    instance = story.events[0].record["userIdentity"]["principalId"].split(":")[1]
    server = next(w for w in world.org.workloads if w.name == instance)
    assert server.kind == "ec2" and server.account == world.org.prod and server.role.name == "app-server"
    issued = workload_session(world, server, start - start % 3600)
    assert issued.key == key
    assert all(issued.created < call.time < issued.created + 6 * 3600 for call in story.events)
    for call in story.events:
        identity = call.record["userIdentity"]
        assert identity["sessionContext"]["ec2RoleDelivery"] == "2.0"
        assert not _aws_address(call.record["sourceIPAddress"])


def test_stolen_instance_credentials_enumerate_then_bulk_read_the_data_lake(world: World, org: Organization) -> None:
    story = played(world, "stolen-instance-credentials")
    bucket = org.buckets["datalake"]
    assert [c.record["eventName"] for c in story.events[:2]] == ["GetCallerIdentity", "ListBuckets"]
    listings = _named(story, "ListObjects")
    reads = _named(story, "GetObject")
    assert listings and all(c.record["eventCategory"] == "Data" for c in listings + reads)
    assert all(c.record["requestParameters"]["bucketName"] == bucket for c in listings + reads)
    assert all(c.record["recipientAccountId"] == org.prod for c in reads)
    assert 80 <= len(reads) <= 150
    gaps = [b.time - a.time for a, b in itertools.pairwise(reads)]
    assert max(gaps) <= 10  # seconds apart: a sync, not a person
    assert all(c.record["additionalEventData"]["bytesTransferredOut"] > 0 for c in reads)


def test_stolen_instance_key_resolves_to_the_app_server_role_when_the_baseline_refresh_is_ingested(
    world: World, tmp_path: Path
) -> None:
    story = played(world, "stolen-instance-credentials")
    instance = story.events[0].record["userIdentity"]["principalId"].split(":")[1]
    server = next(w for w in world.org.workloads if w.name == instance)
    issued = workload_session(world, server, START - START % 3600)
    case_path, summary = ingest_calls(issued.calls + story.events, tmp_path)
    assert summary.records_rejected == 0
    case = open_case(case_path)
    lineage = case.lineage()[issued.key]
    assert lineage.method in ("issuing-event", "ec2-instance-profile")
    assert lineage.issuer == "ec2.amazonaws.com"
    assert lineage.event_id == issued.event_ids[0]
    session = f"arn:aws:sts::{server.account}:assumed-role/app-server/{server.name}"
    assert lineage.session_key == session
    actors = case.scalar("SELECT group_concat(DISTINCT actor) FROM events WHERE access_key=?", (issued.key,))
    assert actors == session


def test_stolen_instance_key_without_the_refresh_still_resolves_to_the_instance_profile(
    world: World, tmp_path: Path
) -> None:
    story = played(world, "stolen-instance-credentials")
    key = story.events[0].record["userIdentity"]["accessKeyId"]
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()[key]
    assert lineage.method == "ec2-instance-profile"
    assert lineage.issuer == "ec2.amazonaws.com"


# --- attack 7: root-console-takeover ----------------------------------------------------------------------------


def test_root_signs_in_without_mfa_from_an_attacker_address(world: World, org: Organization) -> None:
    story = played(world, "root-console-takeover")
    (login,) = _named(story, "ConsoleLogin")
    record = login.record
    assert record["userIdentity"]["type"] == "Root" and record["recipientAccountId"] == org.prod
    assert record["additionalEventData"]["MFAUsed"] == "No"
    assert record["responseElements"] == {"ConsoleLogin": "Success"}
    assert record["sourceIPAddress"] in story.ips
    assert record["sourceIPAddress"] not in {person.ip for person in org.people}


def test_root_creates_its_own_key_in_the_console_and_uses_it_from_another_address(
    world: World, org: Organization
) -> None:
    story = played(world, "root-console-takeover")
    (login,) = _named(story, "ConsoleLogin")
    (created,) = _named(story, "CreateAccessKey")
    record = created.record
    assert record["userIdentity"]["type"] == "Root"
    assert record["userIdentity"]["accessKeyId"].startswith("ASIA")
    assert record["sessionCredentialFromConsole"] == "true"
    assert record["requestParameters"] is None  # no userName: the caller's own key
    root_key = record["responseElements"]["accessKey"]["accessKeyId"]
    assert root_key.startswith("AKIA") and root_key in story.keys
    used = [c for c in story.events if c.record["userIdentity"].get("accessKeyId") == root_key]
    assert used[0].record["eventName"] == "GetCallerIdentity"
    assert all(c.time > created.time and c.record["userIdentity"]["type"] == "Root" for c in used)
    assert {c.record["sourceIPAddress"] for c in used} == {used[0].record["sourceIPAddress"]}
    assert used[0].record["sourceIPAddress"] != login.record["sourceIPAddress"]


def test_root_console_key_resolves_to_the_sign_in(world: World, tmp_path: Path) -> None:
    story = played(world, "root-console-takeover")
    (login,) = _named(story, "ConsoleLogin")
    (created,) = _named(story, "CreateAccessKey")
    console_key = created.record["userIdentity"]["accessKeyId"]
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()[console_key]
    assert lineage.method == "console-session"
    assert lineage.event_id == login.record["eventID"]
    assert lineage.issuer == login.record["userIdentity"]["arn"]


# --- attack 8: federation-token-persistence ---------------------------------------------------------------------


def test_reporting_key_mints_a_federation_token_with_an_allow_all_policy(world: World, org: Organization) -> None:
    story = played(world, "federation-token-persistence")
    user = org.users["reporting-svc"]
    (minted,) = _named(story, "GetFederationToken")
    record = minted.record
    assert record["userIdentity"]["accessKeyId"] == user.key
    assert record["sourceIPAddress"] not in user.ips
    assert '"Action": "*"' in record["requestParameters"]["policy"]
    assert record["responseElements"]["credentials"]["accessKeyId"] in story.keys


def test_federated_session_is_used_hours_later_from_another_address(world: World, org: Organization) -> None:
    story = played(world, "federation-token-persistence")
    (minted,) = _named(story, "GetFederationToken")
    key = minted.record["responseElements"]["credentials"]["accessKeyId"]
    used = [c for c in story.events if c.record["userIdentity"].get("accessKeyId") == key]
    assert used and all(c.record["userIdentity"]["type"] == "FederatedUser" for c in used)
    assert used[0].time - minted.time >= 3 * 3600
    assert used[-1].time - minted.time <= 12 * 3600  # the token's 12 hours
    assert {c.record["sourceIPAddress"] for c in used}.isdisjoint({minted.record["sourceIPAddress"]})
    (denied,) = [c for c in used if c.record["eventName"] == "ListUsers"]
    assert denied.record["errorCode"] == "AccessDenied" and denied.record["responseElements"] is None
    reads = [c for c in used if c.record["eventName"] == "GetObject"]
    assert reads and {c.record["requestParameters"]["bucketName"] for c in reads} == {org.buckets["scratch"]}
    assert {c.record["recipientAccountId"] for c in reads} == {org.dev}


def test_federated_key_is_attributed_to_the_reporting_user_key(world: World, org: Organization, tmp_path: Path) -> None:
    story = played(world, "federation-token-persistence")
    (minted,) = _named(story, "GetFederationToken")
    key = minted.record["responseElements"]["credentials"]["accessKeyId"]
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()[key]
    assert lineage.method == "issuing-event"
    assert lineage.issuer_key == org.users["reporting-svc"].key
    assert lineage.issuer == org.users["reporting-svc"].arn
    assert lineage.event_id == minted.record["eventID"]
    assert lineage.session_key == minted.record["responseElements"]["federatedUser"]["arn"]


# --- attack 9: login-profile-backdoor ---------------------------------------------------------------------------


def test_admin_key_resets_another_users_console_password(world: World, org: Organization) -> None:
    story = played(world, "login-profile-backdoor")
    admin, victim = org.users["ops-admin"], org.users["billing-viewer"]
    (create,) = _named(story, "CreateLoginProfile")
    (update,) = _named(story, "UpdateLoginProfile")
    for call in (create, update):
        assert call.record["userIdentity"]["accessKeyId"] == admin.key
        assert call.record["requestParameters"]["userName"] == victim.name
        assert call.record["sourceIPAddress"] not in admin.ips
    assert create.record["errorCode"] == "EntityAlreadyExistsException"  # billing-viewer already has a password
    assert "errorCode" not in update.record and update.time > create.time
    assert {s.target for s in story.steps if s.action.endswith("LoginProfile")} == {victim.arn}


def test_attacker_signs_in_as_the_backdoored_user_without_mfa_and_browses(world: World, org: Organization) -> None:
    story = played(world, "login-profile-backdoor")
    victim = org.users["billing-viewer"]
    (update,) = _named(story, "UpdateLoginProfile")
    (login,) = _named(story, "ConsoleLogin")
    assert login.time > update.time
    assert login.record["userIdentity"]["arn"] == victim.arn
    assert login.record["additionalEventData"]["MFAUsed"] == "No"
    assert login.record["sourceIPAddress"] == update.record["sourceIPAddress"]
    browsing = [c for c in story.events if c.time > login.time]
    assert browsing and all(c.record["userIdentity"]["arn"] == victim.arn for c in browsing)
    assert all(c.record.get("sessionCredentialFromConsole") == "true" for c in browsing)
    assert all(c.record["userIdentity"]["accessKeyId"].startswith("ASIA") for c in browsing)


def test_backdoored_users_console_key_resolves_to_the_attackers_sign_in(world: World, tmp_path: Path) -> None:
    story = played(world, "login-profile-backdoor")
    (login,) = _named(story, "ConsoleLogin")
    console_key = story.events[-1].record["userIdentity"]["accessKeyId"]
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()[console_key]
    assert lineage.method == "console-session"
    assert lineage.event_id == login.record["eventID"]
    assert lineage.source_ip == login.record["sourceIPAddress"]
