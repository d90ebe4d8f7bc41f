"""Error types. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class GraphtrailError(Exception):
    """Root of every error graphtrail raises on purpose."""


class CaseError(GraphtrailError):
    """A case file is missing, unreadable or of another schema version."""


class InputError(GraphtrailError):
    """A path given by the user cannot be read at all."""


class RecordRejected(GraphtrailError):
    """A record is not a usable CloudTrail event; `reason` is a short, countable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
