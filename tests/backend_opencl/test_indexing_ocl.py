"""Indexing kernels against NumPy and `perform`: gathers by integer vectors (negative, repeated,
strided sources, index vectors of other dtypes), inc_subtensor bit-equal to np.add.at with
repeated indices, set_subtensor's last write wins, basic (sliced) updates with broadcasting,
empty selections, and bad indices or shapes refused with the variables named."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function, transposed_on_device

import theanine.tensor as T
from theanine.tensor.subtensor import IncSubtensor, Subtensor

ROWS = np.array([0, 4, -1, 2, 2, 0, 0, 3])
COLS = np.array([1, 3, 0, 0, 0, 2, 2, -4], dtype="int32")


def _x(dtype, rng, shape=(5, 4)):
    return (3 * rng.standard_normal(shape)).astype(dtype)


def test_gather_matches_numpy(dtype, rng):
    x, i, j = T.matrix("x", dtype=dtype), T.lvector("i"), T.ivector("j")
    xv = _x(dtype, rng)
    f = native_function([x, i], x[i], Subtensor)
    np.testing.assert_array_equal(f(xv, ROWS), xv[ROWS])
    np.testing.assert_array_equal(f(transposed_on_device(xv), ROWS), xv[ROWS])
    np.testing.assert_array_equal(f(xv, ROWS[:0]), xv[ROWS[:0]])
    g = native_function([x, i, j], x[i, j], Subtensor)
    np.testing.assert_array_equal(g(xv, ROWS, COLS), xv[ROWS, COLS])
    np.testing.assert_array_equal(g(xv, ROWS[:1], COLS), xv[ROWS[:1], COLS])  # broadcast
    t = native_function([x, i], x.T[i], Subtensor)
    np.testing.assert_array_equal(t(xv, np.array([1, 3, -3])), xv.T[[1, 3, -3]])


def test_gather_errors_name_the_index_and_the_variable(rng):
    x, i, j = T.dmatrix("x"), T.lvector("i"), T.lvector("j")
    f = native_function([x, i], x[i], Subtensor)
    with pytest.raises(IndexError, match=r"index 7 is out of bounds for axis 0 with size 5 "
                                         r"\(entry 1 of i, indexing x\)"):
        f(np.zeros((5, 4)), np.array([0, 7, 9]))
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((0, 4)), np.array([0]))
    g = native_function([x, i, j], x[i, j], Subtensor)
    with pytest.raises(IndexError, match="could not be broadcast"):
        g(np.zeros((5, 4)), np.array([0, 1]), np.array([0, 1, 2]))


@pytest.mark.parametrize("x_dtype", ["float32", "float64", "int32", "int64"])
def test_inc_subtensor_is_bit_equal_to_add_at(x_dtype, rng):
    x, y, v = T.matrix("x", dtype=x_dtype), T.matrix("y", dtype=x_dtype), T.vector(
        "v", dtype=x_dtype)
    i, j = T.lvector("i"), T.ivector("j")
    xv = _x(x_dtype, rng)
    yv = (rng.standard_normal((len(ROWS), 4)) * 1e3).astype(x_dtype)
    f = native_function([x, y, i], T.inc_subtensor(x[i], y), IncSubtensor)
    want = xv.copy()
    np.add.at(want, ROWS, yv)
    assert np.array_equal(f(xv, yv, ROWS), want)
    vv = (rng.standard_normal(len(ROWS)) * 1e3).astype(x_dtype)
    g = native_function([x, v, i, j], T.inc_subtensor(x[i, j], v), IncSubtensor)
    want = xv.copy()
    np.add.at(want, (ROWS, COLS), vv)
    assert np.array_equal(g(xv, vv, ROWS, COLS), want)


def test_set_subtensor_last_write_wins_and_broadcasts(dtype, rng):
    x, y, i = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype), T.lvector("i")
    xv, yv = _x(dtype, rng), _x(dtype, rng, (len(ROWS), 4))
    f = native_function([x, y, i], T.set_subtensor(x[i], y), IncSubtensor)
    want = xv.copy()
    want[ROWS] = yv
    np.testing.assert_array_equal(f(xv, yv, ROWS), want)
    row = T.row("row", dtype=dtype)  # (1, 4), broadcastable over the selected rows
    g = native_function([x, row, i], T.inc_subtensor(x[i], row), IncSubtensor)
    want = xv.copy()
    np.add.at(want, ROWS, yv[:1])
    assert np.array_equal(g(xv, yv[:1], ROWS), want)
    with pytest.raises(ValueError, match="cannot write y of shape"):
        f(xv, yv[:3], ROWS)


def test_basic_updates_of_slices(dtype, rng):
    x, v = T.matrix("x", dtype=dtype), T.vector("v", dtype=dtype)
    xv, vv = _x(dtype, rng), _x(dtype, rng, (3,))
    f = native_function([x, v], T.inc_subtensor(x[1:4:2, 1:], v), IncSubtensor)
    want = xv.copy()
    want[1:4:2, 1:] += vv
    np.testing.assert_array_equal(f(xv, vv), want)
    np.testing.assert_array_equal(f(transposed_on_device(xv), vv), want)
    s = native_function([x, v], T.set_subtensor(x[-1, ::-2], v[:2]), IncSubtensor)
    want = xv.copy()
    want[-1, ::-2] = vv[:2]
    np.testing.assert_array_equal(s(xv, vv), want)
    e = native_function([x, v], T.inc_subtensor(x[5:], v[:0].sum() + x[0]), IncSubtensor)
    np.testing.assert_array_equal(e(xv, vv), xv)
    with pytest.raises(ValueError, match=r"cannot write Subtensor\{:2\}.0 of shape \(2,\)"):
        s(_x(dtype, rng, (5, 6)), vv)


def test_scatter_errors_name_the_entry(rng):
    x, y, i = T.dmatrix("x"), T.dmatrix("y"), T.lvector("i")
    f = native_function([x, y, i], T.inc_subtensor(x[i], y), IncSubtensor)
    with pytest.raises(IndexError, match=r"index -6 is out of bounds for axis 0 with size 5 "
                                         r"\(entry 2 of i"):
        f(np.zeros((5, 4)), np.ones((3, 4)), np.array([0, 1, -6]))
