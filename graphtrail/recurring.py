"""Records that recur but for their ids and time, read once.

Most of a trail is one caller making one call again and again, and more than half of the simulated
corpus's records equal an earlier record but for `eventID`, `eventTime`, `requestID` and `sharedEventID`.
`RecurringRecords` (compiled, `native/src/recurring.rs`) recognises such records by their bytes in the
`{"Records": [...]}` files of one ingest worker; the reader then yields them as `RecurringRecord`s, and
ingest uses the reading of the record they copy instead of parsing, normalizing and resolving them again.

Bytes decide only which record a record copies. Whether that record's reading holds for its copies is
decided here, once, when a record is seen for the second time (`reading_of`): the copies differ in
nothing else, so their Event differs only in `event_id`, `time`, `when`, `request_id` and
`shared_event_id` (the memo lets only GUID ids and CloudTrail's own time format vary, which the normalizer
keeps as they are), and the reading is refused when the action effect changes with those fields (the
effect of a call that mints a key names the event that minted it) or when the event joins no group.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from graphtrail._native import RecurringRecords
from graphtrail.accumulate import GroupKey, group_key
from graphtrail.cloudtrail.actions import ActionEffect, resolve_action
from graphtrail.cloudtrail.event import Event

__all__ = ["MEMO_BYTES", "Reading", "RecurringRecords", "reading_of"]

MEMO_BYTES = 16 << 20
"""What one worker's memo may hold (the records' bytes and stored JSON; the Python readings besides)."""


class Reading(NamedTuple):
    """What ingest takes from a record, shared by its copies: all but their ids and time."""

    event: Event
    effect: ActionEffect
    group: GroupKey
    row_head: tuple[Any, ...]  # the event's case row from `name` to `category` (see ingest)


# Another event's ids and time, to see whether the effect depends on them.
_PROBE = {
    "event_id": "00000000-0000-4000-8000-000000000000",
    "time": datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC),
    "when": "2001-02-03T04:05:06Z",
    "request_id": "graphtrail-probe",
    "shared_event_id": "00000000-0000-4000-8000-000000000001",
}


def reading_of(event: Event, effect: ActionEffect, row_head: tuple[Any, ...]) -> Reading | None:
    """The reading the copies of `event`'s record may share, or None when they may not."""
    if event.is_insight:
        return None  # insights stay out of the graph, and out of the memo
    group = group_key(event, effect)
    if group is None:
        return None
    try:
        hash(group)
    except TypeError:
        return None
    if resolve_action(event._replace(**_PROBE)) != effect:
        return None
    return Reading(event, effect, group, row_head)
