"""Logging and detection tampering: CloudTrail, GuardDuty, Security Hub, Config, DNS query logs, Organizations.

Every rule here sets `impairs_detection` when the call turns something off or blinds it, so one fact serves
the defense-impairment hunts whatever the service.
"""

from __future__ import annotations

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, as_bool, items, strings
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, NodeRef, rules

# --- CloudTrail --------------------------------------------------------------------------------------------


def _trail(ctx: Context, name: str | None) -> NodeRef | None:
    if not name:
        return None
    if name.startswith("arn:"):
        parsed = arns.parse_arn(name)
        return ctx.resource(name, "cloudtrail:trail", name=parsed.resource_name if parsed else name)
    if ctx.region and ctx.account:
        return ctx.resource(arns.trail_arn(ctx.partition, ctx.region, ctx.account, name), "cloudtrail:trail", name=name)
    return ctx.resource(f"cloudtrail:trail/{name}", "cloudtrail:trail", name=name)


def trail_subject(ctx: Context) -> ActionEffect:
    """StopLogging / DeleteTrail (and StartLogging, to see logging come back)."""
    impairs = ctx.name in ("StopLogging", "DeleteTrail")
    return ctx.effect(_trail(ctx, ctx.param("name", "trailName")), {"impairs_detection": impairs})


def update_trail(ctx: Context) -> ActionEffect:
    """UpdateTrail: which settings changed; narrowing Region/global coverage or moving the bucket blinds it."""
    changed = tuple(name for name in ctx.request if name.lower() != "name")
    multi_region = as_bool(ctx.request.get("isMultiRegionTrail"))
    global_events = as_bool(ctx.request.get("includeGlobalServiceEvents"))
    facts = {
        "changes": changed,
        "s3_bucket": ctx.param("s3BucketName"),
        "impairs_detection": multi_region is False or global_events is False or None,
    }
    return ctx.effect(_trail(ctx, ctx.param("name")), facts)


def put_event_selectors(ctx: Context) -> ActionEffect:
    """Event selectors decide what is logged; management events off or write-only/read-only is a blind spot."""
    trail = _trail(ctx, ctx.response.text("trailARN") or ctx.param("trailName"))
    summaries: list[str] = []
    management_off = narrowed = False
    for selector in items(ctx.request.get("eventSelectors")):
        read_write = selector.text("readWriteType") or "All"
        management = as_bool(selector.get("includeManagementEvents"))
        data = [item.text("type") for item in items(selector.get("dataResources")) if item.text("type")]
        excluded = strings(selector.get("excludeManagementEventSources"))
        if management is False:
            management_off = True
        if read_write.lower() != "all" or excluded:
            narrowed = True
        summary = f"{read_write}; management={'false' if management is False else 'true'}"
        if data:
            summary += "; data=" + ",".join(data)
        if excluded:
            summary += "; exclude=" + ",".join(excluded)
        summaries.append(summary)
    advanced = items(ctx.request.get("advancedEventSelectors"))
    for selector in advanced:
        name = selector.text("name")
        summaries.append(f"advanced: {name}" if name else "advanced")
    facts = {
        "event_selectors": tuple(summaries),
        "management_events_disabled": management_off,
        "read_write_narrowed": narrowed,
        "impairs_detection": management_off or narrowed,
    }
    return ctx.effect(trail, facts)


# --- GuardDuty ---------------------------------------------------------------------------------------------


def _detector(ctx: Context) -> NodeRef | None:
    detector_id = ctx.param("detectorId")
    if not detector_id:
        return None
    return ctx.regional("guardduty", f"detector/{detector_id}", "guardduty:detector", detector_id)


def delete_detector(ctx: Context) -> ActionEffect:
    return ctx.effect(_detector(ctx), {"detector_id": ctx.param("detectorId"), "impairs_detection": True})


def update_detector(ctx: Context) -> ActionEffect:
    enabled = as_bool(ctx.request.get("enable"))
    facts = {"detector_id": ctx.param("detectorId"), "enabled": enabled, "impairs_detection": enabled is False}
    return ctx.effect(_detector(ctx), facts)


def ip_set(ctx: Context) -> ActionEffect:
    """Trusted IP lists silence findings for the addresses in them."""
    facts = {
        "detector_id": ctx.param("detectorId"),
        "ip_set_name": ctx.param("name"),
        "ip_set_location": ctx.param("location"),
        "impairs_detection": as_bool(ctx.request.get("activate")) is not False,
    }
    return ctx.effect(_detector(ctx), facts)


def finding_filter(ctx: Context) -> ActionEffect:
    """A filter with action ARCHIVE auto-archives matching findings: suppression."""
    action = ctx.param("action")
    facts = {
        "detector_id": ctx.param("detectorId"),
        "filter_name": ctx.param("name", "filterName"),
        "filter_action": action,
        "impairs_detection": bool(action and action.upper() == "ARCHIVE"),
    }
    return ctx.effect(_detector(ctx), facts)


# --- Security Hub, Config, DNS query logs, Organizations ----------------------------------------------------


def security_hub(ctx: Context) -> ActionEffect:
    hub = ctx.regional("securityhub", "hub/default", "securityhub:hub", "default")
    standards = tuple(strings(ctx.request.get("standardsSubscriptionArns")))
    return ctx.effect(hub, {"standards": standards, "impairs_detection": True})


def config_recorder(ctx: Context) -> ActionEffect:
    """Config recorders and delivery channels have no ARN in these events; ``config:…/<account>/<region>/<name>``."""
    recorder = "DeliveryChannel" not in ctx.name
    resource_type = "config:configuration-recorder" if recorder else "config:delivery-channel"
    name = ctx.param("configurationRecorderName", "deliveryChannelName", "configRuleName") or "default"
    if ctx.name == "DeleteConfigRule":
        resource_type = "config:config-rule"
    key = f"{resource_type}/{ctx.account or 'unknown'}/{ctx.region or 'unknown'}/{name}"
    return ctx.effect(ctx.resource(key, resource_type, name=name), {"impairs_detection": True})


def resolver_query_log_config(ctx: Context) -> ActionEffect:
    config_id = ctx.param("resolverQueryLogConfigId")
    arn = ctx.response.sub("resolverQueryLogConfig").text("arn")
    node = None
    if arn:
        node = ctx.resource(arn, "route53resolver:query-log-config", name=config_id)
    elif config_id:
        resource = f"resolver-query-log-config/{config_id}"
        node = ctx.regional("route53resolver", resource, "route53resolver:query-log-config", config_id)
    facts = {
        "destination": ctx.response.sub("resolverQueryLogConfig").text("destinationArn"),
        "impairs_detection": True,
    }
    return ctx.effect(node, facts)


def leave_organization(ctx: Context) -> ActionEffect:
    """Leaving the organization drops its trails, SCPs and delegated security tooling.

    The organization's id is not in the event, so the node is ``organization-of:<account>``.
    """
    account = ctx.account or "unknown"
    node = ctx.resource(f"organization-of:{account}", "organizations:organization", name=f"organization of {account}")
    return ctx.effect(node, {"impairs_detection": True})


RULES: tuple[ActionRule, ...] = (
    *rules(
        "cloudtrail.amazonaws.com",
        "logging",
        {
            "StopLogging": trail_subject,
            "DeleteTrail": trail_subject,
            "StartLogging": trail_subject,
            "UpdateTrail": update_trail,
            "PutEventSelectors": put_event_selectors,
        },
    ),
    *rules(
        "guardduty.amazonaws.com",
        "logging",
        {
            "DeleteDetector": delete_detector,
            "UpdateDetector": update_detector,
            "CreateIPSet": ip_set,
            "UpdateIPSet": ip_set,
            "CreateFilter": finding_filter,
            "UpdateFilter": finding_filter,
        },
    ),
    *rules(
        "securityhub.amazonaws.com",
        "logging",
        {"DisableSecurityHub": security_hub, "BatchDisableStandards": security_hub},
    ),
    *rules(
        "config.amazonaws.com",
        "logging",
        {
            "StopConfigurationRecorder": config_recorder,
            "DeleteConfigurationRecorder": config_recorder,
            "DeleteDeliveryChannel": config_recorder,
            "DeleteConfigRule": config_recorder,
        },
    ),
    *rules(
        "route53resolver.amazonaws.com",
        "logging",
        {
            "DeleteResolverQueryLogConfig": resolver_query_log_config,
            "DisassociateResolverQueryLogConfig": resolver_query_log_config,
        },
    ),
    *rules("organizations.amazonaws.com", "logging", {"LeaveOrganization": leave_organization}),
)
