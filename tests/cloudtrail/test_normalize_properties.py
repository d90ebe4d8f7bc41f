"""Whatever a record looks like, normalizing it either works or raises RecordRejected."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.errors import RecordRejected
from tests.conftest import STRATUS, load_records

SAMPLES = [record for path in sorted(STRATUS.glob("*.json")) for record in load_records(path)][::7]

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(SAMPLES))), st.data())
def test_mutated_real_records_never_raise_anything_but_rejected(index: int, data: st.DataObject) -> None:
    record = copy.deepcopy(SAMPLES[index])
    paths = _paths(record)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        parent = record
        for step in path[:-1]:
            parent = parent[step]
        replacement = data.draw(junk)
        try:
            parent[path[-1]] = replacement
        except (TypeError, IndexError, KeyError):
            continue
        paths = _paths(record)
        if not paths:
            break
    try:
        event = normalize_record(record)
    except RecordRejected:
        return
    resolve_action(event)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_cloudtrails_own_time_form_is_kept_as_parsing_would_give_it(moment: datetime) -> None:
    from graphtrail.cloudtrail.normalize import _event_time, _parse_and_format

    text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _event_time(text) == _parse_and_format(text)
    assert _event_time(text)[0].utcoffset() == timedelta(0)
