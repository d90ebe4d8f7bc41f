"""Positions: chains read left to right in time, loops are cut where they run back in time, incidents apart."""

from __future__ import annotations

from graphtrail.viz.layout import assign_bands, layout_positions

T = {"ip": "2026-01-01T00:00:00Z", "key": "2026-01-01T00:00:01Z", "user": "2026-01-01T00:00:02Z",
     "bucket": "2026-01-01T00:00:03Z", "ec2": "2025-01-01T00:00:00Z", "session": "2026-01-01T00:00:05Z"}  # fmt: skip


def test_a_chain_reads_left_to_right_from_address_to_what_was_touched() -> None:
    nodes = ["bucket", "user", "key", "ip"]
    edges = [("key", "ip", "FROM_IP"), ("key", "user", "AUTHENTICATES"), ("user", "bucket", "GetObject")]
    x = {node: position[0] for node, position in layout_positions(nodes, edges, T).items()}
    assert x["ip"] < x["key"] < x["user"] < x["bucket"]


def test_a_loop_is_cut_where_it_runs_back_in_time() -> None:
    nodes = ["session", "ec2"]
    edges = [("ec2", "session", "AssumeRole"), ("session", "ec2", "DescribeInstances")]
    x = {node: position[0] for node, position in layout_positions(nodes, edges, T).items()}
    assert x["ec2"] < x["session"]


def test_each_band_is_laid_out_apart_and_neighbours_follow_their_band() -> None:
    nodes = ["a1", "a2", "b1", "b2", "hub"]
    edges = [("a1", "a2", "X"), ("b1", "b2", "X"), ("a2", "hub", "Y"), ("b2", "hub", "Y"), ("b1", "hub", "Y")]
    band_of = assign_bands(nodes, edges, [{"a1", "a2"}, {"b1", "b2"}], {})
    assert band_of == {"a1": 0, "a2": 0, "b1": 1, "b2": 1, "hub": 1}  # most of its neighbours are in band 1
    positions = layout_positions(nodes, edges, {}, band_of)
    assert len(set(positions.values())) == len(nodes)
    a = [positions[n] for n in ("a1", "a2")]
    b = [positions[n] for n in ("b1", "b2", "hub")]
    a_box = (min(x for x, _ in a), max(x for x, _ in a), min(y for _, y in a), max(y for _, y in a))
    assert all(not (a_box[0] <= x <= a_box[1] and a_box[2] <= y <= a_box[3]) for x, y in b)
