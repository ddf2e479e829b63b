"""Issue 11, `T.slinalg` and the rest of `T.nlinalg`: values against SciPy / NumPy, the
gradients Theano defined against finite differences (verify_grad), shapes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from op_checks import check_grad, check_infer_shape, compile_py, rand

import theanine
import theanine.tensor as T
from theanine.tensor import nlinalg, slinalg


def _spd(rng, n):
    a = rand(rng, (n, n), low=-1, high=1)
    return a @ a.T + n * np.eye(n)


def _tri_well(rng, n, lower):
    a = rand(rng, (n, n), low=-1, high=1) + 4 * np.eye(n)
    return np.tril(a) if lower else np.triu(a)


# cholesky ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(lower, rng):
    x = T.dmatrix("x")
    xv = _spd(rng, 4)
    out = slinalg.Cholesky(lower)(x)
    got = compile_py([x], out)(xv)
    np.testing.assert_allclose(got, scipy.linalg.cholesky(xv, lower=lower))
    check_infer_shape([x], out, [xv])
    # the factor reads one triangle: any matrix whose triangle is positive definite will do
    messy = xv + (np.triu(rand(rng, (4, 4)), 1) if lower else np.tril(rand(rng, (4, 4)), -1))
    check_grad(slinalg.Cholesky(lower), [messy])
    check_grad(lambda a: slinalg.cholesky(a.dot(a.T) + 4 * T.eye(4, dtype="float64")),
               [rand(rng, (4, 4))])


def test_cholesky_errors_and_nan(rng):
    x = T.dmatrix("x")
    bad = -np.eye(3)
    with pytest.raises(np.linalg.LinAlgError, match="cholesky of x"):
        compile_py([x], slinalg.cholesky(x))(bad)
    assert np.isnan(compile_py([x], slinalg.Cholesky(on_error="nan")(x))(bad)).all()
    with pytest.raises(TypeError, match="cholesky takes a matrix, got v"):
        slinalg.cholesky(T.dvector("v"))


# solve -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bshape", [(4,), (4, 2)], ids=str)
@pytest.mark.parametrize("assume_a", ["gen", "sym", "pos"])
@pytest.mark.parametrize("lower", [False, True])
def test_solve_assume_a(bshape, assume_a, lower, rng):
    a = T.dmatrix("a")
    b = T.tensor("float64", (False,) * len(bshape), name="b")
    av, bv = _spd(rng, 4), rand(rng, bshape)
    out = slinalg.solve(a, b, assume_a=assume_a, lower=lower)
    got = compile_py([a, b], out)(av, bv)
    np.testing.assert_allclose(got, scipy.linalg.solve(av, bv, assume_a=assume_a, lower=lower))
    check_infer_shape([a, b], out, [av, bv])
    # sym/pos read one triangle only: the gradient is checked on a non-symmetric matrix
    messy = av + 0.3 * (np.triu(rand(rng, (4, 4)), 1) if lower else
                        np.tril(rand(rng, (4, 4)), -1))
    check_grad(lambda x, y: slinalg.solve(x, y, assume_a=assume_a, lower=lower),
               [messy if assume_a != "gen" else av, bv])


@pytest.mark.parametrize("structure", ["general", "symmetric", "lower_triangular",
                                       "upper_triangular"])
def test_solve_with_theanos_a_structure(structure, rng):
    a, b = T.dmatrix("a"), T.dvector("b")
    lower = structure == "lower_triangular"
    av = _tri_well(rng, 4, lower) if structure.endswith("triangular") else _spd(rng, 4)
    bv = rand(rng, (4,))
    got = compile_py([a, b], slinalg.solve(a, b, A_structure=structure))(av, bv)
    np.testing.assert_allclose(got, np.linalg.solve(av, bv))
    dense = av + rand(rng, (4, 4)) * 0.2  # triangular solves read only their triangle
    if structure.endswith("triangular"):
        expected = np.linalg.solve(np.tril(dense) if lower else np.triu(dense), bv)
        got = compile_py([a, b], slinalg.Solve(structure)(a, b))(dense, bv)
        np.testing.assert_allclose(got, expected)
        check_grad(slinalg.Solve(structure), [dense, bv])
    with pytest.raises(ValueError, match="A_structure must be one of"):
        slinalg.Solve("banded")


@pytest.mark.parametrize("trans", [0, 1, "C"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular(trans, lower, unit_diagonal, rng):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    av = _tri_well(rng, 4, lower) + rand(rng, (4, 4)) * 0.1  # the other triangle is ignored
    bv = rand(rng, (4, 3))
    out = slinalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    expected = scipy.linalg.solve_triangular(av, bv, trans=trans, lower=lower,
                                             unit_diagonal=unit_diagonal)
    np.testing.assert_allclose(compile_py([a, b], out)(av, bv), expected)
    check_grad(lambda x, y: slinalg.solve_triangular(x, y, trans=trans, lower=lower,
                                                     unit_diagonal=unit_diagonal), [av, bv])


def test_solve_shape_errors(rng):
    a, b = T.dmatrix("a"), T.dvector("b")
    f = compile_py([a, b], slinalg.solve(a, b))
    with pytest.raises(ValueError, match=r"a has shape \(3, 3\) but b has shape \(2,\)"):
        f(np.eye(3), np.ones(2))
    with pytest.raises(ValueError, match="a must be a square matrix"):
        f(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="assume_a must be one of"):
        slinalg.solve(a, b, assume_a="banded")


# eigvalsh ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lower", [True, False])
def test_eigvalsh(lower, rng):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    av, bv = _spd(rng, 4), _spd(rng, 4)
    f = compile_py([a, b], [slinalg.eigvalsh(a, None, lower), slinalg.eigvalsh(a, b, lower)])
    w, gw = f(av, bv)
    np.testing.assert_allclose(w, scipy.linalg.eigvalsh(av))
    np.testing.assert_allclose(gw, scipy.linalg.eigvalsh(av, bv))
    check_infer_shape([a], slinalg.eigvalsh(a, None, lower), [av])
    skew = rand(rng, (4, 4)) * 0.2
    check_grad(lambda x: slinalg.eigvalsh(x, None, lower), [av + skew])
    check_grad(lambda x, y: slinalg.eigvalsh(x, y, lower), [av + skew, bv + skew.T])


# expm --------------------------------------------------------------------------------------
def test_expm(rng):
    a = T.dmatrix("a")
    av = rand(rng, (4, 4), low=-1, high=1)
    out = slinalg.expm(a)
    np.testing.assert_allclose(compile_py([a], out)(av), scipy.linalg.expm(av))
    check_infer_shape([a], out, [av])
    check_grad(slinalg.expm, [av])
    with pytest.raises(ValueError, match="a must be a square matrix"):
        compile_py([a], out)(np.ones((2, 3)))


# kron --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ashape, bshape", [((2, 3), (4, 2)), ((3,), (2,)), ((2,), (3, 2)),
                                            ((2, 2, 2), (1, 3, 2))], ids=str)
def test_kron(ashape, bshape, rng):
    a = T.tensor("float64", (False,) * len(ashape), name="a")
    b = T.tensor("float64", (False,) * len(bshape), name="b")
    av, bv = rand(rng, ashape), rand(rng, bshape)
    np.testing.assert_allclose(compile_py([a, b], slinalg.kron(a, b))(av, bv), np.kron(av, bv))
    check_grad(slinalg.kron, [av, bv])


# nlinalg: norm -----------------------------------------------------------------------------
@pytest.mark.parametrize("ord_", [None, 1, 2, 3, 0.5, np.inf, -np.inf, "inf", "-inf", 0])
def test_norm_of_a_vector(ord_, rng):
    x = T.dvector("x")
    xv = rand(rng, (6,), low=-2, high=2)
    xv[2] = 0.0
    ref = np.linalg.norm(xv, {"inf": np.inf, "-inf": -np.inf}.get(ord_, ord_))
    np.testing.assert_allclose(compile_py([x], nlinalg.norm(x, ord_))(xv), ref)
    if ord_ != 0:  # at a point where no entry is 0 (|x|^p is not differentiable there)
        xv[2] = 0.7
        check_grad(lambda v: nlinalg.norm(v, ord_), [xv])


@pytest.mark.parametrize("ord_", [None, "fro", 1, -1, np.inf, -np.inf, 2, -2, "nuc"])
def test_norm_of_a_matrix(ord_, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4), low=-2, high=2)
    np.testing.assert_allclose(compile_py([x], nlinalg.norm(x, ord_))(xv),
                               np.linalg.norm(xv, ord_))
    if ord_ not in (2, -2, "nuc"):
        check_grad(lambda v: nlinalg.norm(v, ord_), [xv])


def test_norm_errors():
    with pytest.raises(ValueError, match="invalid order 'bad' for the matrix m"):
        nlinalg.norm(T.dmatrix("m"), "bad")
    with pytest.raises(TypeError, match="vector or a matrix, got t"):
        nlinalg.norm(T.dtensor3("t"))


# nlinalg: lstsq, pinv, qr, svd -------------------------------------------------------------
@pytest.mark.parametrize("bshape", [(5,), (5, 2)], ids=str)
def test_lstsq(bshape, rng):
    a = T.dmatrix("a")
    b = T.tensor("float64", (False,) * len(bshape), name="b")
    av, bv = rand(rng, (5, 3)), rand(rng, bshape)
    got = compile_py([a, b], nlinalg.lstsq(a, b))(av, bv)
    expected = np.linalg.lstsq(av, bv)
    assert got[2].dtype == np.int64
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e)
    r = T.dscalar("r")
    got = compile_py([a, b, r], nlinalg.lstsq(a, b, r)[0])(av, bv, 0.5)
    np.testing.assert_allclose(got, np.linalg.lstsq(av, bv, rcond=0.5)[0])


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 5)], ids=str)
def test_pinv(shape, rng):
    x = T.dmatrix("x")
    xv = rand(rng, shape, low=-1, high=1)
    out = nlinalg.pinv(x)
    np.testing.assert_allclose(compile_py([x], out)(xv), np.linalg.pinv(xv))
    check_infer_shape([x], out, [xv])
    check_grad(nlinalg.pinv, [xv])


@pytest.mark.parametrize("mode", ["reduced", "complete", "r", "raw"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5)], ids=str)
def test_qr(mode, shape, rng):
    x = T.dmatrix("x")
    xv = rand(rng, shape)
    out = nlinalg.qr(x, mode)
    outs = out if isinstance(out, list) else [out]
    got = compile_py([x], outs)(xv)
    expected = np.linalg.qr(xv, mode)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e)
    check_infer_shape([x], outs[0], [xv])


@pytest.mark.parametrize("full_matrices", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5)], ids=str)
def test_svd(full_matrices, shape, rng):
    x = T.dmatrix("x")
    xv = rand(rng, shape)
    u, s, vh = nlinalg.svd(x, full_matrices)
    gu, gs, gvh = compile_py([x], [u, s, vh])(xv)
    eu, es, evh = np.linalg.svd(xv, full_matrices)
    np.testing.assert_allclose(gs, es)
    np.testing.assert_allclose(np.abs(gu), np.abs(eu), atol=1e-12)
    np.testing.assert_allclose(np.abs(gvh), np.abs(evh), atol=1e-12)
    check_infer_shape([x], u, [xv])
    only_s = compile_py([x], nlinalg.svd(x, compute_uv=False))(xv)
    np.testing.assert_allclose(only_s, es)


# nlinalg: eig, eigh, det, inverse, trace, diagonals, powers --------------------------------
def test_eig(rng):
    x = T.dmatrix("x")
    sym = _spd(rng, 4)
    w, v = compile_py([x], nlinalg.eig(x))(sym)
    np.testing.assert_allclose(sym @ v, v * w, atol=1e-10)
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(sym))
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="x has complex eigenvalues"):
        compile_py([x], nlinalg.eig(x))(rotation)
    z = T.zmatrix("z")
    wz, _ = compile_py([z], nlinalg.eig(z))(rotation.astype(complex))
    np.testing.assert_allclose(np.sort(wz.imag), [-1.0, 1.0])
    np.testing.assert_allclose(wz.real, 0.0, atol=1e-12)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(uplo, rng):
    x = T.dmatrix("x")
    xv = _spd(rng, 4)
    w, v = nlinalg.eigh(x, uplo)
    gw, gv = compile_py([x], [w, v])(xv)
    ew, ev = np.linalg.eigh(xv, uplo)
    np.testing.assert_allclose(gw, ew)
    np.testing.assert_allclose(np.abs(gv), np.abs(ev), atol=1e-12)
    skew = rand(rng, (4, 4)) * 0.3  # only one triangle is read
    check_grad(lambda a: nlinalg.eigh(a, uplo)[0], [xv + skew])
    # eigenvectors are defined up to sign: a sign-free function of them
    check_grad(lambda a: nlinalg.eigh(a, uplo)[1] ** 2, [xv + skew])
    check_grad(lambda a: nlinalg.eigh(a, uplo)[0].sum() + (nlinalg.eigh(a, uplo)[1] ** 2
                                                           ).sum(axis=0), [xv + skew])


def test_det_inverse_trace_diagonals(rng):
    x = T.dmatrix("x")
    v = T.dvector("v")
    xv = _spd(rng, 3)
    vv = rand(rng, (3,))
    f = compile_py([x, v], [nlinalg.det(x), nlinalg.matrix_inverse(x), nlinalg.trace(x),
                            nlinalg.extract_diag(x), nlinalg.alloc_diag(v), nlinalg.diag(v)])
    d, inv, tr, ed, ad, dg = f(xv, vv)
    np.testing.assert_allclose(d, np.linalg.det(xv))
    np.testing.assert_allclose(inv, np.linalg.inv(xv))
    np.testing.assert_allclose(tr, np.trace(xv))
    np.testing.assert_array_equal(ed, np.diag(xv))
    np.testing.assert_array_equal(ad, np.diag(vv))
    np.testing.assert_array_equal(dg, np.diag(vv))


@pytest.mark.parametrize("n", [-2, 0, 1, 3])
def test_matrix_power_and_matrix_dot(n, rng):
    x = T.dmatrix("x")
    xv = _spd(rng, 3) / 3
    np.testing.assert_allclose(compile_py([x], nlinalg.matrix_power(x, n))(xv),
                               np.linalg.matrix_power(xv, n))
    y, z = T.dmatrix("y"), T.dmatrix("z")
    yv, zv = rand(rng, (3, 2)), rand(rng, (2, 4))
    np.testing.assert_allclose(compile_py([x, y, z], nlinalg.matrix_dot(x, y, z))(xv, yv, zv),
                               xv @ yv @ zv)


def test_namespaces():
    assert T.slinalg is slinalg and T.nlinalg is nlinalg
    for name in ("cholesky", "solve", "solve_triangular", "eigvalsh", "expm", "kron"):
        assert callable(getattr(T.slinalg, name)), name
    for name in ("norm", "lstsq", "pinv", "qr", "svd", "det", "matrix_inverse", "eig", "eigh",
                 "trace", "diag", "extract_diag", "alloc_diag"):
        assert callable(getattr(T.nlinalg, name)), name
    assert theanine.tensor.slinalg.solve_lower_triangular.A_structure == "lower_triangular"
