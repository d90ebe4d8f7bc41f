"""Export the graph for other tools.

- `graphml`, `gexf`: Gephi, yEd (lists and dicts as JSON text: both formats take scalars only);
- `json`: networkx node-link JSON;
- `opengraph`: BloodHound CE OpenGraph JSON, so CloudTrail-observed paths load beside other BloodHound data.
  Node and edge kinds carry a `GT_` prefix (`GT_User`, `GT_AssumeRole`, `GT_AUTHENTICATES`) so they never
  collide with BloodHound's own kinds; `metadata.source_kind` is `GraphTrail`;
- `neo4j-csv`: a folder of CSV files for `neo4j-admin database import full`, one nodes file per kind and one
  relationships file per edge type, each with its own typed header, and `import.sh` with the command line.
  Nodes carry the label `GT` and their kind, keyed by `key` as the loader in `graphtrail/graphdb` does.
"""

from __future__ import annotations

import csv
import re
import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from graphtrail.schema import ACTION_EDGE_PROPERTIES, COMMON_NODE_PROPERTIES, NODE_KINDS

EXPORT_FORMATS = ("graphml", "gexf", "json", "opengraph", "neo4j-csv")
OPENGRAPH_PREFIX = "GT_"
OPENGRAPH_SOURCE_KIND = "GraphTrail"
NEO4J_LABEL = "GT"
NEO4J_ARRAY_DELIMITER = ";"  # neo4j-admin's default --array-delimiter
_KIND_SAFE = re.compile(r"[^A-Za-z0-9_]")


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
    """Write `graph` as `fmt` to `path` (a folder for neo4j-csv)."""
    path = Path(path)
    if fmt == "graphml":
        nx.write_graphml(_scalar_graph(graph), path)
    elif fmt == "gexf":
        nx.write_gexf(_scalar_graph(graph), path)
    elif fmt == "json":
        data = nx.node_link_data(graph, edges="edges")
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    elif fmt == "opengraph":
        path.write_bytes(orjson.dumps(opengraph_document(graph), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    elif fmt == "neo4j-csv":
        write_neo4j_import(graph, path)
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


# -- BloodHound OpenGraph -------------------------------------------------------------------------------------


def opengraph_kind(name: str) -> str:
    """A graphtrail node kind or edge type as an OpenGraph kind: prefixed, only [A-Za-z0-9_]."""
    return OPENGRAPH_PREFIX + _KIND_SAFE.sub("_", name)


def _opengraph_value(value: Any) -> Any:
    """OpenGraph properties are primitives or homogeneous arrays of primitives; anything else becomes JSON
    text. None is dropped by the caller."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return items
        if all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items):
            return items
        if all(isinstance(item, bool) for item in items):
            return items
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _opengraph_properties(attrs: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    props = {name: _opengraph_value(value) for name, value in attrs.items() if value is not None}
    props.update(extra)
    return props


def opengraph_document(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """The graph as a BloodHound OpenGraph payload: {"metadata": {"source_kind"}, "graph": {"nodes", "edges"}}.

    Node ids are graphtrail's node keys (ARNs, key ids, addresses); `name` is upper-cased as BloodHound shows
    names, `objectid` is the key. Edge kinds are the action or structural type with the GT_ prefix; each edge
    keeps graphtrail's aggregates (count, first/last seen, source IPs, sample event ids…).
    """
    nodes = []
    for key, attrs in sorted(graph.nodes(data=True), key=lambda item: item[0]):
        kind = attrs.get("kind") or "Unknown"
        display = str(attrs.get("name") or key)
        nodes.append(
            {
                "id": key,
                "kinds": [opengraph_kind(kind), NEO4J_LABEL],
                "properties": _opengraph_properties(
                    attrs, {"name": display.upper(), "displayname": display, "objectid": key}
                ),
            }
        )
    edges = []
    for src, dst, edge_type, attrs in sorted(graph.edges(keys=True, data=True), key=lambda item: item[:3]):
        edges.append(
            {
                "start": {"match_by": "id", "value": src},
                "end": {"match_by": "id", "value": dst},
                "kind": opengraph_kind(edge_type),
                "properties": _opengraph_properties(attrs, {"action": edge_type}),
            }
        )
    return {"metadata": {"source_kind": OPENGRAPH_SOURCE_KIND}, "graph": {"nodes": nodes, "edges": edges}}


# -- neo4j-admin database import ------------------------------------------------------------------------------


def _neo4j_type(values: list[Any]) -> str:
    """The header type that fits every non-empty value of a column."""
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return "boolean"
    if present and all(isinstance(value, int) and not isinstance(value, bool) for value in present):
        return "long"
    if present and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in present):
        return "double"
    if present and all(isinstance(value, list) and all(isinstance(i, str) for i in value) for value in present):
        return "string[]"
    return "string"


def _neo4j_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "string[]":
        # An element holding the delimiter would split: those become JSON text instead (see _neo4j_columns).
        return NEO4J_ARRAY_DELIMITER.join(value)
    if kind in ("long", "double"):
        return str(value)
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _neo4j_columns(rows: list[dict[str, Any]], first: tuple[str, ...]) -> list[tuple[str, str]]:
    names = list(first) + sorted({name for row in rows for name in row} - set(first))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        kind = _neo4j_type(values)
        if kind == "string[]" and any(NEO4J_ARRAY_DELIMITER in item for value in values if value for item in value):
            kind = "string"
        columns.append((name, kind))
    return columns


def _file_part(name: str) -> str:
    return _KIND_SAFE.sub("_", name)


def write_neo4j_import(graph: nx.MultiDiGraph, folder: str | Path) -> list[Path]:
    """Write nodes_<Kind>.csv and rels_<TYPE>.csv files and import.sh into `folder`; the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    nodes_by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, attrs in graph.nodes(data=True):
        row = {name: value for name, value in attrs.items() if value is not None}
        row["key"] = key
        nodes_by_kind[attrs.get("kind") or "Unknown"].append(row)
    node_args: list[str] = []
    for kind in sorted(nodes_by_kind):
        rows = sorted(nodes_by_kind[kind], key=lambda row: row["key"])
        declared = NODE_KINDS[kind].properties if kind in NODE_KINDS else ()
        columns = _neo4j_columns(rows, ("key", *COMMON_NODE_PROPERTIES, *declared))
        path = folder / f"nodes_{_file_part(kind)}.csv"
        header = ["key:ID(GT)" if name == "key" else f"{name}:{kind_}" for name, kind_ in columns]
        _write_csv(path, [*header, ":LABEL"], (
            [*(_neo4j_cell(row.get(name), type_) for name, type_ in columns), f"{NEO4J_LABEL};{kind}"]
            for row in rows
        ))  # fmt: skip
        written.append(path)
        node_args.append(f"--nodes={path.name}")
    edges_by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for src, dst, edge_type, attrs in graph.edges(keys=True, data=True):
        row = {name: value for name, value in attrs.items() if value is not None and name != "type"}
        row["_src"], row["_dst"] = src, dst
        edges_by_type[edge_type].append(row)
    rel_args: list[str] = []
    for edge_type in sorted(edges_by_type):
        rows = sorted(edges_by_type[edge_type], key=lambda row: (row["_src"], row["_dst"]))
        columns = [c for c in _neo4j_columns(rows, ("_src", "_dst", *ACTION_EDGE_PROPERTIES)) if c[0][0] != "_"]
        path = folder / f"rels_{_file_part(edge_type)}.csv"
        header = [":START_ID(GT)", ":END_ID(GT)", *(f"{name}:{type_}" for name, type_ in columns), ":TYPE"]
        _write_csv(path, header, (
            [row["_src"], row["_dst"], *(_neo4j_cell(row.get(name), type_) for name, type_ in columns), edge_type]
            for row in rows
        ))  # fmt: skip
        written.append(path)
        rel_args.append(f"--relationships={path.name}")
    script = folder / "import.sh"
    args = " \\\n    ".join(shlex.quote(arg) for arg in [*node_args, *rel_args])
    script.write_text(
        "#!/bin/sh\n"
        "# Load this folder into an empty, stopped Neo4j database (default: neo4j) with neo4j-admin.\n"
        "# Then: CREATE CONSTRAINT IF NOT EXISTS FOR (n:GT) REQUIRE n.key IS UNIQUE;\n"
        'cd "$(dirname "$0")"\n'
        'neo4j-admin database import full "${DATABASE:-neo4j}" --overwrite-destination \\\n'
        f"    --array-delimiter={shlex.quote(NEO4J_ARRAY_DELIMITER)} \\\n    {args}\n"
    )
    script.chmod(0o755)
    written.append(script)
    return written


def _write_csv(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
