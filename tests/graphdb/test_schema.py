"""The Neo4j schema and the names Cypher cannot take as parameters (no server needed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from graphtrail import graphdb
from graphtrail.graphdb.schema import (
    FALLBACK_ACTION_TYPE,
    HUNT_INDEXES,
    label,
    quote,
    relationship_type,
    schema_statements,
)
from graphtrail.schema import NODE_KINDS, STRUCTURAL_EDGE_TYPES


def test_schema_has_the_unique_key_and_an_index_per_kind_and_hunt_property() -> None:
    statements = schema_statements()
    assert statements[0] == "CREATE CONSTRAINT gt_key IF NOT EXISTS FOR (n:GT) REQUIRE n.key IS UNIQUE"
    assert all("IF NOT EXISTS" in statement for statement in statements)
    for kind in NODE_KINDS:
        assert f"CREATE INDEX gt_{kind.lower()}_key IF NOT EXISTS FOR (n:{kind}) ON (n.key)" in statements
    for kind, prop in HUNT_INDEXES:
        assert f"CREATE INDEX gt_{kind.lower()}_{prop} IF NOT EXISTS FOR (n:{kind}) ON (n.{prop})" in statements
    assert len(statements) == len(set(statements))


def test_labels_come_only_from_the_graph_contract() -> None:
    assert label("AccessKey") == "AccessKey"
    for hostile in ("Admin", "GT", "User:Admin", "User`) DETACH DELETE n //", ""):
        with pytest.raises(ValueError, match="not a node kind"):
            label(hostile)


def test_quote_doubles_backticks() -> None:
    assert quote("GetObject") == "`GetObject`"
    assert quote("a`b") == "`a``b`"
    assert quote("x'}) DETACH DELETE n //") == "`x'}) DETACH DELETE n //`"
    assert quote("``") == "``````"


def test_action_names_become_types_and_structural_types_stay() -> None:
    for structural in STRUCTURAL_EDGE_TYPES:
        assert relationship_type(structural) == structural
    assert relationship_type("CreateAccessKey") == "CreateAccessKey"
    assert relationship_type("Get`Object'}) DETACH DELETE n //") == "Get`Object'}) DETACH DELETE n //"


def test_names_cypher_would_unescape_fall_back_to_the_generic_type() -> None:
    # Inside backticks Cypher reads \u0060 as a backtick: a backslash is never quoted.
    for hostile in ("x\\u0060]->(n) DETACH DELETE n //", "a\\b", "line\nbreak", "", "x" * 201, FALLBACK_ACTION_TYPE):
        assert relationship_type(hostile) == FALLBACK_ACTION_TYPE


# What may be interpolated into a Cypher statement: graphtrail's own constants, contract kinds through label(),
# action names through quote(). Anything else must be a parameter. A new interpolation fails here until reviewed.
REVIEWED_INTERPOLATIONS = {
    "SHARED_LABEL", "KEY", "HASH", "label(kind)", "quote(rel_type)", "':'.join(others)", "name", "kind.lower()", "prop",
}  # fmt: skip
CYPHER_WORDS = re.compile(r"\b(MATCH|MERGE|CREATE|UNWIND|REMOVE|RETURN|DELETE)\b")


def test_no_statement_interpolates_anything_but_reviewed_names() -> None:
    package = Path(graphdb.__file__).parent
    seen = set()
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.JoinedStr):
                continue
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if not CYPHER_WORDS.search(text):
                continue
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    expression = ast.unparse(part.value)
                    seen.add(expression)
                    assert expression in REVIEWED_INTERPOLATIONS, (
                        f"{source.name}: {{{expression}}} in a Cypher statement"
                    )
    assert {"label(kind)", "quote(rel_type)"} <= seen
