"""The scenarios a simulation can inject: attacks with their ground truth, and benign look-alikes (decoys).

Each scenario is a `ScenarioSpec` whose `play` writes its calls into a `Story`; the engine decides when it
starts (inside the simulated span, at its preferred hour) and merges its events into the trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: str  # "attack" | "decoy"
    title: str
    hours: float  # how long it runs from its start, so it fits inside the span
    play: Callable[[World, int, Story], None]
    description: str = ""
    findings: tuple[str, ...] = ()  # attacks: finding categories a detector should raise
    imitates: str = ""  # decoys: the attack they resemble
    start_hour: int | None = None  # preferred UTC hour of day to start; None lets the engine choose

    def story(self) -> Story:
        return Story(self.name, self.kind, self.title, self.description, list(self.findings), self.imitates)


def all_scenarios() -> list[ScenarioSpec]:
    """Every scenario, attacks first, in a fixed order (the order the engine plays and reports them)."""
    from graphtrail.simulate.scenarios import credentials, decoys, movement, recurring, tampering

    specs = [*credentials.SCENARIOS, *movement.SCENARIOS, *tampering.SCENARIOS, *decoys.SCENARIOS, *recurring.SCENARIOS]
    return sorted(specs, key=lambda spec: (spec.kind != "attack", ATTACK_ORDER.get(spec.name, 99), spec.name))


ATTACK_ORDER = {
    "leaked-ci-key": 1,
    "stolen-instance-credentials": 2,
    "role-chain-exfiltration": 3,
    "trust-policy-backdoor": 4,
    "defense-evasion": 5,
    "exposure": 6,
    "root-console-takeover": 7,
    "federation-token-persistence": 8,
    "login-profile-backdoor": 9,
}


def play(spec: ScenarioSpec, world: World, start: int) -> Story:
    """Play one scenario from `start` on its own stream of `world`; the story holds its events and truth."""
    story = spec.story()
    spec.play(world.fork(f"scenario:{spec.name}"), start, story)
    return story
