"""Turn the bytes of one log file into raw records, whatever envelope carried them.

`read_records` detects (never assumes) the compression, the layout (one JSON document, one value per line,
or values one after another) and the envelope of each value (`{"Records": [...]}`, a bare array, lookup-events,
EventBridge, CloudWatch Logs, CloudTrail Lake, SIEM exports, a single record). It only unwraps: checking
CloudTrail fields is the normalizer's job. It never raises: everything it cannot read becomes a `Rejected`
with a reason code and a position, never the record's content (records hold secrets and attacker text).

The common case (a `.json.gz` from S3, or JSON lines) runs at gzip + orjson speed: one parse, one pass over
the records, no copies of the decompressed bytes. The slower stdlib parser is used only to salvage records
from a document orjson rejected. Given a memo of recurring records (ingest's workers), a `{"Records": [...]}`
document is split by it instead, and a record it knows comes as a `RecurringRecord`, or as a `RecordCopy` when
it differs in its parameter blocks too (`graphtrail.recurring`).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import re
from collections.abc import Generator, Iterator
from typing import Any, Final

import orjson

from graphtrail._native import RecurringRecords
from graphtrail.sources.decompress import GZIP_MAGIC, detect_compression, gunzip, is_tar, is_zip
from graphtrail.sources.lake import merge_lake_row
from graphtrail.sources.limits import DEFAULT_LIMITS, ReadLimits
from graphtrail.sources.records import (
    VARYING_BLOCKS,
    Notice,
    RawRecord,
    RecordCopy,
    RecordOrigin,
    RecurringRecord,
    Rejected,
    SkippedFile,
    SourceItem,
)

log = logging.getLogger(__name__)

# Where a value sits in the file; decides the shape name of a bare record and whether a reject is whole-file.
_DOCUMENT: Final = 0  # the file is this one JSON value
_ELEMENT: Final = 1  # an element of a bare top-level array (or of a wrapper's list)
_LINE: Final = 2  # one line of a JSON-lines file
_STREAM: Final = 3  # one of several JSON values written one after another
_BARE_SHAPE: Final = {_DOCUMENT: "single", _ELEMENT: "array", _LINE: "jsonl", _STREAM: "jsonl"}
_MAX_WRAPPER_DEPTH: Final = 4
_MAX_BROKEN_IN_A_ROW: Final = 50  # salvage gives up after this many broken values in a row (bounds hostile input)

# Top-level keys that only a CloudTrail record has (CloudTrail Lake's `SELECT *` lower-cases them).
_RECORD_KEYS: Final = frozenset(
    {
        "eventVersion",
        "eventTime",
        "eventName",
        "eventSource",
        "eventID",
        "eventType",
        "eventCategory",
        "userIdentity",
        "recipientAccountId",
        "eventversion",
        "eventtime",
        "eventname",
        "eventsource",
        "eventid",
        "useridentity",
    }
)

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
_NON_SPACE = re.compile(rb"[^ \t\r\n]")
_NON_SPACE_TEXT = re.compile(r"[^ \t\r\n]")
_SPACE_TEXT = re.compile(r"[ \t\r\n]*")
_ARRAY_START = re.compile(r'[ \t\r\n]*(\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*)?\[')
_STREAM_RESYNC = re.compile(r"\n(?=[{\[])|\}(?=\{)")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STDLIB_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def read_records(
    log_file_source: str,
    data: bytes,
    limits: ReadLimits = DEFAULT_LIMITS,
    recurring: RecurringRecords | None = None,
) -> Iterator[SourceItem]:
    """Yield every record in `data` (the raw bytes of `log_file_source`), plus rejects, skips and notices.

    With `recurring`, records of a `{"Records": [...]}` file that it knows come as `RecurringRecord`s.
    Never raises: an unexpected failure is yielded as a `Rejected` with reason `reader-error`.
    """
    return _guarded(_FileReader(log_file_source, limits, recurring), data)


def _guarded(reader: _FileReader, data: bytes) -> Iterator[SourceItem]:
    # The stages below return iterators instead of delegating with `yield from`: every level of generator
    # delegation is paid once per record, and a file can hold a million records.
    try:
        yield from reader.read(data)
    except Exception as exc:
        log.warning("unexpected error reading %s", reader.source, exc_info=True)
        yield Rejected(
            RecordOrigin(reader.source, reader.index),
            "reader-error",
            f"unexpected {type(exc).__name__} in graphtrail's reader (a bug); the rest of the file was not read",
            whole_file=reader.index == 0,
        )


class _FileReader:
    """The state of reading one file: its name, limits, the running record index and one-time notices."""

    __slots__ = ("big", "index", "limits", "recurring", "repaired", "source")

    def __init__(self, source: str, limits: ReadLimits, recurring: RecurringRecords | None = None) -> None:
        self.source = source
        self.limits = limits
        self.recurring = recurring
        self.index = 0  # records and per-record rejects yielded so far
        self.big = False  # the value being unwrapped is larger than one record may be: measure each record
        self.repaired = False  # the not-utf8-repaired notice was yielded

    # --- helpers that build items -------------------------------------------------------------------------

    def _reject(self, reason: str, detail: str, line: int | None = None, *, whole_file: bool = False) -> Rejected:
        if whole_file:
            return Rejected(RecordOrigin(self.source, 0, line), reason, detail, whole_file=True)
        rejected = Rejected(RecordOrigin(self.source, self.index, line), reason, detail)
        self.index += 1
        return rejected

    def _record(self, data: dict[str, Any], shape: str, line: int | None) -> RawRecord | Rejected:
        if self.big and _serialized_size(data) > self.limits.max_record_bytes:
            return self._reject("record-too-large", _over(self.limits.max_record_bytes), line)
        record = RawRecord(data, RecordOrigin(self.source, self.index, line), shape)
        self.index += 1
        return record

    def _skip(self, reason: str, what: str, line: int | None, whole: bool) -> SkippedFile | Notice:
        """Skip something that is deliberately not an event: the whole file, or one value inside it."""
        if whole:
            return SkippedFile(self.source, reason)
        return Notice(self.source, reason, f"{what}{_at(line)} was skipped")

    def _repair_notice(self, detail: str) -> list[Notice]:
        """The not-utf8-repaired notice, once per file however many repairs follow."""
        if self.repaired:
            return []
        self.repaired = True
        return [Notice(self.source, "not-utf8-repaired", detail)]

    # --- bytes: compression and encoding -----------------------------------------------------------------

    def read(self, data: bytes) -> Iterator[SourceItem]:
        limits = self.limits
        if not data:
            return iter((self._reject("empty-file", "the file has no bytes", whole_file=True),))
        early: list[SourceItem] = []
        content = data
        cut: tuple[str, str] | None = None
        layers = 0
        while cut is None and layers < 3:
            compression = detect_compression(content[:6])
            if compression is None:
                break
            if compression != "gzip":
                detail = f"{compression}-compressed; only gzip is read (decompress it first)"
                return iter((self._reject("unsupported-compression", detail, whole_file=True),))
            inflated = gunzip(content, limits.max_file_bytes)
            if inflated.problem == "decompressed-too-large":
                return iter((self._reject(inflated.problem, inflated.detail, whole_file=True),))
            if inflated.trailing_bytes:
                detail = f"{inflated.trailing_bytes:,} bytes after gzip member {inflated.members} are not gzip; ignored"
                early.append(Notice(self.source, "trailing-garbage", detail))
            content = inflated.data
            if inflated.problem is not None:
                cut = (inflated.problem, inflated.detail)
            layers += 1
        if layers == 0 and len(content) > limits.max_file_bytes:
            detail = f"larger than the {limits.max_file_bytes:,}-byte limit"
            return iter((self._reject("file-too-large", detail, whole_file=True),))
        if is_zip(content[:4]) or is_tar(content[:512]):
            detail = "a zip or tar archive; archives are expanded by iter_log_files, not read as a log"
            return iter((*early, self._reject("unexpanded-archive", detail, whole_file=True)))
        if content.startswith(_UTF8_BOM):
            content = content[len(_UTF8_BOM) :]
        elif content[:2] in _UTF16_BOMS:
            content = content.decode("utf-16", "replace").encode("utf-8")
            early += self._repair_notice("UTF-16 text (byte order mark at offset 0) was converted to UTF-8")
        if _NON_SPACE.search(content) is None:
            if cut is not None:
                rejected = self._reject(cut[0], f"{cut[1]}; nothing was decoded before the cut", whole_file=True)
            else:
                what = "has only whitespace" if content else "decompresses to nothing"
                rejected = self._reject("empty-file", f"the file {what}", whole_file=True)
            return iter((*early, rejected))
        return _chain(early, self._parse(content, cut))

    # --- layout: one document, JSON lines, or a stream of values -------------------------------------------

    def _parse(self, content: bytes, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        if self.recurring is not None and cut is None and len(content) <= self.limits.max_record_bytes:
            split = self._split_records(self.recurring, content)
            if split is not None:
                return split
        try:
            document = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            return self._parse_failed(content, exc, cut)
        return self._document(document, len(content), cut)

    def _document(self, document: Any, size: int, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        self.big = size > self.limits.max_record_bytes
        if type(document) is dict and "Records" in document and "eventTime" not in document:
            records = document["Records"]
            items = self._records(records, None) if type(records) is list else self._dispatch(document, _DOCUMENT)
        elif type(document) is list:
            items = self._array(document, None, 0)
        else:
            items = self._dispatch(document, _DOCUMENT)
        if cut is None:
            return items
        return itertools.chain(
            items, self._cut_tail(cut, "the decoded part is a complete JSON document; any later part is lost")
        )

    def _split_records(self, recurring: RecurringRecords, content: bytes) -> Iterator[SourceItem] | None:
        """A `{"Records": [...]}` document split by the memo: what `_records` would yield, but records the
        memo knows come as `RecurringRecord`s or `RecordCopy`s. None when the content is anything else, or a
        record (or a copy's block) does not parse: the document is then read the usual way, as a whole, and
        judged as it always was.
        """
        split = recurring.split(content)
        if split is None:
            return None
        source = self.source
        index = self.index
        loads = orjson.loads
        items: list[SourceItem] = []
        for entry in split:
            size = len(entry)
            if size == 3:
                raw, token, block_token = entry
                try:
                    items.append(RawRecord(loads(raw), RecordOrigin(source, index), "records", token, block_token))
                except orjson.JSONDecodeError:
                    return None
            elif size == 5:
                items.append(RecurringRecord(*entry))
            else:
                reading, event_id, when, shared_event_id, request_id, pieces, raw_blocks, token, raw = entry
                try:
                    blocks = [(VARYING_BLOCKS[field], loads(value)) for field, value in raw_blocks]
                except orjson.JSONDecodeError:
                    return None
                items.append(RecordCopy(reading, event_id, when, shared_event_id, request_id, pieces, blocks, token,
                                        raw, RecordOrigin(source, index)))  # fmt: skip
            index += 1
        self.index = index
        return iter(items)

    def _parse_failed(
        self, content: bytes, error: orjson.JSONDecodeError, cut: tuple[str, str] | None
    ) -> Iterator[SourceItem]:
        """orjson refused the file as one document: repair bad UTF-8, then try lines, streams and salvage."""
        first = _NON_SPACE.search(content)
        if first is None or content[first.start() : first.start() + 1] not in (b"{", b"["):
            at = first.start() if first is not None else 0
            detail = f"not JSON text: the first non-blank byte (offset {at:,}) is not '{{' or '['"
            return iter((self._reject("not-json", detail, whole_file=True),))
        early: list[SourceItem] = []
        if "utf-8" in error.msg.lower():
            try:
                content.decode("utf-8")
            except UnicodeDecodeError as bad:
                line = content.count(b"\n", 0, bad.start) + 1
                content = content.decode("utf-8", "replace").encode("utf-8")
                early += self._repair_notice(
                    f"invalid UTF-8 at byte {bad.start:,} (line {line}); invalid bytes were replaced with U+FFFD"
                )
            try:
                document = orjson.loads(content)
            except orjson.JSONDecodeError as exc:
                error = exc
            else:
                return _chain(early, self._document(document, len(content), cut))
        if _is_line_oriented(content, first.start()):
            return _chain(early, self._read_lines(content, cut))
        text = content.decode("utf-8", "replace")
        return _chain(early, self._read_text(text, error, cut))

    def _read_lines(self, content: bytes, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        """One JSON value per line; a bad line is rejected with its number and the rest carries on."""
        limit = self.limits.max_record_bytes
        source = self.source
        loads = orjson.loads
        find = content.find
        view = memoryview(content)
        end_of_data = len(content)
        if cut is not None:
            end_of_data = content.rfind(b"\n") + 1  # the line the cut fell in is incomplete
        start = 0
        line = 0
        while start < end_of_data:
            newline = find(b"\n", start, end_of_data)
            end = end_of_data if newline < 0 else newline
            line += 1
            if end > start:
                chunk = view[start:end]
                try:
                    value = loads(chunk)
                except orjson.JSONDecodeError as exc:
                    yield from self._bad_line(chunk, exc, line)
                else:
                    if type(value) is dict and "eventTime" in value:  # the common case: a bare record per line
                        if end - start > limit:
                            yield self._reject("record-too-large", f"line over the {limit:,}-byte record limit", line)
                        else:
                            yield RawRecord(value, RecordOrigin(source, self.index, line), "jsonl")
                            self.index += 1
                    else:
                        self.big = end - start > limit
                        yield from self._dispatch(value, _LINE, line, 0)
            start = end + 1
        if cut is not None:
            yield self._cut_reject(
                cut, f"lines 1-{line} were read; line {line + 1} is incomplete and anything after it is lost", line + 1
            )

    def _bad_line(self, chunk: memoryview, error: orjson.JSONDecodeError, line: int) -> Iterator[SourceItem]:
        raw = bytes(chunk)
        if not raw.strip():
            return  # a blank line (spaces, a lone \r)
        value: Any = _FAILED
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            try:
                value = orjson.loads(raw.decode("utf-8", "replace"))
            except orjson.JSONDecodeError as exc:
                error = exc
            yield from self._repair_notice(
                f"invalid UTF-8 in line {line} (byte {bad.start:,} of the line); "
                "invalid bytes were replaced with U+FFFD"
            )
        if value is _FAILED and "surrogate" in error.msg:
            value = yield from self._stdlib_loads(raw.decode("utf-8", "replace"), line)
        if value is _FAILED:
            yield self._reject("malformed-json", f"JSON error at line {line} column {error.colno}: {error.msg}", line)
            return
        self.big = len(raw) > self.limits.max_record_bytes
        yield from self._dispatch(value, _LINE, line, 0)

    def _stdlib_loads(self, text: str, line: int | None) -> Generator[SourceItem, None, Any]:
        """Parse with the stdlib (which accepts lone surrogate escapes that orjson refuses) and repair them."""
        try:
            value = _STDLIB_DECODER.decode(text)
        except (ValueError, RecursionError):
            return _FAILED
        where = f" (line {line})" if line is not None else ""
        yield from self._repair_notice(f"lone UTF-16 surrogate escapes{where} were replaced with U+FFFD")
        return _repair_surrogates(value)

    def _read_text(self, text: str, error: orjson.JSONDecodeError, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        """orjson refused the whole file: a stream of values, lone surrogates, or a malformed document."""
        start = _NON_SPACE_TEXT.search(text)
        assert start is not None  # checked by the caller
        try:
            value, end = _STDLIB_DECODER.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            yield from self._salvage(text, error, cut)
            return
        if _NON_SPACE_TEXT.search(text, end) is not None:
            yield from self._read_stream(text, cut)
            return
        # One complete document that only the stdlib accepts: lone surrogate escapes (orjson is strict).
        yield from self._repair_notice("lone UTF-16 surrogate escapes were replaced with U+FFFD")
        self.big = len(text) > self.limits.max_record_bytes
        yield from self._dispatch(_repair_surrogates(value), _DOCUMENT, None, 0)
        if cut is not None:
            yield self._cut_reject(cut, "the decoded part is a complete JSON document; any later part is lost")

    def _read_stream(self, text: str, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        """JSON values one after another (`jq` output, Firehose objects): parse them in turn."""
        limit = self.limits.max_record_bytes
        repair = _SURROGATE_ESCAPE.search(text) is not None
        size = len(text)
        position = _SPACE_TEXT.match(text, 0).end()  # type: ignore[union-attr]
        line = 1
        counted = 0
        broken = 0
        while position < size:
            line += text.count("\n", counted, position)
            counted = position
            try:
                value, end = _STDLIB_DECODER.raw_decode(text, position)
            except (ValueError, RecursionError) as exc:
                resync = _STREAM_RESYNC.search(text, position + 1)
                if resync is None and cut is not None:
                    yield self._cut_reject(cut, f"the value starting at line {line} is incomplete", line)
                    return
                broken += 1
                detail = f"value at line {line}: {_stdlib_where(exc)}"
                if resync is None or broken >= _MAX_BROKEN_IN_A_ROW:
                    yield self._reject("malformed-json", f"{detail}; the rest is lost", line)
                    return
                yield self._reject("malformed-json", detail, line)
                position = resync.end() if resync.group().startswith("\n") else resync.start() + 1
                continue
            broken = 0
            if repair:
                value = _repair_surrogates(value)
                yield from self._repair_notice("lone UTF-16 surrogate escapes were replaced with U+FFFD")
            self.big = (end - position) * 4 > limit
            if type(value) is dict and "eventTime" in value and end - position > limit:
                yield self._reject("record-too-large", f"value over the {limit:,}-byte record limit", line)
            else:
                yield from self._dispatch(value, _STREAM, line, 0)
            position = _SPACE_TEXT.match(text, end).end()  # type: ignore[union-attr]
        if cut is not None:
            yield self._cut_reject(cut, "every complete value before the cut was read", line + 1)

    def _salvage(self, text: str, error: orjson.JSONDecodeError, cut: tuple[str, str] | None) -> Iterator[SourceItem]:
        """A malformed or cut document: if it is a Records/bare array, read it element by element.

        Missing commas between whole elements are bridged; a broken element is rejected and reading resumes at
        the next line that starts an element at the same indentation (pretty-printed files only).
        """
        reason = cut[0] if cut is not None else "malformed-json"
        where = _where(error)
        opening = _ARRAY_START.match(text)
        if opening is None:
            prefix = f"{cut[1]}; " if cut is not None else ""
            yield self._reject(reason, f"{prefix}JSON error {where}: {error.msg}", whole_file=True)
            return
        shape = "records" if opening.group(1) else "array"
        items: list[SourceItem] = []
        self._salvage_elements(text, opening.end(), shape, reason, items)
        recovered = sum(1 for item in items if type(item) is RawRecord)
        if recovered == 0:
            self.index = 0
            prefix = f"{cut[1]}; " if cut is not None else ""
            detail = f"{prefix}JSON error {where}: {error.msg}; no record could be read"
            yield self._reject(reason, detail, whole_file=True)
            return
        yield Notice(
            self.source,
            "records-salvaged",
            f"JSON error {where}: {error.msg}; the {shape} array was read element by element and {recovered:,} "
            "records were recovered",
        )
        yield from items

    def _salvage_elements(self, text: str, position: int, shape: str, reason: str, out: list[SourceItem]) -> None:
        limit = self.limits.max_record_bytes
        size = len(text)
        repair = _SURROGATE_ESCAPE.search(text) is not None
        resync_pattern: re.Pattern[str] | None = None
        line = 1
        counted = 0
        broken = 0
        while True:
            position = _SPACE_TEXT.match(text, position).end()  # type: ignore[union-attr]
            line += text.count("\n", counted, position)
            counted = position
            if position >= size:
                detail = f"the document ends at line {line} before the {shape} array closes"
                out.append(self._reject(reason, detail, line))
                return
            if text[position] == "]":
                return
            if resync_pattern is None:
                resync_pattern = _element_resync(text, position)
            start = position
            try:
                value, end = _STDLIB_DECODER.raw_decode(text, position)
            except (ValueError, RecursionError) as exc:
                resync = resync_pattern.search(text, start + 1) if resync_pattern is not None else None
                detail = f"record at line {line}: {_stdlib_where(exc)}"
                broken += 1
                if resync is None or broken >= _MAX_BROKEN_IN_A_ROW:
                    out.append(self._reject(reason, f"{detail}; the rest is lost", line))
                    return
                out.append(self._reject("malformed-json", detail, line))
                position = resync.end()
                continue
            broken = 0
            if repair:
                value = _repair_surrogates(value)
            if end - start > limit:
                out.append(self._reject("record-too-large", _over(limit), line))
            elif shape == "records":
                if type(value) is dict:
                    out.append(self._record(value, "records", line))
                else:
                    out.append(self._reject("not-an-object", f"element at line {line} is not a JSON object", line))
            else:
                self.big = False
                out.extend(self._dispatch(value, _ELEMENT, line, 1))
            position = _SPACE_TEXT.match(text, end).end()  # type: ignore[union-attr]
            if text.startswith(",", position):
                position += 1
            elif text.startswith("]", position):
                return
            elif position < size and text[position] not in "{[":
                resync = resync_pattern.search(text, position) if resync_pattern is not None else None
                if resync is None:
                    break
                position = resync.end()
            # else: the next element follows without a comma; read on
        out.append(self._reject(reason, f"unexpected text after the record at line {line}; the rest is lost", line))

    def _cut_tail(self, cut: tuple[str, str], what: str) -> Iterator[SourceItem]:
        """The cut reject, built lazily: whether it is whole-file depends on what was read before it."""
        yield self._cut_reject(cut, what)

    def _cut_reject(self, cut: tuple[str, str], what: str, line: int | None = None) -> Rejected:
        return self._reject(cut[0], f"{cut[1]}; {what}", line, whole_file=self.index == 0)

    # --- envelopes ----------------------------------------------------------------------------------------

    def _dispatch(
        self, value: Any, where: int, line: int | None = None, depth: int = 0, bare: str = ""
    ) -> Iterator[SourceItem]:
        """Unwrap one JSON value found at `where`; `bare` overrides the shape name of a bare record."""
        whole = where == _DOCUMENT
        if type(value) is list:
            if where == _ELEMENT:
                yield self._reject("not-an-object", "an array where a record was expected", line)
                return
            yield from self._array(value, line, depth)
            return
        if type(value) is not dict:
            if whole:
                detail = f"the document is a JSON {_json_type(value)}, not CloudTrail records"
                yield self._reject("not-cloudtrail", detail, whole_file=True)
            else:
                yield self._reject("not-an-object", f"a JSON {_json_type(value)} where a record was expected", line)
            return
        if depth > _MAX_WRAPPER_DEPTH:
            yield self._reject("not-cloudtrail", "wrappers nested too deeply", line, whole_file=whole)
            return
        kind = _classify(value)
        if kind == "record":
            yield self._record(value, bare or _BARE_SHAPE[where], line)
        elif kind == "records":
            records = value["Records"]
            if type(records) is not list:
                yield self._reject("not-cloudtrail", '"Records" is not an array', line, whole_file=whole)
            else:
                yield from self._records(records, line)
        elif kind == "siem":
            yield self._record(value, "siem", line)
        elif kind == "eventbridge":
            yield from self._eventbridge(value, line, whole)
        elif kind == "cloudwatch-logs":
            yield from self._cloudwatch_logs(value, line, whole)
        elif kind == "awslogs":
            yield from self._awslogs(value, line, whole, depth)
        elif kind == "lookup-events":
            yield from self._lookup_events(value, line, whole)
        elif kind == "lookup-event":
            yield from self._embedded(value.get("CloudTrailEvent"), "lookup-events", line, "CloudTrailEvent")
        elif kind == "lake":
            yield from self._lake(value, line, whole)
        elif kind == "elastic-hit":
            source = value["_source"]
            if type(source) is dict:
                yield from self._dispatch(source, where, line, depth + 1, "siem")
            else:
                yield self._reject("not-cloudtrail", '"_source" is not an object', line, whole_file=whole)
        elif kind == "elastic-hits":
            hits = value["hits"].get("hits")
            if type(hits) is not list:
                yield self._reject("not-cloudtrail", '"hits.hits" is not an array', line, whole_file=whole)
            else:
                for hit in hits:
                    yield from self._dispatch(hit, _ELEMENT, line, depth + 1, "siem")
        elif kind == "digest":
            yield self._skip("digest", "a CloudTrail digest object", line, whole)
        elif kind == "control-message":
            yield self._skip("control-message", "a CloudWatch Logs control message", line, whole)
        elif kind == "ground-truth":
            yield self._skip("ground-truth", "the ground truth of a graphtrail simulation", line, whole)
        else:
            detail = "a JSON object with no CloudTrail fields and no known envelope"
            yield self._reject("not-cloudtrail", detail, line, whole_file=whole)

    def _records(self, records: list[Any], line: int | None) -> Iterator[SourceItem]:
        """The hot loop: `{"Records": [...]}` from S3 is most of what people read."""
        source = self.source
        index = self.index
        check_size = self.big
        limit = self.limits.max_record_bytes
        for record in records:
            if type(record) is dict:
                if check_size and _serialized_size(record) > limit:
                    yield Rejected(RecordOrigin(source, index, line), "record-too-large", _over(limit))
                else:
                    yield RawRecord(record, RecordOrigin(source, index, line), "records")
            else:
                yield Rejected(
                    RecordOrigin(source, index, line),
                    "not-an-object",
                    f"Records[{index - self.index}] is a JSON {_json_type(record)}, not an object",
                )
            index += 1
        self.index = index

    def _array(self, values: list[Any], line: int | None, depth: int) -> Iterator[SourceItem]:
        source = self.source
        limit = self.limits.max_record_bytes
        for value in values:
            if type(value) is dict and "eventTime" in value:
                if self.big and _serialized_size(value) > limit:
                    yield self._reject("record-too-large", _over(limit), line)
                else:
                    yield RawRecord(value, RecordOrigin(source, self.index, line), "array")
                    self.index += 1
            else:
                yield from self._dispatch(value, _ELEMENT, line, depth + 1)

    def _eventbridge(self, envelope: dict[str, Any], line: int | None, whole: bool) -> Iterator[SourceItem]:
        detail = envelope["detail"]
        detail_type = envelope.get("detail-type")
        if type(detail) is not dict:
            yield self._reject("not-cloudtrail", 'EventBridge "detail" is not an object', line, whole_file=whole)
        elif (type(detail_type) is str and "cloudtrail" in detail_type.lower()) or _classify(detail) == "record":
            yield self._record(detail, "eventbridge", line)
        else:
            detail = "an EventBridge event that is not from CloudTrail"
            yield self._reject("not-cloudtrail", detail, line, whole_file=whole)

    def _lookup_events(self, value: dict[str, Any], line: int | None, whole: bool) -> Iterator[SourceItem]:
        events = value["Events"]
        if type(events) is not list:
            yield self._reject("not-cloudtrail", '"Events" is not an array', line, whole_file=whole)
            return
        for position, event in enumerate(events):
            embedded = event.get("CloudTrailEvent") if type(event) is dict else None
            yield from self._embedded(embedded, "lookup-events", line, f"Events[{position}].CloudTrailEvent")

    def _cloudwatch_logs(self, payload: dict[str, Any], line: int | None, whole: bool) -> Iterator[SourceItem]:
        if payload.get("messageType") == "CONTROL_MESSAGE":
            yield self._skip("control-message", "a CloudWatch Logs control message", line, whole)
            return
        events = payload.get("logEvents")
        if type(events) is not list:
            yield self._reject("not-cloudtrail", '"logEvents" is not an array', line, whole_file=whole)
            return
        for position, event in enumerate(events):
            message = event.get("message") if type(event) is dict else None
            yield from self._embedded(message, "cloudwatch-logs", line, f"logEvents[{position}].message")

    def _awslogs(self, value: dict[str, Any], line: int | None, whole: bool, depth: int) -> Iterator[SourceItem]:
        """The Lambda subscription event: `{"awslogs": {"data": base64(gzip(payload))}}`."""
        awslogs = value["awslogs"]
        blob = awslogs.get("data") if type(awslogs) is dict else None
        if type(blob) is not str:
            yield self._reject("not-cloudtrail", '"awslogs.data" is not a string', line, whole_file=whole)
            return
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            yield self._reject("malformed-base64", '"awslogs.data" is not valid base64', line, whole_file=whole)
            return
        if raw.startswith(GZIP_MAGIC):
            inflated = gunzip(raw, self.limits.max_file_bytes)
            if inflated.problem is not None:
                yield self._reject(inflated.problem, f'"awslogs.data": {inflated.detail}', line, whole_file=whole)
                return
            raw = inflated.data
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            detail = f'"awslogs.data" decodes to text with a JSON error {_where(exc)}: {exc.msg}'
            yield self._reject("malformed-json", detail, line, whole_file=whole)
            return
        if type(payload) is dict and _classify(payload) in ("cloudwatch-logs", "control-message"):
            yield from self._cloudwatch_logs(payload, line, whole)
        else:
            detail = '"awslogs.data" is not a CloudWatch Logs subscription payload'
            yield self._reject("not-cloudtrail", detail, line, whole_file=whole)

    def _embedded(self, embedded: Any, shape: str, line: int | None, label: str) -> Iterator[SourceItem]:
        """A record carried as a JSON string (lookup-events `CloudTrailEvent`, CloudWatch `message`)."""
        limit = self.limits.max_record_bytes
        if type(embedded) is dict:
            yield self._record(embedded, shape, line)
            return
        if type(embedded) is not str:
            yield self._reject("not-cloudtrail", f"{label} is missing or not a string", line)
            return
        if len(embedded) > limit or (len(embedded) * 4 > limit and len(embedded.encode("utf-8", "replace")) > limit):
            yield self._reject("record-too-large", f"{label} is over the {limit:,}-byte record limit", line)
            return
        try:
            record = orjson.loads(embedded)
        except orjson.JSONDecodeError as exc:
            record = _FAILED
            if "surrogate" in exc.msg:
                record = yield from self._stdlib_loads(embedded, line)
            if record is _FAILED:
                yield self._reject("malformed-json", f"{label}: JSON error {_where(exc)}: {exc.msg}", line)
                return
        if type(record) is dict:
            big, self.big = self.big, False
            yield self._record(record, shape, line)
            self.big = big
        else:
            yield self._reject("not-an-object", f"{label} holds a JSON {_json_type(record)}, not an object", line)

    def _lake(self, value: dict[str, Any], line: int | None, whole: bool) -> Iterator[SourceItem]:
        rows = value["QueryResultRows"]
        if type(rows) is not list:
            yield self._reject("not-cloudtrail", '"QueryResultRows" is not an array', line, whole_file=whole)
            return
        for position, row in enumerate(rows):
            record = merge_lake_row(row)
            if record is None:
                detail = f"QueryResultRows[{position}] is not a list of single-key objects"
                yield self._reject("not-an-object", detail, line)
            else:
                yield self._record(record, "lake", line)


def _chain(early: list[SourceItem], items: Iterator[SourceItem]) -> Iterator[SourceItem]:
    return itertools.chain(early, items) if early else items


class _Failed:
    """Marks a parse that did not succeed (None is a valid JSON value)."""


_FAILED: Final = _Failed()


# `ground_truth.json` beside simulated logs names its maker, so ingest skips it instead of rejecting it.
GROUND_TRUTH_TOOL = "graphtrail simulate"


def _classify(value: dict[str, Any]) -> str:
    """Name what a JSON object is: a record, a known envelope, a digest, or unknown. Cheapest checks first."""
    if "eventTime" in value:
        return "record"
    if "Records" in value:
        return "records"
    if "detail" in value and "detail-type" in value:
        return "eventbridge"
    if "logEvents" in value or "messageType" in value:
        return "control-message" if value.get("messageType") == "CONTROL_MESSAGE" else "cloudwatch-logs"
    if "awslogs" in value:
        return "awslogs"
    if "Events" in value:
        return "lookup-events"
    if "CloudTrailEvent" in value:
        return "lookup-event"
    if "QueryResultRows" in value:
        return "lake"
    if "_source" in value:
        return "elastic-hit"
    if type(value.get("hits")) is dict:
        return "elastic-hits"
    if "digestStartTime" in value and "logFiles" in value:
        return "digest"
    if type(value.get("generator")) is dict and value["generator"].get("tool") == GROUND_TRUTH_TOOL:
        return "ground-truth"
    if _RECORD_KEYS.isdisjoint(value):
        return "unknown"
    if "@timestamp" in value:
        return "siem"
    return "record"


def _is_line_oriented(content: bytes, first: int) -> bool:
    """JSON lines: the first non-blank line (or, if that one is broken, the second) is a whole value."""
    lines_checked = 0
    start = first
    size = len(content)
    while start < size and lines_checked < 2:
        newline = content.find(b"\n", start)
        if newline < 0:
            return False  # a single line: a broken document, not JSON lines
        chunk = memoryview(content)[start:newline]
        if bytes(chunk).strip():
            lines_checked += 1
            try:
                value = orjson.loads(chunk)
            except orjson.JSONDecodeError:
                value = None
            if type(value) in (dict, list) and value:
                return True
        start = newline + 1
    return False


def _element_resync(text: str, position: int) -> re.Pattern[str] | None:
    """A pattern for 'a line that starts an element at this element's indentation', if it starts a line."""
    line_start = text.rfind("\n", 0, position) + 1
    indent = text[line_start:position]
    if indent.strip(" \t"):
        return None  # the element does not start its line (compact JSON): nothing to resync on
    return re.compile("\n" + re.escape(indent) + r"(?=[{\[])")


def _repair_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (which cannot be encoded as UTF-8 later) with U+FFFD, in place."""
    if type(value) is str:
        return _SURROGATE.sub("\ufffd", value)
    if type(value) is list:
        return [_repair_surrogates(item) for item in value]
    if type(value) is dict:
        return {_SURROGATE.sub("\ufffd", key): _repair_surrogates(item) for key, item in value.items()}
    return value


def _serialized_size(record: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(record))
    except (orjson.JSONEncodeError, TypeError):
        return len(json.dumps(record, ensure_ascii=False, default=str).encode("utf-8", "replace"))


def _where(error: json.JSONDecodeError) -> str:
    return f"at line {error.lineno} column {error.colno}"


def _stdlib_where(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"JSON error at line {error.lineno} column {error.colno}: {error.msg}"
    if isinstance(error, RecursionError):
        return "JSON nested too deeply"
    return f"JSON error: {error}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _over(limit: int) -> str:
    return f"record over the {limit:,}-byte limit"


def _at(line: int | None) -> str:
    return f" at line {line}" if line is not None else ""
