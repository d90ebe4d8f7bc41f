"""Identifiers shaped like AWS's, drawn from a seeded generator so a seed always gives the same ones.

Access keys and unique ids carry their account in characters 5-12, as AWS's have since 2019, so the offline
key-to-account decoding (`graphtrail.arn.account_of_access_key`) works on simulated keys as on real ones.
"""

from __future__ import annotations

import base64
import random
import string
from datetime import UTC, datetime
from functools import lru_cache

_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_TOKEN_CHARS = _ALNUM + "+/"


class IdMint:
    """Every random-looking value of a simulation comes from here (one per stream, for stable output)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        """A version-4 UUID, as CloudTrail's eventID and most requestIDs are."""
        value = self.rng.getrandbits(128)
        value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def s3_request_id(self) -> str:
        return "".join(self.rng.choices(_UPPER_ALNUM, k=16))

    def access_key(self, account: str, *, temporary: bool) -> str:
        """AKIA… or ASIA…: the account in bits 7-46 of the first six decoded bytes, the rest random."""
        return ("ASIA" if temporary else "AKIA") + _encode_account(account, self.rng)[:16]

    def unique_id(self, prefix: str, account: str) -> str:
        """AIDA… (user) or AROA… (role): 21 characters, encoding the account like a key."""
        return prefix + _encode_account(account, self.rng)[:17]

    def hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def instance_id(self) -> str:
        return "i-" + self.hex(17)

    def name_suffix(self, length: int = 16) -> str:
        return "".join(self.rng.choices(_ALNUM, k=length))

    def base64(self, length: int) -> str:
        """Random base64 text of `length` characters (S3's x-amz-id-2 and similar opaque values)."""
        raw = self.rng.getrandbits(length * 6 + 8).to_bytes((length * 6 + 8 + 7) // 8, "big")
        return base64.b64encode(raw).decode("ascii")[:length]

    def session_token(self) -> str:
        """Looks like an STS session token (ingest must strip it before anything is stored)."""
        return "IQoJb3JpZ2luX2VjE" + "".join(self.rng.choices(_TOKEN_CHARS, k=340))


def _encode_account(account: str, rng: random.Random) -> str:
    value = (int(account) << 7) | rng.getrandbits(7)
    raw = value.to_bytes(6, "big") + rng.getrandbits(40).to_bytes(5, "big")
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def iso_time(epoch: int) -> str:
    """CloudTrail's eventTime: ISO 8601, seconds, UTC with Z."""
    day, second = divmod(epoch, 86400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_day_prefix(day)}{hour:02d}:{minute:02d}:{second:02d}Z"


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")


def java_time(epoch: int) -> str:
    """The Java-style dates in IAM and STS responses, e.g. 'Jul 10, 2023, 12:55:24 PM'."""
    moment = datetime.fromtimestamp(epoch, UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"
