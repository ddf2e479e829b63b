"""dot, batched_dot and outer against NumPy: values, gradients and infer_shape."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T

# (x shape, y shape) for every vector/matrix combination, including empty inner and outer sizes
DOT_CASES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((0,), (0,)),
    ((3, 0), (0, 5)),
    ((0, 4), (4, 5)),
    ((3, 4), (4, 0)),
    ((1, 4), (4, 1)),
]


def _var(shape, dtype="float64", name=None):
    return T.tensor(dtype, (False,) * len(shape), name=name)


@pytest.mark.parametrize("xs, ys", DOT_CASES, ids=str)
def test_dot_values(xs, ys, rng):
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = T.dot(x, y)
    f = compile_py([x, y], [out, x.dot(y), x @ y])
    expected = np.dot(xv, yv)
    for args in ((xv, yv), (noncontig(xv), fortran(yv)), (fortran(xv), noncontig(yv))):
        for got in f(*args):
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    check_infer_shape([x, y], out, [xv, yv])


def test_dot_of_transposed_inputs(rng):
    x, y = T.dmatrices("x", "y")
    xv, yv = rand(rng, (4, 3)), rand(rng, (5, 4))
    got = compile_py([x, y], T.dot(x.T, y.T))(xv, yv)
    np.testing.assert_allclose(got, xv.T @ yv.T, rtol=1e-12)
    got = compile_py([x, y], T.dot(x, y))(xv.T, yv.T)  # transposed views passed in
    np.testing.assert_allclose(got, xv.T @ yv.T, rtol=1e-12)


@pytest.mark.parametrize("xs, ys", [c for c in DOT_CASES if 0 not in c[0] + c[1]], ids=str)
def test_dot_grad(xs, ys, rng):
    check_grad(T.dot, [rand(rng, xs), rand(rng, ys)])


@pytest.mark.parametrize("xs, ys", [((), (3, 4)), ((3,), ()), ((), ())], ids=str)
def test_dot_with_scalar_operands(xs, ys, rng):
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    got = compile_py([x, y], T.dot(x, y))(xv, yv)
    np.testing.assert_allclose(got, np.dot(xv, yv), rtol=1e-12)
    check_grad(T.dot, [xv, yv])


def test_dot_with_constant_operand(rng):
    w = rand(rng, (4, 2))
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    np.testing.assert_allclose(compile_py([x], T.dot(x, w))(xv), xv @ w, rtol=1e-12)


@pytest.mark.parametrize("a, b", [("float32", "float32"), ("float32", "float64"),
                                  ("int32", "int32"), ("int8", "float32"), ("int64", "uint8")])
def test_dot_dtypes(a, b, rng):
    x, y = T.tensor(a, (False, False), name="x"), T.tensor(b, (False,), name="y")
    xv, yv = rand(rng, (3, 4), a, -3, 3), rand(rng, (4,), b, 0, 3)
    expected = np.dot(xv, yv)
    out = T.dot(x, y)
    assert out.dtype == str(expected.dtype)
    got = compile_py([x, y], out)(xv, yv)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_dot_shape_mismatch_names_the_inputs(rng):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = compile_py([x, y], T.dot(x, y))
    with pytest.raises(ValueError, match=r"x.*y.*not aligned"):
        f(rand(rng, (3, 4)), rand(rng, (5, 2)))


def test_dot_rejects_higher_ranks():
    with pytest.raises(TypeError, match="dot"):
        T.dot(T.dtensor3("x"), T.dmatrix("y"))


def test_dot_broadcastable_pattern():
    assert T.dot(T.row("r"), T.matrix("m")).broadcastable == (True, False)
    assert T.dot(T.matrix("m"), T.col("c")).broadcastable == (False, True)
    assert T.dot(T.vector("v"), T.col("c")).broadcastable == (True,)


# batched_dot --------------------------------------------------------------------------------
BATCHED_CASES = [
    ((3, 2, 4), (3, 4, 5)),
    ((3, 4), (3, 4)),
    ((3, 2, 4), (3, 4)),
    ((3, 4), (3, 4, 5)),
    ((0, 2, 4), (0, 4, 5)),
    ((3, 2, 0), (3, 0, 5)),
    ((1, 1, 4), (1, 4, 1)),
]


def _np_batched_dot(x, y):
    return np.stack([np.dot(a, b) for a, b in zip(x, y)]) if len(x) else \
        np.zeros((0,) + x.shape[1:-1] + y.shape[2:])


@pytest.mark.parametrize("xs, ys", BATCHED_CASES, ids=str)
def test_batched_dot_values(xs, ys, rng):
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = T.batched_dot(x, y)
    f = compile_py([x, y], out)
    expected = _np_batched_dot(xv, yv)
    for args in ((xv, yv), (noncontig(xv), fortran(yv))):
        got = f(*args)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    check_infer_shape([x, y], out, [xv, yv])


@pytest.mark.parametrize("xs, ys", BATCHED_CASES[:4] + BATCHED_CASES[-1:], ids=str)
def test_batched_dot_grad(xs, ys, rng):
    check_grad(T.batched_dot, [rand(rng, xs), rand(rng, ys)])


def test_batched_dot_mismatch_names_the_inputs(rng):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = compile_py([x, y], T.batched_dot(x, y))
    with pytest.raises(ValueError, match=r"x.*y"):
        f(rand(rng, (3, 2, 4)), rand(rng, (2, 4, 5)))
    with pytest.raises(ValueError, match=r"x.*y"):
        f(rand(rng, (3, 2, 4)), rand(rng, (3, 3, 5)))


def test_batched_dot_rejects_other_ranks():
    with pytest.raises(TypeError, match="batched_dot"):
        T.batched_dot(T.dvector("x"), T.dmatrix("y"))


# outer --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, m", [(3, 4), (0, 4), (1, 1)])
def test_outer(n, m, rng):
    x, y = T.dvectors("x", "y")
    xv, yv = rand(rng, (n,)), rand(rng, (m,))
    out = T.outer(x, y)
    got = compile_py([x, y], out)(noncontig(xv), yv)
    np.testing.assert_allclose(got, np.outer(xv, yv), rtol=1e-12)
    check_infer_shape([x, y], out, [xv, yv])
    if n:
        check_grad(T.outer, [xv, yv])
