from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graphtrail.cloudtrail.timeparse import format_time, parse_time

EXPECTED = datetime(2024, 8, 1, 13, 33, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-08-01T13:33:28Z",
        "20240801T133328Z",  # basic form in older docs' creationDate
        "2024-08-01 13:33:28",
        "2024-08-01T13:33:28.000+0000",  # Lambda
        "2024-08-01T06:33:28-07:00",
        "Aug 1, 2024 1:33:28 PM",  # Java-style response dates, both comma styles
        "Aug 1, 2024, 1:33:28 PM",
        1722519208,
        1722519208000,
        "1722519208.0",
    ],
)
def test_time_formats_parse_to_the_same_instant(text: object) -> None:
    assert parse_time(text) == EXPECTED


@pytest.mark.parametrize("text", ["", "soon", None, True, {"a": 1}])
def test_non_times_raise_value_error(text: object) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_formatted_times_sort_as_text_in_time_order() -> None:
    early = format_time(datetime(2024, 8, 1, 13, 33, 28, 500000, tzinfo=UTC))
    late = format_time(datetime(2024, 8, 1, 13, 33, 29, tzinfo=UTC))
    assert early == "2024-08-01T13:33:28Z" and early < late
