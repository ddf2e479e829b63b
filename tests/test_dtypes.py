"""Type promotion (NumPy 2 rules, weak Python literals) and cast semantics (NumPy astype)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from op_checks import compile_py, rand

import theanine.tensor as T
from theanine.config import config
from theanine.tensor.type import ALL_DTYPES

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64"]
PAIRS = list(itertools.combinations_with_replacement(DTYPES, 2))


def _vec(dtype, name):
    return T.tensor(dtype, (False,), name=name)


def _values(rng, dtype):
    return rand(rng, (4,), dtype, 1, 5)


@pytest.mark.parametrize("a, b", PAIRS)
@pytest.mark.parametrize("name, ufunc", [("add", np.add), ("mul", np.multiply)])
def test_add_mul_promote_as_numpy(name, ufunc, a, b, rng):
    x, y = _vec(a, "x"), _vec(b, "y")
    expected_dtype = np.result_type(np.dtype(a), np.dtype(b))
    out = getattr(T, name)(x, y)
    assert out.dtype == str(expected_dtype)
    xv, yv = _values(rng, a), _values(rng, b)
    got = compile_py([x, y], out)(xv, yv)
    assert got.dtype == expected_dtype
    np.testing.assert_array_equal(got, ufunc(xv, yv))


@pytest.mark.parametrize("a, b", [p for p in PAIRS if "bool" not in p])
def test_true_div_promotes_as_numpy(a, b, rng):
    x, y = _vec(a, "x"), _vec(b, "y")
    xv, yv = _values(rng, a), _values(rng, b)
    expected = np.true_divide(xv, yv)
    out = x / y
    assert out.dtype == str(expected.dtype)
    np.testing.assert_allclose(compile_py([x, y], out)(xv, yv), expected, rtol=1e-6)


@pytest.mark.parametrize("a, b", [p for p in PAIRS if "bool" not in p])
def test_sub_and_floor_div_promote_as_numpy(a, b, rng):
    x, y = _vec(a, "x"), _vec(b, "y")
    xv, yv = _values(rng, a), _values(rng, b)
    got_sub, got_div = compile_py([x, y], [x - y, x // y])(xv, yv)
    for got, expected in ((got_sub, np.subtract(xv, yv)), (got_div, np.floor_divide(xv, yv))):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "float32",
                                   "float64"])
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sin"])
def test_float_functions_of_ints_follow_numpy(name, dtype, rng):
    x = _vec(dtype, "x")
    xv = _values(rng, dtype)
    expected = getattr(np, name)(xv)
    out = getattr(T, name)(x)
    assert out.dtype == str(expected.dtype)
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-3 if expected.dtype.itemsize <= 2 else 1e-6)


def test_sigmoid_of_ints_has_the_dtype_of_exp(rng):
    # NumPy's 1 / (1 + exp(-x)) of int8 is float16 (tests/test_issue9_ops.py checks every dtype)
    x = T.bvector("x")
    xv = rand(rng, (6,), "int8", -5, 5)
    got = compile_py([x], T.sigmoid(x))(xv)
    expected = 1 / (1 + np.exp(-xv))
    assert got.dtype == expected.dtype == np.float16
    np.testing.assert_allclose(got, expected, rtol=2e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, ref", [("lt", np.less), ("eq", np.equal)])
def test_comparisons_give_bool(name, ref, dtype, rng):
    x, y = _vec(dtype, "x"), _vec("float32", "y")
    xv, yv = _values(rng, dtype), _values(rng, "float32")
    out = getattr(T, name)(x, y)
    assert out.dtype == "bool"
    np.testing.assert_array_equal(compile_py([x, y], out)(xv, yv), ref(xv, yv))


# Weak Python literals -----------------------------------------------------------------------
@pytest.mark.parametrize("make, literal, expected", [
    (T.fvector, 2, "float32"),
    (T.fvector, 2.5, "float32"),
    (T.fvector, True, "float32"),
    (T.ivector, 2, "int32"),
    (T.ivector, 2.5, "float64"),
    (T.ivector, True, "int32"),
    (T.bvector, 100, "int8"),
    (T.bvector, -128, "int8"),
    (T.wvector, 2.5, "float64"),
    (T.dvector, 2, "float64"),
    (T.lvector, 2, "int64"),
    (T.fvector, 1j, "complex64"),
    (T.bvector, 2.0, "float64"),
])
def test_weak_literals(make, literal, expected, rng):
    x = make("x")
    outs = [x * literal, literal * x, x + literal, literal + x, x - literal, literal - x,
            T.maximum(x, literal), T.switch(x > 0, x, literal)]
    xv = rand(rng, (5,), x.dtype, 1, 4)
    got = compile_py([x], outs)(xv)
    refs = [xv * literal, literal * xv, xv + literal, literal + xv, xv - literal, literal - xv,
            np.maximum(xv, literal), np.where(xv > 0, xv, literal)]
    for out, g, r in zip(outs, got, refs):
        assert out.dtype == expected, out
        assert g.dtype == np.dtype(expected) == r.dtype
        np.testing.assert_array_equal(g, r)


def test_bool_tensor_with_int_literal_is_int64_as_numpy(rng):
    x = T.tensor("bool", (False,), name="x")
    out = x + 1
    xv = rand(rng, (4,), "bool")
    expected = xv + 1
    assert out.dtype == str(expected.dtype)
    np.testing.assert_array_equal(compile_py([x], out)(xv), expected)


@pytest.mark.parametrize("make, literal", [(T.bvector, 300), (T.bvector, -129),
                                           (lambda n: T.tensor("uint8", (False,), name=n), -1)])
def test_out_of_bounds_literal_is_a_clear_error(make, literal):
    x = make("x")
    with pytest.raises(TypeError, match=rf"{literal}.*out of bounds for {x.dtype}.*x"):
        x + literal
    with pytest.raises(TypeError, match="out of bounds"):
        literal * x


def test_numpy_scalars_are_strong_as_in_numpy():
    x = T.fvector("x")
    assert (x * np.float64(2)).dtype == "float64"
    assert (x * np.float32(2)).dtype == "float32"
    assert (T.ivector("i") * np.int64(2)).dtype == "int64"
    assert str((np.zeros(2, "float32") * np.float64(2)).dtype) == "float64"


def test_literal_alone_uses_numpy_default_dtype():
    assert T.add(1, 2).dtype == "int64"
    assert T.add(1.5, 2).dtype == "float64"


def test_literal_power_keeps_dtype(rng):
    x = T.fvector("x")
    assert (x ** 2).dtype == "float32"
    assert (2 ** x).dtype == "float32"
    i = T.ivector("i")
    iv = rand(rng, (5,), "int32", 0, 4)
    out = i ** 2
    assert out.dtype == "int32"
    np.testing.assert_array_equal(compile_py([i], out)(iv), iv ** 2)


def test_default_float_type_is_floatx():
    assert config.floatX == "float32"
    assert T.vector("v").dtype == "float32"
    assert T.cast(T.ivector("i"), "floatX").dtype == "float32"


# Cast -------------------------------------------------------------------------------------
CAST_SOURCES = {
    "float64": lambda rng: np.array([-2.7, -1.5, -0.5, 0.0, 0.4, 1.5, 2.9, 130.2, -129.9,
                                     1e3]),
    "float32": lambda rng: np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 2.9, 200.7], "float32"),
    "int64": lambda rng: np.array([-300, -129, -1, 0, 1, 127, 128, 255, 256, 70000]),
    "int32": lambda rng: np.array([-5, 0, 3, 2**31 - 1], "int32"),
    "int8": lambda rng: np.array([-128, -1, 0, 1, 127], "int8"),
    "uint8": lambda rng: np.array([0, 1, 128, 255], "uint8"),
    "bool": lambda rng: np.array([True, False, True]),
}


@pytest.mark.parametrize("src", sorted(CAST_SOURCES))
@pytest.mark.parametrize("dst", DTYPES)
def test_cast_is_numpy_astype(src, dst, rng):
    xv = CAST_SOURCES[src](rng)
    if src[0] == "f" and dst[0] in "iu":
        # out-of-range float-to-int conversion is undefined behaviour in C and NumPy
        info = np.iinfo(dst)
        xv = xv[(xv > info.min) & (xv < info.max)]
    x = _vec(src, "x")
    out = T.cast(x, dst)
    assert out.dtype == dst
    got = compile_py([x], [out, x.astype(dst)])
    for g in got(xv):
        assert g.dtype == np.dtype(dst)
        np.testing.assert_array_equal(g, xv.astype(dst))


def test_cast_of_scalars_and_literals():
    s = T.dscalar("s")
    got = compile_py([s], T.cast(s, "int32"))(-3.7)
    assert got.dtype == np.int32 and got.shape == () and got == -3
    assert T.cast(3, "float32").dtype == "float32"


def test_cast_to_unknown_dtype_is_an_error():
    with pytest.raises(TypeError):
        T.cast(T.dvector("x"), "float128x")


def test_comparison_with_an_out_of_bounds_literal_is_exact(rng):
    x = T.bvector("x")
    u = T.tensor("uint8", (False,), name="u")
    xv, uv = rand(rng, (5,), "int8", -100, 100), rand(rng, (5,), "uint8", 0, 200)
    outs = [x < 300, x > -129, T.eq(x, 300), u >= -1, T.neq(u, 1000)]
    got = compile_py([x, u], outs)(xv, uv)
    for g, e in zip(got, [xv < 300, xv > -129, xv == 300, uv >= -1, uv != 1000]):
        assert g.dtype == np.bool_
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("src", ALL_DTYPES)
def test_cast_between_all_dtypes_is_numpy_astype(src, rng):
    """Every pair of the 14 dtypes, complex and unsigned included; complex to real keeps the
    real part (with NumPy's ComplexWarning)."""
    values = {"b": [True, False, True], "i": [-100, -1, 0, 1, 100], "u": [0, 1, 7, 200],
              "f": [-2.75, -0.5, 0.0, 0.25, 1.5, 100.0],
              "c": [complex(-2.5, 1.0), complex(0.0, -3.0), complex(1.5, 0.0)]}
    xv = np.array(values[np.dtype(src).kind], dtype=src)
    x = _vec(src, "x")
    failures = []
    for dst in ALL_DTYPES:
        keep = np.ones(len(xv), dtype=bool)
        if np.dtype(dst).kind in "iu" and np.dtype(src).kind in "fc":
            info = np.iinfo(dst)  # out-of-range float-to-int conversion is undefined in C
            re = xv.real.astype("float64")
            keep = (re > info.min) & (re < info.max)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            expected = xv[keep].astype(dst)
            got = compile_py([x], T.cast(x, dst))(xv[keep])
        if got.dtype != expected.dtype or not np.array_equal(got, expected):
            failures.append(f"{dst}: {got!r} != {expected!r}")
    assert not failures, f"cast from {src}: " + "; ".join(failures)
