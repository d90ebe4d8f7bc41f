"""Benign look-alikes: the organisation's own people doing, on working hours and from their usual places and
clients, things that share an attack's event names. A good tool must not rank them as attacks.

Each decoy keeps exactly the facts that make it benign (the caller's own key, the corporate range, the
organisation's own backup account, a new colleague from the office) and otherwise looks like its attack.
"""

from __future__ import annotations

from graphtrail.arn import assumed_role_arn
from graphtrail.simulate import api, callers, sts
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.org import (
    BROWSER_UA,
    CLI_UA,
    CORPORATE_CIDR,
    DOMAIN,
    OFFICE_IPS,
    REGIONS,
    Person,
)
from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World

# Who plays each decoy (fixed by org.py's people) and when their working day has them at it.
KEY_ROTATION_USER = "cloud-admin"  # not ops-admin: attacks use that key after the rotation would disable it
SG_ADMIN = "Farid Haddad"  # AdministratorAccess, UTC+1
SNAPSHOT_ADMIN = "Ana Lima"  # AdministratorAccess, UTC-3, works from the office
NEW_EMPLOYEE_OFFSET = 1  # the new colleague joins the UTC+1 office
NEW_EMPLOYEE_NAMES = ("Jonas Weber", "Lea Dubois", "Marta Rossi", "Noah Fischer", "Sofia Lindqvist")
# A look around the console: pages the baseline's people open every day.
CONSOLE_BROWSING = (
    (api.EC2, "DescribeInstances"),
    (api.EC2, "DescribeSecurityGroups"),
    (api.EC2, "DescribeVpcs"),
    (api.EC2, "DescribeVolumes"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("monitoring.amazonaws.com", "DescribeAlarms"),
    ("cloudformation.amazonaws.com", "DescribeStacks"),
)


def person_named(world: World, name: str) -> Person:
    """One of the organisation's people, by name (the decoys' actors are fixed so their hours are known)."""
    for person in world.org.people:
        if person.name == name:
            return person
    raise KeyError(name)


def _sso_console_session(
    world: World, t: int, story: Story, person: Person, account: str, permission_set: str
) -> tuple[Caller, int]:
    """Identity Center into `account` as two steps of the story; returns the console caller and sign-in time."""
    signed_in = sts.sso_console_sign_in(world, t, person, account, permission_set)
    saml = callers.saml_user(person, world.org.saml_providers[account], account)
    role = world.org.sso_roles[(account, permission_set)]
    story.step(saml, signed_in.federation.calls, target=role.arn)
    session_arn = assumed_role_arn("aws", role.account, role.name, person.email)
    story.step(signed_in.console.at(user_agent=person.browser), signed_in.login, target=session_arn)
    return signed_in.console, signed_in.login.time


def admin_key_rotation(world: World, start: int, story: Story) -> None:
    """cloud-admin replaces their own key: create, switch to the new one, deactivate the old, delete it later."""
    user = world.org.users[KEY_ROTATION_USER]
    admin = callers.iam_user(user)
    t = start
    story.background(api.list_access_keys(world, t, admin, user.name))
    t += world.rng.randint(20, 90)
    made, new_key = api.create_access_key(world, t, admin, user.name)
    story.step(admin, made, target=new_key)
    rotated = callers.iam_user(user, key=new_key)
    t += world.rng.randint(60, 300)  # `aws configure` with the new key, then a check that it works
    story.step(rotated, api.get_caller_identity(world, t, rotated), target=user.arn)
    reads = []
    for source, name in ((api.IAM, "GetUser"), (api.IAM, "ListUsers"), (api.EC2, "DescribeInstances")):
        t += world.rng.randint(5, 60)
        reads.append(api.describe(world, t, rotated, name, source=source))
    t += world.rng.randint(5, 30)
    reads.append(api.list_access_keys(world, t, rotated, user.name))
    story.background(reads)
    t += world.rng.randint(60, 600)
    story.step(rotated, api.update_access_key(world, t, rotated, user.name, user.key, "Inactive"), target=user.key)
    t += world.rng.randint(2 * 3600, 4 * 3600)  # nothing broke: the old key goes for good
    story.background(api.list_access_keys(world, t, rotated, user.name))
    t += world.rng.randint(10, 60)
    story.step(rotated, api.delete_access_key(world, t, rotated, user.name, user.key), target=user.key)


def corporate_sg_rule(world: World, start: int, story: Story) -> None:
    """An administrator opens HTTPS and SSH on a prod security group to the offices' range, not the internet."""
    org = world.org
    person = person_named(world, SG_ADMIN)
    region = world.rng.choice(REGIONS)
    group = org.security_groups[(org.prod, region)]
    console, t = _sso_console_session(world, start, story, person, org.prod, "AdministratorAccess")
    t += world.rng.randint(20, 120)
    story.background(api.describe(world, t, console, "DescribeSecurityGroups", region=region))
    for port in (443, 22):
        t += world.rng.randint(15, 90)
        story.step(
            console, api.authorize_ingress(world, t, console, group, CORPORATE_CIDR, port, region=region), target=group
        )
    t += world.rng.randint(5, 30)
    story.background(api.describe(world, t, console, "DescribeSecurityGroupRules", region=region))


def backup_snapshot_share(world: World, start: int, story: Story) -> None:
    """An administrator shares a prod snapshot with the organisation's own backup account, from the office."""
    org = world.org
    person = person_named(world, SNAPSHOT_ADMIN)
    snapshot = org.snapshots[org.prod]
    console, t = _sso_console_session(world, start, story, person, org.prod, "AdministratorAccess")
    t += world.rng.randint(20, 120)
    story.background(api.describe(world, t, console, "DescribeSnapshots"))
    t += world.rng.randint(20, 90)
    story.step(console, api.share_snapshot(world, t, console, snapshot, org.backup), target=snapshot)
    t += world.rng.randint(3, 20)
    story.background(
        api.call(
            world,
            t,
            console,
            api.EC2,
            "DescribeSnapshotAttribute",
            params={"snapshotId": snapshot, "attribute": "createVolumePermission"},
        )
    )


def new_employee(world: World) -> Person:
    """A colleague who joined today: not in the organisation's people yet, at the office, in a browser."""
    taken = {person.name for person in world.org.people}
    name = world.rng.choice([name for name in NEW_EMPLOYEE_NAMES if name not in taken])
    first, last = name.lower().split()
    return Person(
        name=name,
        email=f"{first}.{last}@{DOMAIN}",
        utc_offset=NEW_EMPLOYEE_OFFSET,
        permission_set="ReadOnlyAccess",
        accounts=(world.org.dev,),
        ip=world.rng.choice(OFFICE_IPS),
        browser=world.rng.choice(BROWSER_UA),
        cli=world.rng.choice(CLI_UA),
        user_id=world.mint.uuid(),
    )


def new_employee_first_signin(world: World, start: int, story: Story) -> None:
    """A new colleague's first sign-in: read-only into dev through Identity Center, then a look around."""
    org = world.org
    person = new_employee(world)
    console, t = _sso_console_session(world, start, story, person, org.dev, "ReadOnlyAccess")
    browsing = []
    for source, name in world.rng.sample(CONSOLE_BROWSING, k=5):
        t += world.rng.randint(10, 240)
        browsing.append(api.describe(world, t, console, name, source=source))
    t += world.rng.randint(10, 240)
    browsing.append(api.list_buckets(world, t, console))
    story.step(console, browsing, target=f"account:{org.dev}", action="console-browsing")


SCENARIOS = [
    ScenarioSpec(
        name="admin-key-rotation",
        kind="decoy",
        title="An administrator rotates their own access key",
        hours=5,
        play=admin_key_rotation,
        description="cloud-admin, from their usual office address and CLI, creates a new access key for "
        "themselves, checks it with GetCallerIdentity and a few usual reads, deactivates the old key and deletes "
        "it a few hours later. CreateAccessKey's userName is the caller's own.",
        imitates="persistence:access-key-for-other-user",
        start_hour=10,  # cloud-admin's address is the UTC+1 office's
    ),
    ScenarioSpec(
        name="corporate-sg-rule",
        kind="decoy",
        title="An administrator opens a prod security group to the corporate network",
        hours=1,
        play=corporate_sg_rule,
        description="An AdministratorAccess person signs in to prod through Identity Center and opens ports 443 "
        f"and 22 on a security group to the offices' range {CORPORATE_CIDR}, not to 0.0.0.0/0.",
        imitates="defense-evasion:security-group-opened-to-internet",
        start_hour=13,  # 14:00 for Farid Haddad (UTC+1)
    ),
    ScenarioSpec(
        name="backup-snapshot-share",
        kind="decoy",
        title="A prod snapshot shared with the organisation's backup account",
        hours=1,
        play=backup_snapshot_share,
        description="An administrator, signed in through Identity Center from the office, adds the "
        "organisation's own backup account to a prod EBS snapshot's createVolumePermission.",
        imitates="exfiltration:snapshot-shared-externally",
        start_hour=14,  # 11:00 for Ana Lima (UTC-3)
    ),
    ScenarioSpec(
        name="new-employee-first-signin",
        kind="decoy",
        title="A new employee signs in for the first time",
        hours=1,
        play=new_employee_first_signin,
        description="Someone who joined today signs in through Identity Center from the office with "
        "ReadOnlyAccess in dev (ConsoleLogin succeeds; MFA is the identity provider's, so MFAUsed is No) and "
        "browses the console.",
        imitates="initial-access:first-seen-principal",
        start_hour=8,  # 09:00 at the UTC+1 office
    ),
]
