from __future__ import annotations

from graphtrail.grouping import connected_groups


def test_items_sharing_a_link_through_others_are_one_group_in_input_order() -> None:
    links = {"a": {"k1"}, "b": {"k2"}, "c": {"k2", "k1"}, "d": set(), "e": {"k3"}, "f": {"k3"}}
    assert connected_groups(list(links), links.__getitem__) == [["a", "b", "c"], ["d"], ["e", "f"]]


def test_no_items_make_no_groups() -> None:
    assert connected_groups([], lambda item: {item}) == []
