"""Agreement before every collective: ranks that disagree fail with a message naming how.

Each collective allgathers a four-number signature: the process's collective count, a digest
of the collective's kind and arguments, a digest of its operands' dtypes and shapes, and a
digest of the compiled graph's sequence of collectives (stamped on the node by
`theanine.distributed.order`).  Equal signatures mean every rank runs the same collective on
operands of the same layout; otherwise every rank sees the same table of signatures, so they
all exchange full descriptions and raise the same `CollectiveMismatch`, and no result of the
mismatched collective is ever returned.  The signatures travel on a communicator of their own,
posted together with the data (one small allgather, overlapped: a few microseconds).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from theanine.distributed.runtime import DistributedError, _state, wait


class CollectiveMismatch(DistributedError):
    """Ranks reached a collective with different shapes, dtypes, kinds or graphs."""


@dataclass(frozen=True)
class GraphOrder:
    """The collectives of one compiled graph in run order, and this node's place in it."""

    index: int
    collectives: tuple[str, ...]

    @functools.cached_property
    def digest(self) -> int:
        return stable_hash("\n".join(self.collectives))


@functools.lru_cache(maxsize=4096)
def stable_hash(text: str) -> int:
    """A digest equal in every process (Python's `hash` of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)


@functools.lru_cache(maxsize=4096)
def _layout_hash(layout: tuple[tuple[np.dtype, tuple[int, ...]], ...]) -> int:
    return stable_hash(";".join(f"{dtype}{shape}" for dtype, shape in layout))


class Agreement:
    """The handshake of one collective, posted on the check communicator before the data
    moves on the data communicator: the two overlap, and `finish()` raises before any result
    is used when the ranks disagree.  After a mismatch the data communicator may hold
    mismatched operations, so the group refuses every later collective."""

    def __init__(self, what: str, names: Sequence[str],
                 layout: tuple[tuple[np.dtype, tuple[int, ...]], ...],
                 order: GraphOrder | None = None):
        if _state.broken:
            raise DistributedError(_state.broken)
        seq = _state.sequence
        _state.sequence += 1
        self.details = (seq, what, names, layout, order)
        self.mine = np.array([seq, stable_hash(what), _layout_hash(layout),
                              order.digest if order is not None else 0], dtype=np.int64)
        check = _state.check_comm
        self.table = np.empty((check.Get_size(), 4), dtype=np.int64)
        self.request = check.Iallgather(self.mine, self.table)

    def finish(self) -> None:
        """Wait for every rank's signature; raise `CollectiveMismatch` if they differ."""
        seq, what = self.details[:2]
        wait(self.request, f"{what} (collective #{seq}, agreeing on shapes)", patient=True)
        if self.table.tobytes() == self.mine.tobytes() * len(self.table):
            return
        details = _state.check_comm.allgather(self.details)  # every rank saw the mismatch
        message = _describe(self.table, details)
        _state.broken = ("theanine.distributed: the process group is unusable after an earlier "
                         "mismatch:\n" + message)
        raise CollectiveMismatch(message)


def _describe(table: np.ndarray, details: list[tuple]) -> str:
    """Which part differs, and each rank's view of it."""
    lines = []
    if len(set(table[:, 0])) > 1:
        head = ("ranks are at different collectives (one rank called a compiled function or "
                "collective the others did not)")
    elif len(set(table[:, 3])) > 1:
        head = ("the compiled graphs differ across ranks (different collectives or order; "
                "build the same graph on every rank)")
    elif len(set(table[:, 1])) > 1:
        head = "ranks run different collectives at the same point"
    else:
        head = "operand shapes or dtypes differ across ranks"
    for r, (seq, what, names, layout, order) in enumerate(details):
        text = f"  rank {r}: collective #{seq} {what}"
        if names:
            text += " of " + ", ".join(f"{n}: {dtype} {shape}"
                                       for n, (dtype, shape) in zip(names, layout))
        if order is not None and len(set(table[:, 3])) > 1:
            text += (f"; its graph's collectives: {', '.join(order.collectives)} "
                     f"(this is #{order.index})")
        lines.append(text)
    return f"theanine.distributed: {head}:\n" + "\n".join(lines)
