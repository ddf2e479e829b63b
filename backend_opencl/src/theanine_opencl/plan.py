"""What an OpenCL implementation of one node gives the linker.

An impl registered for (Op type, "opencl") returns a `DevicePlan` (the core's, in
`theanine.link.device`): a factory that, given the runtime, makes the node's thunk over device
arrays, and which inputs it wants on the host instead (shapes, scalar indices: small values the
host computes anyway).  Raising `Unsupported` sends the node to the host, with transfers around
it.  This module adds the OpenCL helpers: content-named programs and fixed work-group sizes.
"""

from __future__ import annotations

from theanine.codegen.cstyle import named_program
from theanine.link.device import DevicePlan


def work_size(n: int, local: int) -> tuple[tuple[int], tuple[int]]:
    """(global, local) for `n` work items in groups of a fixed size: a fixed local size keeps
    PoCL from compiling the kernel again for every global size it would otherwise choose."""
    groups = max(1, -(-n // local))
    return (groups * local,), (local,)


__all__ = ["DevicePlan", "named_program", "work_size"]
