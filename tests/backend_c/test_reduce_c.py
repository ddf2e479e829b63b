"""Reductions of backend c against NumPy: every kind over every axis combination of 0-3-d
inputs, keepdims, every dtype, strided and reversed inputs, empty axes, NaN propagation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from c_checks import assert_ulp_close, compile_both, hows, require_c
from values_c import DTYPES

import theanine
import theanine.tensor as T
from theanine.tensor.math import Reduce
from theanine.tensor.type import TensorType

require_c()

KINDS = ("sum", "prod", "max", "min", "all", "any", "mean")


def _axes(ndim: int) -> list:
    combos = [None]
    for r in range(1, ndim + 1):
        combos += list(itertools.combinations(range(ndim), r))
    return combos


def _value(rng, dtype: str, shape: tuple) -> np.ndarray:
    d = np.dtype(dtype)
    if d.kind == "b":
        return rng.random(shape) < 0.7
    if d.kind in "iu":
        return rng.integers(0 if d.kind == "u" else -3, 4, shape).astype(d)
    return (rng.standard_normal(shape) * 2).astype(d)


def _expected(kind: str, v: np.ndarray, axis, keepdims: bool, out_dtype) -> np.ndarray:
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all,
          "any": np.any, "mean": np.mean}[kind]
    kwargs = {"dtype": out_dtype} if kind in ("sum", "prod") else {}
    return np.asarray(fn(v, axis=axis, keepdims=keepdims, **kwargs)).astype(out_dtype)


def _check(kind, dtype, ndim, values, keepdims=False):
    x = TensorType(dtype, (False,) * ndim)("x")
    outs = [getattr(T, kind)(x, axis=a, keepdims=keepdims) for a in _axes(ndim)]
    if kind == "mean" and dtype == "bool":
        return
    f = compile_both([x], outs)[1]
    assert set(hows(f, Reduce)) == {"native"}, f.maker.program.report.summary()
    for v in values:
        for a, out, got in zip(_axes(ndim), outs, f(v)):
            want = _expected(kind, v, a, keepdims, out.dtype)
            # float sums: pairwise in NumPy, a float64 accumulator here
            if want.dtype.kind == "f" and kind in ("sum", "prod", "mean"):
                tol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}[want.dtype.name]
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol,
                                           err_msg=f"{kind} axis={a} of {v.shape}")
                assert got.dtype == want.dtype and got.shape == want.shape
            else:
                assert_ulp_close(want, got, 0, f"{kind} axis={a} of {dtype} {v.shape}")


def _layouts(rng, dtype, ndim):
    shape = (3, 4, 5)[:ndim]
    base = _value(rng, dtype, tuple(2 * s for s in shape))
    sl = tuple(slice(None, None, 2) for _ in range(ndim))
    rev = tuple(slice(None, None, -1) for _ in range(ndim))
    values = [np.asarray(_value(rng, dtype, shape)), base[sl], base[sl][rev],
              _value(rng, dtype, shape).T.copy().T]
    if ndim:  # asfortranarray makes a 0-d array 1-d
        values.append(np.asfortranarray(_value(rng, dtype, shape)))
    return values


@pytest.mark.parametrize("ndim", [0, 1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_every_axis_combination_and_layout_float64(kind, ndim, rng):
    _check(kind, "float64", ndim, _layouts(rng, "float64", ndim))
    _check(kind, "float64", ndim, _layouts(rng, "float64", ndim), keepdims=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype(dtype, rng):
    for kind in KINDS:
        _check(kind, dtype, 2, _layouts(rng, dtype, 2))


@pytest.mark.parametrize("kind", ["sum", "prod", "all", "any"])
def test_empty_axes_give_the_identity(kind):
    x = T.dtensor3("x")
    f = compile_both([x], [getattr(T, kind)(x, axis=a) for a in _axes(3)])[1]
    for shape in [(0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 0, 0)]:
        v = np.zeros(shape)
        for a, got in zip(_axes(3), f(v)):
            want = _expected(kind, v, a, False, got.dtype)
            assert got.shape == want.shape and np.array_equal(got, want), (kind, a, shape)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_max_of_an_empty_axis_is_a_clear_error(kind):
    x = T.dmatrix("x")
    f = compile_both([x], getattr(T, kind)(x, axis=1))[1]
    assert hows(f, Reduce) == ["native"]
    with pytest.raises(ValueError, match=f"{kind} over axis \\[1\\] of an empty array"):
        f(np.zeros((3, 0)))
    assert f(np.zeros((0, 4))).shape == (0,)   # nothing to reduce: no error, as in NumPy


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan_propagates_through_max_and_min(kind, dtype, rng):
    v = rng.standard_normal((4, 37)).astype(dtype)
    v[1, 0] = v[2, 36] = v[3, 17] = np.nan
    v[0, 5] = np.inf
    x = TensorType(dtype, (False, False))("x")
    f = compile_both([x], [getattr(T, kind)(x, axis=a) for a in (None, 0, 1)])[1]
    for a, got in zip((None, 0, 1), f(v)):
        assert_ulp_close(getattr(np, kind)(v, axis=a), got, 0, f"{kind} axis={a}")


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint64"])
def test_long_rows_with_the_extremum_or_a_nan_in_every_section(kind, dtype, rng):
    """Rows long enough for the lane groups (`WIDE_ROW`): the extremum, or the only NaN, in
    the first lanes, in the groups' loop, in the single group's loop after them and in the
    scalar tail, on both sides of the length where the groups start."""
    from theanine_c.loops import LANE_GROUPS, LANES, WIDE_ROW

    wide = LANES * LANE_GROUPS
    x = TensorType(dtype, (False, False))("x")
    f = compile_both([x], getattr(T, kind)(x, axis=1))[1]
    info = np.finfo(dtype) if dtype.startswith("float") else np.iinfo(dtype)
    extreme = info.max if kind == "max" else info.min
    for cols in (WIDE_ROW - 1, WIDE_ROW, WIDE_ROW + wide + LANES + 3, 3 * WIDE_ROW + 7):
        spots = [0, LANES - 1, LANES + 1, LANES + wide - 1, cols - LANES - 2, cols - 1]
        v = (rng.standard_normal((2 * len(spots), cols)) * 50).astype(dtype)
        for r, at in enumerate(spots):
            v[r, at] = extreme
            if dtype.startswith("float"):
                v[len(spots) + r, at] = np.nan
        assert_ulp_close(getattr(np, kind)(v, axis=1), f(v), 0, f"{kind} of {cols} columns")


def test_large_reduction_uses_threads_and_stays_exact_for_integers(rng):
    v = rng.integers(-1000, 1000, (512, 1024)).astype("int32")
    x = T.imatrix("x")
    f = theanine.function([x], [T.sum(x), T.sum(x, axis=0), T.max(x, axis=1)], backend="c")
    got = f(v)
    assert got[0] == v.sum(dtype="int64")
    assert np.array_equal(got[1], v.sum(axis=0, dtype="int64"))
    assert np.array_equal(got[2], v.max(axis=1))


@pytest.mark.parametrize("kind", ["sum", "max", "prod"])
@pytest.mark.parametrize("shape, axis", [((128, 500), 0), ((3, 40, 300), (0, 1)),
                                         ((6, 7, 520), 1), ((4, 5, 6), (0, 2))])
def test_reductions_over_outer_axes_walk_rows_in_order(kind, shape, axis, rng):
    """Reducing leading axes (a bias gradient's sum over the batch) accumulates whole rows;
    every output still adds its elements in row order, so it equals a sequential
    accumulation in the accumulator's dtype (float64 for float32 sums) to the bit."""
    x = TensorType("float32", (False,) * len(shape))("x")
    f = compile_both([x], getattr(T, kind)(x, axis=axis))[1]
    assert hows(f, Reduce) == ["native"]
    v = (rng.standard_normal(shape) * (0.5 if kind == "prod" else 2)).astype("float32")
    axes = (axis,) if isinstance(axis, int) else axis
    kept = [d for d in range(v.ndim) if d not in axes]
    rows = np.transpose(v, axes + tuple(kept)).reshape(-1, *[v.shape[d] for d in kept])
    acc_dtype = "float64" if kind in ("sum", "prod") else "float32"
    acc = rows[0].astype(acc_dtype)
    combine = {"sum": np.add, "prod": np.multiply, "max": np.maximum}[kind]
    for r in rows[1:]:
        acc = combine(acc, r.astype(acc_dtype))
    got = f(v)
    assert got.dtype == np.float32 and got.shape == acc.shape
    np.testing.assert_array_equal(got, acc.astype("float32"))
