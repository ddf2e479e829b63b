"""nlinalg (diag, trace, det, matrix_inverse, solve) against NumPy: values on random, empty
and non-contiguous inputs, dtypes, clear errors, gradients (verify_grad) and infer_shape."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.tensor import math as M
from theanine.tensor import nlinalg


def _well_conditioned(rng, n, dtype="float64"):
    return (rand(rng, (n, n), low=-1, high=1) + 3 * np.eye(n)).astype(dtype)


# diag / trace ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 3), (0, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("k", [0, 1, -2, 4, -6])
def test_diag_of_a_matrix(shape, k, rng):
    x = T.dmatrix("x")
    xv = rand(rng, shape)
    out = nlinalg.diag(x, k)
    expected = np.diag(xv, k)
    f = compile_py([x], [out, nlinalg.extract_diag(x, k)])
    for arg in (xv, noncontig(xv), fortran(xv)):
        for got in f(arg):
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    if expected.size:
        check_grad(lambda v: nlinalg.diag(v, k), [xv])


@pytest.mark.parametrize("n", [0, 1, 4])
@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag_of_a_vector(n, k, rng):
    v = T.dvector("v")
    vv = rand(rng, (n,))
    out = nlinalg.diag(v, k)
    got = compile_py([v], out)(noncontig(vv))
    np.testing.assert_array_equal(got, np.diag(vv, k))
    check_infer_shape([v], out, [vv])
    if n:
        check_grad(lambda a: nlinalg.diag(a, k), [vv])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint32", "float16", "float32",
                                   "complex64"])
def test_diag_keeps_the_dtype(dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (3, 4), "float64" if dtype[0] == "c" else dtype, 0, 5).astype(dtype)
    got = compile_py([x], nlinalg.diag(x))(xv)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.diag(xv))


def test_diag_rejects_other_ranks():
    with pytest.raises(TypeError, match="diag.*vector or a matrix.*x"):
        nlinalg.diag(T.dtensor3("x"))


def test_alloc_diag_checks_the_length(rng):
    from theanine.tensor.nlinalg import AllocDiag

    v = T.dvector("v")
    f = compile_py([v], AllocDiag(1)(v, 3, 3))
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), np.diag([1.0, 2.0], 1))
    with pytest.raises(ValueError, match="v has 3"):
        f(np.ones(3))


@pytest.mark.parametrize("shape, offset", [((4, 4), 0), ((3, 5), 1), ((5, 3), -2),
                                           ((0, 0), 0), ((2, 3), 5)], ids=str)
def test_trace(shape, offset, rng):
    x = T.dmatrix("x")
    xv = rand(rng, shape)
    out = nlinalg.trace(x, offset)
    got = compile_py([x], out)(fortran(xv))
    np.testing.assert_allclose(got, np.trace(xv, offset), rtol=1e-14)
    assert got.shape == ()
    if xv.size:
        check_grad(lambda v: nlinalg.trace(v, offset), [xv])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int64", "float32", "complex128"])
def test_trace_dtypes_follow_numpy(dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (3, 3), "float64" if dtype[0] == "c" else dtype, 0, 5).astype(dtype)
    out = nlinalg.trace(x)
    expected = np.trace(xv)
    assert out.dtype == str(expected.dtype)
    np.testing.assert_allclose(compile_py([x], out)(xv), expected, rtol=1e-6)


# det / matrix_inverse / solve -----------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 3, 5])
def test_det(n, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (n, n))
    out = nlinalg.det(x)
    got = compile_py([x], out)(noncontig(xv))
    np.testing.assert_allclose(got, np.linalg.det(xv), rtol=1e-12)
    assert got.shape == ()
    check_infer_shape([x], out, [xv])
    if n:
        check_grad(nlinalg.det, [_well_conditioned(rng, n)])


@pytest.mark.parametrize("n", [0, 1, 4])
def test_matrix_inverse(n, rng):
    x = T.dmatrix("x")
    xv = _well_conditioned(rng, n)
    out = nlinalg.matrix_inverse(x)
    got = compile_py([x], [out, nlinalg.inv(x)])(fortran(xv))
    for g in got:
        np.testing.assert_allclose(g, np.linalg.inv(xv), rtol=1e-12, atol=1e-14)
    check_infer_shape([x], out, [xv])
    if n:
        check_grad(nlinalg.matrix_inverse, [xv])


def test_matrix_inverse_is_not_the_elementwise_inv(rng):
    x = T.dmatrix("x")
    xv = _well_conditioned(rng, 3)
    mat, elem = compile_py([x], [nlinalg.inv(x), M.inv(x)])(xv)
    np.testing.assert_allclose(mat, np.linalg.inv(xv), rtol=1e-12)
    np.testing.assert_allclose(elem, 1 / xv, rtol=1e-15)


@pytest.mark.parametrize("bshape", [(4,), (4, 2), (4, 0)], ids=str)
def test_solve(bshape, rng):
    a, b = T.dmatrix("a"), T.tensor("float64", (False,) * len(bshape), name="b")
    av, bv = _well_conditioned(rng, 4), rand(rng, bshape)
    out = nlinalg.solve(a, b)
    got = compile_py([a, b], out)(noncontig(av), fortran(bv))
    np.testing.assert_allclose(got, np.linalg.solve(av, bv), rtol=1e-12, atol=1e-14)
    check_infer_shape([a, b], out, [av, bv])
    if bv.size:
        check_grad(nlinalg.solve, [av, bv])


def test_solve_of_empty_system():
    a, b = T.dmatrix("a"), T.dvector("b")
    got = compile_py([a, b], nlinalg.solve(a, b))(np.zeros((0, 0)), np.zeros(0))
    assert got.shape == (0,)


@pytest.mark.parametrize("dtype, expected", [("bool", "float64"), ("int32", "float64"),
                                             ("uint8", "float64"), ("float32", "float32"),
                                             ("float64", "float64"),
                                             ("complex64", "complex64")])
def test_linalg_dtypes_follow_numpy(dtype, expected, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = np.triu(np.ones((3, 3))) + np.eye(3) * (dtype != "bool")  # nonsingular
    xv, bv = xv.astype(dtype), np.ones(3, dtype=dtype)
    outs = [nlinalg.det(x), nlinalg.matrix_inverse(x), nlinalg.solve(x, x[0])]
    got = compile_py([x], outs)(xv)
    refs = [np.linalg.det(xv), np.linalg.inv(xv), np.linalg.solve(xv, xv[0])]
    for out, g, r in zip(outs, got, refs):
        assert out.dtype == expected == str(r.dtype) == str(g.dtype)
        np.testing.assert_allclose(g, r, rtol=1e-5)
    assert str(np.linalg.solve(xv, bv).dtype) == expected


@pytest.mark.parametrize("fn", [nlinalg.det, nlinalg.matrix_inverse,
                                lambda v: nlinalg.solve(v, v[0])])
def test_float16_is_refused_as_numpy_does(fn):
    with pytest.raises(TypeError, match="x is float16"):
        fn(T.tensor("float16", (False, False), name="x"))


@pytest.mark.parametrize("fn, name", [(nlinalg.det, "det"),
                                      (nlinalg.matrix_inverse, "matrix_inverse")])
def test_non_square_is_a_clear_error(fn, name, rng):
    x = T.dmatrix("x")
    f = compile_py([x], fn(x))
    with pytest.raises(ValueError, match=rf"{name}: x must be a square matrix.*\(3, 4\)"):
        f(rand(rng, (3, 4)))


def test_singular_matrix_is_a_clear_error():
    x = T.dmatrix("x")
    with pytest.raises(np.linalg.LinAlgError, match="matrix_inverse of x"):
        compile_py([x], nlinalg.matrix_inverse(x))(np.ones((2, 2)))
    with pytest.raises(np.linalg.LinAlgError, match="solve with x"):
        compile_py([x], nlinalg.solve(x, x[0]))(np.ones((2, 2)))


def test_solve_shape_mismatch_names_the_inputs(rng):
    a, b = T.dmatrix("a"), T.dvector("b")
    f = compile_py([a, b], nlinalg.solve(a, b))
    with pytest.raises(ValueError, match=r"a has shape \(3, 3\) but b has shape \(4,\)"):
        f(_well_conditioned(rng, 3), rand(rng, (4,)))


@pytest.mark.parametrize("fn", [nlinalg.det, nlinalg.matrix_inverse, nlinalg.trace])
def test_matrix_ops_reject_other_ranks(fn):
    with pytest.raises(TypeError, match="takes a matrix.*v"):
        fn(T.dvector("v"))


def test_complex_linalg_gradients(rng):
    """Through real parametrizations, with Theano's complex-gradient convention."""
    def cost(a, b, c, d):
        z = M.complex(a, b)
        return M.real(nlinalg.det(z) * (1 - 0.5j)) + M.imag(
            M.sum(nlinalg.solve(z, M.complex(c, d))) + nlinalg.trace(nlinalg.matrix_inverse(z)))

    check_grad(cost, [_well_conditioned(rng, 3), rand(rng, (3, 3), low=-0.3, high=0.3),
                      rand(rng, (3,)), rand(rng, (3,))])
