"""Network exposure: security group rules that open instances to the internet.

AuthorizeSecurityGroupIngress (both request shapes) and ModifySecurityGroupRules are read through the action
table's facts: the CIDRs, ports and protocols of the new rules, and `remote_access_open` (a remote-access
port, or every protocol, open to a /0 in the same permission). Severity follows what a scanner on the
internet could now reach: SSH, RDP or everything is critical, another sensitive port (databases, SMB, WinRM,
Docker, Kubernetes…) high, anything else medium.

A rule for a configured corporate network is not exposure (info), nor is one for private ranges or other
security groups (not reported). A rule for some other narrow public range (a /24 of an office or a partner)
is low: someone chose that network, it is not the internet. Ranges of a /8 or wider are treated as the
internet, one step lower.

Calls on one group by one principal within an hour are one finding, with the CreateSecurityGroup that made
the group (a new, permissive group) and any egress rules removed on it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from graphtrail.findings import Finding, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import DISABLE_CLOUD_FIREWALL, bursts, finding_from, who
from graphtrail.hunts.context import HuntContext, HuntEvent, seconds_between
from graphtrail.hunts.data_access import suspicion

INGRESS = ("AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules")
CONTEXT_CALLS = ("CreateSecurityGroup", "RevokeSecurityGroupEgress")
CRITICAL_PORTS = frozenset({22, 3389})
SENSITIVE_PORTS = frozenset({
    21, 23, 25, 135, 139, 445, 1433, 1521, 2049, 2375, 2376, 2379, 3306, 5432, 5601, 5900, 5985, 5986,
    6379, 6443, 7001, 8020, 8080, 8443, 8888, 9000, 9042, 9090, 9200, 9300, 10250, 11211, 27017, 50070,
})  # fmt: skip
BROAD_PREFIX = {4: 8, 6: 16}  # ranges this wide or wider are as good as the internet
ICMP = frozenset({"icmp", "icmpv6", "1", "58"})
WIDE_PORT_RANGE = 1000
GROUP_GAP_SECONDS = 3600
DUPLICATE_RULE = "InvalidPermission.Duplicate"  # the rule is already there: the group is open all the same
_PORTS_RE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


@dataclass(frozen=True)
class _Opening:
    """What one call opened, and to whom."""

    severity: Severity
    audience: str  # for the narrative: "the internet", "a narrow outside range"...
    kind: str  # for the category: internet, outside-range, trusted-network
    cidrs: tuple[str, ...]
    ports: str


def security_group_exposure(context: HuntContext) -> Iterator[Finding]:
    events = list(context.events((*INGRESS, *CONTEXT_CALLS)))
    openings = {event.id: opening for event in events if (opening := _opening(context, event)) is not None}
    ingress = [event for event in events if event.id in openings]
    reported: set[str] = set()
    for run in bursts(ingress, GROUP_GAP_SECONDS, key=lambda event: (event.row.actor, event.target)):
        related = _related(events, run)
        reported |= {event.id for event in related}
        yield _finding(context, run, related, openings)
    yield from _egress_cut(context, events, reported)


def _opening(context: HuntContext, event: HuntEvent) -> _Opening | None:
    """How bad the call's new rules are, or None when they open nothing to outside addresses."""
    if event.row.name not in INGRESS or event.facts.get("egress"):
        return None
    cidrs = tuple(str(c) for c in event.facts.get("cidrs") or ())
    ports_text = ", ".join(str(p) for p in event.facts.get("ports") or ()) or "all ports"
    classes = {cidr: _classify(context, cidr) for cidr in cidrs}
    world = [c for c, kind in classes.items() if kind == "world"]
    broad = [c for c, kind in classes.items() if kind == "broad"]
    narrow = [c for c, kind in classes.items() if kind == "narrow"]
    trusted = [c for c, kind in classes.items() if kind == "trusted"]
    if world or broad:
        level = _port_severity(event, world=bool(world))
        if not world:
            level = Severity(max(Severity.LOW, level - 1))
        audience = "the internet" if world else "a range as wide as the internet"
        severity, kind, chosen = level, "internet", world or broad
    elif narrow:
        severity, audience, kind, chosen = Severity.LOW, "a narrow outside range", "outside-range", narrow
    elif trusted:
        severity, audience, kind, chosen = Severity.INFO, "a trusted network", "trusted-network", trusted
    else:
        return None  # private ranges, other security groups, prefix lists
    if event.failed and DUPLICATE_RULE not in (event.row.error_code or ""):
        severity = Severity(max(Severity.LOW if severity > Severity.INFO else Severity.INFO, severity - 2))
    return _Opening(severity, audience, kind, tuple(chosen), ports_text)


def _classify(context: HuntContext, cidr: str) -> str:
    """world, broad (a /8 or wider of public space), trusted (within trusted_cidrs), private (private or
    reserved space: VPCs, loopback, documentation ranges) or narrow (a specific outside network)."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return "world" if cidr.strip().endswith("/0") else "private"
    if network.prefixlen == 0:
        return "world"  # anonymised logs write 208.236.235.254/0: still everything
    trusted = [net for net in context.config.trusted_networks if net.version == network.version]
    if any(network.subnet_of(net) for net in trusted):  # type: ignore[arg-type]
        return "trusted"
    if network.is_private:
        return "private"
    if network.prefixlen <= BROAD_PREFIX[network.version]:
        return "broad"
    return "narrow" if network.network_address.is_global else "private"


def _port_severity(event: HuntEvent, world: bool) -> Severity:
    """Critical for SSH, RDP or everything; high for another sensitive port or a wide port range; else medium."""
    protocols = {str(p).lower() for p in event.facts.get("protocols") or ()}
    ports = [str(p) for p in event.facts.get("ports") or ()]
    if protocols and protocols <= ICMP:
        return Severity.MEDIUM  # ping and friends
    if protocols & {"all", "-1"} or "all" in ports:
        return Severity.CRITICAL
    ranges = [r for p in ports if (r := _port_range(p)) is not None]
    if not ranges:
        return Severity.HIGH  # ports not logged: assume the worst short of proof

    def covers(wanted: frozenset[int]) -> bool:
        return any(low <= port <= high for low, high in ranges for port in wanted)

    # With a /0, the action table says whether a remote-access port sits in the same permission as the /0
    # (a call can open 22 to an office and 443 to the world).
    if covers(CRITICAL_PORTS) and (event.facts.get("remote_access_open") or not world):
        return Severity.CRITICAL
    if event.facts.get("remote_access_open") or covers(SENSITIVE_PORTS):
        return Severity.HIGH
    if any(high - low >= WIDE_PORT_RANGE for low, high in ranges):
        return Severity.HIGH  # a wide range: sensitive ports are in it
    return Severity.MEDIUM


def _port_range(text: str) -> tuple[int, int] | None:
    """(low, high) of a ports fact ("22", "8000-8080"); None for anything else."""
    match = _PORTS_RE.match(text.strip())
    if match is None:
        return None
    low = int(match.group(1))
    return low, int(match.group(2) or low)


def _related(events: list[HuntEvent], run: list[HuntEvent]) -> list[HuntEvent]:
    """The CreateSecurityGroup that made the group and egress rules it lost, by the same principal, within an
    hour of the run."""
    first, last = run[0], run[-1]
    related = []
    for event in events:
        if event.row.name not in CONTEXT_CALLS or event.target != first.target or event.row.actor != first.row.actor:
            continue
        if (
            seconds_between(event.time, first.time) <= GROUP_GAP_SECONDS
            and seconds_between(last.time, event.time) <= GROUP_GAP_SECONDS
        ):
            related.append(event)
    return related


def _finding(
    context: HuntContext, run: list[HuntEvent], related: list[HuntEvent], openings: dict[str, _Opening]
) -> Finding:
    first = run[0]
    worst = max(run, key=lambda e: openings[e.id].severity)
    opening = openings[worst.id]
    severity = opening.severity
    created = [e for e in related if e.row.name == "CreateSecurityGroup" and not e.failed]
    steps = "; ".join(_step(e, openings.get(e.id)) for e in sorted([*run, *related], key=lambda e: (e.time, e.id)))
    group = first.target
    category = f"defense-evasion:{'new-' if created else ''}security-group-opened-to-{opening.kind}"
    narrative = f"{who(first)} opened security group {group} to {opening.audience}: {steps}."
    reasons = suspicion(context, first.row.actor, run)
    if reasons:
        narrative += f" Suspicious: {'; '.join(reasons)}."
    if created:
        narrative += (
            f" The group itself was created by the same principal at {created[0].time}: a new, permissive group."
        )
    if opening.audience == "a narrow outside range":
        narrative += (
            " The range is a specific network, not the internet; if it is an office or a partner, add it to "
            "trusted_cidrs."
        )
    elif opening.audience == "a trusted network":
        narrative += " The range is a configured trusted network."
    else:
        narrative += (
            " Anyone on the internet can now reach the instances in this group on those ports; check which "
            "instances use it, and their logs after this time."
        )
    if all(e.failed for e in run):
        duplicate = any(DUPLICATE_RULE in (e.row.error_code or "") for e in run)
        narrative += (
            " The rule already existed (the call failed as a duplicate): the group is open all the same."
            if duplicate
            else " Every call was refused, so nothing was opened."
        )
    confidence = 0.9 if severity >= Severity.HIGH else 0.7 if severity == Severity.MEDIUM else 0.4
    ports = ", ".join(dict.fromkeys(openings[e.id].ports for e in run if openings[e.id].kind == opening.kind))
    title = f"Security group {group.rsplit('/', 1)[-1]} opened to {opening.audience} ({ports})"
    return finding_from(
        context, "security-group-exposure", category, title, severity, confidence, [DISABLE_CLOUD_FIREWALL],
        sorted([*run, *related], key=lambda e: (e.time, e.id)), narrative,
    )  # fmt: skip


def _step(event: HuntEvent, opening: _Opening | None) -> str:
    refused = f" (refused: {event.row.error_code})" if event.failed else ""
    if opening is None:
        return f"{event.time} {event.row.name}{refused}"
    return f"{event.time} {event.row.name} {opening.ports} from {', '.join(opening.cidrs)}{refused}"


def _egress_cut(context: HuntContext, events: list[HuntEvent], reported: set[str]) -> Iterator[Finding]:
    """Egress to everything removed from a group (not as part of an opening above): instances in it can no
    longer reach the internet, their security agents and log shipping included."""
    for event in events:
        if event.row.name != "RevokeSecurityGroupEgress" or event.failed or event.id in reported:
            continue
        protocols = {str(p).lower() for p in event.facts.get("protocols") or ()}
        if not (event.facts.get("open_to_world") and protocols & {"all", "-1"}):
            continue
        narrative = (
            f"{who(event)} removed the allow-all egress rule of security group {event.target} at {event.time}. "
            "Instances in the group can no longer reach the internet, which also cuts security agents and log "
            "shipping that go out through it; infrastructure-as-code does the same when it manages egress itself."
        )
        yield finding_from(
            context, "security-group-exposure", "defense-evasion:security-group-egress-removed",
            f"Allow-all egress removed from {event.target.rsplit('/', 1)[-1]}", Severity.LOW, 0.3,
            [DISABLE_CLOUD_FIREWALL], [event], narrative,
        )  # fmt: skip


HUNTS = [
    HuntSpec(
        name="security-group-exposure",
        family="exposure",
        title="Security groups opened to the internet",
        description="AuthorizeSecurityGroupIngress (both request shapes) and ModifySecurityGroupRules that open a "
        "group to 0.0.0.0/0 or ::/0: critical for SSH (22), RDP (3389), every port or protocol -1; high for other "
        "sensitive ports (databases, SMB, WinRM, Docker, Kubernetes...) or wide port ranges; medium otherwise. A "
        "/8 or wider counts as the internet, one step lower. A narrow outside range is low, a configured trusted "
        "network info; private ranges and group references are not reported. Calls on one group by one principal "
        "within an hour are one finding, with the CreateSecurityGroup that made the group (a new, permissive "
        "group) and egress rules removed. Refused calls are two steps lower, except duplicates (already open). "
        "An allow-all egress rule removed on its own is low.",
        techniques=(DISABLE_CLOUD_FIREWALL,),
        run=security_group_exposure,
    ),
]
