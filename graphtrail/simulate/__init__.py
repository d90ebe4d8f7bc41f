"""A CloudTrail simulator: a whole organisation's trail with known attacks, decoys and their ground truth."""

from graphtrail.simulate.engine import SimulationConfig, SimulationProgress, SimulationSummary, scenario_names, simulate

__all__ = ["SimulationConfig", "SimulationProgress", "SimulationSummary", "scenario_names", "simulate"]
