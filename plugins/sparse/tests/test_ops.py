"""Every sparse Op against scipy.sparse / NumPy, on every installed backend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_sparse

import theanine
import theanine.sparse as S
import theanine.tensor as T

FORMATS = ["csr", "csc"]


def _same_structure(got, ref) -> None:
    assert got.format == ref.format
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_array_equal(got.indptr, ref.indptr)


@pytest.mark.parametrize("fmt", FORMATS)
def test_conversions(theanine_backend, rng, fmt):
    value = random_sparse(rng, (5, 4), fmt)
    x = S.matrix(fmt, "x", "float64")
    d = T.dmatrix("d")
    f = theanine.function([x, d], [S.dense_from_sparse(x), S.csr_from_dense(d),
                                   S.csc_from_dense(d), S.transpose(x), x.T,
                                   S.to_format(x, "csc" if fmt == "csr" else "csr"),
                                   S.cast(x, "float32"), x.toarray()])
    dense = value.toarray()
    got = f(value, dense)
    np.testing.assert_array_equal(got[0], dense)
    for k, fmt_k in ((1, "csr"), (2, "csc")):
        assert got[k].format == fmt_k and got[k].nnz == value.nnz
        np.testing.assert_array_equal(got[k].toarray(), dense)
    for k in (3, 4):
        assert got[k].format != fmt
        np.testing.assert_array_equal(got[k].toarray(), dense.T)
    assert got[5].format != fmt
    np.testing.assert_array_equal(got[5].toarray(), dense)
    assert got[6].dtype == np.float32
    np.testing.assert_array_equal(got[6].toarray(), dense.astype("float32"))
    np.testing.assert_array_equal(got[7], dense)


@pytest.mark.parametrize("fmt", FORMATS)
def test_csm_properties_and_csm_roundtrip(theanine_backend, rng, fmt):
    value = random_sparse(rng, (4, 6), fmt)
    x = S.matrix(fmt, "x", "float64")
    data, indices, indptr, shape = S.csm_properties(x)
    rebuilt = S.CSM(fmt)(data * 2, indices, indptr, shape)
    f = theanine.function([x], [data, indices, indptr, shape, rebuilt, x.shape])
    got = f(value)
    np.testing.assert_array_equal(got[0], value.data)
    np.testing.assert_array_equal(got[1], value.indices)
    np.testing.assert_array_equal(got[2], value.indptr)
    np.testing.assert_array_equal(got[3], value.shape)
    assert got[1].dtype == np.int32 and got[3].dtype == np.int64
    _same_structure(got[4], value)
    np.testing.assert_array_equal(got[4].data, 2 * value.data)
    np.testing.assert_array_equal(got[5], value.shape)
    # outputs viewing the input are copies: the caller's matrix is not exposed
    got[0][:] = 0
    assert value.data.any()


def test_csm_refuses_inconsistent_components(theanine_backend):
    data, ind, ptr, shp = T.dvector("data"), T.ivector("i"), T.ivector("p"), T.lvector("s")
    f = theanine.function([data, ind, ptr, shp], S.CSR(data, ind, ptr, shp))
    with pytest.raises(ValueError, match="got 2 values for 1 indices"):
        f(np.ones(2), np.zeros(1, "int32"), np.array([0, 1], "int32"), np.array([1, 1]))
    with pytest.raises(TypeError, match="indices must be an integer vector"):
        S.CSR(data, data, ptr, shp)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_sp_sum(theanine_backend, rng, fmt, axis):
    value = random_sparse(rng, (5, 7), fmt)
    x = S.matrix(fmt, "x", "float64")
    got = theanine.function([x], S.sp_sum(x, axis))(value)
    want = np.asarray(value.sum(axis=axis)).reshape(() if axis is None else -1)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(theanine.function([x], x.sum(axis))(value), want, rtol=1e-12)


# a dense operand on the left goes through S.add/S.sub/S.mul: a tensor's own operators take
# tensors only (the core's TensorOperators do not hand over to a sparse right operand)
@pytest.mark.parametrize("fmt", FORMATS)
def test_add_sub_keep_or_leave_sparsity(theanine_backend, rng, fmt):
    a, b = random_sparse(rng, (4, 5), fmt), random_sparse(rng, (4, 5), fmt)
    d = rng.normal(size=(4, 5))
    row = rng.normal(size=5)
    x, y = S.matrix(fmt, "x", "float64"), S.matrix(fmt, "y", "float64")
    dm, dv = T.dmatrix("dm"), T.dvector("dv")
    outs = [x + y, x - y, x + dm, S.add(dm, x), x - dm, S.sub(dm, x), x + dv, S.add(x, 2.0), -x,
            S.add(x, S.to_format(y, "csc" if fmt == "csr" else "csr"))]
    got = theanine.function([x, y, dm, dv], outs)(a, b, d, row)
    A, B = a.toarray(), b.toarray()
    for k, want in enumerate([A + B, A - B, A + d, d + A, A - d, d - A, A + row, A + 2.0, -A,
                              A + B]):
        assert sp.issparse(got[k]) == (k in (0, 1, 8, 9)), k
        value = got[k].toarray() if sp.issparse(got[k]) else got[k]
        np.testing.assert_allclose(value, want, rtol=1e-12, err_msg=f"output {k}")
    _same_structure(got[8], a)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mul_keeps_the_structure(theanine_backend, rng, fmt):
    a, b = random_sparse(rng, (4, 5), fmt), random_sparse(rng, (4, 5), fmt)
    d = rng.normal(size=(4, 5))
    row = rng.normal(size=5)
    x, y = S.matrix(fmt, "x", "float64"), S.matrix(fmt, "y", "float64")
    dm, dv = T.dmatrix("dm"), T.dvector("dv")
    got = theanine.function([x, y, dm, dv], [x * y, x * dm, S.mul(dm, x), x * dv, x * 3, 3 * x])(
        a, b, d, row)
    A, B = a.toarray(), b.toarray()
    for k, want in enumerate([A * B, A * d, d * A, A * row, 3 * A, 3 * A]):
        assert sp.issparse(got[k]) and got[k].format == fmt
        np.testing.assert_allclose(got[k].toarray(), want, rtol=1e-12, err_msg=f"output {k}")
    for k in range(1, 6):
        _same_structure(got[k], a)


def test_python_numbers_keep_the_sparse_dtype():
    x = S.csr_matrix("x", dtype="float32")
    assert (x * 2).dtype == (x * 0.5).dtype == S.add(x, 1.5).dtype == "float32"
    assert (x * T.dscalar()).dtype == "float64"


def test_elementwise_shape_mismatch_is_named(theanine_backend, rng):
    x, y = S.csr_matrix("x", dtype="float64"), S.csr_matrix("y", dtype="float64")
    d = T.dmatrix("d")
    f = theanine.function([x, y], x + y)
    with pytest.raises(ValueError, match=r"sparse operands of shapes \(2, 3\) and \(3, 2\)"):
        f(random_sparse(rng, (2, 3)), random_sparse(rng, (3, 2)))
    g = theanine.function([x, d], x * d)
    with pytest.raises(ValueError, match=r"dense operand of shape \(1, 3\) does not match"):
        g(random_sparse(rng, (2, 3)), np.ones((1, 3)))


STRUCTURED = [
    ("neg", np.negative), ("sqr", np.square), ("sqrt", np.sqrt), ("abs_", np.abs),
    ("sgn", np.sign), ("ceil", np.ceil), ("floor", np.floor), ("trunc", np.trunc),
    ("log1p", np.log1p), ("expm1", np.expm1), ("sin", np.sin), ("tan", np.tan),
    ("arcsin", np.arcsin), ("arctan", np.arctan), ("sinh", np.sinh), ("tanh", np.tanh),
    ("arcsinh", np.arcsinh), ("arctanh", np.arctanh), ("structured_exp", np.exp),
    ("structured_log", np.log), ("structured_sigmoid", lambda v: 1 / (1 + np.exp(-v))),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_structured_functions(theanine_backend, rng, fmt):
    value = random_sparse(rng, (6, 5), fmt)
    value.data = np.abs(value.data) * 0.6  # in (0.3, 0.9): inside every domain
    x = S.matrix(fmt, "x", "float64")
    fns = [getattr(S, name) for name, _ in STRUCTURED]
    got = theanine.function([x], [fn(x) for fn in fns] + [S.structured_pow(x, 3)])(value)
    for (name, ref), out in zip(STRUCTURED + [("structured_pow", lambda v: v ** 3)], got):
        _same_structure(out, value)
        np.testing.assert_allclose(out.data, ref(value.data), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dot_and_structured_dot(theanine_backend, rng, fmt):
    a, b = random_sparse(rng, (5, 4), fmt), random_sparse(rng, (4, 3), fmt)
    m, v = rng.normal(size=(4, 3)), rng.normal(size=4)
    left, left_v = rng.normal(size=(2, 5)), rng.normal(size=5)
    x, y = S.matrix(fmt, "x", "float64"), S.matrix(fmt, "y", "float64")
    dm, dv, lm, lv = T.dmatrix("dm"), T.dvector("dv"), T.dmatrix("lm"), T.dvector("lv")
    outs = [S.dot(x, dm), S.structured_dot(x, dm), S.dot(x, dv), S.structured_dot(x, dv),
            S.dot(lm, x), S.dot(lv, x), S.dot(x, y)]
    got = theanine.function([x, y, dm, dv, lm, lv], outs)(a, b, m, v, left, left_v)
    A, B = a.toarray(), b.toarray()
    wants = [A @ m, A @ m, A @ v, A @ v, left @ A, left_v @ A, A @ B]
    for k, want in enumerate(wants[:6]):
        assert isinstance(got[k], np.ndarray) and got[k].shape == want.shape, k
        np.testing.assert_allclose(got[k], want, rtol=1e-12, err_msg=f"output {k}")
    assert got[6].format == fmt
    np.testing.assert_allclose(got[6].toarray(), wants[6], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_dot_dtypes(theanine_backend, rng, dtype):
    a = random_sparse(rng, (5, 4), "csr", dtype="float64")
    a.data = np.round(a.data * 3)
    a = a.astype(dtype)
    m = np.round(rng.normal(size=(4, 3)) * 3).astype(dtype)
    x = S.csr_matrix("x", dtype=dtype)
    y = T.TensorType(dtype, (False, False))("y")
    got = theanine.function([x, y], S.structured_dot(x, y))(a, m)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, a.toarray() @ m, rtol=1e-6)


def test_dot_errors(theanine_backend, rng):
    x = S.csr_matrix("x", dtype="float64")
    with pytest.raises(TypeError, match="one operand must be sparse"):
        S.dot(T.dmatrix(), T.dmatrix())
    with pytest.raises(TypeError, match="structured_dot: the left operand must be sparse"):
        S.structured_dot(T.dmatrix(), x)
    with pytest.raises(TypeError, match="dense operand must be a vector or a matrix"):
        S.dot(x, T.tensor3())
    m = T.dmatrix("m")
    f = theanine.function([x, m], S.dot(x, m))
    with pytest.raises((ValueError, RuntimeError), match="do not align"):
        f(random_sparse(rng, (3, 4)), np.ones((5, 2)))
