"""Helpers outside the graph: the same starting weights everywhere, a dataset split by rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theanine.distributed import collectives
from theanine.distributed.runtime import rank, size


def broadcast_shared(params: Sequence[Any], root: int = 0) -> None:
    """Overwrite every shared variable in `params` with its value on `root`, so that all
    ranks start training from the same weights."""
    from theanine.tensor.sharedvar import SharedVariable

    if isinstance(params, SharedVariable):
        params = [params]
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise TypeError(f"broadcast_shared: params[{i}] ({p!r}) is a "
                            f"{type(p).__name__}; expected a shared variable "
                            "(theanine.shared)")
    if not isinstance(root, int) or isinstance(root, bool) or not 0 <= root < size():
        raise ValueError(f"broadcast_shared: root must be a rank in [0, {size()}), "
                         f"got {root!r}")
    if size() == 1:
        return
    for i, p in enumerate(params):
        value = collectives.broadcast(p.get_value(borrow=True), root,
                                      p.name or f"params[{i}]")
        p.set_value(value, borrow=True)


def shard(data: Any, rank_: int | None = None, size_: int | None = None) -> Any:
    """This rank's contiguous part of `data` (an array or sequence), or of `range(n)` as a
    `slice` when `data` is a length `n`.  Parts differ in length by at most one, the first
    ones longer (`numpy.array_split`'s rule)."""
    r = rank() if rank_ is None else rank_
    n_ranks = size() if size_ is None else size_
    if not 0 <= r < n_ranks:
        raise ValueError(f"shard: rank {r} is not in [0, {n_ranks})")
    if isinstance(data, int) and not isinstance(data, bool):
        if data < 0:
            raise ValueError(f"shard: the length must be >= 0, got {data}")
        return _part(data, r, n_ranks)
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise TypeError(f"shard: data must be an int length, an array or a sequence, got "
                        f"{type(data).__name__}")
    return data[_part(len(data), r, n_ranks)]


def _part(n: int, r: int, n_ranks: int) -> slice:
    base, extra = divmod(n, n_ranks)
    start = r * base + min(r, extra)
    return slice(start, start + base + (r < extra))
