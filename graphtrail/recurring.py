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

A second tier serves calls made again and again with other parameters (`VARYING_CALLS`: S3 object calls,
KMS calls): a record that equals an earlier one but for its ids, time and parameter blocks comes as a
`RecordCopy` with the earlier record's `BlockReading` and its own blocks. Its Event is the earlier one's with
the blocks read as the normalizer reads them (`normalize_copy`), and its action is resolved again, so only
parsing the rest of the record and normalizing it are saved. A record whose exact reading is known still
comes as a `RecurringRecord`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from graphtrail._native import RecurringRecords
from graphtrail.accumulate import GroupKey, group_key
from graphtrail.cloudtrail.actions import ActionEffect, resolve_action
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.timeparse import format_time

__all__ = ["MEMO_BYTES", "VARYING_CALLS", "BlockReading", "Reading", "RecurringRecords", "block_reading_of",
           "reading_of", "worker_memo"]  # fmt: skip

MEMO_BYTES = 16 << 20
"""What one worker's memo may hold (the records' bytes and stored JSON; the Python readings besides)."""

# Calls made again and again by one caller with other parameters each time: S3 object calls name another
# object (and move other bytes), KMS calls another encryption context (an S3 object's, under SSE-KMS).
# Their records may also differ in `requestParameters`, `additionalEventData` and `resources` and still be
# read as copies (`RecordCopy`): the blocks are read, and the action resolved, for each copy.
VARYING_CALLS: tuple[tuple[str, str], ...] = (
    *(("s3.amazonaws.com", name) for name in (
        "GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "GetObjectAcl",
        "PutObjectAcl", "GetObjectTagging", "PutObjectTagging", "GetObjectAttributes", "RestoreObject",
        "SelectObjectContent", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
        "AbortMultipartUpload", "ListObjects", "ListObjectsV2",
    )),
    *(("kms.amazonaws.com", name) for name in (
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
    )),
)  # fmt: skip


def worker_memo() -> RecurringRecords:
    """The memo of one ingest worker."""
    return RecurringRecords(MEMO_BYTES, list(VARYING_CALLS))


class Reading(NamedTuple):
    """What ingest takes from a record, shared by its copies: all but their ids and time."""

    event: Event
    effect: ActionEffect
    group: GroupKey
    row_head: tuple[Any, ...]  # the event's case row from `name` to `category` (see ingest)


# Other ids and times, to see whether an effect depends on the event's own: two of each, so that one
# always differs from the event's (a log may hold anything, these values too).
_OTHER_IDS = ("00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001")
_OTHER_TIMES = (datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2002, 3, 4, 5, 6, 7, tzinfo=UTC))
_OTHER_REQUESTS = ("graphtrail-probe-0", "graphtrail-probe-1")


def _other(value: Any, choices: tuple[Any, Any]) -> Any:
    return choices[0] if value != choices[0] else choices[1]


def _probe(event: Event) -> Event:
    """The event with other ids and time than its own."""
    time = _other(event.time, _OTHER_TIMES)
    return event._replace(
        event_id=_other(event.event_id, _OTHER_IDS),
        time=time,
        when=format_time(time),
        request_id=_other(event.request_id, _OTHER_REQUESTS),
        shared_event_id=_other(event.shared_event_id, _OTHER_IDS),
    )


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
    if resolve_action(_probe(event)) != effect:
        return None
    return Reading(event, effect, group, row_head)


class BlockReading(NamedTuple):
    """What the copies of a record that differ in their parameter blocks too share: all but their ids, time
    and blocks. Their action, which the blocks may change, is resolved for each."""

    event: Event
    row_head: tuple[Any, ...]  # as Reading's: the blocks play no part in it


def block_reading_of(event: Event, row_head: tuple[Any, ...]) -> BlockReading | None:
    """The reading the copies of `event`'s record that differ in their blocks may share, or None."""
    if event.is_insight:
        return None  # insights stay out of the memo
    return BlockReading(event, row_head)
