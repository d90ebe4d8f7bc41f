"""Export the graph for other tools: GraphML and GEXF (Gephi, yEd) and networkx node-link JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import orjson

EXPORT_FORMATS = ("graphml", "gexf", "json")


def _scalar_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """GraphML and GEXF take only scalar attributes: lists and dicts become JSON text, None is left out."""
    flat = nx.MultiDiGraph()
    for node, attrs in graph.nodes(data=True):
        flat.add_node(node, **_scalars(attrs))
    for src, dst, key, attrs in graph.edges(keys=True, data=True):
        flat.add_edge(src, dst, key=key, **_scalars(attrs))
    return flat


def _scalars(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, dict)):
            out[name] = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        else:
            out[name] = value
    return out


def export_graph(graph: nx.MultiDiGraph, fmt: str, path: str | Path) -> None:
    path = Path(path)
    if fmt == "graphml":
        nx.write_graphml(_scalar_graph(graph), path)
    elif fmt == "gexf":
        nx.write_gexf(_scalar_graph(graph), path)
    elif fmt == "json":
        data = nx.node_link_data(graph, edges="edges")
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
