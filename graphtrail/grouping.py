"""Items that share a link, directly or through others, form one group (union-find).

Hunts chain persistence steps that touch the same identity, and incidents join findings that share a key or
an address: both are the connected components of "shares a link with".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def connected_groups(items: Sequence[T], links: Callable[[T], Iterable[Hashable]]) -> list[list[T]]:
    """The items joined into groups by shared links; groups in order of their first item, items in input order
    (so the same input always gives the same groups)."""
    parent = list(range(len(items)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]  # path halving keeps the trees flat
            index = parent[index]
        return index

    first_with: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        for link in links(item):
            if link in first_with:
                parent[root(index)] = root(first_with[link])
            else:
                first_with[link] = index
    groups: dict[int, list[T]] = {}
    for index, item in enumerate(items):
        groups.setdefault(root(index), []).append(item)
    return list(groups.values())
