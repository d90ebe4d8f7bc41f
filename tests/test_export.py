"""Exports load back: networkx reads GraphML and GEXF and node-link JSON, the OpenGraph JSON has the shape
BloodHound CE documents, and the neo4j-admin CSV files have typed headers and every node and edge once."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import networkx as nx
import pytest

from graphtrail.case import Case
from graphtrail.export import export_graph, opengraph_kind
from graphtrail.graph import load_graph
from graphtrail.ingest import ingest_paths
from tests.conftest import INVICTUS

# The OpenGraph payload as BloodHound CE's documentation describes it (opengraph/developer: nodes, edges,
# metadata): written from the documented rules, not copied from BloodHound's files.
_PROPERTY = {
    "anyOf": [
        {"type": ["string", "number", "boolean"]},
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "number"}},
        {"type": "array", "items": {"type": "boolean"}},
    ]
}
_ENDPOINT = {
    "type": "object",
    "required": ["value"],
    "properties": {"match_by": {"enum": ["id", "name"]}, "value": {"type": "string"}, "kind": {"type": "string"}},
}
OPENGRAPH_SHAPE = {
    "type": "object",
    "required": ["graph"],
    "additionalProperties": False,
    "properties": {
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"source_kind": {"type": ["string", "null"]}},
        },
        "graph": {
            "type": "object",
            "required": ["nodes", "edges"],
            "properties": {
                "nodes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "kinds"],
                        "properties": {
                            "id": {"type": "string", "minLength": 1},
                            "kinds": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
                            "properties": {"type": "object", "additionalProperties": _PROPERTY},
                        },
                    },
                },
                "edges": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["start", "end", "kind"],
                        "properties": {
                            "start": _ENDPOINT,
                            "end": _ENDPOINT,
                            "kind": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
                            "properties": {"type": "object", "additionalProperties": _PROPERTY},
                        },
                    },
                },
            },
        },
    },
}
# A few of BloodHound's own edge and node kinds: graphtrail's must never be one of them.
BLOODHOUND_KINDS = {"MemberOf", "AdminTo", "HasSession", "Contains", "GenericAll", "Owns", "User", "Group",
                    "Computer", "Domain", "AZUser", "AZRole", "CanRDP", "ExecuteDCOM", "AllowedToDelegate"}  # fmt: skip


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> nx.MultiDiGraph:
    path = tmp_path_factory.mktemp("export") / "invictus.case"
    ingest_paths([str(INVICTUS)], path, workers=1)
    with Case(path) as case:
        return load_graph(case)


@pytest.mark.parametrize(("fmt", "reader"), [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_graphml_and_gexf_load_back(graph: nx.MultiDiGraph, tmp_path: Path, fmt: str, reader: object) -> None:
    target = tmp_path / f"g.{fmt}"
    export_graph(graph, fmt, target)
    loaded = reader(target)  # type: ignore[operator]
    assert loaded.number_of_nodes() == graph.number_of_nodes()
    assert loaded.number_of_edges() == graph.number_of_edges()
    key = next(n for n, data in graph.nodes(data=True) if data["kind"] == "AccessKey")
    assert loaded.nodes[key]["kind"] == "AccessKey"


def test_node_link_json_loads_back(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    target = tmp_path / "g.json"
    export_graph(graph, "json", target)
    loaded = nx.node_link_graph(json.loads(target.read_text()), edges="edges")
    assert loaded.number_of_nodes() == graph.number_of_nodes()
    assert loaded.number_of_edges() == graph.number_of_edges()


def test_opengraph_matches_the_documented_shape(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    target = tmp_path / "g.opengraph.json"
    export_graph(graph, "opengraph", target)
    document = json.loads(target.read_text())
    errors = [
        f"{e.json_path}: {e.message}" for e in jsonschema.Draft202012Validator(OPENGRAPH_SHAPE).iter_errors(document)
    ]
    assert errors == []
    nodes = document["graph"]["nodes"]
    edges = document["graph"]["edges"]
    assert len(nodes) == graph.number_of_nodes() and len(edges) == graph.number_of_edges()
    ids = {node["id"] for node in nodes}
    assert len(ids) == len(nodes)
    assert all(edge["start"]["value"] in ids and edge["end"]["value"] in ids for edge in edges)
    assert document["metadata"] == {"source_kind": "GraphTrail"}


def test_opengraph_kinds_are_graphtrails_own(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    target = tmp_path / "g.opengraph.json"
    export_graph(graph, "opengraph", target)
    document = json.loads(target.read_text())
    edge_kinds = {edge["kind"] for edge in document["graph"]["edges"]}
    node_kinds = {node["kinds"][0] for node in document["graph"]["nodes"]}
    assert all(kind.startswith("GT_") for kind in edge_kinds | node_kinds)
    assert not (edge_kinds | node_kinds) & BLOODHOUND_KINDS
    assert {"GT_AssumeRole", "GT_AUTHENTICATES", "GT_MINTED"} <= edge_kinds
    assert {"GT_AccessKey", "GT_Role", "GT_Session", "GT_User"} <= node_kinds
    assert opengraph_kind("CreateFunction20150331") == "GT_CreateFunction20150331"
    assert re.fullmatch(r"[A-Za-z0-9_]+", opengraph_kind("weird-name:x/y"))


_ID = re.compile(r"^key:ID\(GT\)$")


def test_neo4j_import_csvs_have_typed_headers_and_every_node_and_edge(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    folder = tmp_path / "neo4j"
    export_graph(graph, "neo4j-csv", folder)
    script = (folder / "import.sh").read_text()
    node_files = sorted(folder.glob("nodes_*.csv"))
    rel_files = sorted(folder.glob("rels_*.csv"))
    assert node_files and rel_files
    keys: set[str] = set()
    for path in node_files:
        assert f"--nodes={path.name}" in script
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        assert _ID.match(header[0]) and header[-1] == ":LABEL"
        assert all(re.fullmatch(r"[a-z_0-9]+:(string|long|double|boolean|string\[\])", h) for h in header[1:-1]), header
        kind = path.stem.removeprefix("nodes_")
        for row in rows[1:]:
            assert len(row) == len(header)
            assert row[-1] == f"GT;{kind}"
            _check_types(header, row)
            keys.add(row[0])
    assert keys == set(graph.nodes)
    edges = 0
    for path in rel_files:
        assert f"--relationships={path.name}" in script
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        assert header[:2] == [":START_ID(GT)", ":END_ID(GT)"] and header[-1] == ":TYPE"
        for row in rows[1:]:
            assert len(row) == len(header) and row[0] in keys and row[1] in keys
            assert graph.has_edge(row[0], row[1], key=row[-1])
            _check_types(header, row)
            edges += 1
    assert edges == graph.number_of_edges()


def _check_types(header: list[str], row: list[str]) -> None:
    for name, cell in zip(header, row, strict=True):
        if not cell:
            continue
        if name.endswith(":long"):
            int(cell)
        elif name.endswith(":double"):
            float(cell)
        elif name.endswith(":boolean"):
            assert cell in ("true", "false")


def test_unknown_format_is_refused(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_graph(graph, "dot", tmp_path / "g.dot")


LAUNCHER_LIB = Path(__file__).resolve().parents[1] / "tests" / "neo4j_launcher" / "target" / "lib"


def test_neo4j_admin_imports_the_csvs(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    """Neo4j's own importer (`neo4j-admin database import full`, from the Maven-built launcher's jars) reads
    every file with the command line import.sh gives, and imports every node and relationship."""
    if not LAUNCHER_LIB.is_dir():
        subprocess.run([str(LAUNCHER_LIB.parents[3] / "scripts" / "neo4j-launcher"), "build"], check=True, timeout=1800)
    folder = tmp_path / "neo4j"
    export_graph(graph, "neo4j-csv", folder)
    home = tmp_path / "home"
    (home / "conf").mkdir(parents=True)
    (home / "conf" / "neo4j.conf").write_text("")
    script = (folder / "import.sh").read_text()
    files = re.findall(r"(--(?:nodes|relationships)=[A-Za-z0-9_]+\.csv)", script)
    assert len(files) == len(list(folder.glob("*.csv")))
    env = {"PATH": os.environ.get("PATH", ""), "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    command = ["java", "-Xmx512m", "-cp", f"{LAUNCHER_LIB}/*", "org.neo4j.cli.AdminTool", "database", "import",
               "full", "neo4j", "--array-delimiter=;", *files]  # fmt: skip
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"{graph.number_of_nodes()} nodes" in result.stdout
    assert f"{graph.number_of_edges()} relationships" in result.stdout
