"""argmax / argmin natively, against NumPy: every axis, strided and reversed inputs, ties
(first position), NaN (first NaN), several dtypes, and the empty-array error."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import require_c

import theanine
import theanine.tensor as T
from theanine.tensor.type import TensorType

require_c()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint16", "int64", "bool"])
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_matches_numpy(dtype, kind):
    rng = np.random.default_rng(5)
    x = TensorType(dtype, (False, False, False))("x")
    value = (rng.normal(size=(3, 4, 5)) * 2).astype(dtype)  # small ints: many ties
    if dtype.startswith("float"):
        value[1, 2, 3] = value[2, 0, 1] = np.nan
    fn = getattr(np, kind)
    for axis in (None, 0, 1, 2, -1):
        f = theanine.function([x], getattr(T, kind)(x, axis=axis), backend="c")
        assert all(n.how != "fallback" for n in f.maker.program.report.nodes), f.report()
        for v in (value, value[:, ::-1, ::2], np.asfortranarray(value)):
            got = f(v)
            np.testing.assert_array_equal(got, fn(v, axis=axis))
            assert got.dtype == np.int64


def test_empty_is_refused():
    x = T.dmatrix("x")
    f = theanine.function([x], T.argmax(x, axis=1), backend="c")
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8", "int32", "uint32",
                                   "int64", "uint64"])
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_long_contiguous_rows_match_numpy(dtype, kind):
    """Rows long enough, unit-stride, take the one-pass path (lanes keeping their best value
    and its first position; GCC vectors for 4- and 8-byte elements): ties, NaN anywhere
    (first NaN wins), signed zeros, the extremum in the tail after the last whole block of
    lanes, and in the first element; lengths on both sides of the path's threshold."""
    rng = np.random.default_rng(9)
    x = T.matrix("x", dtype=dtype)
    f = theanine.function([x], getattr(T, kind)(x, axis=1), backend="c")
    fn = getattr(np, kind)
    info = np.finfo(dtype) if dtype.startswith("float") else np.iinfo(dtype)
    extreme = info.max if kind == "argmax" else info.min
    for cols in (31, 32, 33, 47, 63, 64, 65, 97, 100, 1000):
        v = (rng.normal(size=(12, cols)) * 3).astype(dtype)  # small ints: many ties
        v[0] = v[0, :1]  # a row of one value: its first position
        v[1, -1] = extreme  # the extremum in the tail
        v[2, 0] = extreme
        if dtype.startswith("float"):
            v[3, [5, 40 % cols, cols - 1]] = np.nan
            v[4, -1] = np.nan
            v[6, 7] = np.nan  # the only NaN, amid the row
            v[7, 70 % cols] = np.nan  # the only NaN, past the lanes' first block
            v[5] = 0.0
            v[5, ::3] = -0.0
        np.testing.assert_array_equal(f(v), fn(v, axis=1), err_msg=f"{cols} columns")
