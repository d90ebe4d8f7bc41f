"""The simulated organisation: accounts, people, IAM users, roles, workloads, buckets and the networks they
call from. Built once per seed; everything else (baseline, scenarios) only reads it.

Addresses: workloads call from the EC2 ranges AWS publishes for their Region; people from office and home
networks; attackers from ranges outside AWS. None of it is anyone's real infrastructure.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from functools import cached_property

from graphtrail.arn import role_arn, user_arn
from graphtrail.simulate.ids import IdMint

HOME_REGION = "us-east-1"
SECOND_REGION = "eu-west-1"
REGIONS = (HOME_REGION, SECOND_REGION)
DOMAIN = "northwind.example"
TRAIL_NAME = "org-trail"

# EC2 prefixes from AWS's published ranges, per Region (tests check they still are).
AWS_EC2_PREFIXES = {HOME_REGION: ("3.80.0.0/12", "54.160.0.0/13"), SECOND_REGION: ("34.240.0.0/13", "18.200.0.0/16")}
CORPORATE_CIDR = "62.210.16.0/24"  # the offices' egress: the range a decoy security-group rule opens to
OFFICE_IPS = ("62.210.16.10", "62.210.16.11", "62.210.16.12")
HOME_PREFIXES = ("81.2.69.", "213.87.141.", "201.17.120.", "41.77.9.", "24.48.97.")
CI_PROVIDER_PREFIX = "20.42.7."  # a hosted CI service's runners (not AWS)
ATTACKER_PREFIXES = ("185.220.101.", "45.155.205.", "91.240.118.", "194.26.29.", "5.188.206.", "103.251.167.")

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
)
CLI_UA = (
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off",
    "aws-cli/2.21.1 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-49-generic md/arch#x86_64 lang/python#3.12.6 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off",
)
CONSOLE_UA = "AWS Internal"
SDK_UA = {
    "ec2": "aws-sdk-java/2.29.6 Linux/6.1.115-126.197.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS "
    "Java/21.0.5 vendor/Amazon.com_Inc. md/internal exec-env/AWS_EC2 io/sync http/Apache cfg/retry-mode/legacy",
    "lambda": "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36",
    "ecs": "aws-sdk-go-v2/1.32.4 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.66.3",
    "ci": "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 "
    "md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/prompt#off",
    "backup": "rclone/v1.68.2",
    "terraform": "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.76.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.4 ua/2.1 os/linux lang/go#1.23.3",
}


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str  # management | tooling | prod | dev | backup | workload-N


@dataclass(frozen=True, slots=True)
class Role:
    account: str
    name: str
    path: str
    role_id: str  # AROA…

    @property
    def arn(self) -> str:
        return role_arn("aws", self.account, self.name, self.path)


@dataclass(frozen=True, slots=True)
class IamUser:
    account: str
    name: str
    user_id: str  # AIDA…
    key: str  # the long-term AKIA key it uses
    ips: tuple[str, ...]
    user_agent: str

    @property
    def arn(self) -> str:
        return user_arn("aws", self.account, self.name)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who signs in through Identity Center, on working hours in their time zone."""

    name: str
    email: str
    utc_offset: int  # hours
    permission_set: str
    accounts: tuple[str, ...]  # account ids they work in
    ip: str
    browser: str
    cli: str
    user_id: str  # the Identity Center user id (a UUID)


@dataclass(frozen=True, slots=True)
class Workload:
    """Compute that gets credentials from AWS: an EC2 instance, a Lambda function or an ECS task."""

    kind: str  # ec2 | lambda | ecs
    account: str
    region: str
    name: str  # instance id, function name, task id
    role: Role
    ip: str

    @property
    def service(self) -> str:
        return {"ec2": "ec2.amazonaws.com", "lambda": "lambda.amazonaws.com", "ecs": "ecs-tasks.amazonaws.com"}[
            self.kind
        ]


@dataclass
class Organization:
    org_id: str
    accounts: list[Account]
    people: list[Person] = field(default_factory=list)
    users: dict[str, IamUser] = field(default_factory=dict)  # by name
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (account, name)
    workloads: list[Workload] = field(default_factory=list)
    buckets: dict[str, str] = field(default_factory=dict)  # purpose -> bucket name
    kms_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, region) -> key id
    sso_roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (account, permission set)
    external_accounts: list[str] = field(default_factory=list)  # attacker-controlled, outside the org
    identity_store: str = ""
    saml_providers: dict[str, str] = field(default_factory=dict)  # account -> Identity Center's SAML provider ARN
    security_groups: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, region) -> sg id
    snapshots: dict[str, str] = field(default_factory=dict)  # account -> an EBS snapshot id (home Region)
    detectors: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, region) -> GuardDuty detector
    secrets: dict[str, str] = field(default_factory=dict)  # account -> a Secrets Manager secret ARN (home Region)

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    @cached_property
    def management(self) -> str:
        return self.account("management").id

    @cached_property
    def tooling(self) -> str:
        return self.account("tooling").id

    @cached_property
    def prod(self) -> str:
        return self.account("prod").id

    @cached_property
    def dev(self) -> str:
        return self.account("dev").id

    @cached_property
    def backup(self) -> str:
        """The organisation's own backup account (the management account when there is no separate one)."""
        try:
            return self.account("backup").id
        except KeyError:
            return self.management

    def role(self, account: str, name: str) -> Role:
        return self.roles[(account, name)]

    def roles_of(self, account: str) -> list[Role]:
        return [role for (owner, _), role in self.roles.items() if owner == account]

    def workloads_of(self, kind: str) -> list[Workload]:
        return [w for w in self.workloads if w.kind == kind]

    def people_with(self, permission_set: str, account: str) -> list[Person]:
        """Who can sign in to `account` with `permission_set`, in the people's fixed order."""
        return [p for p in self.people if p.permission_set == permission_set and account in p.accounts]

    @property
    def deploy_targets(self) -> list[str]:
        """Accounts the CI pipeline deploys to."""
        return [a.id for a in self.accounts if a.name in ("prod", "dev") or a.name.startswith("workload-")]


_PEOPLE = (
    ("Ana Lima", -3, "AdministratorAccess"),
    ("Ben Carter", -5, "PowerUserAccess"),
    ("Chloe Martin", 1, "PowerUserAccess"),
    ("Dev Patel", 5, "PowerUserAccess"),
    ("Emma Schulz", 1, "ReadOnlyAccess"),
    ("Farid Haddad", 1, "AdministratorAccess"),
    ("Grace Kim", 9, "PowerUserAccess"),
    ("Hugo Silva", -3, "ReadOnlyAccess"),
)
PERMISSION_SETS = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess")


def build_organization(seed: int, accounts: int = 5) -> Organization:
    """The organisation for a seed: the same seed and account count always give the same one."""
    if accounts < 4:
        raise ValueError("an organisation needs at least 4 accounts (management, tooling, prod, dev)")
    rng = random.Random(f"graphtrail-org:{seed}")
    mint = IdMint(rng)
    names = ["management", "tooling", "prod", "dev", "backup"][:accounts]
    names += [f"workload-{n}" for n in range(1, accounts - len(names) + 1)]
    ids = _account_ids(rng, len(names) + 2)
    org = Organization(
        org_id="o-" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10)),
        accounts=[Account(i, n) for i, n in zip(ids, names, strict=False)],
        external_accounts=ids[len(names) :],
    )
    org.identity_store = f"arn:aws:identitystore::{org.management}:identitystore/d-{mint.hex(10)}"

    def add_role(account: str, name: str, path: str = "/") -> Role:
        role = Role(account, name, path, mint.unique_id("AROA", account))
        org.roles[(account, name)] = role
        return role

    for account in org.accounts:
        for permission_set in PERMISSION_SETS:
            region_part = "" if rng.random() < 0.5 else f"{HOME_REGION}/"
            role = add_role(
                account.id,
                f"AWSReservedSSO_{permission_set}_{mint.hex(16)}",
                f"/aws-reserved/sso.amazonaws.com/{region_part}",
            )
            org.sso_roles[(account.id, permission_set)] = role
        add_role(account.id, "AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/")
        add_role(account.id, "AWSServiceRoleForAutoScaling", "/aws-service-role/autoscaling.amazonaws.com/")
        if account.name != "management":
            add_role(account.id, "OrganizationAccountAccessRole")
        for region in REGIONS:
            org.kms_keys[(account.id, region)] = mint.uuid()
            org.security_groups[(account.id, region)] = "sg-" + mint.hex(17)
            org.detectors[(account.id, region)] = mint.hex(32)
        org.saml_providers[account.id] = f"arn:aws:iam::{account.id}:saml-provider/AWSSSO_{mint.hex(16)}_DO_NOT_DELETE"
        org.snapshots[account.id] = "snap-" + mint.hex(17)
        org.secrets[account.id] = (
            f"arn:aws:secretsmanager:{HOME_REGION}:{account.id}:secret:{account.name}/db/app-{mint.name_suffix(6)}"
        )

    # CI: runners in the tooling account, chaining into a deploy role in each target account.
    add_role(org.tooling, "ci-runner", "/ci/")
    for target in org.deploy_targets:
        add_role(target, "deploy", "/ci/")
        add_role(target, "app-server")
        add_role(target, "api-handler", "/service-role/")
    add_role(org.prod, "data-reader", "/data/")
    add_role(org.prod, "etl-job", "/data/")
    add_role(org.backup, "backup-vault-writer")

    org.buckets = {
        "datalake": f"northwind-prod-datalake-{org.prod}",
        "curated": f"northwind-prod-curated-{org.prod}",
        "assets": f"northwind-prod-web-assets-{org.prod}",
        "trail": f"northwind-org-cloudtrail-{org.management}",
        "scratch": f"northwind-dev-scratch-{org.dev}",
        "artifacts": f"northwind-ci-artifacts-{org.tooling}",
    }

    for index, (name, offset, permission_set) in enumerate(_PEOPLE):
        first, last = name.lower().split()
        home = HOME_PREFIXES[index % len(HOME_PREFIXES)] + str(rng.randint(2, 250))
        member_accounts = tuple(
            a.id for a in org.accounts if permission_set != "PowerUserAccess" or a.name in ("dev", "tooling", "prod")
        )
        org.people.append(
            Person(
                name=name,
                email=f"{first}.{last}@{DOMAIN}",
                utc_offset=offset,
                permission_set=permission_set,
                accounts=member_accounts,
                ip=OFFICE_IPS[index % len(OFFICE_IPS)] if index % 2 == 0 else home,
                browser=BROWSER_UA[index % len(BROWSER_UA)],
                cli=CLI_UA[index % len(CLI_UA)],
                user_id=mint.uuid(),
            )
        )

    def add_user(account: str, name: str, ips: tuple[str, ...], user_agent: str) -> None:
        org.users[name] = IamUser(
            account, name, mint.unique_id("AIDA", account), mint.access_key(account, temporary=False), ips, user_agent
        )

    add_user(
        org.tooling, "ci-deployer", tuple(CI_PROVIDER_PREFIX + str(rng.randint(2, 250)) for _ in range(4)), SDK_UA["ci"]
    )
    add_user(org.prod, "backup-agent", (OFFICE_IPS[0],), SDK_UA["backup"])
    add_user(org.management, "ops-admin", (OFFICE_IPS[1],), CLI_UA[0])
    add_user(org.dev, "reporting-svc", (OFFICE_IPS[2],), SDK_UA["terraform"])
    add_user(org.management, "billing-viewer", (OFFICE_IPS[1],), BROWSER_UA[0])

    for target in org.deploy_targets:
        for region in REGIONS if target == org.prod else (HOME_REGION,):
            for _ in range(2 if target == org.prod else 1):
                org.workloads.append(
                    Workload(
                        "ec2", target, region, mint.instance_id(), org.role(target, "app-server"), _aws_ip(rng, region)
                    )
                )
        org.workloads.append(
            Workload(
                "lambda",
                target,
                HOME_REGION,
                "orders-api" if target == org.prod else f"api-{target[-4:]}",
                org.role(target, "api-handler"),
                _aws_ip(rng, HOME_REGION),
            )
        )
    for _ in range(2):
        org.workloads.append(
            Workload(
                "ec2",
                org.tooling,
                HOME_REGION,
                mint.instance_id(),
                org.role(org.tooling, "ci-runner"),
                _aws_ip(rng, HOME_REGION),
            )
        )
    org.workloads.append(
        Workload("ecs", org.prod, HOME_REGION, mint.hex(32), org.role(org.prod, "etl-job"), _aws_ip(rng, HOME_REGION))
    )
    # Last, so adding it left every earlier draw (and so every other id) as it was.
    add_user(org.management, "cloud-admin", (OFFICE_IPS[1],), CLI_UA[1])
    return org


def _account_ids(rng: random.Random, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        candidate = f"{rng.randint(100_000_000_000, 999_999_999_999)}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _aws_ip(rng: random.Random, region: str) -> str:
    network = ipaddress.ip_network(rng.choice(AWS_EC2_PREFIXES[region]))
    return str(network[rng.randint(256, network.num_addresses - 256)])


def attacker_ip(rng: random.Random, index: int) -> str:
    return ATTACKER_PREFIXES[index % len(ATTACKER_PREFIXES)] + str(rng.randint(2, 250))
