from __future__ import annotations

import gc
from pathlib import Path

import pytest

from graphtrail.collector import THRESHOLDS, fewer_collections


def test_collector_runs_less_often_inside_and_as_before_after_even_on_error() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    with fewer_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("interrupted")
    assert gc.get_threshold() == before


def test_loading_a_graph_leaves_the_collector_as_it_was(northwind_case: Path) -> None:
    from graphtrail.case import Case
    from graphtrail.graph import load_graph

    before = gc.get_threshold()
    with Case(northwind_case) as case:
        graph = load_graph(case)
    assert graph.number_of_edges() > 0
    assert gc.get_threshold() == before
