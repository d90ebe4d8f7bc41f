"""Execution: Lambda, SSM Run Command / Session Manager, and services that run work under a passed role.

`iam:PassRole` has no event of its own: a role handed to a service shows up as a parameter of the launch
(``role``, ``roleArn``, ``roleARN``, ``serviceRole``…). Those launches are traversable when a role was passed
and the call succeeded, and the role is named in `role_passed`.
"""

from __future__ import annotations

import re

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, account_in, items, strings
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, Control, FactValue, NodeRef, rules
from graphtrail.cloudtrail.actions.policy import load_policy, summarize_policy

_QUALIFIER_RE = re.compile(r"^(arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+)(?::[^:]+)?$")

# --- Lambda ------------------------------------------------------------------------------------------------


def _function(ctx: Context) -> NodeRef | None:
    """The function, unqualified (``…:function:name``, without ``:1``/``:$LATEST``) so versions share a node."""
    arn = ctx.response.text("functionArn") or ctx.param("functionName")
    if not arn:
        return None
    qualified = _QUALIFIER_RE.match(arn)
    if qualified:
        arn = qualified.group(1)
    elif not arn.startswith("arn:"):
        name = arn.rsplit(":", 1)[-1]  # also accepts the partial form ACCOUNT:function:NAME
        if not (ctx.region and ctx.account):
            return ctx.resource(f"lambda:function/{name}", "lambda:function", name=name)
        arn = arns.lambda_function_arn(ctx.partition, ctx.region, ctx.account, name)
    parsed = arns.parse_arn(arn)
    if parsed is None:
        return None
    return ctx.resource(arn, "lambda:function", name=parsed.resource_name)


def _passed(ctx: Context, *names: str) -> tuple[str | None, NodeRef | None]:
    role = ctx.param(*names)
    return role, ctx.role(role)


def create_function(ctx: Context) -> ActionEffect:
    """A new function running as the passed role: whoever controls its code acts as that role."""
    role, role_node = _passed(ctx, "role")
    facts = {
        "role_passed": role,
        "runtime": ctx.param("runtime"),
        "code_bucket": ctx.request.sub("code").text("s3Bucket"),
        "layers": tuple(_layers(ctx)),
    }
    return ctx.effect(_function(ctx), facts, traversable=role is not None, nodes=[role_node])


def _layers(ctx: Context) -> list[str]:
    found = strings(ctx.request.get("layers"))
    found += [arn for item in items(ctx.response.get("layers")) if (arn := item.text("arn"))]
    return list(dict.fromkeys(found))


def update_function_code(ctx: Context) -> ActionEffect:
    """New code runs with the function's role: control over the workload."""
    facts = {
        "code_sha256": ctx.response.text("codeSha256"),
        "code_bucket": ctx.param("s3Bucket"),
        "role_arn": ctx.response.text("role"),
    }
    return ctx.effect(_function(ctx), facts)


def update_function_configuration(ctx: Context) -> ActionEffect:
    """Layers (code that runs inside the function) or a new role (PassRole) change who controls what."""
    role, role_node = _passed(ctx, "role")
    layers = _layers(ctx)
    facts = {
        "role_passed": role,
        "layers": tuple(layers),
        "environment_changed": bool(ctx.request.sub("environment")) or None,
    }
    added_layers = bool(strings(ctx.request.get("layers")))
    return ctx.effect(_function(ctx), facts, traversable=role is not None or added_layers, nodes=[role_node])


def add_permission(ctx: Context) -> ActionEffect:
    """A resource-policy statement: ``principal: "*"`` (or a function URL without auth) lets anyone invoke."""
    principal = ctx.param("principal")
    principal_account = account_in(principal)
    auth_type = ctx.param("functionUrlAuthType")
    public = principal == "*" and not ctx.param("sourceArn", "sourceAccount", "principalOrgID")
    public = public or (auth_type or "").upper() == "NONE"
    statement = load_policy(ctx.response.text("statement"))  # the statement as added, a JSON string
    if statement is not None:
        public = public or summarize_policy({"Statement": [statement]}).public
    external = bool(principal_account and ctx.account and principal_account != ctx.account)
    facts = {
        "principal": principal,
        "invoke_action": ctx.param("action"),
        "public": public,
        "external": external or public,
        "shared_with": (principal_account,) if external and principal_account else (),
    }
    return ctx.effect(_function(ctx), facts)


def function_url(ctx: Context) -> ActionEffect:
    auth_type = ctx.param("authType") or ctx.response.text("authType")
    facts = {"auth_type": auth_type, "public": (auth_type or "").upper() == "NONE"}
    return ctx.effect(_function(ctx), facts)


def function_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(_function(ctx))


# --- SSM Run Command / Session Manager ---------------------------------------------------------------------


def _managed_instance(ctx: Context, target: str) -> NodeRef | None:
    if target.startswith("mi-") and ctx.region and ctx.account:
        key = arns.build_arn(ctx.partition, "ssm", ctx.region, ctx.account, f"managed-instance/{target}")
        return ctx.resource(key, "ssm:managed-instance", name=target)
    return ctx.ec2("instance", target)


def send_command(ctx: Context) -> ActionEffect:
    """Run Command: the instances that will run the (redacted) command; the document says what kind."""
    ids = strings(ctx.request.get("instanceIds"))
    for target in items(ctx.request.get("targets")):
        if (target.text("key") or target.text("Key") or "").lower() == "instanceids":
            ids += strings(target.get("values") or target.get("Values"))
    ids = list(dict.fromkeys(ids))
    by_tag = bool(items(ctx.request.get("targets"))) and not ids
    nodes = [node for instance in ids if (node := _managed_instance(ctx, instance)) is not None]
    facts: dict[str, FactValue | None] = {
        "instance_ids": tuple(ids),
        "document_name": ctx.param("documentName"),
        "command_id": ctx.response.sub("command").text("commandId"),
        "targets_by_tag": by_tag or None,
    }
    target = nodes[0] if nodes else None
    return ctx.effect(target, facts, nodes=nodes[1:])


def start_session(ctx: Context) -> ActionEffect:
    """Session Manager: an interactive shell (or port forward) on the target."""
    target = ctx.param("target")
    facts = {
        "instance_ids": (target,) if target else (),
        "document_name": ctx.param("documentName"),
        "session_id": ctx.response.text("sessionId"),
    }
    return ctx.effect(_managed_instance(ctx, target) if target else None, facts)


# --- other services that run work under a passed role ------------------------------------------------------


def _launch(ctx: Context, node: NodeRef | None, role: str | None, facts: dict[str, FactValue | None]) -> ActionEffect:
    return ctx.effect(node, {**facts, "role_passed": role}, traversable=role is not None, nodes=[ctx.role(role)])


def glue_dev_endpoint(ctx: Context) -> ActionEffect:
    """Glue dev endpoints run as their role and accept SSH keys: creating one, or adding a key, is a way in."""
    name = ctx.param("endpointName")
    node = ctx.regional("glue", f"devEndpoint/{name}", "glue:dev-endpoint", name) if name else None
    keys_added = bool(ctx.param("publicKey") or strings(ctx.request.get("publicKeys")))
    keys_added = keys_added or bool(strings(ctx.request.get("addPublicKeys")))
    role = ctx.param("roleArn")
    effect = _launch(ctx, node, role, {"ssh_key_added": keys_added or None})
    return ctx.effect(effect.target, effect.facts, traversable=role is not None or keys_added, nodes=effect.nodes)


def glue_job(ctx: Context) -> ActionEffect:
    name = ctx.param("name", "jobName")
    node = ctx.regional("glue", f"job/{name}", "glue:job", name) if name else None
    return _launch(ctx, node, ctx.param("role"), {})


def cloudformation_stack(ctx: Context) -> ActionEffect:
    """Stacks created with a service role act as that role (the template itself is not logged here)."""
    stack_id = ctx.response.text("stackId") or ctx.param("stackName")
    node = None
    if stack_id and stack_id.startswith("arn:"):
        node = ctx.arn_node(stack_id)
    elif stack_id:
        node = ctx.regional("cloudformation", f"stack/{stack_id}", "cloudformation:stack", stack_id)
    return _launch(ctx, node, ctx.param("roleARN", "roleArn"), {"stack_name": ctx.param("stackName")})


def sagemaker_notebook(ctx: Context) -> ActionEffect:
    name = ctx.param("notebookInstanceName")
    arn = ctx.response.text("notebookInstanceArn")
    node = ctx.arn_node(arn) if arn else None
    if node is None and name:
        node = ctx.regional("sagemaker", f"notebook-instance/{name.lower()}", "sagemaker:notebook-instance", name)
    return _launch(ctx, node, ctx.param("roleArn"), {"root_access": ctx.param("rootAccess")})


def codebuild_project(ctx: Context) -> ActionEffect:
    name = ctx.param("name")
    arn = ctx.response.sub("project").text("arn")
    node = ctx.arn_node(arn) if arn else None
    if node is None and name:
        node = ctx.regional("codebuild", f"project/{name}", "codebuild:project", name)
    return _launch(ctx, node, ctx.param("serviceRole"), {})


def datasync_task(ctx: Context) -> ActionEffect:
    """A DataSync task copies between two locations; an outside destination is a bulk exfiltration channel."""
    arn = ctx.response.text("taskArn")
    node = ctx.resource(arn, "datasync:task", name=arn.rsplit("/", 1)[-1]) if arn else None
    source = ctx.param("sourceLocationArn")
    destination = ctx.param("destinationLocationArn")
    destination_account = account_in(destination)
    facts = {
        "source_location": source,
        "destination_location": destination,
        "external": bool(destination_account and ctx.account and destination_account != ctx.account),
        "task_name": ctx.param("name"),
    }
    return ctx.effect(node, facts)


RULES: tuple[ActionRule, ...] = (
    *rules(
        "lambda.amazonaws.com",
        "execution",
        {
            "CreateFunction": (create_function, Control.CONDITIONAL),
            "UpdateFunctionCode": (update_function_code, Control.ALWAYS),
            "UpdateFunctionConfiguration": (update_function_configuration, Control.CONDITIONAL),
            "AddPermission": add_permission,
            "CreateFunctionUrlConfig": function_url,
            "UpdateFunctionUrlConfig": function_url,
            "DeleteFunction": function_subject,
            "GetFunction": function_subject,
            "Invoke": function_subject,
        },
    ),
    *rules(
        "ssm.amazonaws.com",
        "execution",
        {
            "SendCommand": (send_command, Control.ALWAYS),
            "StartSession": (start_session, Control.ALWAYS),
        },
    ),
    *rules(
        "glue.amazonaws.com",
        "execution",
        {
            "CreateDevEndpoint": (glue_dev_endpoint, Control.CONDITIONAL),
            "UpdateDevEndpoint": (glue_dev_endpoint, Control.CONDITIONAL),
            "CreateJob": (glue_job, Control.CONDITIONAL),
        },
    ),
    *rules(
        "cloudformation.amazonaws.com",
        "execution",
        {
            "CreateStack": (cloudformation_stack, Control.CONDITIONAL),
            "UpdateStack": (cloudformation_stack, Control.CONDITIONAL),
        },
    ),
    *rules(
        "sagemaker.amazonaws.com",
        "execution",
        {"CreateNotebookInstance": (sagemaker_notebook, Control.CONDITIONAL)},
    ),
    *rules("codebuild.amazonaws.com", "execution", {"CreateProject": (codebuild_project, Control.CONDITIONAL)}),
    *rules("datasync.amazonaws.com", "execution", {"CreateTask": datasync_task}),
)
