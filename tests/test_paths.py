"""Time-respecting paths, blast radius and timelines on the bundled simulated example and a role chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.cloudtrail.timeparse import shift_time
from graphtrail.errors import InputError
from graphtrail.graph import load_graph
from graphtrail.ingest import ingest_paths
from graphtrail.paths import PathFinder, blast_radius, parse_duration, timeline
from graphtrail.simulate import SimulationConfig, simulate
from tests.conftest import NORTHWIND


@pytest.fixture(scope="module")
def northwind(northwind_case: Path) -> tuple[Path, dict[str, Any]]:
    return northwind_case, orjson.loads((NORTHWIND.parent / "ground_truth.json").read_bytes())


@pytest.fixture
def case(northwind: tuple[Path, dict[str, Any]]) -> Iterator[Case]:
    with Case(northwind[0]) as opened:
        yield opened


def _story(truth: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in truth["scenarios"] + truth["decoys"] if s["name"] == name)


def _leaked(truth: dict[str, Any]) -> tuple[str, str, str]:
    """The leaked CI key, the backdoor user it created, and the backdoor user's key."""
    steps = _story(truth, "leaked-ci-key")["steps"]
    created_user = next(s["target"] for s in steps if s["action"] == "CreateUser")
    new_key = next(s["target"] for s in steps if s["action"] == "CreateAccessKey")
    leaked = next(k for k in _story(truth, "leaked-ci-key")["attacker"]["keys"] if k != new_key)
    return leaked, created_user, new_key


def test_path_from_leaked_key_to_backdoor_key_is_signed_by_that_key_at_every_hop(
    case: Case, northwind: tuple[Path, dict[str, Any]]
) -> None:
    leaked, _, new_key = _leaked(northwind[1])
    paths = PathFinder(case, load_graph(case)).find(leaked, new_key)
    assert paths
    first = paths[0]
    assert [hop.action for hop in first.hops] == ["AUTHENTICATES", "CreateAccessKey"]
    assert all(hop.access_key == leaked for hop in first.hops)
    create = next(s for s in _story(northwind[1], "leaked-ci-key")["steps"] if s["action"] == "CreateAccessKey")
    assert first.hops[-1].event_ids == tuple(create["event_ids"])


def test_paths_are_time_respecting_and_shortest_first(case: Case, northwind: tuple[Path, dict[str, Any]]) -> None:
    leaked, user, _ = _leaked(northwind[1])
    paths = PathFinder(case, load_graph(case)).find(leaked, user, limit=10)
    assert len(paths) >= 2
    assert [len(p.hops) for p in paths] == sorted(len(p.hops) for p in paths)
    for found in paths:
        times = [hop.time for hop in found.hops]
        assert times == sorted(times)


def test_no_path_runs_backwards_in_time_or_starts_after_the_fact(
    case: Case, northwind: tuple[Path, dict[str, Any]]
) -> None:
    leaked, _, new_key = _leaked(northwind[1])
    finder = PathFinder(case, load_graph(case))
    assert finder.find(new_key, leaked) == []
    created = next(s for s in _story(northwind[1], "leaked-ci-key")["steps"] if s["action"] == "CreateAccessKey")
    one_second_later = shift_time(created["time"], 1)
    assert finder.find(leaked, new_key, since=one_second_later) == []
    assert finder.find(leaked, new_key, since=created["time"]) != []
    assert finder.find(leaked, new_key, within=1) != []  # AUTHENTICATES and CreateAccessKey are one event


def test_unknown_node_is_a_clear_error(case: Case) -> None:
    with pytest.raises(InputError, match="not a node"):
        PathFinder(case, load_graph(case)).find("AKIANOTHERE000000000", "x")


def test_blast_radius_of_stolen_instance_key_counts_the_bucket_it_drained(
    case: Case, northwind: tuple[Path, dict[str, Any]]
) -> None:
    story = _story(northwind[1], "stolen-instance-credentials")
    (key,) = story["attacker"]["keys"]
    bucket = next(s["target"] for s in story["steps"] if s["action"] == "ListObjects")
    step_events = [e for s in story["steps"] if s["target"] == bucket for e in s["event_ids"]]
    reads = sum(1 for e in step_events if case.event(e).name == "GetObject")
    radius = blast_radius(case, key, story["start"])
    assert reads >= 80 and radius.resources[bucket]["actions"]["GetObject"] == reads
    assert list(radius.roles) == ["arn:aws:iam::" + bucket.rsplit("-", 1)[1] + ":role/app-server"]


def test_blast_radius_of_leaked_key_follows_the_key_it_created(
    case: Case, northwind: tuple[Path, dict[str, Any]]
) -> None:
    leaked, user, new_key = _leaked(northwind[1])
    start = _story(northwind[1], "leaked-ci-key")["start"]
    radius = blast_radius(case, leaked, start)
    assert new_key in radius.keys and user in radius.principals
    assert {(hop.action, hop.dst) for hop in radius.created} >= {("CreateUser", user), ("CreateAccessKey", new_key)}
    events = timeline(case, leaked, start)
    assert {row.access_key for row in events} == {leaked, new_key}
    assert [row.time for row in events] == sorted(row.time for row in events)


def test_role_chain_path_crosses_accounts_hop_by_hop(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    simulate(SimulationConfig(out=out, seed=4, days=1, events=1500, scenarios=["role-chain-exfiltration"]))
    ingest_paths([str(out)], tmp_path / "chain.case", workers=1)
    truth = orjson.loads((out / "ground_truth.json").read_bytes())
    story = truth["scenarios"][0]
    hops = [s for s in story["steps"] if s["action"] == "AssumeRole"]
    with Case(tmp_path / "chain.case") as case:
        lineage = case.lineage()
        issued = {item.event_id: key for key, item in lineage.items() if item.event_id}
        last_key = next(issued[e] for e in hops[-1]["event_ids"] if e in issued)
        first_key = next(lineage[k].issuer_key for k in [next(issued[e] for e in hops[0]["event_ids"] if e in issued)])
        paths = PathFinder(case, load_graph(case)).find(first_key, last_key)
    hops_found = paths[0].hops
    assert hops_found[0].action == "AUTHENTICATES" and hops_found[0].src == first_key
    assert hops_found[-1].dst == last_key and hops_found[-1].event_ids[0] in hops[-1]["event_ids"]
    deploy_session = next(h.dst for h in hops_found if h.action == "AssumeRole")
    assert ":assumed-role/deploy/" in deploy_session  # through prod's deploy role, across accounts
    times = [hop.time for hop in hops_found]
    assert times == sorted(times)


def test_durations_read_as_a_responder_writes_them() -> None:
    assert parse_duration("90s") == 90 and parse_duration("15m") == 900 and parse_duration("2d") == 172800
    with pytest.raises(InputError):
        parse_duration("soon")
