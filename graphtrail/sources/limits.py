"""Size limits for readers: hostile or broken input must cost bounded memory and produce a counted reject."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Caps applied while reading; anything over a cap is rejected with a reason, never read unbounded."""

    max_file_bytes: int = 512 * MIB  # one file or archive member, after decompression
    max_record_bytes: int = 8 * MIB  # one serialized record (CloudTrail itself caps events far below this)
    max_archive_members: int = 100_000  # entries listed from one archive before the rest is rejected

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_record_bytes", "max_archive_members"):
            if getattr(self, name) < 1:
                raise ValueError(f"ReadLimits.{name} must be at least 1")


DEFAULT_LIMITS = ReadLimits()
