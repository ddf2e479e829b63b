"""Large results handed out again from call to call, once nothing else holds them.

glibc may give a freed block of a few MB back to the system, and then a fresh array that
size is page-faulted in on every call: the RNN benchmark's 1.6 MB product took 800 us instead
of 250.  A node keeps its last large result; the next call takes it back when the reference
count says only the node holds it (the program dropped it, nobody kept it), so a result a
caller kept, a view of it or one fed back into the graph is never written over.  `list.pop`
is atomic: two threads calling one function never get the same buffer.  The generated
elementwise thunks inline the same steps (a method call would cost them 0.1 us a node).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

#: results at least this large are kept for the next call (smaller ones cost no page faults)
REUSE_BYTES = 1 << 16


class Recycler:
    """One node's kept result: `empty` hands it out again when free, `keep` keeps a result
    for the next call."""

    __slots__ = ("_cell",)

    def __init__(self) -> None:
        self._cell: list[np.ndarray] = []

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        out = self._cell.pop() if self._cell else None
        # held by `out` and getrefcount's argument only: nobody else has it
        if out is None or out.shape != shape or out.dtype != dtype or sys.getrefcount(out) != 2:
            out = np.empty(shape, dtype)
        return out

    def keep(self, out: np.ndarray) -> np.ndarray:
        if out.nbytes >= REUSE_BYTES and not self._cell:
            self._cell.append(out)
        return out
