"""Uncached units compile in one batch per core; the batches are balanced by source size
(`build._balanced`), since the build waits for the slowest."""

from __future__ import annotations

from c_checks import require_c

require_c()

from theanine_c.build import _balanced  # noqa: E402


def test_every_unit_lands_in_one_group_and_the_loads_are_even():
    sizes = {0: 10, 1: 9, 2: 8, 3: 1, 4: 1, 5: 1}
    groups = _balanced(list(sizes), list(sizes.values()), 2)
    assert sorted(u for g in groups for u in g) == list(sizes)
    loads = sorted(sum(sizes[u] for u in g) for g in groups)
    # largest first into the lightest group: 10+1+1+1 and 9+8; round robin (units 0, 2, 4 and
    # 1, 3, 5) gave 19 and 11
    assert loads == [13, 17]


def test_no_empty_groups_and_one_group_for_one_core():
    assert _balanced([7, 3], [5, 5], 4) == [[7], [3]]
    assert _balanced([2, 1, 0], [1, 2, 3], 1) == [[0, 1, 2]]
    assert _balanced([], [], 2) == []
