from __future__ import annotations

from pathlib import Path

from graphtrail.findings import Severity
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS
from tests.hunts.conftest import SimulatedCase, covering, flagged_decoys, real_case, run, run_on


def test_trail_and_guardduty_tampering_is_one_critical_finding(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "defense-evasion")
    steps = simulated.step_events("defense-evasion") - simulated.step_events("defense-evasion", "GetCallerIdentity")
    tampering = {e for e in steps if e not in simulated.step_events("defense-evasion", "recon")}
    (finding,) = covering(findings, tampering)
    assert tampering <= set(finding.event_ids)  # selectors, StopLogging, both DeleteDetector, DeleteTrail
    assert finding.severity == Severity.CRITICAL
    assert {"T1562.008", "T1685.002"} <= set(finding.as_dict()["attack"])
    attacker = simulated.story("defense-evasion")["attacker"]
    assert finding.keys <= set(attacker["keys"]) and finding.ips == set(attacker["ips"])


def test_no_decoy_and_no_baseline_activity_is_taken_for_evasion(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "defense-evasion")
    assert flagged_decoys(findings, simulated, Severity.LOW) == []
    attack = simulated.step_events("defense-evasion")
    assert all(set(f.event_ids) <= attack for f in findings)


def test_real_stratus_detonations_of_logging_tampering_are_found(tmp_path: Path) -> None:
    logs = [STRATUS / f"aws.defense-evasion.{name}.json" for name in
            ("cloudtrail-stop", "cloudtrail-delete", "cloudtrail-event-selectors", "vpc-remove-flow-logs")]  # fmt: skip
    findings = run_on(real_case(tmp_path, [p for p in logs if p.exists()]), "defense-evasion")
    actions = {hop.action for f in findings for hop in f.path}
    assert {"StopLogging", "DeleteTrail", "PutEventSelectors", "DeleteFlowLogs"} <= actions
