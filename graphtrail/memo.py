"""A memo bounded in bytes, for answers keyed by serialized CloudTrail blocks."""

from __future__ import annotations

from typing import Generic, TypeVar

V = TypeVar("V")


class ByteBudgetMemo(Generic[V]):
    """Remembers answers until their keys add up to `budget` bytes, then starts over.

    Keys are whole serialized blocks (a userIdentity, a request). A cap on the number of entries alone let
    each ingest worker hold over 200 MiB of them: orjson returns even a 90-byte result in a 4 KiB buffer, so
    a key is stored as a compact copy and counted at its length.
    """

    __slots__ = ("_answers", "_budget", "_used")

    def __init__(self, budget: int) -> None:
        self._answers: dict[bytes, V] = {}
        self._budget = budget
        self._used = 0

    def get(self, key: bytes) -> V | None:
        return self._answers.get(key)

    def put(self, key: bytes, value: V) -> None:
        if self._used + len(key) > self._budget:
            self._answers.clear()
            self._used = 0
        self._answers[bytes(memoryview(key))] = value
        self._used += len(key)

    def __len__(self) -> int:
        return len(self._answers)
