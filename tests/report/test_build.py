"""The report model rests on the case's own events: every cited event exists, paths are made of them."""

from __future__ import annotations

import pytest

from graphtrail.case import Case
from graphtrail.errors import InputError
from graphtrail.findings import Severity
from graphtrail.hunts.context import HuntContext
from graphtrail.report import build_report
from tests.report.conftest import ReportedCase


def test_every_cited_event_exists_in_the_case(any_case: ReportedCase) -> None:
    report = any_case.report
    assert report.incidents, "each of these cases has at least one incident"
    assert report.missing_events == ()
    cited = {e for f in report.findings for e in f.data["path"] for e in e["event_ids"]}
    cited |= {e for i in report.incidents for hop in i.path for e in hop.event_ids}
    cited |= {e for i in report.incidents for step in i.containment for e in step.event_ids}
    with Case(any_case.path) as case:
        missing = [event_id for event_id in sorted(cited) if case.event(event_id) is None]
    assert missing == []


def test_the_evidence_list_is_exactly_the_events_the_findings_cite(any_case: ReportedCase) -> None:
    report = any_case.report
    cited = {e for f in report.findings for hop in f.data["path"] for e in hop["event_ids"]}
    listed = [event.event_id for event in report.events]
    assert len(listed) == len(set(listed))
    assert set(listed) == cited


def test_each_path_covers_its_incident_events_once_in_time_order(simulated: ReportedCase) -> None:
    for incident in simulated.report.incidents:
        path_events = [e for hop in incident.path for e in hop.event_ids]
        assert len(path_events) == len(set(path_events))
        times = [hop.time for hop in incident.path]
        assert times == sorted(times)
        assert [hop.number for hop in incident.path] == list(range(1, len(incident.path) + 1))
        own = {e for f in simulated.report.findings if f.incident == incident.id for h in f.data["path"]
               for e in h["event_ids"]}  # fmt: skip
        assert set(path_events) == own


def test_a_refused_call_is_reported_as_refused(northwind: ReportedCase) -> None:
    hops = [hop for incident in northwind.report.incidents for hop in incident.path]
    refused = [hop for hop in hops if hop.action == "ListUsers" and hop.refused]
    assert refused and all(hop.result.startswith("refused") for hop in refused if hop.count == 1)
    assert any(hop.action == "CreateUser" and hop.result == "succeeded" for hop in hops)


def test_incidents_below_the_threshold_are_left_out_and_counted(northwind: ReportedCase) -> None:
    report = northwind.report
    assert all(Severity.parse(i.severity) >= Severity.LOW for i in report.incidents)
    below = sum(1 for i in northwind.hunts.incidents if i.severity < Severity.LOW)
    assert below > 0 and report.below_least == below


def test_one_incident_by_number_or_id(northwind: ReportedCase) -> None:
    second = northwind.hunts.incidents[1]
    with Case(northwind.path) as case:
        context = HuntContext(case)
        by_number = build_report(context, northwind.hunts, incident="2")
        by_id = build_report(context, northwind.hunts, incident=second.id.lower())
        with pytest.raises(InputError, match="no incident"):
            build_report(context, northwind.hunts, incident="INC-0000000000")
    assert [i.id for i in by_number.incidents] == [second.id] == [i.id for i in by_id.incidents]
    assert by_number.scope == second.id
    assert {f.incident for f in by_number.findings} == {second.id}
    assert all(event.incidents == (second.id,) for event in by_number.events)


def test_blast_radius_reaches_the_backdoor_key(northwind: ReportedCase) -> None:
    incident = next(i for i in northwind.report.incidents if "AKIAIZSZ277PIZVA5AUF" in i.keys)
    radius = incident.blast_radius
    assert radius is not None
    assert "AKIAIZSZ277PNULUNE7G" in dict(radius.keys)
    assert {(c.action, c.target) for c in radius.created} >= {
        ("CreateUser", "arn:aws:iam::604705062878:user/svc-h9zfcb"),
        ("CreateAccessKey", "AKIAIZSZ277PNULUNE7G"),
    }
