"""Look-alikes the baseline itself produces every working day or night; listed here so they can be chosen
and reported like other decoys. Their `play` does nothing: `Baseline` writes their first occurrence into the
story (see `Baseline._ci_run` and `Baseline._etl_run`).
"""

from __future__ import annotations

from graphtrail.simulate.scenarios import ScenarioSpec
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World


def _played_by_baseline(world: World, start: int, story: Story) -> None:
    """The baseline writes these; nothing to inject."""


SCENARIOS = [
    ScenarioSpec(
        name="ci-role-chain",
        kind="decoy",
        title="The CI pipeline's daily role chain from the tooling account into a deploy role",
        hours=1,
        play=_played_by_baseline,
        description="A CI runner's instance-profile session assumes the deploy role of prod, dev or a workload "
        "account (cross-account, with sourceIdentity ci-pipeline) and ships a release, several times each working day.",
        imitates="lateral-movement:cross-account-role-chain",
    ),
    ScenarioSpec(
        name="nightly-etl",
        kind="decoy",
        title="The nightly ETL task reading the data lake in bulk",
        hours=1,
        play=_played_by_baseline,
        description="Every night at 02:00 UTC the etl-job ECS task reads 150-260 objects from the data lake bucket "
        "and writes summaries to the curated bucket, from AWS addresses.",
        imitates="collection:bulk-s3-read",
    ),
]
