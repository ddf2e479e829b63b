"""dot, batched_dot and outer against NumPy: values, gradients and infer_shape."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.tensor import math as M

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


def test_dot_op_takes_vectors_and_matrices_only():
    """Higher ranks go to TensorDot (below); the Dot op itself is what BLAS rewrites match."""
    with pytest.raises(TypeError, match="dot"):
        T.Dot()(T.dtensor3("x"), T.dmatrix("y"))


# every rank combination, as numpy.dot (0-d: elementwise; >2: x's last axis with y's
# second-to-last)
SHAPES = {0: (), 1: (4,), 2: (3, 4), 3: (2, 3, 4), 4: (2, 1, 3, 4)}


def _dot_shapes(nx, ny):
    xs = SHAPES[nx]
    if ny == 0:
        return xs, ()
    k = xs[-1] if nx else 4
    ys = {1: (k,), 2: (k, 5), 3: (2, k, 5), 4: (1, 2, k, 3)}[ny]
    return xs, ys


@pytest.mark.parametrize("nx", range(5))
@pytest.mark.parametrize("ny", range(5))
def test_dot_every_rank_combination(nx, ny, rng):
    xs, ys = _dot_shapes(nx, ny)
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = T.dot(x, y)
    expected = np.dot(xv, yv)
    f = compile_py([x, y], out)
    for args in ((xv, yv), (noncontig(xv), fortran(yv))):
        got = f(*args)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    if out.owner is not None and nx and ny:
        check_infer_shape([x, y], out, [xv, yv])
    check_grad(T.dot, [xv, yv])


@pytest.mark.parametrize("xs, ys", [((2, 0, 4), (4, 3)), ((2, 3, 0), (0, 5)),
                                    ((2, 3, 4), (3, 4, 0)), ((0, 3, 4), (2, 4, 5))], ids=str)
def test_dot_higher_rank_empty(xs, ys, rng):
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = T.dot(x, y)
    got = compile_py([x, y], out)(xv, yv)
    np.testing.assert_array_equal(got, np.dot(xv, yv))
    check_infer_shape([x, y], out, [xv, yv])


def test_dot_higher_rank_mismatch_names_the_inputs(rng):
    x, y = T.dtensor3("x"), T.dmatrix("y")
    f = compile_py([x, y], T.dot(x, y))
    with pytest.raises(ValueError, match=r"x.*y.*not aligned"):
        f(rand(rng, (2, 3, 4)), rand(rng, (5, 2)))


# tensordot ------------------------------------------------------------------------------------
TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 5), 1),
    ((2, 3), (4,), 0),
    ((2, 3, 4), (4, 3, 2), [[1, 2], [1, 0]]),
    ((2, 3, 4), (5, 4, 2), [[-1, 0], [1, -1]]),
    ((3, 4), (4, 3), [[0, 1], [1, 0]]),
    ((2, 3, 4), (2, 3, 4), 3),
    ((3, 4), (4, 2), [1, 0]),
    ((2, 0, 4), (4, 0), [[2, 1], [0, 1]]),
    ((2, 3), (3, 0), 1),
]


@pytest.mark.parametrize("xs, ys, axes", TENSORDOT_CASES, ids=str)
def test_tensordot_values(xs, ys, axes, rng):
    x, y = _var(xs, name="x"), _var(ys, name="y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = M.tensordot(x, y, axes)
    expected = np.tensordot(xv, yv, axes)
    f = compile_py([x, y], out)
    for args in ((xv, yv), (noncontig(xv), fortran(yv))):
        got = f(*args)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    check_infer_shape([x, y], out, [xv, yv])
    if 0 not in xs + ys:
        check_grad(lambda a, b: M.tensordot(a, b, axes), [xv, yv])


@pytest.mark.parametrize("a, b", [("float32", "float32"), ("int8", "int8"),
                                  ("int32", "float32"), ("complex64", "float64")])
def test_tensordot_dtypes(a, b, rng):
    x, y = T.tensor(a, (False,) * 3, name="x"), T.tensor(b, (False,) * 2, name="y")
    xv, yv = rand(rng, (2, 3, 4), a, -3, 3), rand(rng, (4, 3), b, -3, 3)
    expected = np.tensordot(xv, yv, [[1, 2], [1, 0]])
    out = M.tensordot(x, y, [[1, 2], [1, 0]])
    assert out.dtype == str(expected.dtype)
    np.testing.assert_allclose(compile_py([x, y], out)(xv, yv), expected, rtol=1e-5)


@pytest.mark.parametrize("axes, match", [(3, "out of range"), ([[0], [0, 1]], "axes"),
                                         ([[3], [0]], "out of range"),
                                         ([[0, 0], [0, 1]], "repeated"), ("x", "pair")])
def test_tensordot_bad_axes(axes, match):
    with pytest.raises((TypeError, ValueError), match=match):
        M.tensordot(T.dmatrix("x"), T.dmatrix("y"), axes)


def test_tensordot_length_mismatch_names_the_inputs(rng):
    x, y = T.dmatrices("x", "y")
    f = compile_py([x, y], M.tensordot(x, y, [[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"x.*y.*not aligned"):
        f(rand(rng, (2, 6)), rand(rng, (3, 4)))  # same sizes, different shapes


# matmul ---------------------------------------------------------------------------------------
# (x shape, x broadcastable, y shape, y broadcastable)
MATMUL_CASES = [
    ((4,), None, (4,), None),
    ((3, 4), None, (4,), None),
    ((4,), None, (4, 5), None),
    ((3, 4), None, (4, 5), None),
    ((2, 3, 4), None, (2, 4, 5), None),
    ((2, 3, 4), None, (4, 5), None),
    ((4,), None, (2, 4, 5), None),
    ((2, 3, 4), None, (4,), None),
    ((1, 3, 4), (True, False, False), (2, 4, 5), None),
    ((2, 1, 3, 4), (False, True, False, False), (1, 5, 4, 2), (True, False, False, False)),
    ((0, 3, 4), None, (0, 4, 5), None),
    ((2, 3, 0), None, (0, 5), None),
]


def _bvar(shape, pattern, name):
    return T.tensor("float64", pattern or (False,) * len(shape), name=name)


@pytest.mark.parametrize("xs, xb, ys, yb", MATMUL_CASES, ids=str)
def test_matmul_values(xs, xb, ys, yb, rng):
    x, y = _bvar(xs, xb, "x"), _bvar(ys, yb, "y")
    xv, yv = rand(rng, xs), rand(rng, ys)
    out = M.matmul(x, y)
    expected = np.matmul(xv, yv)
    f = compile_py([x, y], out)
    for args in ((xv, yv), (noncontig(xv), fortran(yv))):
        got = f(*args)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    check_infer_shape([x, y], out, [xv, yv])


@pytest.mark.parametrize("xs, xb, ys, yb", [c for c in MATMUL_CASES if 0 not in c[0] + c[2]],
                         ids=str)
def test_matmul_grad(xs, xb, ys, yb, rng):
    from theanine.tensor.basic import Rebroadcast

    def fn(a, b):
        a = Rebroadcast(xb)(a) if xb else a
        b = Rebroadcast(yb)(b) if yb else b
        return M.matmul(a, b)

    check_grad(fn, [rand(rng, xs), rand(rng, ys)])


def test_matmul_broadcastable_pattern():
    assert M.matmul(T.tensor("float64", (True, False, False)),
                    T.dtensor3()).broadcastable == (False, False, False)
    assert M.matmul(T.drow(), T.dmatrix()).broadcastable == (True, False)
    assert M.matmul(T.dvector(), T.dcol()).broadcastable == (True,)


def test_matmul_refuses_stretching_a_non_broadcastable_batch_dimension(rng):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = compile_py([x, y], M.matmul(x, y))
    with pytest.raises(ValueError, match=r"x.*not broadcastable"):
        f(rand(rng, (1, 3, 4)), rand(rng, (2, 4, 5)))
    with pytest.raises(ValueError, match=r"batch dimensions"):
        f(rand(rng, (3, 3, 4)), rand(rng, (2, 4, 5)))
    with pytest.raises(ValueError, match=r"not aligned"):
        f(rand(rng, (2, 3, 4)), rand(rng, (2, 5, 5)))


def test_matmul_rejects_scalars():
    with pytest.raises(TypeError, match="matmul.*at least one dimension"):
        M.matmul(T.dscalar("s"), T.dmatrix("m"))


@pytest.mark.parametrize("a, b", [("float32", "float32"), ("int16", "int16"),
                                  ("bool", "bool"), ("complex128", "float32")])
def test_matmul_dtypes(a, b, rng):
    x, y = T.tensor(a, (False,) * 3, name="x"), T.tensor(b, (False,) * 2, name="y")
    xv, yv = rand(rng, (2, 3, 4), a, 0, 3), rand(rng, (4, 2), b, 0, 3)
    expected = np.matmul(xv, yv)
    out = M.matmul(x, y)
    assert out.dtype == str(expected.dtype)
    got = compile_py([x, y], out)(xv, yv)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_matmul_operator_on_matrices(rng):
    x, y = T.dmatrices("x", "y")
    xv, yv = rand(rng, (3, 4)), rand(rng, (4, 2))
    np.testing.assert_allclose(compile_py([x, y], x @ y)(xv, yv), xv @ yv, rtol=1e-12)


def test_matmul_operator_is_numpy_matmul_for_stacks(rng):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    xv, yv = rand(rng, (2, 3, 4)), rand(rng, (2, 4, 5))
    got = compile_py([x, y], x @ y)(xv, yv)
    np.testing.assert_allclose(got, xv @ yv, rtol=1e-12)


# complex products: gradients through real parametrizations (Theano's complex convention) ---------
@pytest.mark.parametrize("product, xs, ys", [
    ("dot", (3, 4), (4, 2)), ("dot", (4,), (4, 2)), ("dot", (3, 4), (4,)), ("dot", (4,), (4,)),
    ("dot", (2, 3, 4), (2, 4, 2)), ("tensordot", (2, 3, 4), (2, 4, 2)),
    ("matmul", (2, 3, 4), (2, 4, 2)), ("batched_dot", (2, 3, 4), (2, 4, 2))], ids=str)
def test_complex_product_gradients(product, xs, ys, rng):
    fn = {"dot": T.dot, "matmul": M.matmul, "batched_dot": T.batched_dot,
          "tensordot": lambda a, b: M.tensordot(a, b, [[2], [1]])}[product]

    def cost(a, b, c, d):
        return M.real(fn(M.complex(a, b), M.complex(c, d)) * (1 + 0.5j))

    check_grad(cost, [rand(rng, xs), rand(rng, xs), rand(rng, ys), rand(rng, ys)])


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
def test_outer_flattens_its_operands_as_numpy(rng):
    x, y = T.dmatrix("x"), T.dtensor3("y")
    xv, yv = rand(rng, (2, 3)), rand(rng, (2, 1, 2))
    out = T.outer(x, y)
    np.testing.assert_allclose(compile_py([x, y], out)(noncontig(xv), yv), np.outer(xv, yv),
                               rtol=1e-15)
    check_grad(T.outer, [xv, yv])
    s = T.dscalar("s")
    np.testing.assert_allclose(compile_py([s, x], T.outer(s, x))(2.0, xv), np.outer(2.0, xv))


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
