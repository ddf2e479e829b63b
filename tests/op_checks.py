"""Helpers shared by the op-level tests: compile on the Python backend, compare a node's
`infer_shape` with the shape actually computed, check gradients numerically, and make
non-contiguous copies of test arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import theanine
from theanine.gradient import verify_grad
from theanine.graph.basic import Variable
from theanine.tensor.basic import as_tensor_variable

BACKEND = "python"


def compile_py(inputs: Sequence[Variable], outputs: Any) -> theanine.compile.Function:
    """`theanine.function` on the Python backend (the reference every backend matches)."""
    return theanine.function(list(inputs), outputs, backend=BACKEND,
                             on_unused_input="ignore")


def symbolic_input_shapes(node: Any) -> list[tuple]:
    """The shapes of `node`'s inputs as tuples of symbolic scalars (`x.shape[i]`)."""
    return [tuple(x.shape[i] for i in range(x.ndim)) for x in node.inputs]


def check_infer_shape(inputs: Sequence[Variable], out: Variable, values: Sequence[Any]) -> None:
    """Assert `out.owner.op.infer_shape` agrees with the shape of the computed output.

    The symbolic shape expressions are compiled together with the output, so they are
    evaluated on exactly the same input values.
    """
    node = out.owner
    assert node is not None, f"{out} is not computed by an Op"
    shapes = node.op.infer_shape(None, node, symbolic_input_shapes(node))
    assert len(shapes) == len(node.outputs), (
        f"{node.op}.infer_shape gave {len(shapes)} shapes for {len(node.outputs)} outputs")
    flat = [as_tensor_variable(s) for shp in shapes for s in shp]
    for s in flat:
        assert s.ndim == 0 and s.dtype[0] in "iu", f"shape entry {s} ({s.type}) is not an int"
    results = compile_py(inputs, list(node.outputs) + flat)(*values)
    computed, inferred = results[:len(node.outputs)], results[len(node.outputs):]
    k = 0
    for out_val, shp in zip(computed, shapes):
        got = tuple(int(v) for v in inferred[k:k + len(shp)])
        k += len(shp)
        assert got == np.shape(out_val), (
            f"{node.op}.infer_shape says {got}, the computed output has shape "
            f"{np.shape(out_val)}")


def check_grad(fn: Callable[..., Any], pt: Sequence[np.ndarray], **kwargs: Any) -> None:
    """`verify_grad` at a float64 point on the Python backend."""
    pt = [np.asarray(p, dtype="float64") for p in pt]
    verify_grad(fn, pt, backend=BACKEND, **kwargs)


def noncontig(a: np.ndarray) -> np.ndarray:
    """A copy of `a` whose memory is not C-contiguous (a strided view into a bigger buffer)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    assert a.size <= 1 or not view.flags.c_contiguous
    return view


def fortran(a: np.ndarray) -> np.ndarray:
    """A copy of `a` in Fortran (column-major) order: the transpose of a C-contiguous array."""
    a = np.asarray(a)
    return a if a.ndim == 0 else np.asfortranarray(a)  # asfortranarray makes 0-d arrays 1-d


def rand(rng: np.random.Generator, shape: Sequence[int], dtype: str = "float64",
         low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """Random values of `dtype`: uniform floats, or integers in [low, high]; bools at random."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        lo = max(int(low), 0) if dt.kind == "u" else int(low)
        return rng.integers(lo, int(high) + 1, size=shape).astype(dt)
    return rng.uniform(low, high, size=shape).astype(dt)
