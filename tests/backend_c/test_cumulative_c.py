"""cumsum / cumprod natively, against NumPy: every axis (and None) of 1-D to 3-D arrays,
transposed, reversed and strided views, empty arrays, 0-d input, integer wrap-around, bool
views of other bytes than 0 and 1, arrays large enough to split across threads, and the
gradient against the Python backend.

The kernel accumulates each line in order in the output dtype, as NumPy does, so float
results are compared exactly (`assert_array_equal`), like integers, not within ulps."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import compile_both, hows, require_c

import theanine
import theanine.tensor as T
from theanine.tensor.extra_ops import CumOp
from theanine.tensor.type import TensorType

require_c()

SHAPES = {1: (37,), 2: (13, 17), 3: (5, 6, 9)}
DTYPES = ["float32", "float64", "int8", "int32", "int64", "uint8", "uint64", "bool"]


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, kind: str
            ) -> np.ndarray:
    """Products that neither vanish nor blow up within a line (floats); small integers,
    whose products still wrap around in long lines, as NumPy's do."""
    if dtype == "bool":
        return rng.random(shape) < 0.7
    if dtype.startswith("float"):
        if kind == "cumprod":
            return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)
        return (rng.normal(size=shape) * 100).astype(dtype)
    lo = 0 if dtype.startswith("u") else -3
    return rng.integers(lo, 4, shape).astype(dtype)


def _views(v: np.ndarray) -> list[np.ndarray]:
    """The array, its transpose, each axis reversed, every other element of the last
    axis, and a Fortran-ordered copy: strides the kernel must walk as they are."""
    out = [v, v.T, v[..., ::-2], np.asfortranarray(v)]
    out += [v[(slice(None),) * d + (slice(None, None, -1),)] for d in range(v.ndim)]
    return out


def _cum(kind: str, x, axis):
    return getattr(T, kind)(x, axis=axis)


def _assert_native(f) -> None:
    assert hows(f, CumOp) and all(h == "native" for h in hows(f, CumOp)), f.report()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["cumsum", "cumprod"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_every_axis_matches_numpy(dtype, kind, ndim):
    rng = np.random.default_rng(ndim)
    x = TensorType(dtype, (False,) * ndim)("x")
    value = _values(rng, SHAPES[ndim], dtype, kind)
    for axis in (None, *range(ndim), -1):
        f = theanine.function([x], _cum(kind, x, axis), backend="c")
        _assert_native(f)
        for v in _views(value):
            expected = getattr(np, kind)(v, axis=axis)
            got = f(v)
            assert got.dtype == expected.dtype
            # the same order of operations in the same dtype: equal to the bit
            np.testing.assert_array_equal(got, expected, err_msg=f"axis {axis}, "
                                          f"strides {v.strides}")


@pytest.mark.parametrize("kind", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape, axis", [
    ((700, 500), 1),      # lines, split by blocks across threads
    ((500, 1000), 0),     # planes, one chunk per thread
    ((3, 300, 301), 1),   # planes with outer lines
    ((301, 3, 300), 0),   # planes, a short inner row
    ((600, 500), None),   # one long line
    ((250_001,), 0),
])
def test_large_arrays_match_numpy(kind, shape, axis):
    """Sizes above the threshold where lines or inner chunks split across threads, in
    every layout (transposed: the scanned axis unit-stride in the input)."""
    rng = np.random.default_rng(3)
    x = TensorType("float32", (False,) * len(shape))("x")
    f = theanine.function([x], _cum(kind, x, axis), backend="c")
    _assert_native(f)
    value = _values(rng, shape, "float32", kind)
    for v in (value, value.T.copy().T, value[::-1], value[..., ::2]):
        np.testing.assert_array_equal(f(v), getattr(np, kind)(v, axis=axis))


def test_integers_wrap_around_as_numpy():
    x = T.lvector("x")
    big = np.array([2**62, 2**62, 2**62, -5, 7], np.int64)
    f = theanine.function([x], [T.cumsum(x), T.cumprod(x)], backend="c")
    for got, fn in zip(f(big), (np.cumsum, np.cumprod)):
        np.testing.assert_array_equal(got, fn(big))
    u = TensorType("uint32", (False,))("u")
    g = theanine.function([u], T.cumsum(u), backend="c")
    v = np.array([2**32 - 1] * 5, np.uint32)
    np.testing.assert_array_equal(g(v), np.cumsum(v))  # uint64: no wrap at 32 bits
    assert g(v).dtype == np.uint64


def test_bool_view_of_other_bytes_counts_as_true():
    b = T.TensorType("bool", (False,))("b")
    f = theanine.function([b], [T.cumsum(b), T.cumprod(b)], backend="c")
    v = np.array([0, 2, 1, 255, 3], np.uint8).view(bool)
    for got, fn in zip(f(v), (np.cumsum, np.cumprod)):
        np.testing.assert_array_equal(got, fn(v))


def test_nan_and_infinities_propagate():
    x = T.dvector("x")
    f = theanine.function([x], [T.cumsum(x), T.cumprod(x)], backend="c")
    v = np.array([1.0, np.inf, -np.inf, 2.0, np.nan, 3.0, 0.0])
    with np.errstate(invalid="ignore"):  # inf - inf, inf * 0
        expected = [np.cumsum(v), np.cumprod(v)]
    for got, want in zip(f(v), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4), (4, 3, 0)])
def test_empty_arrays(shape):
    x = TensorType("float64", (False,) * len(shape))("x")
    v = np.zeros(shape)
    for axis in (None, *range(len(shape))):
        f = theanine.function([x], [T.cumsum(x, axis=axis), T.cumprod(x, axis=axis)],
                              backend="c")
        for got, fn in zip(f(v), (np.cumsum, np.cumprod)):
            assert got.shape == fn(v, axis=axis).shape


def test_scalar_gives_a_vector():
    x = T.iscalar("x")
    f = theanine.function([x], [T.cumsum(x), T.cumprod(x, axis=0)], backend="c")
    _assert_native(f)
    for got, fn in zip(f(np.int32(7)), (np.cumsum, np.cumprod)):
        np.testing.assert_array_equal(got, fn(np.int32(7)))
        assert got.dtype == fn(np.int32(7)).dtype


def test_float16_falls_back_and_says_why():
    x = TensorType("float16", (False,))("x")
    f = theanine.function([x], T.cumsum(x), backend="c")
    assert hows(f, CumOp) == ["fallback"]
    assert "float16" in f.report()
    v = np.arange(5, dtype=np.float16)
    np.testing.assert_array_equal(f(v), np.cumsum(v))


@pytest.mark.parametrize("kind", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_gradient_matches_python_backend(kind, axis):
    """The gradient is itself reversed cumsums (of `gz`, and `gz * out` for cumprod): the
    C backend runs them natively and gives the Python backend's values."""
    rng = np.random.default_rng(4)
    x = T.dtensor3("x")
    w = T.dtensor3("w")
    y = _cum(kind, x, axis)
    cost = (y * (w if axis is not None else T.flatten(w))).sum()
    fp, fc = compile_both([x, w], T.grad(cost, x))
    assert hows(fc, CumOp) and all(h == "native" for h in hows(fc, CumOp)), fc.report()
    v = rng.uniform(0.5, 1.5, (4, 5, 6))
    wv = rng.normal(size=(4, 5, 6))
    # the same cumsums in the same order, and elementwise products and quotients that both
    # backends round once each: equal to the bit
    np.testing.assert_array_equal(fc(v, wv), fp(v, wv))
