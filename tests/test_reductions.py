"""Reductions (sum prod max min all any mean var std logsumexp) and argmax/argmin against NumPy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad
from theanine.tensor import math as M

REDUCTIONS = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all,
              "any": np.any, "mean": np.mean}
AXES = [None, 0, 1, 2, -1, -2, (0, 2), (-1, 0), (0, 1, 2), ()]


def _reduce(name, x, axis, keepdims):
    return getattr(T, name)(x, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_values(name, axis, keepdims, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4), low=0.5, high=1.5) * rng.choice([-1, 1], size=(2, 3, 4))
    if name in ("all", "any"):
        xv = np.where(rng.random(xv.shape) < 0.3, 0.0, xv)
    out = _reduce(name, x, axis, keepdims)
    f = compile_py([x], out)
    expected = REDUCTIONS[name](xv, axis=axis, keepdims=keepdims)
    for arg in (xv, noncontig(xv), fortran(xv), xv.transpose(2, 1, 0).copy().T):
        got = f(arg)
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    if out.owner is not None:
        check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_grad(name, axis, keepdims, rng):
    xv = rand(rng, (2, 3, 4), low=0.5, high=1.5) * rng.choice([-1, 1], size=(2, 3, 4))
    check_grad(lambda x: _reduce(name, x, axis, keepdims), [xv])


@pytest.mark.parametrize("method", ["sum", "prod", "mean", "max", "min"])
def test_reduction_methods(method, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    got = compile_py([x], [getattr(x, method)(), getattr(x, method)(axis=0),
                           getattr(x, method)(axis=-1, keepdims=True)])(xv)
    ref = getattr(np, method)
    for g, e in zip(got, [ref(xv), ref(xv, axis=0), ref(xv, axis=-1, keepdims=True)]):
        np.testing.assert_allclose(g, e, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "int64", "uint8", "float32"])
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "all", "any"])
def test_reduction_dtypes_follow_numpy(name, dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (3, 4), dtype, 0, 3)
    out = getattr(T, name)(x, axis=0)
    expected = REDUCTIONS[name](xv, axis=0)
    assert out.dtype == str(expected.dtype)
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sum_with_explicit_dtype(rng):
    x = T.bmatrix("x")
    xv = rand(rng, (3, 50), "int8", 100, 127)
    out = T.sum(x, axis=1, dtype="float32")
    assert out.dtype == "float32"
    np.testing.assert_allclose(compile_py([x], out)(xv), xv.sum(axis=1, dtype="float32"))


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "all", "any"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reduction_of_empty_arrays(name, axis, rng):
    x = T.dmatrix("x")
    xv = np.zeros((0, 3))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy: "Mean of empty slice"
        expected = REDUCTIONS[name](xv, axis=axis)
        got = compile_py([x], getattr(T, name)(x, axis=axis))(xv)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_of_empty_is_an_error(name):
    x = T.dmatrix("x")
    f = compile_py([x], getattr(T, name)(x, axis=0))
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros((0, 3)))
    # Reducing along a non-empty axis is fine.
    assert compile_py([x], getattr(T, name)(x, axis=1))(np.zeros((0, 3))).shape == (0,)


def test_prod_grad_with_zeros(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4), low=0.5, high=1.5)
    xv[0, 1] = 0.0  # one zero in a row
    xv[1, 0] = xv[1, 3] = 0.0  # two zeros in a row
    g = compile_py([x], grad(T.prod(x, axis=1).sum(), x))(xv)
    expected = np.empty_like(xv)
    for i in range(3):
        for j in range(4):
            expected[i, j] = np.prod(np.delete(xv[i], j))
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    check_grad(lambda v: T.prod(v, axis=1), [xv])


def test_max_grad_goes_to_the_maximum(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 5))
    g = compile_py([x], grad(T.max(x, axis=1).sum(), x))(xv)
    expected = (xv == xv.max(axis=1, keepdims=True)).astype("float64")
    np.testing.assert_array_equal(g, expected)


def test_mean_of_ints_is_float64(rng):
    x = T.imatrix("x")
    xv = rand(rng, (3, 4), "int32", -5, 5)
    out = T.mean(x, axis=0)
    assert out.dtype == "float64"
    np.testing.assert_allclose(compile_py([x], out)(xv), xv.mean(axis=0))


def test_reduction_of_a_scalar(rng):
    s = T.dscalar("s")
    got = compile_py([s], [T.sum(s), T.max(s), T.mean(s), s.sum(axis=None)])(2.5)
    for g in got:
        assert g.shape == () and g == 2.5


@pytest.mark.parametrize("axis", [3, -4, (0, 0), (1, -2)])
def test_bad_axis_is_a_clear_error(axis):
    x = T.dtensor3("x")
    with pytest.raises(ValueError, match="axis"):
        T.sum(x, axis=axis)


def test_symbolic_axis_is_refused():
    with pytest.raises(TypeError, match="axis"):
        T.sum(T.dmatrix("x"), axis=T.iscalar("a"))


# argmax / argmin ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -3])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(name, axis, keepdims, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4))
    out = getattr(T, name)(x, axis=axis, keepdims=keepdims)
    assert out.dtype == "int64"
    expected = getattr(np, name)(xv, axis=axis, keepdims=keepdims)
    f = compile_py([x], [out, getattr(x, name)(axis=axis, keepdims=keepdims)])
    for arg in (xv, noncontig(xv)):
        for got in f(arg):
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    if not isinstance(out.owner.op, T.Argmax):  # keepdims: a DimShuffle of the Argmax
        check_infer_shape([x], out.owner.inputs[0], [xv])


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool"])
def test_argmax_of_ints(dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (4, 5), dtype, 0, 9)
    np.testing.assert_array_equal(compile_py([x], T.argmax(x, axis=1))(xv), xv.argmax(axis=1))


def test_argmax_has_no_gradient():
    x = T.dvector("x")
    cost = T.cast(T.argmax(x), "float64") + 0 * x.sum()
    g = grad(cost, x)
    np.testing.assert_array_equal(compile_py([x], g)(np.arange(3.0)), np.zeros(3))


def test_argmax_of_empty_is_an_error():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="empty"):
        compile_py([x], T.argmax(x))(np.zeros(0))


def test_argmax_rejects_a_repeated_axis():
    with pytest.raises(ValueError, match="repeated axis"):
        T.argmax(T.dmatrix("x"), axis=(0, 0))


# var / std ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (-1, -3)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std_values(name, axis, keepdims, ddof, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4))
    out = getattr(M, name)(x, axis=axis, ddof=ddof, keepdims=keepdims)
    expected = getattr(np, name)(xv, axis=axis, ddof=ddof, keepdims=keepdims)
    f = compile_py([x], out)
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
def test_var_std_grad(name, axis, rng):
    check_grad(lambda v: getattr(M, name)(v, axis=axis, ddof=1), [rand(rng, (2, 3, 4))])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64", "float16", "float32",
                                   "float64", "complex64", "complex128"])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_dtypes_follow_numpy(name, dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (3, 5), dtype if dtype[0] != "c" else "float64", 0, 3).astype(dtype)
    if dtype[0] == "c":
        xv = (xv + 1j * rand(rng, (3, 5))).astype(dtype)
    out = getattr(M, name)(x, axis=1)
    expected = getattr(np, name)(xv, axis=1)
    assert out.dtype == str(expected.dtype)
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=5e-3 if dtype == "float16" else 1e-5)


def test_var_of_empty_axis_is_nan_as_numpy():
    x = T.dmatrix("x")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = compile_py([x], [M.var(x, axis=0), M.std(x, axis=1)])(np.zeros((0, 3)))
        expected = [np.var(np.zeros((0, 3)), axis=0), np.std(np.zeros((0, 3)), axis=1)]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


# logsumexp ------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (-1, 0), ()], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_values(axis, keepdims, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4), low=-5, high=5)
    out = M.logsumexp(x, axis=axis, keepdims=keepdims)
    expected = np.log(np.sum(np.exp(xv), axis=axis, keepdims=keepdims))
    f = compile_py([x], out)
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    check_infer_shape([x], out, [xv])


def test_logsumexp_is_stable_and_handles_infinities():
    x = T.dmatrix("x")
    xv = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]])
    got = compile_py([x], M.logsumexp(x, axis=1))(xv)
    expected = [1000.0 + np.log(2.0), -np.inf, np.log(1.0 + np.e)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_logsumexp_of_empty_axis_is_minus_infinity(rng):
    x = T.dmatrix("x")
    got = compile_py([x], [M.logsumexp(x, axis=0), M.logsumexp(x, axis=1)])(np.zeros((0, 3)))
    np.testing.assert_array_equal(got[0], np.full(3, -np.inf))
    assert got[1].shape == (0,)


@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_grad(axis, keepdims, rng):
    check_grad(lambda v: M.logsumexp(v, axis=axis, keepdims=keepdims),
               [rand(rng, (2, 3, 4), low=-3, high=3)])


@pytest.mark.parametrize("dtype, expected", [("float32", "float32"), ("float16", "float16"),
                                             ("int32", "float64"), ("bool", "float64")])
def test_logsumexp_dtypes(dtype, expected, rng):
    x = T.tensor(dtype, (False,), name="x")
    xv = rand(rng, (6,), dtype, 0, 3)
    out = M.logsumexp(x)
    assert out.dtype == expected
    got = compile_py([x], out)(xv)
    assert got.dtype == np.dtype(expected)
    np.testing.assert_allclose(got, np.log(np.sum(np.exp(xv.astype("float64")))),
                               rtol=2e-3 if dtype == "float16" else 1e-6)


# every reduction on every dtype -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "all", "any", "argmax",
                                  "argmin"])
def test_reductions_every_dtype_as_numpy(name, rng):
    from theanine.tensor.type import ALL_DTYPES

    failures = []
    for dtype in ALL_DTYPES:
        x = T.tensor(dtype, (False, False), name="x")
        xv = rand(rng, (3, 4), "float64" if dtype[0] == "c" else dtype, 0, 3).astype(dtype)
        expected = getattr(np, name)(xv, axis=-1)
        out = getattr(T, name)(x, axis=-1)
        got = compile_py([x], out)(xv)
        if out.dtype != str(expected.dtype) or got.dtype != expected.dtype \
                or not np.allclose(got, expected, rtol=1e-3):
            failures.append(f"{dtype}: {out.dtype} {got!r}, NumPy {expected!r}")
    assert not failures, "; ".join(failures)


def test_var_with_ddof_at_least_n_is_inf_or_nan_as_numpy():
    x = T.dvector("x")
    xv = np.array([1.0, 2.0, 4.0])
    f = compile_py([x], [M.var(x, ddof=3), M.var(x, ddof=5), M.std(x, ddof=4)])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = f(xv)
        expected = [np.var(xv, ddof=3), np.var(xv, ddof=5), np.std(xv, ddof=4)]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
