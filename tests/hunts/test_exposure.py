from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from graphtrail.case import Case
from graphtrail.findings import Severity
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS
from tests.hunts.conftest import (
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    panther_record,
    real_case,
    records_case,
    run,
    run_on,
)

OPEN_PORT_22 = STRATUS / "aws.exfiltration.ec2-security-group-open-port-22-ingress.json"


def test_ssh_and_rdp_opened_to_the_internet_is_one_critical_finding(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "security-group-exposure")
    opened = simulated.step_events("exposure", "AuthorizeSecurityGroupIngress")
    (finding,) = covering(findings, opened)
    assert opened == set(finding.event_ids)
    assert finding.severity == Severity.CRITICAL
    assert finding.category == "defense-evasion:security-group-opened-to-internet"
    assert {"T1562.007", "T1686.001"} <= set(finding.as_dict()["attack"])
    assert "22, 3389" in finding.title and finding.ips == set(simulated.story("exposure")["attacker"]["ips"])


def test_a_rule_for_the_corporate_range_is_low_and_info_once_the_range_is_trusted(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    decoy = simulated.step_events("corporate-sg-rule", "AuthorizeSecurityGroupIngress")
    (finding,) = covering(run(context, "security-group-exposure"), decoy)
    assert finding.severity == Severity.LOW  # a /24 someone chose, not the internet: no configuration needed
    corporate = simulated.truth["organization"]["corporate_cidr"]
    with Case(simulated.path) as case:
        trusted = HuntContext(case, HuntConfig(trusted_cidrs=(corporate,)))
        (finding,) = covering(run(trusted, "security-group-exposure"), decoy)
    assert finding.severity == Severity.INFO


def test_exposure_stays_quiet_on_baseline_activity(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "security-group-exposure")
    assert flagged_decoys(findings, simulated) == []
    attack = attack_events(simulated)
    assert [f for f in findings if f.severity >= Severity.MEDIUM and not set(f.event_ids) <= attack] == []
    assert len(findings) == 2  # the attack and the corporate rule


def _variants(tmp_path: Path, changes: dict[str, dict[str, Any]]) -> dict[str, Severity]:
    """The real Stratus open-port-22 record, once per variant of its request (or error), hunted together."""
    (original,) = json.loads(OPEN_PORT_22.read_text())
    records = []
    for name, change in changes.items():
        record = copy.deepcopy(original)
        record["requestParameters"] |= change.pop("requestParameters", {})
        record |= change | {"eventID": f"variant-{name}"}
        record["requestParameters"]["groupId"] = f"sg-{name}"
        records.append(record)
    findings = run_on(records_case(tmp_path, records), "security-group-exposure")
    return {f.title.split()[2].removeprefix("sg-"): f.severity for f in findings}


def test_real_record_severity_follows_the_port_and_the_range(tmp_path: Path) -> None:
    severities = _variants(
        tmp_path,
        {
            "ssh": {},
            "https": {"requestParameters": {"fromPort": 443, "toPort": 443}},
            "postgres": {"requestParameters": {"fromPort": 5432, "toPort": 5432}},
            "everything": {"requestParameters": {"ipProtocol": "-1", "fromPort": -1, "toPort": -1}},
            "ipv6": {"requestParameters": {"cidrIp": None, "cidrIpv6": "::/0", "fromPort": 3389, "toPort": 3389}},
            "wide": {"requestParameters": {"cidrIp": "10.0.0.0/1"}},
            "office": {"requestParameters": {"cidrIp": "81.2.69.0/24"}},
            "private": {"requestParameters": {"cidrIp": "10.20.0.0/16"}},
            "vpc": {"requestParameters": {"cidrIp": "10.0.0.0/8"}},
            "refused": {"errorCode": "Client.UnauthorizedOperation", "errorMessage": "You are not authorized"},
            "duplicate": {"errorCode": "Client.InvalidPermission.Duplicate", "errorMessage": "already exists"},
        },
    )
    assert severities == {
        "ssh": Severity.CRITICAL,
        "https": Severity.MEDIUM,
        "postgres": Severity.HIGH,
        "everything": Severity.CRITICAL,
        "ipv6": Severity.CRITICAL,
        "wide": Severity.HIGH,  # as good as the internet, one step lower
        "office": Severity.LOW,
        "refused": Severity.MEDIUM,
        "duplicate": Severity.CRITICAL,  # the rule was already there: the group is open
    }  # "private" and "vpc" are not exposure: no finding


def test_real_stratus_port_22_opened_to_an_anonymised_slash_zero_is_critical(tmp_path: Path) -> None:
    (finding,) = run_on(real_case(tmp_path, [OPEN_PORT_22]), "security-group-exposure")
    assert finding.severity == Severity.CRITICAL and "208.236.235.254/0" in finding.narrative


def test_real_invictus_new_group_opened_to_the_internet_carries_its_creation(invictus_case: Path) -> None:
    (finding,) = run_on(invictus_case, "security-group-exposure")
    assert finding.category == "defense-evasion:new-security-group-opened-to-internet"
    assert finding.severity == Severity.CRITICAL  # Stratus's 22 after Terraform's 443
    assert finding.path[0].action == "CreateSecurityGroup"


def test_real_panther_rule_for_a_single_address_is_not_exposure(tmp_path: Path) -> None:
    record = panther_record("AWS.EC2.SecurityGroupModified", "Security Group Modified")  # 22 from 127.0.0.1/32
    world = panther_record("AWS.EC2.ManualSecurityGroupChange", "Go Script Authorize Ingress")  # 22 from 0.0.0.0/0
    findings = run_on(
        records_case(tmp_path, [record | {"eventID": "one"}, world | {"eventID": "two"}]), "security-group-exposure"
    )
    assert [(f.event_ids[0].split("~")[0], f.severity) for f in findings] == [("two", Severity.CRITICAL)]
