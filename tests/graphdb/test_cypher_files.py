"""The Cypher hunt library's files: headers complete and consistent with the graph contract and the networkx hunts
(no server needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graphtrail.graphdb.hunts import CypherHunt, CypherHuntError, load_hunts, parse_hunt, parse_param
from graphtrail.graphdb.schema import FALLBACK_ACTION_TYPE, SHARED_LABEL
from graphtrail.hunts import FAMILIES, all_hunts
from graphtrail.schema import NODE_KINDS

CYPHER = Path(__file__).resolve().parents[2] / "cypher"
HUNTS = load_hunts(CYPHER)
HAND_TYPED = {
    "path-to-admin-session", "path-to-sensitive-bucket", "key-blast-radius", "cross-account-role-chains",
    "outside-principals", "key-created-for-other-user", "workload-key-outside-aws",
}  # fmt: skip


def test_every_networkx_hunt_family_has_a_cypher_twin() -> None:
    networkx = {spec.name: spec.family for spec in all_hunts()}
    twins = {hunt.twin for hunt in HUNTS if hunt.twin}
    assert twins <= set(networkx), "a twin names a hunt that does not exist"
    assert {networkx[twin] for twin in twins} == set(FAMILIES)
    for hunt in HUNTS:
        if hunt.twin:
            assert hunt.family == networkx[hunt.twin], hunt.name
            assert hunt.compares, f"{hunt.name}: a twin says what the parity test compares"


def test_the_hand_typed_questions_are_all_there() -> None:
    assert {hunt.name for hunt in HUNTS} >= HAND_TYPED


@pytest.mark.parametrize("hunt", HUNTS, ids=lambda hunt: hunt.name)
def test_a_hunt_uses_only_labels_of_the_contract_and_declares_its_parameters(hunt: CypherHunt) -> None:
    labels = set(re.findall(r"[(\s]\w*:([A-Z]\w*)\b", hunt.query)) | set(
        re.findall(r"\b\w+:([A-Z]\w*)\s+(?:AND|OR|THEN)", hunt.query)
    )
    assert labels, hunt.name
    assert labels <= set(NODE_KINDS) | {SHARED_LABEL} | _relationship_types(hunt.query), (hunt.name, labels)
    assert hunt.techniques and all(t.id.startswith("T") for t in hunt.techniques)
    assert hunt.description and hunt.title
    assert "apoc." not in hunt.query.lower() and "gds." not in hunt.query.lower()


def _relationship_types(query: str) -> set[str]:
    types = set(re.findall(r"\[\w*:([A-Za-z_]\w*)", query)) | set(re.findall(r"-\[:([A-Za-z_]\w*)\]", query))
    types |= set(re.findall(r"\(\w+\)-\[:(\w+)\]", query))
    return types | {FALLBACK_ACTION_TYPE}


def test_a_malformed_header_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cypher"
    bad.write_text("// name: broken\n// title: t\n// description: d\n// severity: sometimes\n// attack: T1078\n"
                   "// family: keys\nRETURN 1\n")  # fmt: skip
    with pytest.raises(CypherHuntError, match=r"broken.cypher: unknown severity"):
        parse_hunt(bad)
    bad.write_text("// name: broken\n// title: t\n// description: d\n// severity: low\n// attack: T1078\n"
                   "// family: keys\nMATCH (n) WHERE n.key = $key RETURN n\n")  # fmt: skip
    with pytest.raises(CypherHuntError, match="parameters used but not declared: key"):
        parse_hunt(bad)
    bad.write_text("// name: other\n// title: t\n// description: d\n// severity: low\n// attack: T1078\n"
                   "// family: keys\nRETURN 1\n")  # fmt: skip
    with pytest.raises(CypherHuntError, match="differs from the file name"):
        parse_hunt(bad)
    bad.write_text("// name: broken\n// title: t\n// severity: low\n// attack: X1\n// family: keys\nRETURN 1\n")
    with pytest.raises(CypherHuntError, match="lacks description"):
        parse_hunt(bad)


def test_parameters_from_the_command_line_are_json_when_they_parse() -> None:
    assert parse_param("window_seconds=60") == ("window_seconds", 60)
    assert parse_param('own_accounts=["111122223333"]') == ("own_accounts", ["111122223333"])
    assert parse_param("key=AKIAEXAMPLE") == ("key", "AKIAEXAMPLE")
    assert parse_param("bucket_pattern=.*data.*") == ("bucket_pattern", ".*data.*")


def test_the_style_file_colours_every_kind() -> None:
    grass = (CYPHER / "graphtrail.grass").read_text()
    for kind in NODE_KINDS:
        assert f"node.{kind} {{" in grass
    assert "caption: '{name}'" in grass


def test_the_style_file_is_rendered_from_the_browser_views_colours() -> None:
    from graphtrail.graphdb.grass import render_grass

    assert (CYPHER / "graphtrail.grass").read_text() == render_grass(), (
        "regenerate: python -m graphtrail.graphdb.grass > cypher/graphtrail.grass"
    )
