"""Attacks that start with, or end in, stolen or planted credentials."""

from __future__ import annotations

import dataclasses
import json

from graphtrail.arn import s3_bucket_arn
from graphtrail.simulate import api, callers, sts, workloads
from graphtrail.simulate.ids import iso_time
from graphtrail.simulate.org import REGIONS, IamUser, attacker_ip
from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World

# What a key-checking script tries first: cheap reads across services, most of them denied to a CI user.
RECON_CALLS = (
    (api.IAM, "ListUsers"),
    (api.IAM, "ListRoles"),
    (api.IAM, "GetAccountAuthorizationDetails"),
    (api.IAM, "ListAttachedUserPolicies"),
    (api.EC2, "DescribeInstances"),
    (api.EC2, "DescribeSecurityGroups"),
    (api.S3, "ListBuckets"),
    (api.SECRETS, "ListSecrets"),
    (api.KMS, "ListKeys"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("rds.amazonaws.com", "DescribeDBInstances"),
    ("organizations.amazonaws.com", "DescribeOrganization"),
)
PYTHON_UA = (
    "Boto3/1.35.54 md/Botocore#1.35.54 ua/2.0 os/linux#6.11.2-amd64 md/arch#x86_64 lang/python#3.12.7 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.54"
)
KALI_UA = (
    "aws-cli/2.22.2 md/awscrt#0.22.0 ua/2.0 os/linux#6.11.2-amd64 md/arch#x86_64 lang/python#3.12.7 "
    "md/pyimpl#CPython md/distrib#kali.2024 md/prompt#off md/command#iam.create-access-key"
)


def leaked_ci_key(world: World, start: int, story: Story) -> None:
    """The CI user's long-term key, leaked, is used from an address CI never uses; persistence follows."""
    org = world.org
    ci = org.users["ci-deployer"]
    ip, second_ip = attacker_ip(world.rng, 0), attacker_ip(world.rng, 1)
    thief = callers.iam_user(ci, ip=ip, user_agent=PYTHON_UA)
    t = start
    story.step(thief, api.get_caller_identity(world, t, thief), target=ci.arn)
    burst = []
    for source, name in RECON_CALLS:
        t += world.rng.randint(1, 4)
        allowed = name in ("ListBuckets", "DescribeInstances")
        burst.append(api.describe(world, t, thief, name, source=source, fail=not allowed))
    story.step(thief, burst, target=f"account:{ci.account}", action="recon")
    t += world.rng.randint(60, 300)
    new_user = "svc-" + world.mint.name_suffix(6).lower()
    created, new_arn = api.create_user(world, t, thief, new_user)
    story.step(thief, created, target=new_arn)
    t += world.rng.randint(5, 30)
    story.step(thief, api.attach_user_policy(world, t, thief, new_user), target=new_arn)
    t += world.rng.randint(5, 30)
    made, new_key = api.create_access_key(world, t, thief.at(user_agent=KALI_UA), new_user)
    story.step(thief, made, target=new_key)
    story.attacker_key(new_key)
    user_id = created.record["responseElements"]["user"]["userId"]
    planted = IamUser(ci.account, new_user, user_id, new_key, (second_ip,), PYTHON_UA)
    backdoor_user = callers.iam_user(planted)
    t += world.rng.randint(600, 3600)
    story.step(backdoor_user, api.get_caller_identity(world, t, backdoor_user), target=new_arn)
    for name in ("ListUsers", "ListRoles"):
        t += world.rng.randint(2, 10)
        story.step(
            backdoor_user, api.describe(world, t, backdoor_user, name, source=api.IAM), target=f"account:{ci.account}"
        )


# The attackers' own tools: a stock AWS CLI (it names each command in the agent), a Go SDK script, a browser.
ATTACKER_CLI = (
    "aws-cli/2.22.2 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-48-generic md/arch#x86_64 lang/python#3.12.7 "
    "md/pyimpl#CPython md/installer#exe md/distrib#debian.12 md/prompt#off md/command#"
)
GO_SDK_UA = "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.33.0"
ATTACKER_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ALLOW_ALL_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
FEDERATED_NAMES = ("reporting-sync", "report-export", "tf-reporting")  # names that blend in with reporting-svc
DATALAKE_PREFIXES = ("orders/", "customers/", "payments/", "exports/")
ROOT_RECON_CALLS = (
    (api.IAM, "ListUsers"),
    (api.IAM, "ListRoles"),
    (api.SECRETS, "ListSecrets"),
    ("organizations.amazonaws.com", "DescribeOrganization"),
)
HOUR = 3600
DAY = 86_400


def _cli(command: str) -> str:
    """The attacker's CLI agent for one command (`md/command#s3.sync` gives the command away)."""
    return ATTACKER_CLI + command


def _object_key(world: World, prefix: str, day: int) -> str:
    """A Spark-style partitioned object key, as a data lake holds them."""
    part = world.rng.randint(0, 199)
    return f"{prefix}dt={iso_time(day)[:10]}/part-{part:05d}-{world.mint.uuid()}.c000.snappy.parquet"


def stolen_instance_credentials(world: World, start: int, story: Story) -> None:
    """An app server's instance-profile session, taken off the instance, is used from outside AWS to copy data.

    The key is the one AWS issued the instance for the hour (the baseline writes that AssumeRole); the thief
    calls only after it was issued and long before its six hours run out.
    """
    org = world.org
    servers = [w for w in org.workloads_of("ec2") if w.account == org.prod and w.role.name == "app-server"]
    server = world.rng.choice(servers)
    issued = workloads.workload_session(world, server, start - start % HOUR)
    story.attacker_key(issued.key)
    thief = workloads.workload_caller(
        issued, server, ip=attacker_ip(world.rng, 2), user_agent=_cli("sts.get-caller-identity")
    )
    t = max(start, issued.created) + world.rng.randint(30, 300)
    story.step(thief, api.get_caller_identity(world, t, thief), target=thief.principal)

    lister = thief.at(user_agent=_cli("s3.ls"))
    t += world.rng.randint(20, 90)
    story.step(lister, api.list_buckets(world, t, lister), target=f"account:{org.prod}")
    bucket = org.buckets["datalake"]
    bucket_arn = s3_bucket_arn(bucket)
    listings = []
    for prefix in ("", *DATALAKE_PREFIXES):
        t += world.rng.randint(3, 25)
        listings.append(api.list_objects(world, t, lister, bucket, org.prod, prefix))
    story.step(lister, listings, target=bucket_arn)

    syncer = thief.at(user_agent=_cli("s3.sync"))
    t += world.rng.randint(30, 180)
    chosen = world.rng.sample(DATALAKE_PREFIXES, 2)
    bulk = [
        api.list_objects(world, t + n, syncer, bucket, org.prod, prefix, delimiter=False)
        for n, prefix in enumerate(chosen)
    ]
    t += len(chosen)
    for _ in range(world.rng.randint(80, 150)):
        t += world.rng.randint(1, 6)
        key = _object_key(world, world.rng.choice(chosen), start - world.rng.randint(1, 90) * DAY)
        bulk.append(
            api.object_call(
                world, t, syncer, "GetObject", bucket, key, org.prod, size=world.rng.randint(200_000, 48_000_000)
            )
        )
    story.step(syncer, bulk, target=bucket_arn, action="bulk-download")


def root_console_takeover(world: World, start: int, story: Story) -> None:
    """The prod account's root signs in without MFA from an attacker address and mints itself an access key."""
    org = world.org
    account = org.prod
    ip, second_ip = attacker_ip(world.rng, 3), attacker_ip(world.rng, 4)
    signer = callers.root(account, ip=ip, user_agent=ATTACKER_BROWSER_UA, console=True)
    t = start
    story.step(signer, sts.console_login(world, t, signer, mfa=False), target=signer.principal)

    console = sts.console_session(world, signer, t)
    browsing = []
    for name in ("GetAccountSummary", "ListAccessKeys", "ListMFADevices"):
        t += world.rng.randint(3, 25)
        browsing.append(api.describe(world, t, console, name, source=api.IAM))
    story.step(console, browsing, target=f"account:{account}", action="console-browsing")
    t += world.rng.randint(20, 120)
    made, root_key = api.create_access_key(world, t, console)
    story.step(console, made, target=root_key)
    story.attacker_key(root_key)

    keyed = callers.root(account, ip=second_ip, user_agent=PYTHON_UA, key=root_key)
    t += world.rng.randint(600, 5400)
    story.step(keyed, api.get_caller_identity(world, t, keyed), target=keyed.principal)
    burst = []
    for source, name in ROOT_RECON_CALLS:
        t += world.rng.randint(1, 4)
        burst.append(api.describe(world, t, keyed, name, source=source))
    t += world.rng.randint(1, 4)
    burst.append(api.list_buckets(world, t, keyed))
    for region in REGIONS:
        t += world.rng.randint(1, 4)
        burst.append(api.describe(world, t, keyed, "DescribeInstances", region=region))
    story.step(keyed, burst, target=f"account:{account}", action="recon")


def federation_token_persistence(world: World, start: int, story: Story) -> None:
    """A stolen user key mints a federation token (12 h, outlives a key rotation); it is used hours later."""
    org = world.org
    user = org.users["reporting-svc"]
    ip, later_ip = attacker_ip(world.rng, 5), attacker_ip(world.rng, 1)
    thief = callers.iam_user(user, ip=ip, user_agent=GO_SDK_UA)
    t = start
    story.step(thief, api.get_caller_identity(world, t, thief), target=user.arn)
    t += world.rng.randint(20, 240)
    issued = sts.get_federation_token(world, t, thief, user, world.rng.choice(FEDERATED_NAMES), ALLOW_ALL_POLICY)
    story.step(thief, issued.calls, target=issued.key)
    story.attacker_key(issued.key)

    federated = issued.caller(ip=later_ip, user_agent=PYTHON_UA)
    t = issued.created + world.rng.randint(3 * HOUR, 8 * HOUR)
    story.step(federated, api.get_caller_identity(world, t, federated), target=federated.principal)
    t += world.rng.randint(5, 30)
    story.step(federated, api.list_buckets(world, t, federated), target=f"account:{user.account}")
    t += world.rng.randint(2, 10)
    story.step(
        federated,
        api.describe(world, t, federated, "ListUsers", source=api.IAM, fail=True),
        target=f"account:{user.account}",
    )
    bucket = org.buckets["scratch"]
    bucket_arn = s3_bucket_arn(bucket)
    t += world.rng.randint(10, 60)
    story.step(federated, api.list_objects(world, t, federated, bucket, org.dev), target=bucket_arn)
    reads = []
    for _ in range(world.rng.randint(6, 20)):
        t += world.rng.randint(2, 15)
        key = f"reports/{iso_time(start - world.rng.randint(1, 30) * DAY)[:10]}/{world.mint.name_suffix(10)}.csv"
        reads.append(
            api.object_call(
                world, t, federated, "GetObject", bucket, key, org.dev, size=world.rng.randint(4_000, 9_000_000)
            )
        )
    story.step(federated, reads, target=bucket_arn, action="bulk-download")


def login_profile_backdoor(world: World, start: int, story: Story) -> None:
    """An admin's stolen key resets another user's console password; the attacker then signs in as that user.

    billing-viewer already signs in to the console, so CreateLoginProfile fails (EntityAlreadyExists) and the
    attacker falls back to UpdateLoginProfile, as privilege-escalation tools do.
    """
    org = world.org
    admin = org.users["ops-admin"]
    victim = org.users["billing-viewer"]
    ip = attacker_ip(world.rng, 3)
    thief = callers.iam_user(admin, ip=ip, user_agent=_cli("sts.get-caller-identity"))
    t = start
    story.step(thief, api.get_caller_identity(world, t, thief), target=admin.arn)
    t += world.rng.randint(10, 60)
    lister = thief.at(user_agent=_cli("iam.list-users"))
    story.step(lister, api.describe(world, t, lister, "ListUsers", source=api.IAM), target=f"account:{admin.account}")
    t += world.rng.randint(20, 120)
    creator = thief.at(user_agent=_cli("iam.create-login-profile"))
    story.step(creator, api.create_login_profile(world, t, creator, victim.name, exists=True), target=victim.arn)
    t += world.rng.randint(10, 60)
    updater = thief.at(user_agent=_cli("iam.update-login-profile"))
    story.step(updater, api.update_login_profile(world, t, updater, victim.name), target=victim.arn)

    t += world.rng.randint(60, 900)
    # a password sign-in carries no key: victim's long-term key must not count as the attacker's
    signer = dataclasses.replace(
        callers.iam_user(victim, ip=ip, user_agent=ATTACKER_BROWSER_UA), console=True, access_key=None
    )
    story.step(signer, sts.console_login(world, t, signer, mfa=False), target=victim.arn)
    console = sts.console_session(world, signer, t)
    month = iso_time(start)[:8] + "01"
    browsing = [
        api.call(
            world,
            t + world.rng.randint(5, 40),
            console,
            "ce.amazonaws.com",
            "GetCostAndUsage",
            params={
                "timePeriod": {"start": month, "end": iso_time(start + DAY)[:10]},
                "granularity": "DAILY",
                "metrics": ["UnblendedCost"],
                "groupBy": [{"type": "DIMENSION", "key": "SERVICE"}],
            },
        )
    ]
    t = browsing[0].time
    for source, name in (
        (api.IAM, "ListUsers"),
        (api.S3, "ListBuckets"),
        ("organizations.amazonaws.com", "ListAccounts"),
        (api.EC2, "DescribeInstances"),
    ):
        t += world.rng.randint(5, 60)
        if source == api.S3:
            browsing.append(api.list_buckets(world, t, console, fail=True))
        else:
            browsing.append(api.describe(world, t, console, name, source=source, fail=True))
    story.step(console, browsing, target=f"account:{victim.account}", action="console-browsing")


SCENARIOS = [
    ScenarioSpec(
        name="leaked-ci-key",
        kind="attack",
        title="Leaked CI user key used from a new IP to create an admin backdoor user",
        hours=2,
        play=leaked_ci_key,
        description="ci-deployer's long-term key is used from an address outside the CI provider: "
        "GetCallerIdentity, a burst of mostly denied recon, CreateUser, AttachUserPolicy AdministratorAccess, "
        "CreateAccessKey for the new user, and that key used from a second address.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "discovery:recon-burst-with-denials",
            "persistence:new-iam-user",
            "privilege-escalation:admin-policy-attached",
            "persistence:access-key-for-other-user",
            "persistence:backdoor-key-used",
        ),
    ),
    ScenarioSpec(
        name="stolen-instance-credentials",
        kind="attack",
        title="EC2 instance-profile credentials used from outside AWS to copy the data lake",
        hours=1,
        play=stolen_instance_credentials,
        description="A prod app server's instance-profile session key (ec2RoleDelivery 2.0, issued by AWS for the "
        "hour) is used from an address outside AWS with the AWS CLI: GetCallerIdentity, ListBuckets, ListObjects "
        "across the data lake's prefixes, then an s3 sync of 80-150 objects (GetObject data events) seconds apart.",
        findings=(
            "credential-access:instance-credentials-used-outside-aws",
            "discovery:bucket-enumeration",
            "collection:bulk-s3-read",
        ),
    ),
    ScenarioSpec(
        name="root-console-takeover",
        kind="attack",
        title="Root console sign-in without MFA from a foreign address, then a root access key",
        hours=2,
        play=root_console_takeover,
        description="The prod account's root user signs in to the console without MFA from an attacker address, "
        "looks at its security credentials, creates a root access key (CreateAccessKey with no userName), and that "
        "key is used from a second attacker address: GetCallerIdentity and a burst of recon.",
        findings=(
            "initial-access:root-console-login-without-mfa",
            "persistence:root-access-key-created",
            "persistence:backdoor-key-used",
        ),
    ),
    ScenarioSpec(
        name="federation-token-persistence",
        kind="attack",
        title="Stolen user key mints a federation token that is used hours later from another address",
        hours=9,
        play=federation_token_persistence,
        description="reporting-svc's long-term key is used from an attacker address to call GetFederationToken "
        "with an allow-everything session policy; 3-8 hours later the federated session is used from a second "
        "address: GetCallerIdentity, ListBuckets, a denied ListUsers, and reads from the dev scratch bucket.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "persistence:federation-token",
            "defense-evasion:federated-session-used",
        ),
    ),
    ScenarioSpec(
        name="login-profile-backdoor",
        kind="attack",
        title="Admin key resets another user's console password; the attacker signs in as that user",
        hours=1,
        play=login_profile_backdoor,
        description="ops-admin's long-term key is used from an attacker address: ListUsers, CreateLoginProfile for "
        "billing-viewer (fails: it already has a password), UpdateLoginProfile for billing-viewer, then a console "
        "sign-in as billing-viewer from the same address without MFA and some console browsing, mostly denied.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "persistence:login-profile-for-other-user",
            "initial-access:console-login-as-backdoored-user",
        ),
    ),
]
