"""Credentials AWS hands to compute: EC2 instance profiles, Lambda functions, ECS tasks.

A workload's session for a given hour is a pure function of (seed, workload, hour), so the baseline that
writes the refresh and a scenario that steals the key agree on the key without sharing state.
"""

from __future__ import annotations

from graphtrail.arn import lambda_function_arn
from graphtrail.simulate import callers
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.org import SDK_UA, Workload
from graphtrail.simulate.sts import Issued, assume_role
from graphtrail.simulate.world import World

HOUR = 3600


def workload_session(world: World, workload: Workload, hour_start: int) -> Issued:
    """The AssumeRole AWS makes for `workload` in the hour starting at `hour_start` (refreshed hourly)."""
    stream = world.fork(f"workload:{workload.name}:{hour_start}")
    t = hour_start + stream.rng.randint(0, 240)
    return assume_role(
        stream,
        t,
        callers.aws_service(workload.service),
        workload.role,
        workload.name,
        region=workload.region,
        duration=HOUR * 6 if workload.kind == "ec2" else HOUR,
    )


def workload_caller(
    issued: Issued, workload: Workload, *, ip: str | None = None, user_agent: str | None = None
) -> Caller:
    """The workload calling with its session; `ip`/`user_agent` override for a thief using the key elsewhere."""
    extra: dict[str, object] = {}
    if workload.kind == "ec2":
        extra["ec2_role_delivery"] = "2.0"
    elif workload.kind == "lambda":
        function = lambda_function_arn("aws", workload.region, workload.account, workload.name)
        extra["in_scope_of"] = {
            "sourceArn": function,
            "sourceAccount": workload.account,
            "issuerType": "AWS::Lambda::Function",
            "credentialsIssuedTo": function,
        }
    return issued.caller(ip=ip or workload.ip, user_agent=user_agent or SDK_UA[workload.kind], **extra)
