"""What the OpenCL kernel tests share: compiling on `opencl` with a check that the node under
test runs as a kernel, and inputs laid out on the device with other strides."""

from __future__ import annotations

from typing import Any

import numpy as np

import theanine as th


def native_function(inputs: list, outputs: Any, op_type: type, **kwargs: Any) -> Any:
    """`function(inputs, outputs)` on opencl, after checking that every node of `op_type` is
    planned as a kernel ("native" in the compile report)."""
    f = th.function(inputs, outputs, **kwargs)
    report = f.maker.program.report
    nodes = [n for n in report.nodes if isinstance(n.apply.op, op_type)]
    assert nodes, f"no {op_type.__name__} node in {report.summary()}"
    for n in nodes:
        assert n.how == "native", f"{n.node} runs as {n.how} ({n.why})"
    return f


def on_device(value: np.ndarray) -> Any:
    from theanine_opencl.storage import to_device

    return to_device(value)


def transposed_on_device(value: np.ndarray) -> Any:
    """A device matrix equal to `value` whose layout is transposed (Fortran order): a view
    with swapped strides of a C-ordered device copy of value.T."""
    from theanine_opencl.views import view

    d = on_device(np.ascontiguousarray(value.T))
    return view(d, value.shape, d.strides[::-1], 0)
