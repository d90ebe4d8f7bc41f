"""The case: one SQLite file holding events (the evidence), the graph, and what was ingested.

Events are deduplicated on eventID by a unique index. Nodes and edges are the aggregates; they are
rewritten as a whole at each checkpoint, in the same transaction as the events they summarise, so the
file is never half-updated.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from sys import intern
from typing import Any, NamedTuple

import orjson
import zstandard

from graphtrail.accumulate import EdgeState, NodeState
from graphtrail.errors import CaseError
from graphtrail.lineage import Issuance, KeyLineage, SignIn

SCHEMA_VERSION = 2  # 2: records stored a file at a time (table `records`), events name their line

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER,
    shapes TEXT,
    records INTEGER NOT NULL DEFAULT 0,
    ingested INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    run_id INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    region TEXT,
    account TEXT,
    actor TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    access_key TEXT,
    source_ip TEXT,
    user_agent TEXT,
    error_code TEXT,
    category TEXT NOT NULL,
    shared_event_id TEXT,
    target TEXT,
    file_id INTEGER,
    line INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    file_id INTEGER PRIMARY KEY,
    frame BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS insights (
    event_id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    account TEXT,
    region TEXT,
    file_id INTEGER,
    line INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS issuances (
    event_id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    via TEXT NOT NULL,
    access_key_id TEXT,
    issuer TEXT NOT NULL,
    issuer_kind TEXT NOT NULL,
    issuer_key TEXT,
    session_key TEXT,
    role_arn TEXT,
    session_name TEXT,
    source_identity TEXT,
    source_ip TEXT,
    user_agent TEXT,
    account TEXT,
    shared_event_id TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_lineage (
    access_key_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    issuer TEXT,
    issuer_kind TEXT,
    issuer_key TEXT,
    event_id TEXT,
    time TEXT,
    source_ip TEXT,
    user_agent TEXT,
    via TEXT,
    session_key TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT,
    name TEXT,
    first_seen TEXT,
    last_seen TEXT,
    props BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL,
    type TEXT NOT NULL,
    dst TEXT NOT NULL,
    count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT,
    traversable INTEGER NOT NULL,
    derived INTEGER NOT NULL DEFAULT 0,
    props BLOB NOT NULL,
    PRIMARY KEY (src, type, dst)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    position INTEGER,
    line INTEGER,
    reason TEXT NOT NULL,
    detail TEXT,
    run_id INTEGER
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    paths TEXT NOT NULL,
    summary TEXT
);
"""


class StoredFile(NamedTuple):
    """A row of `files`: one log file as the ingest stored it."""

    id: int
    source: str
    sha256: str
    size: int | None
    shapes: str  # the record shapes seen, comma-separated
    records: int
    ingested: int
    duplicates: int
    rejected: int
    status: str
    run_id: int


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event as stored: the columns hunts filter on, and where its redacted record is (`Case.record`)."""

    event_id: str
    time: str
    name: str
    source: str
    region: str | None
    account: str | None
    actor: str
    actor_kind: str
    access_key: str | None
    source_ip: str | None
    user_agent: str | None
    error_code: str | None
    category: str
    shared_event_id: str | None
    target: str | None
    file_id: int | None
    line: int  # the redacted record's line in its file's frame of records (see `Case.record`)


# A file's records (redacted JSON, one a line) are compressed together, with a dictionary of CloudTrail's
# recurring keys and values shipped with the package; a case names the codec it was written with. One frame
# a file rather than one a record: on the simulator's logs 1.8-2.0 µs a record instead of 4.8 to compress,
# and 99-110 bytes a record stored instead of 399.
RECORD_CODEC = "zstd-dict-file-lines-1"


@cache
def _record_dictionary() -> zstandard.ZstdCompressionDict:
    data = resources.files("graphtrail.data").joinpath("cloudtrail-records.zdict").read_bytes()
    return zstandard.ZstdCompressionDict(data)


@cache
def _compressor() -> zstandard.ZstdCompressor:
    dictionary = _record_dictionary()
    dictionary.precompute_compress(level=1)  # digested once, not again for every file's frame
    return zstandard.ZstdCompressor(level=1, dict_data=dictionary)


@cache
def _decompressor() -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=_record_dictionary())


# Python's sqlite3 binds str, int, float and bytearray as they are, but looks for an adapter for anything else
# it is given, None and bytes included: two failed attribute look-ups, about 3,300 instructions a value. The
# main process binds millions of values, so nullable text goes in as '' (NULLIF makes it NULL again: no
# event field is ever '') and blobs as bytearray (stored and read back as the same BLOB).
def _blob(data: bytes) -> bytearray:
    return bytearray(data)


def pack_records(records_json: Sequence[bytes]) -> bytes:
    """One frame of records. orjson escapes every control character in a string, so no record holds a newline."""
    return _compressor().compress(b"\n".join(records_json))


def unpack_records(frame: bytes) -> list[bytes]:
    return _decompressor().decompress(frame).split(b"\n")


# Built after the bulk of a first ingest rather than updated row by row during it (see ensure_indexes).
_EVENT_INDEXES = """
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_actor ON events (actor, time);
CREATE INDEX IF NOT EXISTS events_key ON events (access_key, time);
CREATE INDEX IF NOT EXISTS events_ip ON events (source_ip);
CREATE INDEX IF NOT EXISTS events_sign_in ON events (actor, time) WHERE name = 'ConsoleLogin';
CREATE INDEX IF NOT EXISTS events_name ON events (name, time);
"""

_CACHE_SIZE = -131072  # KiB: 128 MiB of pages, whatever the case's size
_SORT_THREADS = 2  # helper threads an index build may sort with (PRAGMA threads)
_FRAMES_KEPT = 64  # files whose records `Case.record` keeps decompressed

_SORTED = orjson.OPT_SORT_KEYS  # stored JSON is byte-identical whatever order events arrived in

_EVENT_COLUMNS = (
    "event_id, time, name, source, region, account, actor, actor_kind, access_key, source_ip, user_agent, "
    "error_code, category, shared_event_id, target, file_id, line"
)


class Case:
    """An open case file. Use as a context manager, or call close()."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self._frames: dict[int | None, list[bytes]] = {}  # see record_json
        if not create and not self.path.exists():
            raise CaseError(
                f"no case file at {self.path} (create one with `graphtrail ingest PATH --case {self.path}`)"
            )
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            # A rollback journal, not WAL: ingest appends, and appended pages are written once instead of
            # twice (WAL, then checkpoint); commits stay atomic, and the case stays one file.
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(f"PRAGMA cache_size={_CACHE_SIZE}")
            self._check_schema(create)
        except sqlite3.DatabaseError as exc:
            raise CaseError(f"{self.path} is not a graphtrail case ({exc})") from None

    def _check_schema(self, create: bool) -> None:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            if tables:
                raise CaseError(f"{self.path} is an SQLite file but not a graphtrail case")
            if not create:
                raise CaseError(f"{self.path} is empty, not a graphtrail case")
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.db.execute("INSERT INTO meta VALUES ('record_codec', ?)", (RECORD_CODEC,))
            return
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise CaseError(
                f"{self.path} has case schema {found}; this graphtrail reads schema {SCHEMA_VERSION}: "
                "ingest the logs again into a new case"
            )
        codec = self.db.execute("SELECT value FROM meta WHERE key='record_codec'").fetchone()
        if codec is None or codec[0] != RECORD_CODEC:
            found = codec[0] if codec else "unknown"
            raise CaseError(f"{self.path} stores records as {found}; this graphtrail reads {RECORD_CODEC}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------------
    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- bookkeeping -----------------------------------------------------------------------------
    def start_run(self, started: str, paths: Sequence[str]) -> int:
        cursor = self.db.execute(
            "INSERT INTO runs (started, paths) VALUES (?, ?)", (started, orjson.dumps(list(paths)))
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, finished: str, summary: dict[str, Any]) -> None:
        self.db.execute("UPDATE runs SET finished=?, summary=? WHERE id=?", (finished, orjson.dumps(summary), run_id))

    def known_file_hashes(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT sha256 FROM files")]

    def known_among(self, hashes: Sequence[str]) -> set[str]:
        """Those of `hashes` (file contents' sha256) the case holds a file of."""
        found: set[str] = set()
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            query = f"SELECT sha256 FROM files WHERE sha256 IN ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in self.db.execute(query, chunk))
        return found

    def next_file_id(self) -> int:
        """The id the next stored file takes: the ingest assigns them itself, so a batch's files and their
        events are written with one statement each."""
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM files").fetchone()[0])

    def add_files(self, files: Iterable[StoredFile]) -> None:
        self.db.executemany(
            "INSERT INTO files (id, source, sha256, size, shapes, records, ingested, duplicates, rejected, status, "
            "run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            files,
        )

    def add_reject(
        self, source: str, position: int | None, line: int | None, reason: str, detail: str, run_id: int
    ) -> None:
        self.db.execute(
            "INSERT INTO rejects (source, position, line, reason, detail, run_id) VALUES (?, ?, ?, ?, ?, ?)",
            (source, position, line, reason, detail[:500], run_id),
        )

    # -- events ----------------------------------------------------------------------------------
    def event_ids_from_other_files(self, event_ids: Sequence[str], file_ids: Collection[int]) -> set[str]:
        """Which of `event_ids` the case holds from files other than `file_ids` (their duplicates)."""
        found: set[str] = set()
        mine = set(file_ids)
        for start in range(0, len(event_ids), 900):
            chunk = event_ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for table in ("events", "insights"):
                found.update(
                    event_id
                    for event_id, file_id in self.db.execute(
                        f"SELECT event_id, file_id FROM {table} WHERE event_id IN ({marks})", chunk
                    )
                    if file_id not in mine
                )
        return found

    def add_events(self, rows: Iterable[tuple[Any, ...]], file_id: int) -> int:
        """Store events the case does not hold yet; returns how many were new.

        Rows are EventRow's fields in order, file_id left out (the file is known only when it is stored).
        """
        cursor = self.db.executemany(
            f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) VALUES "
            "(?,?,?,?,NULLIF(?,''),NULLIF(?,''),?,?,NULLIF(?,''),NULLIF(?,''),NULLIF(?,''),NULLIF(?,''),?,NULLIF(?,''),?,?,?)",
            (
                (event_id, time, name, source, region or "", account or "", actor, actor_kind, access_key or "",
                 source_ip or "", user_agent or "", error_code or "", category, shared or "", target, file_id, line)
                for (event_id, time, name, source, region, account, actor, actor_kind, access_key, source_ip,
                     user_agent, error_code, category, shared, target, _, line) in rows
            ),
        )  # fmt: skip
        return max(cursor.rowcount, 0)

    def ensure_indexes(self) -> None:
        # Building an index sorts every event; with a small cache SQLite sorts in bounded memory and spills
        # to temporary files, so memory stays flat however many events the case holds. The sort may use
        # helper threads, each with sort memory of its own: the workers have finished by now, and on two
        # cores the six indexes of a million events took 4.6-4.9 s instead of 5.9-6.0, for 32 MiB more.
        self.db.execute("PRAGMA cache_size=-16384")
        self.db.execute(f"PRAGMA threads={min(_SORT_THREADS, os.cpu_count() or 1)}")
        try:
            for statement in _EVENT_INDEXES.strip().splitlines():
                self.db.execute(statement)
        finally:
            self.db.execute(f"PRAGMA cache_size={_CACHE_SIZE}")
            self.db.execute("PRAGMA threads=0")

    def add_insights(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Rows of (event_id, time, name, source, account, region, line, file_id); returns how many were new."""
        cursor = self.db.executemany(
            "INSERT OR IGNORE INTO insights (event_id, time, name, source, account, region, line, file_id) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        return max(cursor.rowcount, 0)

    def add_issuances(self, issuances: Iterable[Issuance]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO issuances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (tuple(getattr(i, name) for name in Issuance.__slots__) for i in issuances),
        )

    def rename_targets(self, renames: dict[str, str]) -> None:
        """Point stored events at canonical node keys (see GraphAccumulator.canonicalize_iam_paths)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS renames (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
        self.db.execute("DELETE FROM renames")
        self.db.executemany("INSERT INTO renames VALUES (?, ?)", renames.items())
        self.db.execute("UPDATE events SET target = renames.new FROM renames WHERE events.target = renames.old")

    def issuances(self) -> Iterator[Issuance]:
        cursor = self.db.execute(f"SELECT {', '.join(Issuance.__slots__)} FROM issuances")
        for row in cursor:
            yield Issuance(*row)

    def last_console_login(self, principal: str, before: str) -> SignIn | None:
        """The principal's latest successful ConsoleLogin at or before `before`."""
        row = self.db.execute(
            "SELECT event_id, time, source_ip, user_agent FROM events "
            "WHERE actor=? AND name='ConsoleLogin' AND error_code IS NULL AND time<=? ORDER BY time DESC LIMIT 1",
            (principal, before),
        ).fetchone()
        return SignIn(*row) if row else None

    def replace_lineage(self, lineage: Iterable[KeyLineage]) -> None:
        self.db.execute("DELETE FROM key_lineage")
        self.db.executemany(
            "INSERT INTO key_lineage VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (tuple(getattr(item, name) for name in KeyLineage.__slots__) for item in lineage),
        )

    def lineage(self) -> dict[str, KeyLineage]:
        cursor = self.db.execute(f"SELECT {', '.join(KeyLineage.__slots__)} FROM key_lineage")
        return {row[0]: KeyLineage(*row) for row in cursor}

    def events(self, where: str = "", params: Sequence[Any] = (), limit: int | None = None) -> Iterator[EventRow]:
        """Events in time order. `where` is a fixed SQL fragment written by graphtrail, never user text."""
        # With a condition, `+time` keeps SQLite from walking the whole time index to avoid a sort: the
        # condition's own index (name, key, actor) finds the few rows, which are then sorted.
        order = "+time, event_id" if where else "time, event_id"
        sql = f"SELECT {_EVENT_COLUMNS} FROM events {('WHERE ' + where) if where else ''} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.db.execute(sql, params):
            yield EventRow(*row)

    def add_records(self, frames: Iterable[tuple[int, bytes]]) -> None:
        """Each stored file's frame of records (`pack_records`), as (file id, frame)."""
        self.db.executemany(
            "INSERT INTO records (file_id, frame) VALUES (?, ?)", ((file_id, _blob(frame)) for file_id, frame in frames)
        )

    def record(self, row: EventRow) -> dict[str, Any]:
        """The event's redacted record, as it was delivered but for its secrets."""
        return orjson.loads(self.record_json(row.file_id, row.line))

    def record_json(self, file_id: int | None, line: int) -> bytes:
        """Line `line` of file `file_id`'s frame. Frames recently read are kept: events read in time order
        take their records from a few dozen files at a time."""
        lines = self._frames.get(file_id)
        if lines is None:
            found = self.db.execute("SELECT frame FROM records WHERE file_id=?", (file_id,)).fetchone()
            if found is None:
                raise CaseError(f"{self.path} holds no records of file {file_id}")
            lines = unpack_records(found[0])
            if len(self._frames) >= _FRAMES_KEPT:
                del self._frames[next(iter(self._frames))]
            self._frames[file_id] = lines
        return lines[line]

    def event(self, event_id: str) -> EventRow | None:
        row = self.db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id=?", (event_id,)).fetchone()
        return EventRow(*row) if row else None

    # -- graph -----------------------------------------------------------------------------------
    def replace_graph(
        self, nodes: Iterable[NodeState], edges: Iterable[EdgeState], derived: Iterable[EdgeState]
    ) -> None:
        self.db.execute("DELETE FROM nodes")
        self.db.execute("DELETE FROM edges")
        self.db.executemany(
            "INSERT INTO nodes VALUES (?,?,?,?,?,?,?)",
            (
                (
                    n.key,
                    n.kind,
                    n.account,
                    n.name,
                    n.first_seen,
                    n.last_seen,
                    _blob(orjson.dumps(n.props, option=_SORTED)),
                )
                for n in nodes
            ),
        )
        rows = [(e, 0) for e in edges] + [(e, 1) for e in derived]
        self.db.executemany(
            "INSERT INTO edges VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                (e.src, e.type, e.dst, e.count, e.error_count, e.first_seen, e.last_seen, int(e.traversable), flag,
                 _blob(orjson.dumps(_edge_props(e), option=_SORTED)))
                for e, flag in rows
            ),
        )  # fmt: skip

    # Names are interned as they are read: each edge end then shares its node's key instead of holding a copy,
    # and each type is one string (a tenth of a 500,000-edge graph's memory).
    def node_states(self) -> Iterator[NodeState]:
        for key, kind, account, name, first, last, props in self.db.execute("SELECT * FROM nodes"):
            yield NodeState(
                key=intern(key),
                kind=intern(kind),
                account=account and intern(account),
                name=name,
                first_seen=first,
                last_seen=last,
                props=orjson.loads(props),
            )

    def edge_states(self, *, include_derived: bool = False) -> Iterator[EdgeState]:
        sql = "SELECT src, type, dst, count, error_count, first_seen, last_seen, traversable, props FROM edges"
        if not include_derived:
            sql += " WHERE derived=0"
        for src, type_, dst, count, errors, first, last, traversable, props in self.db.execute(sql):
            extra = orjson.loads(props)
            yield EdgeState(
                src=intern(src),
                type=intern(type_),
                dst=intern(dst),
                count=count,
                error_count=errors,
                first_seen=first,
                last_seen=last,
                traversable=bool(traversable),
                errors=extra.get("errors", {}),
                source_ips=extra.get("source_ips", {}),
                user_agents=extra.get("user_agents", {}),
                regions=extra.get("regions", {}),
                access_keys=extra.get("access_keys", {}),
                early=[tuple(item) for item in extra.get("early", [])],  # type: ignore[misc]
                late=[tuple(item) for item in extra.get("late", [])],  # type: ignore[misc]
                facts=extra.get("facts", {}),
            )

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    # -- S3 bookkeeping (graphtrail.aws): each object read, so a re-run skips it without downloading it ---
    def s3_objects(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """Keys under `prefix` in `bucket` already read into this case, with the ETag that was read."""
        self.db.execute(_S3_OBJECTS)
        rows = self.db.execute(
            "SELECT key, etag FROM s3_objects WHERE bucket=? AND substr(key, 1, ?)=?", (bucket, len(prefix), prefix)
        )
        return dict(rows.fetchall())

    def add_s3_object(self, bucket: str, key: str, etag: str, status: str) -> None:
        """Record a read object (in the transaction that stores its events, so both land or neither)."""
        self.db.execute(_S3_OBJECTS)
        self.db.execute(
            "INSERT OR REPLACE INTO s3_objects (bucket, key, etag, status) VALUES (?, ?, ?, ?)",
            (bucket, key, etag, status),
        )


# Created on first use, so cases made before S3 ingest existed gain it without a schema change.
_S3_OBJECTS = """CREATE TABLE IF NOT EXISTS s3_objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, etag TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (bucket, key)
) WITHOUT ROWID"""


def _edge_props(edge: EdgeState) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name in ("errors", "source_ips", "user_agents", "regions", "access_keys", "facts"):
        value = getattr(edge, name)
        if value:
            props[name] = value
    if edge.early:
        props["early"] = edge.early
    if edge.late:
        props["late"] = edge.late
    return props
