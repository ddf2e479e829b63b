"""Gradients against numerical ones (finite differences on the stored entries of sparse
inputs, see conftest.verify_sparse_grad) and against NumPy formulas, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sparse, verify_sparse_grad
from theanine_sparse.math import structured

import theanine
import theanine.sparse as S
import theanine.tensor as T
from theanine.gradient import grad_scale
from theanine.testing import GradientError, verify_grad

FORMATS = ["csr", "csc"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_structured_dot_grad(theanine_backend, rng, fmt):
    a = random_sparse(rng, (5, 4), fmt)
    verify_sparse_grad(S.structured_dot, [a], [rng.normal(size=(4, 3))])
    verify_sparse_grad(S.structured_dot, [a], [rng.normal(size=4)])


@pytest.mark.parametrize("fmt", FORMATS)
def test_structured_dot_grad_lives_on_the_stored_entries(theanine_backend, rng, fmt):
    a, m = random_sparse(rng, (5, 4), fmt), rng.normal(size=(4, 3))
    x, y = S.matrix(fmt, "x", "float64"), T.dmatrix("y")
    gx, gy = theanine.grad(T.sqr(S.structured_dot(x, y)).sum(), [x, y])
    got_x, got_y = theanine.function([x, y], [gx, gy])(a, m)
    A = a.toarray()
    gz = 2 * (A @ m)
    assert got_x.format == fmt and got_x.nnz == a.nnz
    np.testing.assert_allclose(got_x.toarray(), np.where(A != 0, gz @ m.T, 0), rtol=1e-12)
    np.testing.assert_allclose(got_y, A.T @ gz, rtol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dot_grad_is_the_full_gradient(theanine_backend, rng, fmt):
    a, m = random_sparse(rng, (5, 4), fmt), rng.normal(size=(4, 3))
    x, y = S.matrix(fmt, "x", "float64"), T.dmatrix("y")
    gx = theanine.grad(T.sqr(S.dot(x, y)).sum(), x)
    got = theanine.function([x, y], gx)(a, m)
    assert got.format == fmt
    np.testing.assert_allclose(got.toarray(), 2 * (a.toarray() @ m) @ m.T, rtol=1e-12)
    # numerically, through a dense parameter with every entry stored
    dense = rng.uniform(0.5, 1.5, size=(5, 4))
    to_sparse = S.csr_from_dense if fmt == "csr" else S.csc_from_dense
    verify_grad(lambda d, w: S.dot(to_sparse(d), w), [dense, m])
    verify_grad(lambda d, w: S.dot(to_sparse(d), w), [dense, rng.normal(size=4)])


@pytest.mark.parametrize("fmt", FORMATS)
def test_dense_by_sparse_and_sparse_by_sparse_grads(theanine_backend, rng, fmt):
    a, b = random_sparse(rng, (4, 5), fmt), random_sparse(rng, (5, 3), fmt)
    verify_sparse_grad(lambda s, d: S.dot(d, s), [a], [rng.normal(size=(2, 4))])
    verify_sparse_grad(lambda s, d: S.dot(d, s), [a], [rng.normal(size=4)])
    verify_sparse_grad(S.dot, [a, b])


@pytest.mark.parametrize("fmt", FORMATS)
def test_elementwise_grads(theanine_backend, rng, fmt):
    a, b = random_sparse(rng, (4, 5), fmt), random_sparse(rng, (4, 5), fmt)
    d, row = rng.normal(size=(4, 5)), rng.normal(size=5)
    verify_sparse_grad(S.add, [a, b])
    verify_sparse_grad(lambda x, y: x - y, [a, b])
    verify_sparse_grad(lambda x, y: x * y, [a, b])
    verify_sparse_grad(S.add, [a], [d])
    verify_sparse_grad(S.add, [a], [row])
    verify_sparse_grad(lambda x, y: x * y, [a], [d])
    verify_sparse_grad(lambda x, y: x * y, [a], [row])
    verify_sparse_grad(lambda x, y: x * y, [a], [np.asarray(1.7)])


@pytest.mark.parametrize("name", ["neg", "sqr", "sqrt", "tanh", "sin", "arctan", "log1p",
                                  "structured_exp", "structured_log", "structured_sigmoid"])
def test_structured_function_grads(theanine_backend, rng, name):
    a = random_sparse(rng, (4, 5), "csr")
    a.data = np.abs(a.data)  # positive: inside the domain of sqrt and log
    verify_sparse_grad(getattr(S, name), [a])
    verify_sparse_grad(lambda x: S.structured_pow(x, 3), [a])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("sparse_grad", [False, True])
def test_sp_sum_grads(theanine_backend, rng, fmt, axis, sparse_grad):
    a = random_sparse(rng, (4, 5), fmt)
    verify_sparse_grad(lambda x: S.sp_sum(x, axis, sparse_grad) ** 2, [a])
    x = S.matrix(fmt, "x", "float64")
    w = rng.normal(size=() if axis is None else (5 if axis == 0 else 4))
    g = theanine.function([x], theanine.grad((S.sp_sum(x, axis, sparse_grad) * w).sum(), x))(a)
    full = np.broadcast_to(w if axis != 1 else w[:, None], (4, 5))
    want = np.where(a.toarray() != 0, full, 0) if sparse_grad else full
    np.testing.assert_allclose(g.toarray(), want, rtol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_conversion_grads(theanine_backend, rng, fmt):
    a = random_sparse(rng, (4, 5), fmt)
    other = "csc" if fmt == "csr" else "csr"
    verify_sparse_grad(S.transpose, [a])
    verify_sparse_grad(lambda x: S.to_format(x, other), [a])
    verify_sparse_grad(lambda x: S.cast(x, "float32") * 2, [a], eps=1e-3, abs_tol=1e-3,
                       rel_tol=1e-3)
    verify_sparse_grad(S.dense_from_sparse, [a])
    to_sparse = S.csr_from_dense if fmt == "csr" else S.csc_from_dense
    verify_grad(lambda d: S.dense_from_sparse(to_sparse(d)) ** 2,
                [rng.uniform(0.5, 1.5, size=(3, 4))])


def test_verify_sparse_grad_catches_a_wrong_gradient(rng):
    """The local numerical check is not vacuous: a structured function whose gradient is
    twice the true one fails it."""
    doubled = structured(lambda data: grad_scale(data, 2.0), "doubled_gradient")
    with pytest.raises(GradientError):
        verify_sparse_grad(doubled, [random_sparse(rng, (3, 3))])
