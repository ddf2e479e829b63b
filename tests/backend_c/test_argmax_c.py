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


# The block path: unit-stride rows of 4- and 8-byte elements, at least a block (256 bytes)
# long, tested a block at a time against the best so far and searched only where the test
# holds.  Each test below targets one of its rules, over every dtype it handles.
BLOCK_DTYPES = ["float32", "float64", "int32", "uint32", "int64", "uint64"]


def _block(dtype: str) -> int:
    """Elements in a block of the block path (4 vectors of 64 bytes)."""
    return 256 // np.dtype(dtype).itemsize


def _function(dtype: str, kind: str, ndim: int = 2):
    x = TensorType(dtype, (False,) * ndim)("x")
    return theanine.function([x], getattr(T, kind)(x, axis=ndim - 1), backend="c")


def _oriented(values: np.ndarray, dtype: str, kind: str) -> np.ndarray:
    """`values` (where larger means better for argmax, small non-negative numbers) as `dtype`,
    mirrored for argmin so the same positions hold the extremum."""
    values = values.astype(dtype)
    if kind == "argmin":
        return np.iinfo(dtype).max - values if dtype.startswith("uint") else -values
    return values


def _check(dtype: str, kind: str, rows: np.ndarray, what: str) -> None:
    rows = _oriented(rows, dtype, kind)
    got = _function(dtype, kind)(rows)
    want = getattr(np, kind)(rows, axis=1)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), f"{what}: rows {bad[:5]} give {got[bad[:5]]}, NumPy {want[bad[:5]]}"


def _lengths(dtype: str) -> list[int]:
    b = _block(dtype)
    return [b, b + 1, 2 * b - 1, 2 * b + 7, 5 * b + b // 2 + 3, 16 * b, 23 * b + 11]


@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_ties_give_the_first_position(dtype, kind):
    """The extremum two or three times: in the same block (the same vector, another vector,
    a lower lane after a higher one), in later blocks (whose test must not hold for a tie),
    and in the last, partial block overlapping the one before it."""
    rng = np.random.default_rng(11)
    w, b = _block(dtype) // 4, _block(dtype)
    for n in _lengths(dtype):
        rows = rng.integers(0, 50, size=(200, n))
        for r in range(200):
            first = rng.integers(0, n - 1)
            after = [first + d for d in (1, w - 3, w + 2, b, b + w - 1, 3 * b)
                     if first + d < n]
            later = rng.choice(after + [n - 1], size=min(2, len(after) + 1), replace=False)
            rows[r, [first, *later]] = 100
        _check(dtype, kind, rows, f"{n} columns")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_first_nan_wins(dtype, kind):
    """A NaN anywhere (in the first blocks, in a tested block, before or after the
    extremum, in the partial last block, in the part of the block before it that the last
    one overlaps) answers its position, and the first of several NaNs wins, in the same
    vector, block or later blocks; +-inf are numbers."""
    rng = np.random.default_rng(12)
    w, b = _block(dtype) // 4, _block(dtype)
    for n in _lengths(dtype):
        rows = rng.normal(size=(160, n)) * 10
        for r in range(160):
            first = rng.integers(0, n) if r % 4 else (n - 1 - r // 4 % (n % b or b))
            rows[r, first] = np.nan
            for d in (w, 3, b + 5)[: r % 4]:  # the same lane of the next vector first
                if first + d < n:
                    rows[r, first + d] = np.nan
            best = rng.integers(0, n)
            if not np.isnan(rows[r, best]):
                rows[r, best] = np.inf if r % 3 else 1e30
        _check(dtype, kind, rows, f"{n} columns")


@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_extremum_in_the_last_partial_block(dtype, kind):
    """Row lengths not a multiple of the block: the extremum in the partial last block, in
    the part of the block before it that the last block overlaps, tied across the two."""
    rng = np.random.default_rng(13)
    b = _block(dtype)
    for n in [b + 1, b + b // 2, 3 * b - 1, 7 * b + 5, 12 * b + b - 2]:
        tail = n - n % b
        alone = range(max(0, n - b - b // 2), n)  # the overlapped part, then the tail
        tied = range(n - b, tail)  # and the tail again
        rows = rng.integers(0, 50, size=(len(alone) + len(tied), n))
        for r, p in enumerate(alone):
            rows[r, p] = 100
        for r, p in enumerate(tied, start=len(alone)):
            rows[r, [p, tail + r % (n - tail)]] = 100
        _check(dtype, kind, rows, f"{n} columns")


@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_row_lengths(dtype, kind):
    """Every row length from one short of a block (another path) to three blocks and a bit,
    small values (ties everywhere) and a few rows of one value."""
    rng = np.random.default_rng(14)
    b = _block(dtype)
    for n in range(b - 1, 3 * b + 3):
        rows = rng.integers(0, 7, size=(20, n))
        rows[:3] = rows[:3, :1]
        _check(dtype, kind, rows, f"{n} columns")


@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_ascending_rows(dtype, kind):
    """Ascending rows (a new best in every block: the row stops testing its blocks), each
    falling after a different position, so the best ends every block in turn; and, for
    floats, a NaN after the fall."""
    b = _block(dtype)
    n = 16 * b + 9
    rows = np.tile(np.arange(n) + 10, (n, 1))
    rows[np.arange(n)[None, :] > np.arange(n)[:, None]] = 5
    _check(dtype, kind, rows, "falling after each position")
    if dtype.startswith("float"):
        rows = rows.astype(dtype)
        rows[np.arange(0, n, 7), (np.arange(0, n, 7) * 3 + 5) % n] = np.nan
        _check(dtype, kind, rows, "a NaN after the fall")


@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_block_strided_and_other_shapes(dtype, kind):
    """Rows that are not unit-stride (every other element, reversed, columns) take the
    generic walk and agree; unit-stride rows of a 3-D array and a 1-D array the block path."""
    rng = np.random.default_rng(15)
    n = 7 * _block(dtype) + 3
    value = _oriented(rng.integers(0, 40, size=(9, 2 * n)), dtype, kind)
    fn = getattr(np, kind)
    f = _function(dtype, kind)
    for v in (value[:, ::2], value[:, ::-1], np.asfortranarray(value), value[:, 1:n + 1]):
        np.testing.assert_array_equal(f(v), fn(v, axis=1))
    cube = value.reshape(3, 3, 2 * n)
    np.testing.assert_array_equal(_function(dtype, kind, 3)(cube), fn(cube, axis=2))
    np.testing.assert_array_equal(_function(dtype, kind, 1)(value[4]), fn(value[4]))


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int64", "uint64"])
def test_block_integer_extremes(dtype):
    """The type's least and greatest values, first and elsewhere: no NaN test, no sentinel."""
    info = np.iinfo(dtype)
    n = 3 * _block(dtype) + 5
    rows = np.full((6, n), info.min, dtype)
    rows[1, 70] = rows[1, n - 1] = info.max
    rows[2] = info.max
    rows[3, 0] = info.max
    rows[4, n - 1] = info.min + 1
    rows[5, ::2] = info.max - 1
    for kind in ("argmax", "argmin"):
        np.testing.assert_array_equal(_function(dtype, kind)(rows), getattr(np, kind)(rows, axis=1))
