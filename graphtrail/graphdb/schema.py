"""The Neo4j schema, generated from graphtrail's graph contract (`graphtrail.schema`).

Every node carries the shared label `GT` and its kind as a second label; `GT.key` is unique. Labels and
relationship types cannot be query parameters, so this module is the one place that turns names into Cypher
identifiers: node kinds come from the contract, action names (which come from logs) are quoted here.
"""

from __future__ import annotations

import re

import neo4j

from graphtrail.schema import COMMON_NODE_PROPERTIES, NODE_KINDS, STRUCTURAL_EDGE_TYPES

SHARED_LABEL = "GT"
KEY = "key"

# A relationship type for action names that cannot be quoted safely (see `relationship_type`); the action
# itself is always in the relationship's `action` property.
FALLBACK_ACTION_TYPE = "ACTION"

# Properties the Cypher hunts filter on, per kind (each must be declared in the contract).
HUNT_INDEXES: tuple[tuple[str, str], ...] = (
    ("AccessKey", "temporary"),
    ("AccessKey", "lineage"),
    ("AccessKey", "owner"),
    ("IP", "is_aws"),
    ("Resource", "type"),
    ("Session", "role"),
    ("Account", "name"),
)

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Inside backticks Cypher still reads \uXXXX escapes (\u0060 is a backtick), so a backslash is never quoted.
_UNQUOTABLE = re.compile(r"[\\\x00-\x1f\x7f]")
MAX_TYPE_LENGTH = 200


def quote(name: str) -> str:
    """`name` as a backtick-quoted Cypher identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def label(kind: str) -> str:
    """The label of a node kind of the contract; anything else is refused."""
    if kind not in NODE_KINDS or not _IDENTIFIER.fullmatch(kind):
        raise ValueError(f"{kind!r} is not a node kind of the graph contract")
    return kind


def relationship_type(action: str) -> str:
    """The relationship type an edge is stored under: its structural type, or its action name when that can be
    quoted safely (anything printable without a backslash: quotes, braces and backticks included), else
    `FALLBACK_ACTION_TYPE`. Returned unquoted; `quote` it for a statement."""
    if action in STRUCTURAL_EDGE_TYPES:
        return action
    if not action or len(action) > MAX_TYPE_LENGTH or _UNQUOTABLE.search(action) or action == FALLBACK_ACTION_TYPE:
        return FALLBACK_ACTION_TYPE
    return action


def schema_statements() -> list[str]:
    """Constraints and indexes, each `IF NOT EXISTS`, in a stable order (a golden test pins them)."""
    statements = [
        f"CREATE CONSTRAINT gt_key IF NOT EXISTS FOR (n:{SHARED_LABEL}) REQUIRE n.{KEY} IS UNIQUE",
        f"CREATE INDEX gt_name IF NOT EXISTS FOR (n:{SHARED_LABEL}) ON (n.name)",
    ]
    for kind in sorted(NODE_KINDS):
        name = kind.lower()
        statements.append(f"CREATE INDEX gt_{name}_key IF NOT EXISTS FOR (n:{label(kind)}) ON (n.{KEY})")
    for kind, prop in HUNT_INDEXES:
        declared = NODE_KINDS[kind].properties + COMMON_NODE_PROPERTIES
        if prop not in declared:
            raise ValueError(f"hunt index on {kind}.{prop}: not a property of the graph contract")
        statements.append(f"CREATE INDEX gt_{kind.lower()}_{prop} IF NOT EXISTS FOR (n:{label(kind)}) ON (n.{prop})")
    return statements


def create_schema(session: neo4j.Session) -> None:
    """Run `schema_statements` in `session` (a neo4j.Session), then wait for the indexes to come online."""
    for statement in schema_statements():
        session.run(statement).consume()
    session.run("CALL db.awaitIndexes(300)").consume()
