"""The entry point (group `theanine`, name `example_op`): what the plugin tells theanine.

The Op itself needs no registration: users import it, and its `perform`, `grad`,
`infer_shape` and `c_code` travel with it.  The hooks below add what only a plugin can: the
Op's place in theanine's differential fuzzer, a faster thunk for the Python backend, and its
kernel for the OpenCL backend (`opencl.py`, imported only when that backend compiles it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.hookspecs import hookimpl
from theanine_example_op.op import RowSoftmax


@hookimpl
def theanine_register_op_impls(register: Callable[[type, str, Any], None]) -> None:
    register(RowSoftmax, "python", _python_row_softmax)
    register(RowSoftmax, "opencl", _opencl_row_softmax)


@hookimpl
def theanine_register_fuzz_ops(register: Callable[[Any], None]) -> None:
    from theanine.testing.fuzz import OpSpec

    register(OpSpec("example_row_softmax", "row_softmax({0})", dtypes=("float32", "float64"),
                    ndim=(2, 2), imports=("from theanine_example_op import row_softmax",)))


def _opencl_row_softmax(node: Any) -> Any:
    from theanine_example_op.opencl import row_softmax_plan

    return row_softmax_plan(node)


def _python_row_softmax(node: Any) -> Callable[[np.ndarray], list[np.ndarray]]:
    """`perform` without its output cells, computing in place in the one buffer it owns."""

    def thunk(x: np.ndarray) -> list[np.ndarray]:
        e_x = np.subtract(x, x.max(axis=1, keepdims=True, initial=-np.inf))
        np.exp(e_x, out=e_x)
        e_x /= e_x.sum(axis=1, keepdims=True)
        return [e_x]

    return thunk
