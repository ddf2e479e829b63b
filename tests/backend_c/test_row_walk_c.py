"""The row-block walk of reductions (`CRenderer.row_walk`), plain and fused with their
elementwise producer: reducing the leading axes of a C-contiguous array accumulates each
output's elements in the same order as the column walk, so the results are the same to the
bit as a sequential accumulation (in the kernel's accumulator dtype) and as the column walk
itself (taken when the kept dimension is not unit-stride)."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import require_c

import theanine
import theanine.tensor as T
from theanine.tensor.type import TensorType

require_c()

#: (shape, reduced axes): one block of outputs, several blocks with a tail (ROW_BLOCK = 256),
#: two reduced axes, two kept axes, and one past the OpenMP threshold
CASES = [((37, 70), (0,)), ((9, 600), (0,)), ((5, 6, 70), (0, 1)), ((4, 3, 5, 70), (1, 2)),
         ((400, 600), (0,))]
COMBINE = {"sum": np.add, "prod": np.multiply, "max": np.maximum}


def _sequential(kind: str, v: np.ndarray, axes: tuple[int, ...], out_dtype: str) -> np.ndarray:
    """Each output's elements combined one by one in row-major order over the reduced axes,
    in the accumulator's dtype (float64 for sum/prod, the input's for max)."""
    keep = [d for d in range(v.ndim) if d not in axes]
    acc_dtype = v.dtype if kind == "max" else np.float64
    moved = v.transpose(*keep, *axes)
    rows = moved.reshape(*moved.shape[:len(keep)], -1)
    acc = rows[..., 0].astype(acc_dtype)
    for i in range(1, rows.shape[-1]):
        acc = COMBINE[kind](acc, rows[..., i].astype(acc_dtype))
    return acc.astype(out_dtype)


def _column_layout(v: np.ndarray) -> np.ndarray:
    """The same values with the last dimension at twice the stride (the column walk)."""
    wide = np.zeros(v.shape[:-1] + (2 * v.shape[-1],), v.dtype)
    wide[..., ::2] = v
    return wide[..., ::2]


@pytest.mark.parametrize("form", ["plain", "affine", "broadcast"])
@pytest.mark.parametrize("kind", ["sum", "max", "prod"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_walk_is_bit_identical_to_the_sequential_order(form, kind, dtype):
    rng = np.random.default_rng(41)
    for shape, axes in CASES:
        nd = len(shape)
        x = TensorType(dtype, (False,) * nd)("x")
        r = TensorType(dtype, tuple(d in axes for d in range(nd)))("r")
        c = TensorType(dtype, tuple(d not in axes for d in range(nd)))("c")
        # products of hundreds of factors near 1 (neither overflow nor underflow; r, broadcast
        # along the reduced axes, is a factor of every element of its output)
        a, b, d = (1, 0.1, 0.01) if kind == "prod" else (0, 1, 1)
        v = (a + b * rng.standard_normal(shape)).astype(dtype)
        if kind == "max":
            v.flat[3 * shape[-1] + 5] = np.nan
        rv = (a + d * rng.standard_normal(
            [1 if bc else n for bc, n in zip(r.type.broadcastable, shape)])).astype(dtype)
        cv = (b * rng.standard_normal(
            [1 if bc else n for bc, n in zip(c.type.broadcastable, shape)])).astype(dtype)
        two, one = np.asarray(2, dtype), np.asarray(1, dtype)
        expr, inputs, args, value = {
            "plain": (x, [x], (), v),
            "affine": (x * two - one, [x], (), v * two - one),
            "broadcast": (x * r + c, [x, r, c], (rv, cv), v * rv + cv),
        }[form]
        out = getattr(T, kind)(expr, axis=axes)
        f = theanine.function(inputs, out, backend="c")
        if form != "plain":
            assert any("fused" in n.why for n in f.maker.program.report.nodes), f.report()
        got = f(v, *args)
        assert got.dtype == out.dtype
        want = _sequential(kind, value, axes, out.dtype)
        if kind == "prod":
            assert np.all(np.isfinite(want) & (want != 0)), "a product over- or underflowed"
        np.testing.assert_array_equal(got, want, err_msg=f"{form} {kind} of {shape} {axes}")
        np.testing.assert_array_equal(f(_column_layout(v), *args), got,
                                      err_msg=f"column walk: {form} {kind} of {shape} {axes}")
