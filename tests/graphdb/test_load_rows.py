"""What the loader sends for each node and edge of a case (no server needed)."""

from __future__ import annotations

from graphtrail.accumulate import EdgeState, NodeState
from graphtrail.graphdb.load import (
    HASH,
    NEW_NODES,
    NEW_RELATIONSHIPS,
    _transactions,
    edge_row,
    node_row,
    node_statement,
    node_writes,
    property_value,
    relationship_statement,
    relationship_writes,
)


def test_values_become_neo4j_properties() -> None:
    assert property_value({"b": "t2", "a": "t1"}) == ["a", "b"]  # a bounded set: its values, sorted
    assert property_value(["x", "y"]) == ["x", "y"]
    assert property_value([1, 2.5]) == [1, 2.5]
    assert property_value(3) == 3
    assert property_value(None) is None
    assert property_value([["nested"], 1]) == '[["nested"],1]'  # mixed: JSON text, never dropped


def test_node_row_carries_the_common_properties_the_kind_props_and_a_stable_hash() -> None:
    node = NodeState(
        key="AKIAEXAMPLE", kind="AccessKey", account="111122223333", first_seen="t1", last_seen="t2",
        props={"temporary": False, "source_ips": {"203.0.113.9": "t1"}, "name": "clash"},
    )  # fmt: skip
    row = node_row(node)
    assert row.kind == "AccessKey"
    assert row.props["key"] == "AKIAEXAMPLE"
    assert row.props["name"] == "AKIAEXAMPLE"  # no name: the key is the caption
    assert row.props["prop_name"] == "clash"  # a kind property named like a common one keeps its value apart
    assert row.props["source_ips"] == ["203.0.113.9"]
    assert row.props["temporary"] is False
    assert row.hash == node_row(node).hash
    node.last_seen = "t3"
    assert node_row(node).hash != row.hash


def test_accounts_with_their_trail_in_the_case_are_marked_logged() -> None:
    ours = NodeState(key="111122223333", kind="Account")
    theirs = NodeState(key="999988887777", kind="Account")
    assert node_row(ours, frozenset({"111122223333"})).props["logged"] is True
    assert node_row(theirs, frozenset({"111122223333"})).props["logged"] is False


def test_edge_row_carries_the_aggregates_and_flattened_facts() -> None:
    edge = EdgeState(
        src="arn:aws:iam::111122223333:user/alice", type="GetObject", dst="arn:aws:s3:::bucket", count=5,
        error_count=1, first_seen="t1", last_seen="t9", errors={"AccessDenied": 1},
        source_ips={"203.0.113.9": "t1"}, access_keys={"AKIAEXAMPLE": "t1"}, early=[("t1", "e1")],
        facts={"bytes_out": 1024, "keys": {"k1": "t1"}, "count": 99},
    )  # fmt: skip
    row = edge_row(edge)
    assert (row.type, row.action, row.src, row.dst) == ("GetObject", "GetObject", edge.src, edge.dst)
    props = row.props
    assert props["count"] == 5 and props["error_count"] == 1
    assert props["errors"] == ["AccessDenied"] and props["error_counts"] == [1]
    assert props["first_seen"] == "t1" and props["last_seen"] == "t9"
    assert props["event_ids"] == ["e1"]
    assert props["bytes_out"] == 1024 and props["keys"] == ["k1"]
    assert props["fact_count"] == 99  # a fact named like an aggregate never overwrites it
    assert props["traversable"] is False and props["structural"] is False
    assert HASH in props


def test_structural_edges_that_hand_over_control_are_traversable() -> None:
    row = edge_row(EdgeState(src="AKIAEXAMPLE", type="AUTHENTICATES", dst="arn:aws:iam::111122223333:user/alice"))
    assert row.props["traversable"] is True and row.props["structural"] is True


def test_structural_edges_leave_out_empty_lists_and_action_edges_keep_every_aggregate() -> None:
    structural = edge_row(EdgeState(src="AKIAEXAMPLE", type="FROM_IP", dst="203.0.113.9", count=3, first_seen="t1"))
    assert not any(isinstance(value, list) for value in structural.props.values())
    assert structural.props["count"] == 3 and structural.props["error_count"] == 0
    minted = edge_row(EdgeState(src="arn:aws:iam::111122223333:user/alice", type="MINTED", dst="ASIAEXAMPLE",
                                source_ips={"203.0.113.9": "t1"}, early=[("t1", "e1")]))  # fmt: skip
    assert minted.props["source_ips"] == ["203.0.113.9"] and minted.props["event_ids"] == ["e1"]
    assert "regions" not in minted.props
    action = edge_row(EdgeState(src="arn:aws:iam::111122223333:user/alice", type="ListBuckets", dst="s3"))
    for name in ("errors", "error_counts", "source_ips", "user_agents", "regions", "access_keys", "event_ids"):
        assert action.props[name] == []


def test_statements_interpolate_only_labels_and_quoted_types() -> None:
    hostile = "Get`Object'}) DETACH DELETE n //"
    statement = relationship_statement(hostile)
    assert "[r:`Get``Object'}) DETACH DELETE n //` {action: row.action}]" in statement
    assert statement.count(hostile.replace("`", "``")) == 1
    assert node_statement("Session").startswith("UNWIND $rows AS row\nMERGE (n:GT {key: row.key})")
    # the statements for what Neo4j lacks take labels and types as data
    assert "CREATE (n:GT:$(row.kind))" in NEW_NODES
    assert "CREATE (a)-[r:$(row.type)]->(b)" in NEW_RELATIONSHIPS


def test_what_neo4j_lacks_is_created_in_one_statement_and_what_changed_is_merged_by_type() -> None:
    alice, bob = "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob"
    nodes = [node_row(NodeState(key=key, kind="User")) for key in (alice, bob)]
    nodes.append(node_row(NodeState(key="AKIAEXAMPLE", kind="AccessKey")))
    edges = [edge_row(EdgeState(src="AKIAEXAMPLE", type=t, dst=alice)) for t in ("AUTHENTICATES", "GetObject")]
    edges.append(edge_row(EdgeState(src="AKIAEXAMPLE", type="Get`Object", dst=bob)))

    assert [(statement, len(rows)) for statement, rows in node_writes(nodes, {})] == [(NEW_NODES, 3)]
    assert [(statement, len(rows)) for statement, rows in relationship_writes(edges, {})] == [(NEW_RELATIONSHIPS, 3)]

    known_nodes = {alice: nodes[0].hash, bob: "stale", "AKIAEXAMPLE": nodes[2].hash}
    assert node_writes(nodes, known_nodes) == [(node_statement("User"), [{"key": bob, "props": nodes[1].props}])]
    assert [len(rows) for _, rows in node_writes(nodes, known_nodes, force=True)] == [1, 2]  # AccessKey, User

    known_edges = {edges[0].identity: edges[0].hash, edges[2].identity: "stale"}
    groups = relationship_writes(edges, known_edges)
    assert [statement for statement, _ in groups] == [NEW_RELATIONSHIPS, relationship_statement("Get`Object")]
    assert [row["type"] for row in groups[0][1]] == ["GetObject"]
    assert groups[1][1][0]["action"] == "Get`Object"
    forced = relationship_writes(edges, known_edges, force=True)
    assert [statement for statement, _ in forced] == [
        NEW_RELATIONSHIPS, relationship_statement("AUTHENTICATES"), relationship_statement("Get`Object")
    ]  # fmt: skip


def test_transactions_split_large_groups_and_pack_small_ones() -> None:
    groups = [("A", [{"i": i} for i in range(5)]), ("B", [{"i": 0}]), ("C", [{"i": 0}, {"i": 1}])]
    work = list(_transactions(groups, 3))
    assert [[(statement, len(rows)) for statement, rows in tx] for tx in work] == [
        [("A", 3)],
        [("A", 2), ("B", 1)],
        [("C", 2)],
    ]
