"""The decoys: benign look-alikes that play as real records, and keep the facts that make each one benign."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphtrail.simulate.org import (
    ATTACKER_PREFIXES,
    BROWSER_UA,
    CLI_UA,
    CONSOLE_UA,
    CORPORATE_CIDR,
    DOMAIN,
    OFFICE_IPS,
    Organization,
)
from graphtrail.simulate.scenarios.decoys import (
    KEY_ROTATION_USER,
    NEW_EMPLOYEE_OFFSET,
    SCENARIOS,
    SG_ADMIN,
    SNAPSHOT_ADMIN,
)
from graphtrail.simulate.world import World
from tests.simulate.conftest import SPECS, ingest_calls, open_case, played, records

IMITATES = {
    "admin-key-rotation": "persistence:access-key-for-other-user",
    "corporate-sg-rule": "defense-evasion:security-group-opened-to-internet",
    "backup-snapshot-share": "exfiltration:snapshot-shared-externally",
    "new-employee-first-signin": "initial-access:first-seen-principal",
}
WORKING_DAY = range(8, 19)  # local hours someone is at work (a start at 18:xx still ends by 19:00)


def organisation_ips(org: Organization) -> set[str]:
    ips = set(OFFICE_IPS) | {person.ip for person in org.people}
    for user in org.users.values():
        ips.update(user.ips)
    return ips


def actor_offset(org: Organization, name: str) -> int:
    """The UTC offset of the working day each decoy's actor keeps."""
    people = {person.name: person for person in org.people}
    if name == "admin-key-rotation":
        # the rotating admin works from an office address: the people at that address set its hours.
        (offset,) = {p.utc_offset for p in org.people if p.ip in org.users[KEY_ROTATION_USER].ips}
        return offset
    if name == "corporate-sg-rule":
        return people[SG_ADMIN].utc_offset
    if name == "backup-snapshot-share":
        return people[SNAPSHOT_ADMIN].utc_offset
    return NEW_EMPLOYEE_OFFSET


def test_decoy_names_are_fixed_and_each_imitates_its_attack() -> None:
    assert {spec.name: spec.imitates for spec in SCENARIOS} == IMITATES
    assert all(spec.kind == "decoy" and not spec.findings for spec in SCENARIOS)
    assert all(spec.story().as_dict()["imitates"] == IMITATES[spec.name] for spec in SCENARIOS)


@pytest.mark.parametrize("name", sorted(IMITATES))
def test_decoy_starts_and_ends_inside_its_actors_working_day(org: Organization, name: str) -> None:
    spec = SPECS[name]
    assert spec.start_hour is not None
    offset = actor_offset(org, name)
    assert (spec.start_hour + offset) % 24 in WORKING_DAY
    assert (spec.start_hour + offset + spec.hours) % 24 in WORKING_DAY


@pytest.mark.parametrize("name", sorted(IMITATES))
def test_decoy_uses_only_organisation_addresses_accounts_and_clients(
    org: Organization, world: World, name: str
) -> None:
    story = played(world, name)
    accounts = {account.id for account in org.accounts}
    clients = {*BROWSER_UA, *CLI_UA, CONSOLE_UA, *(user.user_agent for user in org.users.values())}
    for record in records(story):
        ip = record["sourceIPAddress"]
        assert ip in organisation_ips(org)
        assert not ip.startswith(ATTACKER_PREFIXES)
        assert record["userAgent"] in clients
        assert record["recipientAccountId"] in accounts
        assert "errorCode" not in record and "errorMessage" not in record


# --- admin-key-rotation ----------------------------------------------------------------------------------------


def test_key_rotation_creates_a_key_for_the_callers_own_user(org: Organization, world: World) -> None:
    story = played(world, "admin-key-rotation")
    (created,) = records(story, "CreateAccessKey")
    caller = created["userIdentity"]
    assert caller["userName"] == KEY_ROTATION_USER
    assert created["requestParameters"]["userName"] == caller["userName"]
    assert created["responseElements"]["accessKey"]["userName"] == caller["userName"]
    assert caller["accessKeyId"] == org.users[KEY_ROTATION_USER].key


def test_key_rotation_switches_to_the_new_key_then_retires_the_old_one(org: Organization, world: World) -> None:
    user = org.users[KEY_ROTATION_USER]
    story = played(world, "admin-key-rotation")
    (created,) = records(story, "CreateAccessKey")
    new_key = created["responseElements"]["accessKey"]["accessKeyId"]
    assert new_key != user.key and new_key.startswith("AKIA")
    (check,) = records(story, "GetCallerIdentity")
    (update,) = records(story, "UpdateAccessKey")
    (delete,) = records(story, "DeleteAccessKey")
    assert check["userIdentity"]["accessKeyId"] == new_key
    assert update["userIdentity"]["accessKeyId"] == new_key
    assert update["requestParameters"] == {"userName": user.name, "accessKeyId": user.key, "status": "Inactive"}
    assert delete["requestParameters"] == {"userName": user.name, "accessKeyId": user.key}
    assert created["eventTime"] < check["eventTime"] < update["eventTime"] < delete["eventTime"]
    assert all(record["userIdentity"]["arn"] == user.arn for record in records(story))


def test_key_rotation_comes_from_the_users_usual_address_and_cli(org: Organization, world: World) -> None:
    user = org.users[KEY_ROTATION_USER]
    story = played(world, "admin-key-rotation")
    assert {record["sourceIPAddress"] for record in records(story)} <= set(user.ips)
    assert {record["userAgent"] for record in records(story)} == {user.user_agent}


# --- corporate-sg-rule -----------------------------------------------------------------------------------------


def test_sg_rule_opens_only_the_corporate_range_on_a_prod_group(org: Organization, world: World) -> None:
    story = played(world, "corporate-sg-rule")
    rules = records(story, "AuthorizeSecurityGroupIngress")
    prod_groups = {org.security_groups[(org.prod, region)] for region in ("us-east-1", "eu-west-1")}
    opened = set()
    for rule in rules:
        (permission,) = rule["requestParameters"]["ipPermissions"]["items"]
        cidrs = {item["cidrIp"] for item in permission["ipRanges"]["items"]}
        assert cidrs == {CORPORATE_CIDR}
        assert "0.0.0.0/0" not in cidrs
        assert rule["responseElements"]["securityGroupRuleSet"]["items"][0]["cidrIpv4"] == CORPORATE_CIDR
        assert rule["requestParameters"]["groupId"] in prod_groups
        assert rule["recipientAccountId"] == org.prod
        opened.add(permission["fromPort"])
    assert opened == {443, 22}


def test_sg_rule_is_made_in_an_identity_center_admin_console_session(
    org: Organization, world: World, tmp_path: Path
) -> None:
    story = played(world, "corporate-sg-rule")
    admin_role = org.sso_roles[(org.prod, "AdministratorAccess")]
    (saml,) = records(story, "AssumeRoleWithSAML")
    assert saml["requestParameters"]["roleArn"] == admin_role.arn
    assert saml["requestParameters"]["principalArn"] == org.saml_providers[org.prod]
    session_key = saml["responseElements"]["credentials"]["accessKeyId"]
    for rule in records(story, "AuthorizeSecurityGroupIngress"):
        assert rule["userIdentity"]["accessKeyId"] == session_key
        assert rule["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == admin_role.arn
        assert rule["sessionCredentialFromConsole"] == "true"
    case_path, _ = ingest_calls(story.events, tmp_path)
    lineage = open_case(case_path).lineage()[session_key]
    assert (lineage.method, lineage.via) == ("issuing-event", "AssumeRoleWithSAML")


# --- backup-snapshot-share -------------------------------------------------------------------------------------


def test_snapshot_is_shared_only_with_the_organisations_backup_account(org: Organization, world: World) -> None:
    story = played(world, "backup-snapshot-share")
    assert org.backup in {account.id for account in org.accounts}
    assert org.backup not in org.external_accounts and org.backup != org.prod
    (share,) = records(story, "ModifySnapshotAttribute")
    params = share["requestParameters"]
    assert params["snapshotId"] == org.snapshots[org.prod]
    assert params["createVolumePermission"]["add"]["items"] == [{"userId": org.backup}]
    assert share["recipientAccountId"] == org.prod


def test_snapshot_is_shared_by_an_admin_from_the_office(org: Organization, world: World) -> None:
    story = played(world, "backup-snapshot-share")
    (share,) = records(story, "ModifySnapshotAttribute")
    assert share["sourceIPAddress"] in OFFICE_IPS
    issuer = share["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert issuer == org.sso_roles[(org.prod, "AdministratorAccess")].arn


# --- new-employee-first-signin ---------------------------------------------------------------------------------


def test_new_employee_is_someone_new_at_the_office(org: Organization, world: World) -> None:
    story = played(world, "new-employee-first-signin")
    (saml,) = records(story, "AssumeRoleWithSAML")
    email = saml["requestParameters"]["roleSessionName"]
    assert email.endswith("@" + DOMAIN)
    assert email not in {person.email for person in org.people}
    assert saml["responseElements"]["subject"] not in {person.user_id for person in org.people}
    assert saml["requestParameters"]["roleArn"] == org.sso_roles[(org.dev, "ReadOnlyAccess")].arn
    assert {record["sourceIPAddress"] for record in records(story)} <= set(OFFICE_IPS)


def test_new_employee_console_login_succeeds_without_mfa_as_saml_does(world: World) -> None:
    story = played(world, "new-employee-first-signin")
    (saml,) = records(story, "AssumeRoleWithSAML")
    (login,) = records(story, "ConsoleLogin")
    assert login["responseElements"] == {"ConsoleLogin": "Success"}
    assert "errorMessage" not in login
    assert login["additionalEventData"]["MFAUsed"] == "No"
    assert login["userIdentity"]["type"] == "AssumedRole"
    assert login["userIdentity"]["arn"] == saml["responseElements"]["assumedRoleUser"]["arn"]


def test_new_employee_only_browses_after_signing_in(world: World) -> None:
    story = played(world, "new-employee-first-signin")
    (login,) = records(story, "ConsoleLogin")
    browsing = [r for r in records(story) if r["eventName"] not in ("AssumeRoleWithSAML", "ConsoleLogin")]
    assert len(browsing) >= 5
    assert all(record["readOnly"] and record["eventTime"] >= login["eventTime"] for record in browsing)
    assert all(record["sessionCredentialFromConsole"] == "true" for record in browsing)
