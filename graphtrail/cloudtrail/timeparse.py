"""CloudTrail's many time formats, all to aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_JAVA_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")


def parse_time(value: object) -> datetime:
    """See _parse_time; every failure, however exotic (overflow, platform limits), is a ValueError."""
    try:
        return _parse_time(value)
    except ValueError:
        raise
    except (OverflowError, OSError, TypeError) as exc:
        raise ValueError(f"time out of range ({type(exc).__name__})") from None


def _parse_time(value: object) -> datetime:
    """Parse eventTime-like values: ISO 8601 (extended or basic, ``Z`` or offset), ``2022-09-27 17:09:18``
    (Panther), epoch seconds or milliseconds (lookup-events, CloudWatch), Java-style response dates.

    Naive values are taken as UTC. Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty time")
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return _parse_time(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
        for fmt in _JAVA_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError(f"unrecognised time ({len(text)} characters)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def shift_time(text: str, seconds: float) -> str:
    """A case time moved by `seconds` (negative: earlier), in the same text form."""
    return format_time(parse_time(text) + timedelta(seconds=seconds))


def format_time(value: datetime) -> str:
    """The one text form of a time in the case and in output: ISO 8601, UTC, whole seconds, ``Z``.

    Fixed width, so text order is time order (CloudTrail itself has one-second resolution).
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


def describe_value(text: str) -> str:
    """Name a bad value without echoing what could be anything from the log (a secret pasted in a field).

    Short identifier-like values (``userIdentityType1``) are quoted; anything else is described by length.
    """
    if _NAME_LIKE.fullmatch(text):
        return repr(text)
    return f"{len(text)} characters"
