"""What every source yields: raw records, rejects and skipped files, each with where it came from.

Records and their origins are NamedTuples (immutable, and built once per record: cheaper than dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class RecordOrigin(NamedTuple):
    """Where a record was read: `source` names the file (``archive.zip!member``, ``<stdin>``, ``s3://…``)."""

    source: str
    index: int  # 0-based position of the record within its source
    line: int | None = None  # 1-based line number for line-oriented sources


class RawRecord(NamedTuple):
    """One CloudTrail record as a plain dict, unwrapped from whatever envelope carried it."""

    data: dict[str, Any]
    origin: RecordOrigin
    shape: str  # records | array | jsonl | lookup-events | eventbridge | cloudwatch-logs | lake | siem | single
    recurrence: int = -1  # >= 0: seen before, and the token to hand its reading over with (graphtrail.recurring)
    block_recurrence: int = -1  # the same for its reading but for its parameter blocks


class RecurringRecord(NamedTuple):
    """A record of a `{"Records": [...]}` file equal to an earlier one but for its ids and time.

    It comes with the earlier record's reading (a `graphtrail.recurring.Reading`), never as a dict: that is
    what makes it cheap. Only readers given a `RecurringRecords` memo yield these.
    """

    reading: Any
    event_id: str
    when: str  # eventTime, in CloudTrail's own form (the case's)
    shared_event_id: str | None
    record_json: bytes  # the stored record: the earlier one's with this one's ids and time


# The parameter blocks in which a `RecordCopy` may differ from the record it copies, in the order
# native/src/recurring.rs numbers them.
VARYING_BLOCKS = ("requestParameters", "additionalEventData", "resources")


class RecordCopy(NamedTuple):
    """A record of a `{"Records": [...]}` file equal to an earlier one but for its ids, time and parameter
    blocks (`requestParameters`, `additionalEventData`, `resources`): an S3 object read names its object.

    It comes with the earlier record's `graphtrail.recurring.BlockReading` and its own blocks, parsed but
    not yet redacted; `graphtrail.cloudtrail.normalize.normalize_copy` makes its Event.
    """

    reading: Any
    event_id: str
    when: str  # eventTime, in CloudTrail's own form (the case's)
    shared_event_id: str | None
    request_id: str | None
    pieces: list[bytes]  # the stored record around its blocks: the earlier one's, with this one's ids and time
    blocks: list[tuple[str, Any]]  # (field, value) of its blocks, in the order they come
    recurrence: int  # as RawRecord's: >= 0 asks for its own reading (it was seen before as it is)
    raw: bytes  # the record's bytes, read as a whole should its blocks not be written as a record's are
    origin: RecordOrigin


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something that should have been a record (or a whole file) and could not be read."""

    origin: RecordOrigin
    reason: str  # short code: malformed-json, truncated-gzip, not-utf8, empty-file, decompressed-too-large, ...
    detail: str = ""
    whole_file: bool = False


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file that is deliberately not ingested (digest file, CloudWatch control message, not a log)."""

    source: str
    reason: str  # digest | control-message | not-a-log


@dataclass(frozen=True, slots=True)
class Notice:
    """A non-fatal remark about a source (bytes repaired, a member skipped); counted, never silent."""

    source: str
    reason: str
    detail: str = ""


SourceItem = RawRecord | RecurringRecord | RecordCopy | Rejected | SkippedFile | Notice
