"""The organisation's everyday activity, hour by hour: what a trail holds when nobody is attacking.

Two kinds of activity. *Scheduled* activity has a shape of its own and happens whatever the event budget:
sign-ins, hourly workload credential refreshes, CI deployments chaining across accounts, the nightly ETL
read, backups. *Routine* calls (console browsing, applications reading secrets and objects, AWS Config and
CloudTrail's own KMS use) fill the budget: the engine asks for as many as the budget leaves, and they are
spread over whoever is active at that moment, so the activity curve follows working hours.

Every day's plan (who works, when) is drawn from a stream named after the day, so it is the same however
the span is cut.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from graphtrail.simulate import api, callers, sts
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.org import HOME_REGION, SECOND_REGION, Person, Workload
from graphtrail.simulate.records import Timed
from graphtrail.simulate.sts import Issued
from graphtrail.simulate.truth import Story
from graphtrail.simulate.workloads import workload_caller, workload_session
from graphtrail.simulate.world import World

HOUR = 3600
DAY = 86400
WORKDAY_HOURS = 8
WINDOW = 300  # the spread of routine calls that would otherwise precede their session

RoutineCall = Callable[[World, int, Caller], Timed]


@dataclass(frozen=True, slots=True)
class WorkDay:
    """One person's day: when they sign in, where, and the session they work with."""

    person: Person
    account: str
    sign_in: int
    sign_out: int
    console: Caller
    calls: list[Timed]


@dataclass
class Active:
    """Who can make routine calls during one hour, and how likely each is to be the caller."""

    callers: list[Caller] = field(default_factory=list)
    menus: list[tuple[RoutineCall, ...]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    valid_from: list[int] = field(default_factory=list)  # a session's calls never precede its issue

    def add(self, caller: Caller, menu: tuple[RoutineCall, ...], weight: float, valid_from: int = 0) -> None:
        self.callers.append(caller)
        self.menus.append(menu)
        self.weights.append(weight)
        self.valid_from.append(valid_from)

    @property
    def total(self) -> float:
        return sum(self.weights)


class Baseline:
    def __init__(self, world: World, decoys: dict[str, Story] | None = None) -> None:
        self.world = world
        self.org = world.org
        self.decoys = decoys or {}
        self._days: dict[int, list[WorkDay]] = {}
        self._workload_sessions: dict[tuple[str, int], tuple[Issued, Caller]] = {}

    # --- the plan -------------------------------------------------------------------------------------------

    def workdays(self, day_start: int) -> list[WorkDay]:
        """Who works on the day starting at `day_start` (UTC midnight), with their sign-in calls."""
        if day_start not in self._days:
            self._days[day_start] = [d for p in self.org.people if (d := self._workday(p, day_start)) is not None]
            for old in [d for d in self._days if d < day_start - 2 * DAY]:
                del self._days[old]
        return self._days[day_start]

    def _workday(self, person: Person, day_start: int) -> WorkDay | None:
        stream = self.world.fork(f"workday:{person.email}:{day_start}")
        local_midnight = day_start - person.utc_offset * HOUR
        weekday = datetime.fromtimestamp(day_start + 12 * HOUR, UTC).weekday()
        if weekday >= 5 or stream.rng.random() < 0.08:  # weekends, and the odd day off
            return None
        sign_in = local_midnight + 8 * HOUR + stream.rng.randint(0, 100 * 60)
        account = person.accounts[(day_start // DAY) % len(person.accounts)]
        signed_in = sts.sso_console_sign_in(stream, sign_in, person, account, person.permission_set)
        sign_out = sign_in + WORKDAY_HOURS * HOUR + stream.rng.randint(-3600, 3600)
        return WorkDay(person, account, sign_in, sign_out, signed_in.console, signed_in.calls)

    def weight(self, hour_start: int) -> float:
        """How busy the hour is (the routine budget is shared out in proportion)."""
        return self.active(hour_start).total

    # --- scheduled activity ------------------------------------------------------------------------------------

    def scheduled(self, hour_start: int) -> list[Timed]:
        """The hour's scheduled calls (all with times inside the hour)."""
        out: list[Timed] = []
        day_start = hour_start - hour_start % DAY
        for workday in self.workdays(day_start) + self.workdays(day_start - DAY) + self.workdays(day_start + DAY):
            out.extend(c for c in workday.calls if hour_start <= c.time < hour_start + HOUR)
        for workload in self.org.workloads:
            if workload.kind == "ecs" and not self._etl_hour(hour_start):
                continue
            out.extend(self._workload_session(workload, hour_start)[0].calls)
        out.extend(self._service_sessions(hour_start))
        hour_of_day = (hour_start % DAY) // HOUR
        weekday = datetime.fromtimestamp(hour_start, UTC).weekday() < 5
        if weekday and hour_of_day in (9, 11, 14, 16):
            out.extend(self._ci_run(hour_start))
        if self._etl_hour(hour_start):
            out.extend(self._etl_run(hour_start))
        if hour_of_day == 1:
            out.extend(self._backup_run(hour_start))
        if hour_of_day == 6:
            out.extend(self._report_run(hour_start))
        return out

    @staticmethod
    def _etl_hour(hour_start: int) -> bool:
        return (hour_start % DAY) // HOUR == 2

    def _workload(self, workload: Workload, hour_start: int) -> tuple[Caller, int]:
        """The workload's caller for the hour and when its session was issued."""
        issued, caller = self._workload_session(workload, hour_start)
        return caller, issued.created

    def _workload_session(self, workload: Workload, hour_start: int) -> tuple[Issued, Caller]:
        """The hour's session (its AssumeRole is scheduled activity, its caller makes routine calls), made once."""
        cache_key = (workload.name, hour_start)
        if cache_key not in self._workload_sessions:
            if len(self._workload_sessions) > 4096:
                self._workload_sessions.clear()
            issued = workload_session(self.world, workload, hour_start)
            self._workload_sessions[cache_key] = (issued, workload_caller(issued, workload))
        return self._workload_sessions[cache_key]

    def _service_sessions(self, hour_start: int) -> list[Timed]:
        """The hourly sessions of AWS Config (every account) and EC2 Auto Scaling (where the apps run); their
        calls are routine."""
        out: list[Timed] = []
        for service, account in self._service_accounts():
            out.extend(self._service_session(service, account, hour_start)[1])
        return out

    def _service_accounts(self) -> list[tuple[ServiceSession, str]]:
        pairs = [(CONFIG, account.id) for account in self.org.accounts]
        return pairs + [(AUTOSCALING, account) for account in self.org.deploy_targets]

    def _service_session(self, service: ServiceSession, account: str, hour_start: int) -> tuple[Caller, list[Timed]]:
        """A service-linked role's session, which the service assumes itself and uses on the account's behalf."""
        stream = self.world.fork(f"{service.name}:{account}:{hour_start}")
        role = self.org.role(account, service.role)
        t = hour_start + stream.rng.randint(0, 120)
        issued = sts.assume_role(stream, t, callers.aws_service(service.principal), role, service.session_name)
        caller = issued.caller(ip=service.principal, user_agent=service.principal, invoked_by=service.principal)
        return caller, issued.calls

    def _ci_run(self, hour_start: int) -> list[Timed]:
        """A deployment: a CI runner chains into the deploy role of a target account and ships a release."""
        stream = self.world.fork(f"ci:{hour_start}")
        rng = stream.rng
        org = self.org
        runner = org.workloads_of("ec2")
        runner = [w for w in runner if w.account == org.tooling][(hour_start // HOUR) % 2]
        session, _ = self._workload(runner, hour_start)
        target = org.deploy_targets[(hour_start // HOUR) % len(org.deploy_targets)]
        deploy = org.role(target, "deploy")
        build = str(hour_start // 60 % 100000)
        t = hour_start + rng.randint(300, 1800)
        story = self.decoys.pop("ci-role-chain", None)
        steps: list[tuple[Caller, list[Timed], str]] = []
        identity = api.get_caller_identity(stream, t, session)
        artifact = api.object_call(
            stream,
            t + 2,
            session,
            "GetObject",
            org.buckets["artifacts"],
            f"releases/{build}/bundle.zip",
            org.tooling,
            size=rng.randint(2_000_000, 9_000_000),
        )
        issued = sts.assume_role(stream, t + 5, session, deploy, f"ci-{build}", source_identity="ci-pipeline")
        steps.append((session, issued.calls, deploy.arn))
        deployer = issued.caller(ip=runner.ip, user_agent=runner_agent())
        function = next(w for w in org.workloads_of("lambda") if w.account == target)
        work = [
            api.call(
                stream,
                t + 9,
                deployer,
                "cloudformation.amazonaws.com",
                "DescribeStacks",
                params={"stackName": f"app-{build}"},
            ),
            api.call(
                stream,
                t + 12,
                deployer,
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                params={
                    "functionName": function.name,
                    "publish": True,
                    "s3Bucket": org.buckets["artifacts"],
                    "s3Key": f"releases/{build}/bundle.zip",
                },
                response={
                    "functionName": function.name,
                    "codeSha256": stream.mint.name_suffix(43) + "=",
                    "role": function.role.arn,
                    "version": str(rng.randint(10, 400)),
                },
            ),
            api.call(
                stream,
                t + 20,
                deployer,
                "ecs.amazonaws.com",
                "DescribeServices",
                params={"cluster": "app", "services": ["web"]},
            ),
        ]
        steps.append((deployer, work, f"arn:aws:lambda:{HOME_REGION}:{target}:function:{function.name}"))
        if story is not None:
            story.background([identity, artifact])
            for caller, calls, step_target in steps:
                story.step(
                    caller, calls, target=step_target, action="AssumeRole" if calls is issued.calls else "deploy"
                )
        return [identity, artifact, *issued.calls, *work]

    def _etl_run(self, hour_start: int) -> list[Timed]:
        """The nightly ETL: an ECS task reads the day's partitions from the data lake in bulk."""
        stream = self.world.fork(f"etl:{hour_start}")
        rng = stream.rng
        org = self.org
        task = org.workloads_of("ecs")[0]
        session, _ = self._workload(task, hour_start)
        day = datetime.fromtimestamp(hour_start, UTC).strftime("%Y/%m/%d")
        t = hour_start + rng.randint(300, 600)
        reads: list[Timed] = []
        for n in range(rng.randint(150, 260)):
            t += rng.randint(0, 4)
            key = f"raw/orders/{day}/part-{n:05d}.parquet"
            reads.append(
                api.object_call(
                    stream,
                    t,
                    session,
                    "GetObject",
                    org.buckets["datalake"],
                    key,
                    org.prod,
                    size=rng.randint(1_000_000, 60_000_000),
                )
            )
        writes = [
            api.object_call(
                stream,
                t + 30 + n,
                session,
                "PutObject",
                org.buckets["curated"],
                f"orders/{day}/summary-{n:03d}.parquet",
                org.prod,
                size=rng.randint(200_000, 5_000_000),
            )
            for n in range(rng.randint(10, 30))
        ]
        story = self.decoys.pop("nightly-etl", None)
        if story is not None:
            story.step(session, reads, target=f"arn:aws:s3:::{org.buckets['datalake']}", action="GetObject")
            story.step(session, writes, target=f"arn:aws:s3:::{org.buckets['curated']}", action="PutObject")
        return reads + writes

    def _backup_run(self, hour_start: int) -> list[Timed]:
        stream = self.world.fork(f"backup:{hour_start}")
        user = self.org.users["backup-agent"]
        caller = callers.iam_user(user)
        t = hour_start + stream.rng.randint(60, 600)
        out = [api.list_buckets(stream, t, caller)]
        for n in range(stream.rng.randint(10, 30)):
            out.append(
                api.object_call(
                    stream,
                    t + 5 + n * 3,
                    caller,
                    "GetObject",
                    self.org.buckets["assets"],
                    f"static/img/{n:04d}.webp",
                    self.org.prod,
                    size=stream.rng.randint(9_000, 900_000),
                )
            )
        return out

    def _report_run(self, hour_start: int) -> list[Timed]:
        stream = self.world.fork(f"report:{hour_start}")
        caller = callers.iam_user(self.org.users["reporting-svc"])
        t = hour_start + stream.rng.randint(60, 900)
        params = {
            "timePeriod": {
                "start": datetime.fromtimestamp(hour_start - DAY, UTC).strftime("%Y-%m-%d"),
                "end": datetime.fromtimestamp(hour_start, UTC).strftime("%Y-%m-%d"),
            },
            "granularity": "DAILY",
            "metrics": ["UnblendedCost"],
        }
        return [
            api.call(stream, t, caller, "ce.amazonaws.com", "GetCostAndUsage", params=params),
            api.object_call(
                stream,
                t + 40,
                caller,
                "PutObject",
                self.org.buckets["scratch"],
                f"reports/cost-{t}.csv",
                self.org.dev,
                size=stream.rng.randint(5_000, 90_000),
            ),
        ]

    # --- routine calls -------------------------------------------------------------------------------------------

    def active(self, hour_start: int) -> Active:
        """Everyone who makes routine calls in this hour, weighted by how chatty they are."""
        active = Active()
        day_start = hour_start - hour_start % DAY
        middle = hour_start + HOUR // 2
        for workday in self.workdays(day_start) + self.workdays(day_start - DAY):
            if workday.sign_in <= middle < workday.sign_out:
                active.add(workday.console, PERSON_MENU, 6.0, workday.sign_in + 5)
        for workload in self.org.workloads:
            if workload.kind == "ecs":
                continue
            menu = EC2_MENU if workload.kind == "ec2" else LAMBDA_MENU
            caller, issued_at = self._workload(workload, hour_start)
            active.add(caller, menu, 3.0 if workload.kind == "ec2" else 2.0, issued_at)
        for service, account in self._service_accounts():
            caller, calls = self._service_session(service, account, hour_start)
            active.add(caller, service.menu, service.weight, calls[0].time)
        active.add(callers.aws_service("cloudtrail.amazonaws.com"), TRAIL_MENU, 2.0)
        hour_of_day = (hour_start % DAY) // HOUR
        if 8 <= hour_of_day < 18:
            ci = self.org.users["ci-deployer"]
            active.add(callers.iam_user(ci, ip=ci.ips[hour_of_day % len(ci.ips)]), CI_USER_MENU, 1.0)
            active.add(callers.iam_user(self.org.users["ops-admin"]), ADMIN_MENU, 0.7)
            active.add(callers.iam_user(self.org.users["cloud-admin"]), ADMIN_MENU, 0.4)
        return active

    def routine(self, world: World, rng: random.Random, t: int, active: Active, cumulative: list[float]) -> Timed:
        """One routine call at about `t` by someone active (never before their session was issued)."""
        index = rng.choices(range(len(active.callers)), cum_weights=cumulative, k=1)[0]
        if t <= active.valid_from[index]:
            t = active.valid_from[index] + 1 + rng.randrange(WINDOW)
        return rng.choice(active.menus[index])(world, t, active.callers[index])


def cumulative_weights(active: Active) -> list[float]:
    total = 0.0
    out = []
    for weight in active.weights:
        total += weight
        out.append(total)
    return out


def runner_agent() -> str:
    return (
        "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.1.115-126.197.amzn2023.x86_64 md/arch#x86_64 "
        "lang/python#3.12.6 md/pyimpl#CPython exec-env/CodeBuild cfg/retry-mode#standard md/installer#exe"
    )


# Routine menus: each entry makes one call for a caller at a time.


def _read(source: str, name: str, region: str | None = None) -> RoutineCall:
    def make(world: World, t: int, caller: Caller) -> Timed:
        where = region or (SECOND_REGION if world.rng.random() < 0.2 else HOME_REGION)
        return api.describe(world, t, caller, name, source=source, region=where)

    return make


def _global_read(source: str, name: str) -> RoutineCall:
    return _read(source, name, HOME_REGION)


def _kms(name: str) -> RoutineCall:
    def make(world: World, t: int, caller: Caller) -> Timed:
        account = caller.account or world.org.management
        key = f"arn:aws:kms:{HOME_REGION}:{account}:key/{world.org.kms_keys[(account, HOME_REGION)]}"
        return api.kms_call(world, t, caller, name, key, account)

    return make


def _secret(world: World, t: int, caller: Caller) -> Timed:
    return api.get_secret_value(world, t, caller, world.org.secrets[caller.account])


def _object(name: str) -> RoutineCall:
    def make(world: World, t: int, caller: Caller) -> Timed:
        org = world.org
        bucket, owner = (
            (org.buckets["assets"], org.prod) if caller.account == org.prod else (org.buckets["scratch"], org.dev)
        )
        key = f"app/{world.mint.hex(8)}/{world.mint.hex(12)}.json"
        return api.object_call(world, t, caller, name, bucket, key, owner, size=world.rng.randint(300, 400_000))

    return make


def _own_role(name: str) -> RoutineCall:
    """An IAM read about one of the caller's account's roles (what AWS Config records)."""

    def make(world: World, t: int, caller: Caller) -> Timed:
        roles = world.org.roles_of(caller.account)
        return api.call(world, t, caller, api.IAM, name, params={"roleName": world.rng.choice(roles).name})

    return make


def _own_bucket_acl(world: World, t: int, caller: Caller) -> Timed:
    buckets = [name for name in world.org.buckets.values() if name.endswith(caller.account)]
    if not buckets:
        return api.list_buckets(world, t, caller)
    bucket = world.rng.choice(buckets)
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "acl": ""}
    return api.call(world, t, caller, api.S3, "GetBucketAcl", params=params)


def _trail_data_key(world: World, t: int, caller: Caller) -> Timed:
    org = world.org
    key = f"arn:aws:kms:{HOME_REGION}:{org.management}:key/{org.kms_keys[(org.management, HOME_REGION)]}"
    context = {
        "aws:cloudtrail:arn": api.trail_arn_of(org.management),
        "aws:s3:arn": f"arn:aws:s3:::{org.buckets['trail']}/AWSLogs/{org.org_id}/",
    }
    return api.kms_call(world, t, caller, "GenerateDataKey", key, org.management, context=context)


def _artifact_upload(world: World, t: int, caller: Caller) -> Timed:
    org = world.org
    key = f"builds/{world.mint.hex(10)}/bundle.zip"
    return api.object_call(
        world,
        t,
        caller,
        "PutObject",
        org.buckets["artifacts"],
        key,
        org.tooling,
        size=world.rng.randint(2_000_000, 9_000_000),
    )


PERSON_MENU: tuple[RoutineCall, ...] = (
    _read(api.EC2, "DescribeInstances"),
    _read(api.EC2, "DescribeSecurityGroups"),
    _read(api.EC2, "DescribeVpcs"),
    _read(api.EC2, "DescribeVolumes"),
    _global_read(api.S3, "ListBuckets"),
    _read("monitoring.amazonaws.com", "GetMetricData"),
    _read("monitoring.amazonaws.com", "DescribeAlarms"),
    _read("logs.amazonaws.com", "DescribeLogGroups"),
    _global_read(api.IAM, "ListRoles"),
    _global_read(api.IAM, "ListPolicies"),
    _read("lambda.amazonaws.com", "ListFunctions20150331"),
    _read("cloudformation.amazonaws.com", "DescribeStacks"),
    _global_read("health.amazonaws.com", "DescribeEventAggregates"),
    _global_read("ce.amazonaws.com", "GetCostAndUsage"),
    _read("ssm.amazonaws.com", "DescribeInstanceInformation"),
    _read("rds.amazonaws.com", "DescribeDBInstances"),
    _read("ecs.amazonaws.com", "ListClusters"),
    _read(api.KMS, "ListAliases"),
)
EC2_MENU: tuple[RoutineCall, ...] = (
    _kms("Decrypt"),
    _kms("Decrypt"),
    _secret,
    _object("GetObject"),
    _object("GetObject"),
    _object("PutObject"),
    _read(api.EC2, "DescribeTags"),
    _read("ssm.amazonaws.com", "UpdateInstanceInformation", HOME_REGION),
    _read("ssm.amazonaws.com", "ListInstanceAssociations", HOME_REGION),
)
LAMBDA_MENU: tuple[RoutineCall, ...] = (_kms("Decrypt"), _secret, _object("PutObject"), _object("GetObject"))
CONFIG_MENU: tuple[RoutineCall, ...] = (
    _read(api.EC2, "DescribeSecurityGroups"),
    _read(api.EC2, "DescribeInstances"),
    _own_role("GetRole"),
    _own_role("ListAttachedRolePolicies"),
    _read(api.EC2, "DescribeNetworkInterfaces"),
    _own_bucket_acl,
    _read("rds.amazonaws.com", "DescribeDBSnapshots"),
)
AUTOSCALING_MENU: tuple[RoutineCall, ...] = (
    _read(api.EC2, "DescribeInstances"),
    _read(api.EC2, "DescribeInstanceStatus"),
    _read(api.EC2, "DescribeLaunchTemplateVersions"),
    _read(api.EC2, "DescribeSubnets"),
    _read("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth"),
)
TRAIL_MENU: tuple[RoutineCall, ...] = (_trail_data_key,)


@dataclass(frozen=True, slots=True)
class ServiceSession:
    """An AWS service that works in the account through its service-linked role."""

    name: str
    principal: str
    role: str
    session_name: str
    menu: tuple[RoutineCall, ...]
    weight: float


CONFIG = ServiceSession(
    "config", "config.amazonaws.com", "AWSServiceRoleForConfig", "AWSConfig-Describe", CONFIG_MENU, 1.5
)
AUTOSCALING = ServiceSession(
    "autoscaling", "autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", "AutoScaling", AUTOSCALING_MENU, 1.0
)
CI_USER_MENU: tuple[RoutineCall, ...] = (
    _artifact_upload,
    _global_read(api.STS, "GetCallerIdentity"),
    _read("ecr.amazonaws.com", "GetAuthorizationToken"),
)
ADMIN_MENU: tuple[RoutineCall, ...] = (
    _global_read(api.IAM, "ListUsers"),
    _global_read(api.IAM, "ListAccessKeys"),
    _global_read(api.IAM, "GetUser"),
    _read(api.EC2, "DescribeInstances"),
)
