"""What a page draws: the incidents or the chosen focus, capped, with what was left out said."""

from __future__ import annotations

import pytest

from graphtrail.case import Case
from graphtrail.errors import InputError
from graphtrail.graph import load_graph
from graphtrail.viz import ViewFocus, build_view
from graphtrail.viz.scope import select_scope
from tests.viz.conftest import StudiedCase


def expected_path(case: Case, finding) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """A finding's path edges, worked out from its events: (actor, target or service, action)."""
    edges = set()
    for hop in finding.path:
        for event_id in hop.event_ids:
            row = case.event(event_id)
            assert row is not None
            edges.add((row.actor, row.target or row.source, row.name))
    return edges


def test_default_scope_is_the_incidents_not_the_whole_graph(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        graph = load_graph(case)
        scope = select_scope(graph, case, northwind.report)
        listed = [i for i in northwind.report.incidents if i.severity >= 1]
        assert [si.incident.id for si in scope.incidents] == [i.id for i in listed]
        assert 0 < len(scope.nodes) < graph.number_of_nodes() / 10
        drawn = set(scope.edges)
        for finding in (f for i in listed for f in i.findings):
            assert expected_path(case, finding) <= drawn
        assert all(k != "IN_ACCOUNT" for _, _, k in scope.edges)
        assert all(u in scope.nodes and v in scope.nodes for u, v, _ in scope.edges)


def test_attack_path_steps_are_numbered_in_time_order_per_incident(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        graph = load_graph(case)
        scope = select_scope(graph, case, northwind.report, ViewFocus(incident=2))
        steps = sorted(scope.path_order.values())
        assert steps == list(range(1, len(steps) + 1))
        times = [graph.edges[e]["first_seen"] for e, _ in sorted(scope.path_order.items(), key=lambda kv: kv[1])]
        assert times[0] == min(times)
        entry = northwind.report.incidents[1].entry
        assert scope.entry_nodes == {entry.access_key}


def test_finding_focus_draws_its_path_and_lineage_only(northwind: StudiedCase) -> None:
    finding = next(f for f in northwind.report.findings if f.category == "persistence:backdoor-key-used")
    with Case(northwind.path) as case:
        graph = load_graph(case)
        scope = select_scope(graph, case, northwind.report, ViewFocus(finding=finding.id))
        assert [sf.finding.id for sf in scope.findings] == [finding.id]
        assert set(scope.findings[0].edges) == expected_path(case, finding)
        everything = select_scope(graph, case, northwind.report)
        assert set(scope.nodes) < set(everything.nodes)


def test_around_reaches_hops_without_walking_through_services(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        graph = load_graph(case)
        near = select_scope(graph, case, northwind.report, ViewFocus(around="45.155.205.128", hops=1))
        far = select_scope(graph, case, northwind.report, ViewFocus(around="45.155.205.128", hops=3))
        assert "45.155.205.128" in near.nodes
        assert set(near.nodes) <= set(graph.predecessors("45.155.205.128")) | {"45.155.205.128"}
        assert set(near.nodes) < set(far.nodes)
        assert any(sf.finding.category == "persistence:backdoor-key-used" for sf in far.findings)


def test_over_the_cap_the_page_says_what_was_left_out_and_how_to_narrow(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        graph = load_graph(case)
        full = select_scope(graph, case, northwind.report)
        capped = select_scope(graph, case, northwind.report, max_nodes=10)
        assert len(capped.nodes) == 10
        assert capped.omitted_count == len(full.nodes) - 10
        hint = capped.hint()
        assert hint is not None and "--incident" in hint and "--around" in hint and "--finding" in hint
        assert full.hint() is None
        path_nodes = {n for e in full.path_order for n in e[:2]}
        assert set(capped.nodes) <= path_nodes  # the attack path is kept first


def test_unknown_focus_is_a_clear_error(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        graph = load_graph(case)
        with pytest.raises(InputError, match="no finding GT-nope"):
            select_scope(graph, case, northwind.report, ViewFocus(finding="GT-nope"))
        with pytest.raises(InputError, match="no incident 99"):
            select_scope(graph, case, northwind.report, ViewFocus(incident=99))
        with pytest.raises(InputError, match="no node"):
            select_scope(graph, case, northwind.report, ViewFocus(around="203.0.113.99"))


def test_focus_takes_one_choice() -> None:
    with pytest.raises(ValueError, match="choose one"):
        ViewFocus(incident=1, finding="GT-x")


def test_evidence_is_bounded_and_carries_no_raw_record(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        _, model = build_view(case, northwind.report)
    assert all(len(node["evidence"]) <= 12 for node in model["nodes"])
    assert all(set(event) == {"id", "time", "name", "actor", "key", "ip", "agent", "error", "target", "region",
                              "account"} for event in model["events"].values())  # fmt: skip
    referenced = {e for node in model["nodes"] for e in node["evidence"]}
    assert referenced == set(model["events"])


def test_finding_focus_numbers_only_its_own_path(northwind: StudiedCase) -> None:
    finding = next(f for f in northwind.report.findings if f.category == "persistence:new-iam-user")
    with Case(northwind.path) as case:
        graph = load_graph(case)
        scope = select_scope(graph, case, northwind.report, ViewFocus(finding=finding.id))
        assert set(scope.path_order) == expected_path(case, finding)
        assert sorted(scope.path_order.values()) == list(range(1, len(scope.path_order) + 1))
