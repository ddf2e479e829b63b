"""What an OpenCL implementation of one node gives the linker.

An impl registered for (Op type, "opencl") returns a `DevicePlan`: a factory that, given the
runtime, makes the node's thunk over device arrays, and which inputs it wants on the host
instead (shapes, scalar indices: small values the host computes anyway).  Raising
`Unsupported` sends the node to the host, with transfers around it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from theanine.codegen.cstyle import Unit
from theanine_opencl.runtime import Runtime

Thunk = Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class DevicePlan:
    """`make_thunk(runtime) -> thunk(*input_values) -> output values`.

    `host_inputs`: indices of inputs the thunk takes as host values (NumPy); the others are
    device arrays.  `how`: "native" (kernels) or "view" (metadata only, no kernel).
    `host_outputs`: indices of outputs the thunk returns on the host (a shape).
    """

    make_thunk: Callable[[Runtime], Thunk]
    host_inputs: frozenset[int] = field(default_factory=frozenset)
    how: str = "native"
    host_outputs: frozenset[int] = field(default_factory=frozenset)
    #: `by_value(ks)`: this plan taking the scalar inputs `ks` as kernel arguments from the
    #: host (the linker asks when those operands live there); None: not offered
    by_value: Callable[[frozenset[int]], DevicePlan] | None = None
    #: inputs `by_value` may take: scalars (every dimension broadcastable)
    scalar_inputs: frozenset[int] = field(default_factory=frozenset)


def named_program(unit: Unit, placeholder: str = "KNAME") -> tuple[str, str]:
    """The unit's source with its kernel named after its content (equal kernels share one
    program and one cache entry), and that name."""
    text = unit.source()
    name = "th_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    return text.replace(placeholder, name), name


def work_size(n: int, local: int) -> tuple[tuple[int], tuple[int]]:
    """(global, local) for `n` work items in groups of a fixed size: a fixed local size keeps
    PoCL from compiling the kernel again for every global size it would otherwise choose."""
    groups = max(1, -(-n // local))
    return (groups * local,), (local,)
