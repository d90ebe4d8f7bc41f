"""Attacks that blind the defenders or open the estate: logging and detection torn down, resources exposed."""

from __future__ import annotations

import dataclasses

from graphtrail.arn import s3_bucket_arn
from graphtrail.simulate import api, callers, sts
from graphtrail.simulate.org import HOME_REGION, REGIONS, attacker_ip
from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World

KALI_CLI_UA = (
    "aws-cli/2.17.50 md/awscrt#0.21.5 ua/2.0 os/linux#6.8.11-amd64 md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython md/installer#source md/distrib#kali.2024 md/prompt#off"
)
LINUX_FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REMOTE_ACCESS_PORTS = (22, 3389)
OPEN_TO_ALL = "0.0.0.0/0"


def defense_evasion(world: World, start: int, story: Story) -> None:
    """ops-admin's key, from outside, blinds the organisation: data events off, trail stopped, GuardDuty gone."""
    org = world.org
    ops = org.users["ops-admin"]
    thief = callers.iam_user(ops, ip=attacker_ip(world.rng, 1), user_agent=KALI_CLI_UA)
    trail = api.trail_arn_of(org.management)
    t = start
    story.step(thief, api.get_caller_identity(world, t, thief), target=ops.arn)
    t += world.rng.randint(10, 60)
    recon = [api.describe_trails(world, t, thief)]
    t += world.rng.randint(2, 8)
    recon.append(api.call(world, t, thief, api.CLOUDTRAIL, "GetEventSelectors", params={"trailName": trail}))
    for region in REGIONS:
        t += world.rng.randint(2, 8)
        recon.append(api.describe(world, t, thief, "ListDetectors", region=region, source=api.GUARDDUTY))
    story.step(thief, recon, target=f"account:{org.management}", action="recon")

    t += world.rng.randint(60, 300)
    story.step(thief, api.put_event_selectors(world, t, thief, trail, data_events=False), target=trail)
    t += world.rng.randint(10, 60)
    story.step(thief, api.stop_logging(world, t, thief, trail), target=trail)
    for region in REGIONS:
        detector = org.detectors[(org.management, region)]
        t += world.rng.randint(10, 60)
        story.step(
            thief,
            api.delete_detector(world, t, thief, detector, region=region),
            target=f"arn:aws:guardduty:{region}:{org.management}:detector/{detector}",
        )
    t += world.rng.randint(30, 180)
    story.step(thief, api.delete_trail(world, t, thief, trail), target=trail)


def exposure(world: World, start: int, story: Story) -> None:
    """An administrator's SSO identity, signed in from outside, opens prod: SSH/RDP, a snapshot, a public bucket."""
    org = world.org
    admin = world.rng.choice(org.people_with("AdministratorAccess", org.prod))
    ip = attacker_ip(world.rng, 3)
    impostor = dataclasses.replace(admin, ip=ip, browser=LINUX_FIREFOX_UA)  # phished portal credentials
    sso_role, provider = org.sso_roles[(org.prod, admin.permission_set)], org.saml_providers[org.prod]
    signed_in = sts.assume_role_with_saml(world, start, impostor, sso_role, provider)
    story.step(callers.saml_user(impostor, provider, org.prod), signed_in.calls, target=sso_role.arn)
    story.attacker_key(signed_in.key)
    session = signed_in.caller(ip=ip, user_agent=KALI_CLI_UA)

    region = world.rng.choice(REGIONS)
    group = org.security_groups[(org.prod, region)]
    t = start + world.rng.randint(120, 900)
    story.step(session, api.describe(world, t, session, "DescribeSecurityGroups", region=region), target=group)
    for port in REMOTE_ACCESS_PORTS:
        t += world.rng.randint(10, 60)
        story.step(
            session, api.authorize_ingress(world, t, session, group, OPEN_TO_ALL, port, region=region), target=group
        )

    snapshot = org.snapshots[org.prod]
    t += world.rng.randint(60, 400)
    story.step(
        session,
        api.share_snapshot(world, t, session, snapshot, org.external_accounts[0], region=HOME_REGION),
        target=snapshot,
    )

    bucket = org.buckets["assets"]
    t += world.rng.randint(60, 400)
    story.step(session, api.put_bucket_policy(world, t, session, bucket, "*", org.prod), target=s3_bucket_arn(bucket))


SCENARIOS = [
    ScenarioSpec(
        name="defense-evasion",
        kind="attack",
        title="ops-admin key from an outside address drops data events, stops and deletes the trail, kills GuardDuty",
        hours=1,  # short, so it can start late: nothing after it is logged by the organisation trail
        play=defense_evasion,
        description="The management account's ops-admin access key is used from an attacker address: "
        "GetCallerIdentity, DescribeTrails/GetEventSelectors/ListDetectors, PutEventSelectors without data "
        "events on the organisation trail, StopLogging, GuardDuty DeleteDetector in both Regions, DeleteTrail. "
        "It is played on the last day. The simulated trail keeps recording after StopLogging (as the accounts' "
        "event history would), so the later steps stay visible.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "defense-evasion:data-events-dropped",
            "defense-evasion:cloudtrail-stopped",
            "defense-evasion:guardduty-disabled",
            "defense-evasion:trail-deleted",
        ),
    ),
    ScenarioSpec(
        name="exposure",
        kind="attack",
        title="Admin SSO sign-in from an outside address opens SSH/RDP to the internet, shares a snapshot, makes a "
        "bucket public",
        hours=1,
        play=exposure,
        description="An AdministratorAccess person's Identity Center identity signs in to prod from an attacker "
        "address, then AuthorizeSecurityGroupIngress opens 22 and 3389 to 0.0.0.0/0, ModifySnapshotAttribute "
        "shares an EBS snapshot with an outside account, and PutBucketPolicy grants Principal * on the web "
        "assets bucket.",
        findings=(
            "initial-access:sso-sign-in-from-new-ip",
            "defense-evasion:security-group-opened-to-internet",
            "exfiltration:snapshot-shared-externally",
            "exfiltration:bucket-made-public",
        ),
    ),
]
