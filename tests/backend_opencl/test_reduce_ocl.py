"""Reductions and argmax/argmin as OpenCL kernels, against NumPy: every kind over any axes,
strided, reversed and broadcast inputs, the one-group-per-output, one-item-per-output and
two-pass paths, empty arrays, and NaN/tie rules."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function

import theanine.tensor as T
from theanine.tensor.math import Argmax, Reduce
from theanine.tensor.type import TensorType

KINDS = ["sum", "prod", "max", "min", "all", "any"]


def _reference(kind, xv, axis, dtype):
    if kind in ("sum", "prod") and dtype == "float32":  # the node accumulates in float64
        return getattr(np, kind)(xv, axis=axis, dtype="float64").astype("float32")
    return getattr(np, kind)(xv, axis=axis)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape,axis", [((6, 5), 0), ((6, 5), 1), ((6, 5), None),
                                        ((3, 4, 700), (0, 2)), ((2, 900, 3), 1),
                                        ((4, 3), ())])
def test_kinds_and_axes_match_numpy(kind, shape, axis, dtype, rng):
    x = TensorType(dtype, (False,) * len(shape))("x")
    f = native_function([x], getattr(T, kind)(x, axis=axis), Reduce)
    xv = rng.standard_normal(shape).astype(dtype)
    if kind == "prod":
        xv = (1 + 1e-3 * xv).astype(dtype)
    got = f(xv)
    np.testing.assert_allclose(got, _reference(kind, xv, axis, dtype),
                               rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("kind", ["sum", "max", "any"])
def test_strided_reversed_and_broadcast_inputs(kind, dtype, rng):
    x = T.matrix("x", dtype=dtype)
    v = T.vector("v", dtype=dtype)
    xv = rng.standard_normal((40, 30)).astype(dtype)
    vv = rng.standard_normal(30).astype(dtype)
    # a transposed view, a reversed step, and a row broadcast against a column (stride 0)
    exprs = [x.T[::-1], x[::2, ::-3], v.dimshuffle("x", 0) * T.ones_like(x)]
    refs = [xv.T[::-1], xv[::2, ::-3], np.broadcast_to(vv, xv.shape)]
    for e, ref in zip(exprs, refs):
        for axis in (0, 1, None):
            f = native_function([x, v], getattr(T, kind)(e, axis=axis), Reduce,
                                on_unused_input="ignore")
            np.testing.assert_allclose(f(xv, vv), _reference(kind, ref, axis, dtype),
                                       rtol=1e-6 if dtype == "float32" else 1e-12)


def test_large_full_reduction_uses_two_passes_and_float64_accumulation(rng):
    x = T.fvector("x")
    f = native_function([x], T.sum(x), Reduce)
    xv = (rng.random(3_000_000) + 1e-3).astype("float32")
    exact = np.sum(xv, dtype="float64")
    got = f(xv)
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= abs(exact) * 2 ** -23  # one float32 rounding of the sum


@pytest.mark.parametrize("kind", ["sum", "prod", "all", "any"])
def test_empty_reductions_give_the_identity(kind, dtype):
    x = T.matrix("x", dtype=dtype)
    f = native_function([x], getattr(T, kind)(x, axis=1), Reduce)
    np.testing.assert_array_equal(f(np.zeros((3, 0), dtype)),
                                  getattr(np, kind)(np.zeros((3, 0), dtype), axis=1))
    assert f(np.zeros((0, 4), dtype)).shape == (0,)


def test_max_of_an_empty_axis_is_refused():
    x = T.dmatrix("x")
    f = native_function([x], T.max(x, axis=0), Reduce)
    with pytest.raises(ValueError, match="empty array"):
        f(np.zeros((0, 3)))


@pytest.mark.parametrize("int_dtype", ["int32", "int64", "uint8", "bool"])
def test_integer_and_bool_inputs(int_dtype, rng):
    x = TensorType(int_dtype, (False, False))("x")
    xv = rng.integers(0, 3, (50, 600)).astype(int_dtype)
    for kind in ("sum", "max", "all", "any"):
        f = native_function([x], getattr(T, kind)(x, axis=1), Reduce)
        np.testing.assert_array_equal(f(xv), getattr(np, kind)(xv, axis=1))


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("shape,axis", [((7, 9), 0), ((7, 9), 1), ((7, 9), None),
                                        ((3, 1000), 1), ((5, 4, 300), None)])
def test_argmax_ties_nan_and_strides(kind, shape, axis, dtype, rng):
    x = TensorType(dtype, (False,) * len(shape))("x")
    f = native_function([x], getattr(T, kind)(x, axis=axis), Argmax)
    xv = np.round(rng.standard_normal(shape)).astype(dtype)  # many ties
    np.testing.assert_array_equal(f(xv), getattr(np, kind)(xv, axis=axis))
    xv[rng.random(shape) < 0.02] = np.nan
    np.testing.assert_array_equal(f(xv), getattr(np, kind)(xv, axis=axis))
    if len(shape) == 2:
        g = native_function([x], getattr(T, kind)(x.T[::-1], axis=axis), Argmax)
        np.testing.assert_array_equal(g(xv), getattr(np, kind)(xv.T[::-1], axis=axis))


def test_argmax_of_an_empty_array_is_refused():
    x = T.dmatrix("x")
    f = native_function([x], T.argmax(x, axis=1), Argmax)
    with pytest.raises(ValueError, match="empty array"):
        f(np.zeros((0, 3)))
