from __future__ import annotations

import copy
from random import Random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from graphtrail.accumulate import GraphAccumulator, _keep_first, _merge_first
from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.normalize import normalize_record
from tests.conftest import STRATUS, invictus_records, load_records

SSO_ROLE = "arn:aws:iam::844015365555:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_account-admin_599c9e90e350d2ff"


def _accumulate(records: list[dict]) -> GraphAccumulator:
    graph = GraphAccumulator()
    for record in records:
        event = normalize_record(copy.deepcopy(record))
        graph.add_event(event, resolve_action(event))
    return graph


def _grouped(records: list[dict]) -> GraphAccumulator:
    """The graph of `records` added through EventGroups, as a batch adds them."""
    from graphtrail.accumulate import EventGroups

    graph = GraphAccumulator()
    groups = EventGroups(graph)
    for record in records:
        event = normalize_record(copy.deepcopy(record))
        groups.add(event, resolve_action(event))
    groups.flush()
    return graph


def _snapshot(graph: GraphAccumulator) -> tuple[dict, dict]:
    nodes = {key: (n.kind, n.account, n.name, n.first_seen, n.last_seen, n.props) for key, n in graph.nodes.items()}
    edges = {
        key: (e.count, e.error_count, e.first_seen, e.last_seen, e.traversable, e.errors, e.source_ips, e.user_agents,
              e.regions, e.access_keys, e.event_ids, e.facts)
        for key, e in graph.edges.items()
    }  # fmt: skip
    return nodes, edges


def test_merging_per_file_graphs_equals_one_graph_of_all_events() -> None:
    records = invictus_records()
    whole = _accumulate(records)
    merged = GraphAccumulator()
    for start in range(0, len(records), 300):
        merged.merge(_accumulate(records[start : start + 300][::-1]))
    assert _snapshot(merged) == _snapshot(whole)


def test_role_named_without_its_path_joins_the_role_with_the_path() -> None:
    sso = load_records(STRATUS / "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json")
    attach = next(r for r in load_records(STRATUS / "aws.persistence.iam-create-backdoor-role.json")
                  if r["eventName"] == "AttachRolePolicy")  # fmt: skip
    attach = copy.deepcopy(attach)
    attach["requestParameters"]["roleName"] = "AWSReservedSSO_account-admin_599c9e90e350d2ff"
    attach["recipientAccountId"] = "844015365555"
    attach["userIdentity"]["accountId"] = "844015365555"
    attach["userIdentity"]["arn"] = "arn:aws:iam::844015365555:user/christophe"
    graph = _accumulate([*sso, attach])
    plain = "arn:aws:iam::844015365555:role/AWSReservedSSO_account-admin_599c9e90e350d2ff"
    assert plain in graph.nodes and SSO_ROLE in graph.nodes
    assert graph.canonicalize_iam_paths() == {plain: SSO_ROLE}
    assert plain not in graph.nodes
    assert ("arn:aws:iam::844015365555:user/christophe", "AttachRolePolicy", SSO_ROLE) in graph.edges
    assert not any(plain in (src, dst) for src, _, dst in graph.edges)


def test_same_name_in_two_accounts_is_not_merged() -> None:
    graph = GraphAccumulator()
    graph.node("arn:aws:iam::111111111111:role/deploy", "Role", "2024-01-01T00:00:00Z")
    graph.node("arn:aws:iam::222222222222:role/ci/deploy", "Role", "2024-01-01T00:00:00Z")
    assert graph.canonicalize_iam_paths() == {}


def test_grouped_events_give_the_same_graph_as_one_by_one() -> None:
    records = invictus_records()
    assert _snapshot(_grouped(records)) == _snapshot(_accumulate(records))


def test_a_callers_groups_count_a_structural_edge_their_action_also_names_once() -> None:
    # A session reading its own role: the role's IN_ACCOUNT edge comes both from the caller (the session's
    # role) and from the action (its target). Groups of one caller add the caller's part once for all.
    session = next(r for r in invictus_records() if r["userIdentity"].get("type") == "AssumedRole"
                   and r["eventName"] == "DescribeInstances")  # fmt: skip
    role_arn = session["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    reads = []
    for index in range(5):
        record = copy.deepcopy(session)
        record["eventID"] = f"00000000-0000-4000-8000-00000000000{index}"
        record["eventTime"] = f"2024-05-0{index + 1}T10:00:00Z"
        if index < 3:
            record.update(eventSource="iam.amazonaws.com", eventName="DetachRolePolicy",
                          requestParameters={"roleName": role_arn.rsplit("/", 1)[-1]})  # fmt: skip
        reads.append(record)
    grouped = _grouped(reads)
    assert _snapshot(grouped) == _snapshot(_accumulate(reads))
    account = session["recipientAccountId"]
    assert (session["userIdentity"]["arn"], "DetachRolePolicy", role_arn) in grouped.edges
    assert grouped.edges[(role_arn, "IN_ACCOUNT", account)].count == 5


def test_numbers_in_facts_of_a_group_count_every_event() -> None:

    from graphtrail.accumulate import EventGroups

    record = next(r for r in invictus_records() if r["eventName"] == "Decrypt")
    event = normalize_record(copy.deepcopy(record))
    effect = resolve_action(event)._replace(facts={"bytes_out": 5, "public": True, "keys": ("a",)})
    grouped = GraphAccumulator()
    groups = EventGroups(grouped)
    for index in range(3):
        groups.add(event._replace(event_id=f"e{index}"), effect)
    groups.flush()
    edge = next(e for e in grouped.edges.values() if e.type == "Decrypt")
    assert edge.count == 3
    assert edge.facts["bytes_out"] == 15 and edge.facts["public"] is True and set(edge.facts["keys"]) == {"a"}
    assert edge.event_ids == ["e0", "e1", "e2"]


def test_an_issuing_event_counts_each_structural_edge_once() -> None:
    # The AssumeRole rule and the issued credential both name key -> session and session -> role.
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    assume = next(r for r in records if r["eventName"] == "AssumeRole")
    graph = _accumulate([assume])
    structural = {
        key: edge.count for key, edge in graph.edges.items() if key[1] in ("AUTHENTICATES", "SESSION_OF", "IN_ACCOUNT")
    }
    assert structural and set(structural.values()) == {1}


@given(
    st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 30)), max_size=40),
    st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 30)), max_size=40),
)
def test_merging_samples_keeps_what_offering_them_one_by_one_keeps(
    left: list[tuple[str, int]], right: list[tuple[str, int]]
) -> None:
    def offered(pairs: list[tuple[str, int]]) -> dict[str, str]:
        bucket: dict[str, str] = {}
        for value, when in pairs:
            _keep_first(bucket, value, f"{when:02d}", cap=4)
        return bucket

    merged = offered(left)
    _merge_first(merged, offered(right), cap=4)
    assert merged == offered(left + right)


@given(st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 9)), max_size=40), st.randoms())
def test_a_full_sample_keeps_the_values_seen_earliest_whatever_their_order(
    pairs: list[tuple[str, int]], rng: Any
) -> None:
    earliest: dict[str, str] = {}
    for value, when in pairs:
        earliest[value] = min(earliest.get(value, "99"), f"{when:02d}")
    expected = dict(sorted(earliest.items(), key=lambda item: (item[1], item[0]))[:4])
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    for order in (pairs, shuffled):
        bucket: dict[str, str] = {}
        for value, when in order:
            _keep_first(bucket, value, f"{when:02d}", cap=4)
        assert bucket == expected


def test_a_group_whose_events_differ_in_facts_gives_the_graph_of_one_by_one() -> None:
    """Facts are not part of a group's identity: 70 reads of 55 objects, in no order, make one group."""
    import random

    from graphtrail.accumulate import EventGroups

    record = next(r for r in invictus_records() if r["eventName"] == "Decrypt")
    event = normalize_record(copy.deepcopy(record))
    effect = resolve_action(event)
    reads = []
    for index in range(70):
        when = f"2024-03-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
        facts = {"objects": (f"key-{index % 55}",), "bytes_out": index, "public": index == 40}
        reads.append((event._replace(event_id=f"e{index}", when=when), effect._replace(facts=facts)))
    random.Random(5).shuffle(reads)
    one_by_one = GraphAccumulator()
    grouped = GraphAccumulator()
    groups = EventGroups(grouped)
    for read, read_effect in reads:
        one_by_one.add_event(read, read_effect)
        groups.add(read, read_effect)
    groups.flush()
    assert _snapshot(grouped) == _snapshot(one_by_one)
    edge = next(e for e in grouped.edges.values() if e.type == "Decrypt")
    assert edge.count == 70 and edge.facts["bytes_out"] == sum(range(70)) and edge.facts["public"] is True
    assert len(edge.facts["objects"]) == 50  # the sample cap: the 50 objects first read


@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from("abcdef")), max_size=60))
def test_sampled_event_ids_are_the_earliest_and_latest_in_time_order(offers: list[tuple[int, str]]) -> None:
    from graphtrail.accumulate import EVENT_SAMPLE, EdgeState

    edge = EdgeState("a", "GetObject", "b")
    for when, event_id in offers:
        edge.sample(f"{when:02d}", event_id)
    every = sorted({(f"{when:02d}", event_id) for when, event_id in offers})
    kept = every if len(every) <= 2 * EVENT_SAMPLE else every[:EVENT_SAMPLE] + every[-EVENT_SAMPLE:]
    assert edge.event_ids == [event_id for _, event_id in kept]


offers = st.lists(st.tuples(st.integers(0, 40), st.sampled_from("abcdef")), max_size=40)


@given(offers, offers, offers)
def test_merging_sampled_event_ids_keeps_what_offering_them_to_one_edge_keeps(
    first: list[tuple[int, str]], second: list[tuple[int, str]], third: list[tuple[int, str]]
) -> None:
    from graphtrail.accumulate import EdgeState

    def sampled(*parts: list[tuple[int, str]]) -> EdgeState:
        edge = EdgeState("a", "GetObject", "b")
        for part in parts:
            for when, event_id in part:
                edge.sample(f"{when:02d}", event_id)
        return edge

    merged = sampled(first)
    merged.merge(sampled(second))
    merged.merge(sampled(third))
    whole = sampled(first, second, third)
    assert (merged.early, merged.late) == (whole.early, whole.late)


@given(offers, st.integers(0, 300), st.randoms())
def test_a_groups_sampled_ids_reach_the_edge_as_offering_them_one_by_one(
    before: list[tuple[int, str]], size: int, rng: Random
) -> None:
    # A group past _OFFERED_CAP ids narrows them to its sample as it goes; the edge must not tell.
    from graphtrail.accumulate import EdgeState, _Group

    grouped = [(rng.randrange(61), rng.choice("abcdef")) for _ in range(size)]
    one_by_one, at_once = EdgeState("a", "GetObject", "b"), EdgeState("a", "GetObject", "b")
    for when, event_id in before:
        one_by_one.sample(f"{when:02d}", event_id)
        at_once.sample(f"{when:02d}", event_id)
    group = _Group(None, None, "00")  # type: ignore[arg-type]  # a group's event plays no part in sampling
    for when, event_id in grouped:
        one_by_one.sample(f"{when:02d}", event_id)
        group.add(f"{when:02d}", event_id)
    at_once.sample_all(group.samples())
    assert (at_once.early, at_once.late) == (one_by_one.early, one_by_one.late)


def test_nodes_and_edges_cross_processes_whole() -> None:
    import pickle

    from graphtrail.accumulate import EdgeState, NodeState

    graph = _accumulate(invictus_records()[:400])
    edges = list(graph.edges.values())
    nodes = list(graph.nodes.values())
    assert any(edge.facts for edge in edges) and any(edge.late for edge in edges) and any(node.props for node in nodes)
    assert pickle.loads(pickle.dumps(edges, protocol=5)) == edges
    assert pickle.loads(pickle.dumps(nodes, protocol=5)) == nodes
    assert isinstance(pickle.loads(pickle.dumps(edges[0])), EdgeState)
    assert isinstance(pickle.loads(pickle.dumps(nodes[0])), NodeState)


def test_paths_cross_marked_action_edges_and_a_keys_authentication_and_minting() -> None:
    from graphtrail.accumulate import EdgeState

    assert EdgeState("key", "AUTHENTICATES", "user").on_paths
    assert EdgeState("user", "MINTED", "key").on_paths
    assert EdgeState("user", "AssumeRole", "session", traversable=True).on_paths
    assert not EdgeState("user", "GetObject", "bucket").on_paths
    assert not EdgeState("session", "SESSION_OF", "role").on_paths
    assert not EdgeState("user", "FROM_IP", "203.0.113.5").on_paths
