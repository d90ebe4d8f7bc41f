"""Defense evasion: turning off or narrowing what would see the attacker (CloudTrail, GuardDuty, Security Hub,
Config, flow logs, DNS query logs) or leaving the organisation.

The action table marks every such call with the `impairs_detection` fact; this hunt adds what one event
cannot say alone: event selectors that drop data events the case shows were being logged. Calls by one
principal close together are one finding, so a responder sees the whole sequence at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphtrail.findings import Finding, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import DISABLE_CLOUD_LOGS, DISABLE_TOOLS, MODIFY_CLOUD_HIERARCHY, bursts, finding_from, who
from graphtrail.hunts.context import HuntContext, HuntEvent

TAMPERING = (
    "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors",
    "DeleteDetector", "UpdateDetector", "CreateIPSet", "UpdateIPSet", "CreateFilter", "UpdateFilter",
    "DisassociateFromMasterAccount", "DisassociateMembers", "StopMonitoringMembers",
    "DisableSecurityHub", "BatchDisableStandards", "DeleteInsight",
    "StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel", "DeleteConfigRule",
    "DeleteFlowLogs", "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig",
    "PutBucketLogging", "PutBucketLifecycle", "LeaveOrganization",
)  # fmt: skip
LOGGING = frozenset({"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors",
                     "DeleteFlowLogs", "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig",
                     "PutBucketLogging", "PutBucketLifecycle"})  # fmt: skip
WORST = frozenset({"StopLogging", "DeleteTrail", "DeleteDetector", "DisableSecurityHub", "LeaveOrganization"})
BURST_GAP_SECONDS = 3600


def defense_evasion(context: HuntContext) -> Iterator[Finding]:
    tampering = [event for event in context.events(TAMPERING) if _impairs(context, event)]
    for run in bursts(tampering, BURST_GAP_SECONDS, key=lambda event: event.row.actor):
        succeeded = [event for event in run if not event.failed]
        names = sorted({event.row.name for event in run})
        if succeeded and any(event.row.name in WORST for event in succeeded):
            severity = Severity.CRITICAL if len({e.row.name for e in succeeded}) > 1 else Severity.HIGH
        elif succeeded:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM  # tried and was refused: still someone trying to go dark
        techniques = [DISABLE_CLOUD_LOGS] if set(names) & LOGGING else []
        if set(names) - LOGGING - {"LeaveOrganization"}:
            techniques.append(DISABLE_TOOLS)
        if "LeaveOrganization" in names:
            techniques.append(MODIFY_CLOUD_HIERARCHY)
        steps = "; ".join(_step(event) for event in run)
        narrative = (
            f"{who(run[0])} impaired detection {len(run)} time(s) within {BURST_GAP_SECONDS // 60} minutes of each "
            f"other: {steps}. Events after these calls may be missing from the logs; check other sources "
            "(the accounts' event history, GuardDuty in other Regions, VPC flow logs elsewhere)."
        )
        yield finding_from(
            context, "defense-evasion", _category(names), f"Detection impaired: {', '.join(names)}", severity,
            0.9 if succeeded else 0.6, techniques, run, narrative,
        )  # fmt: skip


def _step(event: HuntEvent) -> str:
    refused = f" (refused: {event.row.error_code})" if event.failed else ""
    return f"{event.time} {event.row.name} on {event.target}{refused}"


def _impairs(context: HuntContext, event: HuntEvent) -> bool:
    if event.facts.get("impairs_detection"):
        return True
    if event.row.name == "PutEventSelectors":
        return _drops_logged_data_events(context, event)
    return event.row.name == "LeaveOrganization"


def _drops_logged_data_events(context: HuntContext, event: HuntEvent) -> bool:
    """Selectors without data resources, when the case shows data events logged before the call (by any account:
    an organisation trail's selectors apply to every member)."""
    selectors = event.facts.get("event_selectors") or ()
    if any("data=" in summary or summary.startswith("advanced") for summary in selectors):
        return False
    logged = context.case.db.execute(
        "SELECT 1 FROM events WHERE category='Data' AND time < ? LIMIT 1", (event.time,)
    ).fetchone()
    return logged is not None


def _category(names: list[str]) -> str:
    if "StopLogging" in names or "DeleteTrail" in names:
        return "defense-evasion:cloudtrail-stopped"
    if set(names) & {"DeleteDetector", "UpdateDetector", "DisableSecurityHub"}:
        return "defense-evasion:guardduty-disabled"
    if "PutEventSelectors" in names:
        return "defense-evasion:logging-narrowed"
    return "defense-evasion:detection-impaired"


HUNTS = [
    HuntSpec(
        name="defense-evasion",
        family="evasion",
        title="Logging and detection turned off or narrowed",
        description="StopLogging, DeleteTrail, UpdateTrail or PutEventSelectors that narrow what is logged "
        "(including dropping data events the case shows were logged), GuardDuty, Security Hub, Config, flow-log "
        "and DNS-log tampering, and LeaveOrganization. Calls by one principal within an hour form one finding; "
        "refused attempts are medium.",
        techniques=(DISABLE_CLOUD_LOGS, DISABLE_TOOLS, MODIFY_CLOUD_HIERARCHY),
        run=defense_evasion,
    ),
]
