"""CloudTrail Lake `GetQueryResults` rows back into record dicts.

Lake returns every value as a string: JSON for some columns, Trino's `{key=value, ...}` rendering for
structs and maps (`useridentity`), and `true`/`false`/`null` for booleans and missing values. This module
turns a row back into the nested dict a record would have been, on a best-effort basis: a string it cannot
read stays a string, so nothing is lost.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_KEY = re.compile(r"\s*([A-Za-z_@$][\w@$.\-]*)=")
_STRUCT_SCALAR_END = re.compile(r", (?=[A-Za-z_@$][\w@$.\-]*=)|\}")
_ARRAY_SCALAR_END = re.compile(r", |\]")
_MAX_DEPTH = 32
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class _NotAStruct(ValueError):
    """The text is not Trino's struct/array rendering (or not one this parser understands)."""


def merge_lake_row(row: Any) -> dict[str, Any] | None:
    """Merge a row's single-key maps (`[{"eventID": "…"}, {"eventTime": "…"}]`) into one record dict.

    Returns None when the row is not a non-empty list of objects.
    """
    if type(row) is not list or not row:
        return None
    record: dict[str, Any] = {}
    for cell in row:
        if type(cell) is not dict:
            return None
        for key, value in cell.items():
            parsed = parse_lake_value(value)
            if isinstance(key, str) and key.lower() in _MAP_COLUMNS and type(parsed) is dict:
                # map<string,string>: each value is itself stringified (``credentials`` as JSON text).
                parsed = {name: parse_lake_value(item) for name, item in parsed.items()}
            record[key] = parsed
    return record


# Lake's payload columns are map<string,string>, so nested objects arrive one level further stringified.
_MAP_COLUMNS = frozenset(
    {"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails", "addendum"}
)


def parse_lake_value(value: Any) -> Any:
    """Undo Lake's stringification of one value; anything not recognized is returned unchanged."""
    if type(value) is not str:
        return value
    if value in _LITERALS:
        return _LITERALS[value]
    if value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
        try:
            return parse_trino(value)
        except (_NotAStruct, RecursionError):
            return value
    return value


def parse_trino(text: str) -> dict[str, Any] | list[Any]:
    """Parse Trino's rendering of a struct/map/array, e.g. `{type=IAMUser, arn=arn:aws:iam::1:user/a}`.

    Scalars stay strings (as they are in CloudTrail's own JSON), except `null`, which becomes None.
    Raises `_NotAStruct` when the text does not follow the rendering.
    """
    value, end = _parse_value(text, 0, _STRUCT_SCALAR_END, 0)
    if end != len(text) or not isinstance(value, dict | list):
        raise _NotAStruct(f"unparsed text from offset {end}")
    return value


def _parse_value(text: str, pos: int, scalar_end: re.Pattern[str], depth: int) -> tuple[Any, int]:
    if depth > _MAX_DEPTH:
        raise _NotAStruct("nested too deeply")
    if text.startswith("{", pos):
        return _parse_struct(text, pos + 1, depth + 1)
    if text.startswith("[", pos):
        return _parse_array(text, pos + 1, depth + 1)
    match = scalar_end.search(text, pos)
    end = match.start() if match else len(text)
    scalar = text[pos:end]
    return (None if scalar == "null" else scalar), end


def _parse_struct(text: str, pos: int, depth: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    if text.startswith("}", pos):
        return result, pos + 1
    while True:
        key = _KEY.match(text, pos)
        if key is None:
            raise _NotAStruct(f"expected key= at offset {pos}")
        value, pos = _parse_value(text, key.end(), _STRUCT_SCALAR_END, depth)
        result[key.group(1)] = value
        if text.startswith(", ", pos):
            pos += 2
        elif text.startswith("}", pos):
            return result, pos + 1
        else:
            raise _NotAStruct(f"expected ', ' or '}}' at offset {pos}")


def _parse_array(text: str, pos: int, depth: int) -> tuple[list[Any], int]:
    result: list[Any] = []
    if text.startswith("]", pos):
        return result, pos + 1
    while True:
        value, pos = _parse_value(text, pos, _ARRAY_SCALAR_END, depth)
        result.append(value)
        if text.startswith(", ", pos):
            pos += 2
        elif text.startswith("]", pos):
            return result, pos + 1
        else:
            raise _NotAStruct(f"expected ', ' or ']' at offset {pos}")
