"""The case's nodes and edges as a networkx MultiDiGraph: what hunts, exports and the browser view read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import networkx as nx

from graphtrail.case import Case
from graphtrail.collector import fewer_collections


def load_graph(case: Case) -> nx.MultiDiGraph:
    """Build the graph from the stored aggregates (no event is re-read).

    Node attributes: kind, account, name, first_seen, last_seen and the kind's own properties. Edges are
    keyed by their type (the API action or a structural type) and carry the aggregates of the contract.
    """
    graph = nx.MultiDiGraph()
    with fewer_collections():
        graph.add_nodes_from(_node_items(case))  # in bulk: add_node's own cost was most of a node's
        for src, dst, key, attrs in _edge_items(case):
            graph.add_edge(src, dst, key=key, **attrs)  # add_edges_from is slower: it looks up each pair again
    return graph


def _node_items(case: Case) -> Iterator[tuple[str, dict[str, Any]]]:
    for node in case.node_states():
        attrs: dict[str, Any] = {
            "kind": node.kind,
            "account": node.account,
            "name": node.name or node.key,
            "first_seen": node.first_seen,
            "last_seen": node.last_seen,
        }
        for name, value in node.props.items():
            attrs[name] = _listed(value)
        yield node.key, attrs


def _edge_items(case: Case) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for edge in case.edge_states(include_derived=True):
        attrs = {
            "type": edge.type,
            "count": edge.count,
            "error_count": edge.error_count,
            "errors": dict(edge.errors),
            "first_seen": edge.first_seen,
            "last_seen": edge.last_seen,
            "traversable": edge.on_paths,
            "source_ips": sorted(edge.source_ips),
            "user_agents": sorted(edge.user_agents),
            "regions": sorted(edge.regions),
            "access_keys": sorted(edge.access_keys),
            "event_ids": edge.event_ids,
            "facts": {
                name: (sorted(value) if isinstance(value, dict) else value)
                for name, value in sorted(edge.facts.items())
            },
        }
        yield edge.src, edge.dst, edge.type, attrs


def _listed(value: Any) -> Any:
    """Bounded sets are stored as {value: first seen}; readers want the values."""
    return sorted(value) if isinstance(value, dict) else value
