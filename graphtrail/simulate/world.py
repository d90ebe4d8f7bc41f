"""What every part of a simulation shares: the organisation, the record factory and its own random stream.

Each part (a baseline activity, a scenario) forks a stream by name, so what one part draws never shifts
another's output: adding a scenario leaves the baseline byte-identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from graphtrail.simulate.ids import IdMint
from graphtrail.simulate.org import Organization
from graphtrail.simulate.records import RecordFactory


@dataclass(frozen=True)
class World:
    seed: int
    org: Organization
    rng: random.Random
    mint: IdMint
    records: RecordFactory
    start: int  # first second of the simulated span (epoch)
    end: int  # first second after it

    @classmethod
    def create(cls, seed: int, org: Organization, start: int, end: int) -> World:
        return cls._with_stream(seed, org, start, end, "root")

    def fork(self, name: str) -> World:
        """An independent, reproducible stream for one part of the simulation."""
        return self._with_stream(self.seed, self.org, self.start, self.end, name)

    @classmethod
    def _with_stream(cls, seed: int, org: Organization, start: int, end: int, name: str) -> World:
        rng = random.Random(f"graphtrail-sim:{seed}:{name}")
        mint = IdMint(rng)
        return cls(seed, org, rng, mint, RecordFactory(mint), start, end)
