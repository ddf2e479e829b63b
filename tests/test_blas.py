"""Gemm: the op against NumPy with its gradient, and the rewrite that introduces it."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.gradient import verify_grad
from theanine.tensor.blas import Gemm, gemm

RANKS = [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2))]


@pytest.mark.parametrize("xs, ys", RANKS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_matches_numpy(xs, ys, dtype, rng):
    x, y = rng.normal(size=xs).astype(dtype), rng.normal(size=ys).astype(dtype)
    z = rng.normal(size=(x @ y).shape).astype(dtype)
    xv, yv, zv = (T.tensor(dtype, (False,) * v.ndim) for v in (x, y, z))
    a, b = T.scalar(dtype=dtype), T.scalar(dtype=dtype)
    f = th.function([zv, a, xv, yv, b], gemm(zv, a, xv, yv, b))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(f(z, 0.5, x, y, -2.0), -2.0 * z + 0.5 * (x @ y), rtol=tol,
                               atol=tol)
    # non-contiguous operands
    np.testing.assert_allclose(f(z, 1.0, np.asfortranarray(x), y, 0.0), x @ y, rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("xs, ys", RANKS)
def test_gemm_gradient(xs, ys, rng):
    x, y = rng.normal(size=xs), rng.normal(size=ys)
    z = rng.normal(size=(x @ y).shape)
    verify_grad(lambda z_, a, x_, y_, b: Gemm()(z_, a, x_, y_, b),
                [z, np.array(0.7), x, y, np.array(-1.3)])


def test_gemm_refuses_misaligned_shapes():
    x, y, z = T.dmatrices("x", "y", "z")
    f = th.function([z, x, y], gemm(z, 1.0, x, y, 1.0))
    with pytest.raises(ValueError, match="not aligned"):
        f(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2)))


def test_dot_plus_scaled_update_becomes_gemm():
    X, G = T.dmatrices("X", "G")
    lr = T.dscalar("lr")
    W = th.shared(np.ones((3, 2)), name="W")
    expr = 0.9 * W - lr * T.dot(X.T, G)
    f = th.function([X, G, lr], expr)
    g = th.function([X, G, lr], expr, mode=Mode(optimizer=None))
    assert any(isinstance(n.op, Gemm) for n in f.maker.fgraph.apply_nodes)
    assert "dot_to_gemm" in th.explain(f)
    Xv, Gv = np.arange(12.0).reshape(4, 3), np.ones((4, 2))
    np.testing.assert_allclose(f(Xv, Gv, 0.5), g(Xv, Gv, 0.5))
    np.testing.assert_allclose(W.get_value(), np.ones((3, 2)))  # the shared value is untouched


def test_dot_used_elsewhere_is_not_recomputed_by_gemm():
    x, z = T.dmatrices("x", "z")
    d = T.dot(x, x.T)
    f = th.function([x, z], [z + d, d * 2])
    assert not any(isinstance(n.op, Gemm) for n in f.maker.fgraph.apply_nodes)
