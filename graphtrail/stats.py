"""`stats`: what a case holds, in numbers a responder checks first."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from graphtrail.case import Case


@dataclass
class CaseStats:
    events: int
    insights: int
    first_event: str | None
    last_event: str | None
    accounts: list[str]
    regions: dict[str, int]
    nodes_by_kind: dict[str, int]
    edges_by_type: dict[str, int]
    busiest_principals: list[tuple[str, str, int]]  # key, kind, events
    busiest_keys: list[tuple[str, str | None, int]]  # key, acts as, events
    failed_events: int
    lineage_methods: dict[str, int]
    files: dict[str, int]
    shapes: dict[str, int]
    rejects_by_reason: dict[str, int]
    runs: int
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def case_stats(case: Case, top: int = 10) -> CaseStats:
    db = case.db
    first, last = db.execute("SELECT min(time), max(time) FROM events").fetchone()
    shapes: dict[str, int] = {}
    for (value,) in db.execute("SELECT shapes FROM files WHERE shapes IS NOT NULL AND shapes != ''"):
        for shape in value.split(","):
            shapes[shape] = shapes.get(shape, 0) + 1
    return CaseStats(
        events=int(case.scalar("SELECT count(*) FROM events") or 0),
        insights=int(case.scalar("SELECT count(*) FROM insights") or 0),
        first_event=first,
        last_event=last,
        accounts=[r[0] for r in db.execute("SELECT key FROM nodes WHERE kind='Account' ORDER BY key")],
        regions=dict(
            db.execute("SELECT region, count(*) FROM events WHERE region IS NOT NULL GROUP BY 1 ORDER BY 2 DESC")
        ),
        nodes_by_kind=dict(db.execute("SELECT kind, count(*) FROM nodes GROUP BY 1 ORDER BY 2 DESC, 1")),
        edges_by_type=dict(db.execute("SELECT type, count(*) FROM edges GROUP BY 1 ORDER BY 2 DESC, 1")),
        busiest_principals=[
            (key, kind, count)
            for key, kind, count in db.execute(
                "SELECT actor, actor_kind, count(*) FROM events GROUP BY actor ORDER BY 3 DESC, 1 LIMIT ?", (top,)
            )
        ],
        busiest_keys=[
            (key, owner, count)
            for key, owner, count in db.execute(
                "SELECT access_key, max(actor), count(*) FROM events WHERE access_key IS NOT NULL "
                "GROUP BY access_key ORDER BY 3 DESC, 1 LIMIT ?",
                (top,),
            )
        ],
        failed_events=int(case.scalar("SELECT count(*) FROM events WHERE error_code IS NOT NULL") or 0),
        lineage_methods=dict(db.execute("SELECT method, count(*) FROM key_lineage GROUP BY 1 ORDER BY 2 DESC")),
        files=dict(db.execute("SELECT status, count(*) FROM files GROUP BY 1 ORDER BY 1")),
        shapes=dict(sorted(shapes.items())),
        rejects_by_reason=dict(db.execute("SELECT reason, count(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC, 1")),
        runs=int(case.scalar("SELECT count(*) FROM runs") or 0),
    )


def stats_json(stats: CaseStats) -> bytes:
    return orjson.dumps(stats.as_dict(), option=orjson.OPT_INDENT_2)
