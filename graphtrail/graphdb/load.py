"""Load a case's graph into Neo4j: batched `UNWIND $rows …` statements, thousands of rows per transaction.

Idempotent and incremental. Every node and relationship is written with the case's own aggregates (counts,
first/last seen are *set*, never added to), so loading a case twice changes nothing and loading a case that
grew brings each aggregate to its new value. Each written element carries `gt_hash`, a digest of what was
written; a later load reads the hashes back and sends only rows that are new or changed, so a re-run after
an interrupted load finishes the job and a load of a grown case writes only what changed.

What Neo4j does not hold yet is written by two statements for the whole case, one for nodes and one for
relationships, with dynamic labels and types (`CREATE (a)-[r:$(row.type)]->(b)`, Neo4j 5.26): a fresh
server plans two statements instead of one per kind and relationship type (about 100 on a simulated
organisation, each planned cold), and `CREATE` skips the search for an existing relationship that `MERGE`
makes, which without a static type expands every relationship between the two nodes (slow on a dense node
such as an account gaining thousands in one transaction; benchmarks/README.md). The hashes
read back at the start say what exists; what exists and changed is updated by `MERGE`, one statement per
label or type. One loader per database at a time: two loads running together could both create the same
relationship.

Log values only ever travel as parameters, labels and types included in the dynamic statements. The one
exception, the per-type `MERGE` of changed relationships, goes through `graphdb.schema.relationship_type`
and `quote`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import neo4j
import orjson

from graphtrail.accumulate import EdgeState, NodeState
from graphtrail.case import Case
from graphtrail.collector import fewer_collections
from graphtrail.graphdb.schema import KEY, SHARED_LABEL, create_schema, label, quote, relationship_type
from graphtrail.schema import NODE_KINDS, is_structural

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2_000
# Relationship transactions in flight at once, each in its own session (see `_write_concurrently`).
DEFAULT_SESSIONS = 2
HASH = "gt_hash"
# Properties the loader writes itself; a kind's or a fact's property of the same name is stored with a prefix.
_NODE_OWN = frozenset({KEY, "name", "kind", "account", "first_seen", "last_seen", HASH})
_EDGE_OWN = frozenset(
    {"action", "structural", "count", "error_count", "errors", "error_counts", "first_seen", "last_seen", "traversable",
     "source_ips", "user_agents", "regions", "access_keys", "event_ids", HASH}
)  # fmt: skip

Progress = Callable[[str, int, int], None]  # (stage, rows done, rows in the stage)


@dataclass(frozen=True, slots=True)
class NodeRow:
    kind: str
    key: str
    props: dict[str, Any]  # includes gt_hash

    @property
    def hash(self) -> str:
        return str(self.props[HASH])


@dataclass(frozen=True, slots=True)
class EdgeRow:
    type: str  # the relationship type (see relationship_type)
    action: str  # the action or structural type as the case names it
    src: str
    dst: str
    props: dict[str, Any]  # includes action and gt_hash

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.src, self.action, self.dst)

    @property
    def hash(self) -> str:
        return str(self.props[HASH])


@dataclass
class LoadSummary:
    nodes: int = 0  # in the case
    relationships: int = 0
    nodes_written: int = 0  # new or changed, sent to Neo4j
    relationships_written: int = 0
    relationships_missing_ends: int = 0  # edges whose endpoints are not nodes of the case (none expected)
    nodes_removed: int = 0  # in Neo4j but no longer in the case (a key the case renamed, another case's nodes)
    relationships_removed: int = 0
    batches: int = 0
    seconds: float = 0.0
    node_seconds: float = 0.0
    relationship_seconds: float = 0.0
    wiped: int = 0
    types: dict[str, int] = field(default_factory=dict)  # relationship type -> relationships in the case

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "relationships": self.relationships,
            "nodes_written": self.nodes_written,
            "relationships_written": self.relationships_written,
            "relationships_missing_ends": self.relationships_missing_ends,
            "nodes_removed": self.nodes_removed,
            "relationships_removed": self.relationships_removed,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "nodes_per_second": round(self.nodes_written / self.node_seconds) if self.node_seconds else None,
            "relationships_per_second": (
                round(self.relationships_written / self.relationship_seconds) if self.relationship_seconds else None
            ),
            "wiped": self.wiped,
        }


# -- transform (pure) ------------------------------------------------------------------------------------------


def property_value(value: Any) -> Any:
    """A case value as a Neo4j property: scalars as they are, bounded sets ({value: first seen}) as sorted
    lists, homogeneous lists as lists, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return sorted(str(item) for item in value)
    if isinstance(value, list | tuple):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return items
        if all(isinstance(item, int | float) and not isinstance(item, bool) for item in items):
            return items
        if all(isinstance(item, bool) for item in items):
            return items
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _digest(parts: Sequence[Any]) -> str:
    data = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def node_row(node: NodeState, logged_accounts: frozenset[str] = frozenset()) -> NodeRow:
    """`logged_accounts`: accounts whose own trail the case holds; their Account nodes get `logged` (what
    the Cypher hunts take as the organisation when not told)."""
    kind = label(node.kind)
    props: dict[str, Any] = {
        KEY: node.key,
        "name": node.name or node.key,
        "kind": kind,
        "account": node.account,
        "first_seen": node.first_seen,
        "last_seen": node.last_seen,
    }
    for name, value in sorted(node.props.items()):
        props[f"prop_{name}" if name in _NODE_OWN else name] = property_value(value)
    if kind == "Account":
        props["logged"] = node.key in logged_accounts
    props = {name: value for name, value in props.items() if value is not None}
    props[HASH] = _digest([kind, props])
    return NodeRow(kind, node.key, props)


def edge_row(edge: EdgeState) -> EdgeRow:
    """Action relationships carry every aggregate of the contract. Structural ones (nine in ten on a real
    trail) leave out the lists they do not have: each stored empty list costs Neo4j a record to write, and
    the hunts read those lists from structural relationships through `coalesce`."""
    structural = is_structural(edge.type)
    props: dict[str, Any] = {
        "action": edge.type,
        "structural": structural,
        "count": edge.count,
        "error_count": edge.error_count,
        "errors": sorted(edge.errors),
        "error_counts": [edge.errors[code] for code in sorted(edge.errors)],
        "first_seen": edge.first_seen,
        "last_seen": edge.last_seen,
        "traversable": edge.on_paths,
        "source_ips": sorted(edge.source_ips),
        "user_agents": sorted(edge.user_agents),
        "regions": sorted(edge.regions),
        "access_keys": sorted(edge.access_keys),
        "event_ids": edge.event_ids,
    }
    for name, value in sorted(edge.facts.items()):
        props[f"fact_{name}" if name in _EDGE_OWN else name] = property_value(value)
    props = {
        name: value
        for name, value in props.items()
        if value is not None and not (structural and isinstance(value, list) and not value)
    }
    props[HASH] = _digest([edge.src, edge.type, edge.dst, props])
    return EdgeRow(relationship_type(edge.type), edge.type, edge.src, edge.dst, props)


# -- Cypher (generated from the contract; only labels and quoted types are interpolated) ---------------------


# What Neo4j does not hold yet (the hashes read back say so): one statement for every kind and type.
NEW_NODES = f"UNWIND $rows AS row\nCREATE (n:{SHARED_LABEL}:$(row.kind))\nSET n = row.props\nRETURN count(n) AS written"
NEW_RELATIONSHIPS = (
    "UNWIND $rows AS row\n"
    f"MATCH (a:{SHARED_LABEL} {{{KEY}: row.src}})\n"
    f"MATCH (b:{SHARED_LABEL} {{{KEY}: row.dst}})\n"
    "CREATE (a)-[r:$(row.type)]->(b)\n"
    "SET r = row.props\n"
    "RETURN count(r) AS written"
)


def node_statement(kind: str) -> str:
    """Update nodes of `kind` that Neo4j holds (and create any that appeared since the hashes were read)."""
    others = [label(other) for other in sorted(NODE_KINDS) if other != kind]
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{SHARED_LABEL} {{{KEY}: row.key}})\n"
        f"SET n = row.props, n:{label(kind)}\n"
        f"REMOVE n:{':'.join(others)}\n"
        "RETURN count(n) AS written"
    )


def relationship_statement(rel_type: str) -> str:
    """Update relationships of `rel_type` that Neo4j holds: every property set from the case."""
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{SHARED_LABEL} {{{KEY}: row.src}})\n"
        f"MATCH (b:{SHARED_LABEL} {{{KEY}: row.dst}})\n"
        f"MERGE (a)-[r:{quote(rel_type)} {{action: row.action}}]->(b)\n"
        "SET r = row.props\n"
        "RETURN count(r) AS written"
    )


WIPE_STATEMENT = f"MATCH (n:{SHARED_LABEL}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 10000 ROWS"
NODE_HASHES = f"MATCH (n:{SHARED_LABEL}) RETURN n.{KEY} AS key, n.{HASH} AS hash"
RELATIONSHIP_HASHES = (
    f"MATCH (a:{SHARED_LABEL})-[r]->(b:{SHARED_LABEL}) WHERE r.{HASH} IS NOT NULL "
    f"RETURN a.{KEY} AS src, r.action AS action, b.{KEY} AS dst, r.{HASH} AS hash"
)

STALE_RELATIONSHIPS = (
    "UNWIND $rows AS row\n"
    f"MATCH (a:{SHARED_LABEL} {{{KEY}: row.src}})-[r]->(b:{SHARED_LABEL} {{{KEY}: row.dst}})\n"
    "WHERE r.action = row.action\n"
    "DELETE r\n"
    "RETURN count(*) AS written"
)
STALE_NODES = (
    f"UNWIND $rows AS row\nMATCH (n:{SHARED_LABEL} {{{KEY}: row.key}})\nDETACH DELETE n\nRETURN count(*) AS written"
)


# -- load ---------------------------------------------------------------------------------------------------


Group = tuple[str, list[dict[str, Any]]]  # a statement and the rows it is run with
Work = list[Group]  # run in one transaction


def _transactions(groups: Sequence[Group], size: int) -> Iterator[Work]:
    """Statements and their rows packed into transactions of at most `size` rows: a large group is split, small
    groups (the many action types with a few relationships each) share one commit."""
    current: Work = []
    count = 0
    for statement, rows in groups:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            if current and count + len(batch) > size:
                yield current
                current, count = [], 0
            current.append((statement, batch))
            count += len(batch)
    if current:
        yield current


def node_writes(nodes: Sequence[NodeRow], known: dict[str, str], *, force: bool = False) -> list[Group]:
    """The statements and rows that bring Neo4j's nodes to the case's: nodes it lacks in one `CREATE` for every
    kind, nodes whose hash differs (all it holds, with `force`) in a `MERGE` per kind."""
    new = [{"kind": row.kind, "props": row.props} for row in nodes if row.key not in known]
    changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in nodes:
        if row.key in known and (force or known[row.key] != row.hash):
            changed[row.kind].append({"key": row.key, "props": row.props})
    groups = [(NEW_NODES, new)] if new else []
    return groups + [(node_statement(kind), changed[kind]) for kind in sorted(changed)]


def relationship_writes(
    edges: Sequence[EdgeRow], known: dict[tuple[str, str, str], str], *, force: bool = False
) -> list[Group]:
    """The same for relationships: those Neo4j lacks in one `CREATE` for every type, changed ones (all it
    holds, with `force`) in a `MERGE` per type. Rows carry `type`, the relationship type."""
    new: dict[tuple[str, str, str], dict[str, Any]] = {}
    changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for edge in edges:
        if edge.identity not in known:  # an identity is one relationship, even were the case to list it twice
            new[edge.identity] = {"src": edge.src, "dst": edge.dst, "type": edge.type, "props": edge.props}
        elif force or known[edge.identity] != edge.hash:
            changed[edge.type].append(
                {"src": edge.src, "dst": edge.dst, "action": edge.action, "type": edge.type, "props": edge.props}
            )
    groups = [(NEW_RELATIONSHIPS, list(new.values()))] if new else []
    return groups + [(relationship_statement(rel_type), changed[rel_type]) for rel_type in sorted(changed)]


def _write(session: neo4j.Session, work: Work) -> list[int]:
    """Run `work` in one managed (retried) write transaction; how many rows each statement wrote."""

    def run(tx: neo4j.ManagedTransaction) -> list[int]:
        written = []
        for statement, rows in work:
            record = tx.run(statement, rows=rows).single()
            written.append(int(record["written"]) if record else 0)
        return written

    return session.execute_write(run)


def _write_concurrently(
    driver: neo4j.Driver,
    database: str | None,
    work: Iterator[Work],
    sessions: int,
    done: Callable[[Work, list[int]], None],
) -> None:
    """Run the transactions of `work` in `sessions` sessions at once, calling `done` (one call at a time) after
    each: while Neo4j writes one transaction the driver encodes the next, and a server with two cores runs two.
    Each transaction stays whole, so an interrupted load leaves what a sequential one would: whole
    transactions, finished by the next load. Lock waits between them are Neo4j's to resolve; a transaction
    it aborts as a deadlock is retried by the driver."""
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        with driver.session(database=database) as session:
            while not stop.is_set():
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                try:
                    written = _write(session, item)
                    with lock:
                        done(item, written)
                except BaseException:
                    stop.set()
                    raise

    with ThreadPoolExecutor(max(1, sessions), thread_name_prefix="graphtrail-neo4j") as pool:
        futures = [pool.submit(worker) for _ in range(max(1, sessions))]
    for future in futures:
        future.result()  # the first failure, re-raised here


def wipe(session: neo4j.Session) -> int:
    """Delete every graphtrail node (label GT) and its relationships; other data in the database stays."""
    count = session.run(f"MATCH (n:{SHARED_LABEL}) RETURN count(n) AS n").single()
    session.run(WIPE_STATEMENT).consume()
    return int(count["n"]) if count else 0


def _remove_stale(
    session: neo4j.Session,
    summary: LoadSummary,
    known_nodes: dict[str, str],
    known_edges: dict[tuple[str, str, str], str],
    nodes: list[NodeRow],
    edges: list[EdgeRow],
    batch_size: int,
) -> None:
    """Delete what Neo4j holds that the case no longer does: the database mirrors one case. A case renames a
    node when it learns more (a role's ARN gains its path), and the old node and its relationships must go."""
    in_case = {row.identity for row in edges}
    stale_edges = [{"src": s, "action": a, "dst": d} for (s, a, d) in known_edges if (s, a, d) not in in_case]
    node_keys = {row.key for row in nodes}
    stale_nodes = [{"key": key} for key in known_nodes if key not in node_keys]
    for work in _transactions([(STALE_RELATIONSHIPS, stale_edges), (STALE_NODES, stale_nodes)], batch_size):
        for (statement, _), removed in zip(work, _write(session, work), strict=True):
            if statement == STALE_NODES:
                summary.nodes_removed += removed
            else:
                summary.relationships_removed += removed
    if stale_nodes or stale_edges:
        log.info("removed %d nodes and %d relationships the case no longer holds", len(stale_nodes), len(stale_edges))


@fewer_collections()  # the rows of a large case are hundreds of thousands of dicts that stay until the end
def load_case(
    driver: neo4j.Driver,
    case: Case,
    *,
    database: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    wipe_first: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    sessions: int = DEFAULT_SESSIONS,
) -> LoadSummary:
    """Load `case` into Neo4j: schema first, then nodes, then relationships.

    Only rows whose `gt_hash` differs from what Neo4j holds are sent (every row with `force`); graphtrail nodes
    and relationships the case does not hold are deleted, so the database mirrors the case. Relationships are
    written by `sessions` sessions at once.
    """
    started = time.perf_counter()
    summary = LoadSummary()
    logged = frozenset(
        account for (account,) in case.db.execute("SELECT DISTINCT account FROM events WHERE account IS NOT NULL")
    )
    nodes = [node_row(node, logged) for node in case.node_states()]
    edges = [edge_row(edge) for edge in case.edge_states(include_derived=True)]
    summary.nodes, summary.relationships = len(nodes), len(edges)
    with driver.session(database=database) as session:
        if wipe_first:
            summary.wiped = wipe(session)
            log.info("wiped %d graphtrail nodes", summary.wiped)
        create_schema(session)
        known_nodes: dict[str, str] = {}
        known_edges: dict[tuple[str, str, str], str] = {}
        if not wipe_first:
            known_nodes = {r["key"]: r["hash"] for r in session.run(NODE_HASHES)}
            known_edges = {(r["src"], r["action"], r["dst"]): r["hash"] for r in session.run(RELATIONSHIP_HASHES)}
        _remove_stale(session, summary, known_nodes, known_edges, nodes, edges, batch_size)
        node_groups = node_writes(nodes, known_nodes, force=force)
        edge_groups = relationship_writes(edges, known_edges, force=force)
        node_total = sum(len(rows) for _, rows in node_groups)
        edge_total = sum(len(rows) for _, rows in edge_groups)
        summary.types = dict(sorted(Counter(row["type"] for _, rows in edge_groups for row in rows).items()))

        node_started = time.perf_counter()
        done = 0
        for work in _transactions(node_groups, batch_size):
            summary.nodes_written += sum(_write(session, work))
            summary.batches += 1
            done += sum(len(rows) for _, rows in work)
            if progress is not None:
                progress("nodes", done, node_total)
        summary.node_seconds = time.perf_counter() - node_started

    rel_started = time.perf_counter()
    sent_so_far = 0

    def relationships_done(work: Work, written: list[int]) -> None:
        nonlocal sent_so_far
        sent = sum(len(rows) for _, rows in work)
        summary.relationships_written += sum(written)
        summary.relationships_missing_ends += sent - sum(written)
        summary.batches += 1
        sent_so_far += sent
        if progress is not None:
            progress("relationships", sent_so_far, edge_total)

    _write_concurrently(driver, database, _transactions(edge_groups, batch_size), sessions, relationships_done)
    summary.relationship_seconds = time.perf_counter() - rel_started
    summary.seconds = time.perf_counter() - started
    if summary.relationships_missing_ends:
        log.warning("%d relationships name a node the case does not hold", summary.relationships_missing_ends)
    return summary
