from __future__ import annotations

from pathlib import Path

from graphtrail.case import Case


def test_edges_read_from_a_case_share_their_endpoint_names_with_the_nodes(northwind_case: Path) -> None:
    """One string per key, not one per edge end: a tenth of a large graph's memory."""
    with Case(northwind_case) as case:
        keys = {node.key: node.key for node in case.node_states()}
        edges = list(case.edge_states(include_derived=True))
    assert edges
    assert all(keys[edge.src] is edge.src and keys[edge.dst] is edge.dst for edge in edges)
