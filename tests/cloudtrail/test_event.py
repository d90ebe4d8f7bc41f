"""The event model's readers: `text_fields` (compiled) answers as `text_field` does, for any value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtrail.cloudtrail.event import text_field, text_fields
from tests.conftest import invictus_records


class _Text(str):
    pass


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.builds(_Text, st.text(max_size=5)),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=5), children, max_size=2),
    max_leaves=4,
)


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "eventName", ""]), values))
def test_text_fields_read_any_value_as_text_field_does(block: dict[str, Any]) -> None:
    keys = ("a", "b", "c", "eventName", "", "absent")
    found = text_fields(block, keys)
    expected = tuple(text_field(block, key) for key in keys)
    assert found == expected
    assert [type(value) for value in found] == [type(value) for value in expected]


def test_text_fields_of_real_records_are_text_field_s() -> None:
    keys = ("eventTime", "eventName", "eventSource", "eventID", "readOnly", "userIdentity", "resources", "nope")
    for record in invictus_records():
        assert text_fields(record, keys) == tuple(text_field(record, key) for key in keys)


def test_text_fields_keeps_the_string_it_was_given() -> None:
    name = "".join(["Assume", "Role"])  # a string object of its own, not an interned literal
    assert text_fields({"eventName": name}, ("eventName",))[0] is name


def test_text_fields_needs_a_dict_and_a_tuple_of_keys() -> None:
    with pytest.raises(TypeError):
        text_fields(["eventName"], ("eventName",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        text_fields({}, ["eventName"])  # type: ignore[arg-type]
