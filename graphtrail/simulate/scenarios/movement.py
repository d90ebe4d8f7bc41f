"""Attacks that move between principals and accounts: role chains into data, and backdoored trust policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from graphtrail.arn import s3_bucket_arn
from graphtrail.simulate import api, callers, sts
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.org import IamUser, attacker_ip
from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World

# A script on a rented server: boto3 names its chained sessions botocore-session-<epoch>.
BOTO_UA = (
    "Boto3/1.35.71 md/Botocore#1.35.71 ua/2.0 os/linux#6.1.0-27-cloud-amd64 md/arch#x86_64 lang/python#3.11.2 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.71"
)
KALI_CLI_UA = (
    "aws-cli/2.17.50 md/awscrt#0.21.5 ua/2.0 os/linux#6.8.11-amd64 md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython md/installer#source md/distrib#kali.2024 md/prompt#off"
)
GO_SDK_UA = "aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/sts#1.33.2"
DATALAKE_TABLES = ("raw/orders", "raw/customers", "raw/payments", "curated/customer_360", "curated/invoices")
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"


def role_chain_exfiltration(world: World, start: int, story: Story) -> None:
    """A developer's SSO session, stolen, chains tooling -> prod deploy -> prod data-reader and drains the data lake."""
    org = world.org
    signed_in, t = _session_to_steal(world, start, story, "PowerUserAccess", org.tooling)

    ip = attacker_ip(world.rng, 2)
    stolen = signed_in.caller(ip=ip, user_agent=BOTO_UA)
    t += world.rng.randint(600, 1800)  # soon after the theft, while the session is live
    story.step(stolen, api.get_caller_identity(world, t, stolen), target=stolen.principal)

    deploy_role = org.role(org.prod, "deploy")
    t += world.rng.randint(40, 240)
    deploy = sts.assume_role(world, t, stolen, deploy_role, f"botocore-session-{t}")
    story.step(stolen, deploy.calls, target=deploy_role.arn)  # both copies: tooling's and prod's
    deployer = deploy.caller(ip=ip, user_agent=BOTO_UA)

    data_role = org.role(org.prod, "data-reader")
    t += world.rng.randint(20, 120)
    data = sts.assume_role(world, t, deployer, data_role, f"botocore-session-{t}")
    story.step(deployer, data.calls, target=data_role.arn)
    reader = data.caller(ip=ip, user_agent=BOTO_UA)

    bucket = org.buckets["datalake"]
    bucket_arn = s3_bucket_arn(bucket)
    t += world.rng.randint(5, 40)
    # one level of the bucket, a few table prefixes: a small response
    listing = api.list_objects(world, t, reader, bucket, org.prod, listing_bytes=(600, 2_400))
    story.step(reader, listing, target=bucket_arn)
    burst = []
    for _ in range(world.rng.randint(60, 120)):
        t += world.rng.randint(1, 6)
        key = _datalake_key(world, start)
        size = world.rng.randint(2_000_000, 96_000_000)
        burst.append(api.object_call(world, t, reader, "GetObject", bucket, key, org.prod, size=size))
    story.step(reader, burst, target=bucket_arn, action="bulk-GetObject")

    # Replication needs a role S3 can assume: the deploy session makes one named like the console's.
    external = org.external_accounts[0]
    replication_role = f"s3crr_role_for_{bucket}"
    destination = f"dl-archive-{world.mint.name_suffix(10).lower()}"
    t += world.rng.randint(120, 600)
    created, created_arn = api.create_role(
        world, t, deployer, replication_role, "/service-role/", {"Service": "s3.amazonaws.com"}
    )
    story.step(deployer, created, target=created_arn)
    t += world.rng.randint(3, 20)
    policy = _replication_policy(bucket, destination)
    story.step(
        deployer, api.put_role_policy(world, t, deployer, replication_role, "replication", policy), target=created_arn
    )
    t += world.rng.randint(10, 60)
    replicated = api.put_bucket_replication(world, t, deployer, bucket, org.prod, destination, external, created_arn)
    story.step(deployer, replicated, target=bucket_arn)


def trust_policy_backdoor(world: World, start: int, story: Story) -> None:
    """A stolen admin session lets an outside account assume OrganizationAccountAccessRole, which it later does."""
    org = world.org
    signed_in, t = _session_to_steal(world, start, story, "AdministratorAccess", org.prod)

    stolen = signed_in.caller(ip=attacker_ip(world.rng, 4), user_agent=KALI_CLI_UA)
    role = org.role(org.prod, ORG_ACCESS_ROLE)
    external = org.external_accounts[1]
    t += world.rng.randint(600, 1800)
    story.step(stolen, api.get_caller_identity(world, t, stolen), target=stolen.principal)
    t += world.rng.randint(10, 60)
    story.step(stolen, api.get_role(world, t, stolen, role.name), target=role.arn)
    t += world.rng.randint(20, 120)
    trusted = [f"arn:aws:iam::{org.management}:root", f"arn:aws:iam::{external}:root"]
    story.step(stolen, api.update_assume_role_policy(world, t, stolen, role.name, trusted), target=role.arn)

    # Hours later, from the attacker's own account: prod's trail gets only the role owner's copy.
    outsider_ip = attacker_ip(world.rng, 5)
    outsider_user = IamUser(
        external,
        "ops",
        world.mint.unique_id("AIDA", external),
        world.mint.access_key(external, temporary=False),
        (outsider_ip,),
        GO_SDK_UA,
    )
    outsider = callers.iam_user(outsider_user)
    t += world.rng.randint(3600, 4 * 3600)
    assumed = sts.assume_role(world, t, outsider, role, f"aws-go-sdk-{t}{world.rng.randint(0, 999_999_999):09d}")
    owner_copy = [call for call in assumed.calls if call.record["recipientAccountId"] == role.account]
    story.step(outsider, owner_copy, target=role.arn)

    backdoor = assumed.caller(ip=outsider_ip, user_agent=KALI_CLI_UA)
    t += world.rng.randint(20, 180)
    story.step(backdoor, api.get_caller_identity(world, t, backdoor), target=backdoor.principal)
    t += world.rng.randint(5, 40)
    story.step(backdoor, api.list_buckets(world, t, backdoor), target=f"account:{org.prod}")
    t += world.rng.randint(5, 40)
    story.step(backdoor, api.describe(world, t, backdoor, "ListRoles", source=api.IAM), target=f"account:{org.prod}")


def _session_to_steal(
    world: World, start: int, story: Story, permission_set: str, account: str
) -> tuple[sts.Issued, int]:
    """Someone's Identity Center session in `account`, which the attacker lifts from their credential cache.

    Its owner uses it first, from their own address, as background; returns the session and when that use ends.
    """
    person = world.rng.choice(world.org.people_with(permission_set, account))
    role, provider = world.org.sso_roles[(account, permission_set)], world.org.saml_providers[account]
    signed_in = sts.assume_role_with_saml(world, start, person, role, provider)
    story.background(signed_in.calls)
    story.attacker_key(signed_in.key)
    return signed_in, _everyday_work(world, start, signed_in.caller(ip=person.ip, user_agent=person.cli), story)


def _everyday_work(world: World, start: int, owner: Caller, story: Story) -> int:
    """The owner's own use of the session first, so the stolen key has a known address to differ from."""
    t = start
    for source, name in (
        (api.STS, "GetCallerIdentity"),
        (api.EC2, "DescribeInstances"),
        (api.S3, "ListBuckets"),
        (api.IAM, "ListRoles"),
    ):
        t += world.rng.randint(20, 300)
        if name == "ListBuckets":
            story.background(api.list_buckets(world, t, owner))
        else:
            story.background(api.describe(world, t, owner, name, source=source))
    return t


def _datalake_key(world: World, start: int) -> str:
    day = datetime.fromtimestamp(start, UTC) - timedelta(days=world.rng.randint(1, 90))
    table = world.rng.choice(DATALAKE_TABLES)
    return f"{table}/dt={day:%Y-%m-%d}/part-{world.rng.randint(0, 199):05d}-{world.mint.uuid()}-c000.snappy.parquet"


def _replication_policy(source: str, destination: str) -> dict[str, Any]:
    source_arn, destination_arn = s3_bucket_arn(source), s3_bucket_arn(destination)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arn},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                "Resource": f"{source_arn}/*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:ReplicateObject",
                    "s3:ReplicateDelete",
                    "s3:ReplicateTags",
                    "s3:ObjectOwnerOverrideToBucketOwner",
                ],
                "Resource": f"{destination_arn}/*",
            },
        ],
    }


SCENARIOS = [
    ScenarioSpec(
        name="role-chain-exfiltration",
        kind="attack",
        title="Stolen developer SSO session chains into prod's data role, reads the data lake and replicates it out",
        hours=2,
        play=role_chain_exfiltration,
        description="A PowerUserAccess developer's Identity Center session in the tooling account is used from an "
        "attacker address: AssumeRole into prod's deploy role (cross-account), AssumeRole into prod's data-reader "
        "role, ListObjects and a burst of GetObject on the data lake bucket, then a replication role is created "
        "and PutBucketReplication copies the bucket to a bucket in an outside account.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "lateral-movement:cross-account-role-chain",
            "collection:bulk-s3-read",
            "exfiltration:bucket-replication-to-external-account",
        ),
    ),
    ScenarioSpec(
        name="trust-policy-backdoor",
        kind="attack",
        title="OrganizationAccountAccessRole trust policy opened to an outside account, which then assumes it",
        hours=6,
        play=trust_policy_backdoor,
        description="An administrator's Identity Center session in prod is used from an attacker address to read "
        "and rewrite OrganizationAccountAccessRole's trust policy, adding an outside account's root. Hours later "
        "a principal of that account assumes the role (prod logs only the owner's AWSAccount copy) and uses the "
        "session for GetCallerIdentity, ListBuckets and ListRoles.",
        findings=(
            "initial-access:key-used-from-new-ip",
            "persistence:trust-policy-backdoor",
            "initial-access:external-account-assumed-role",
        ),
    ),
]
