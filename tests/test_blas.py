"""Gemm: the op against NumPy with its gradient, and the rewrite that introduces it."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.gradient import verify_grad
from theanine.tensor.blas import Gemm, gemm
from theanine.tensor.elemwise import DimShuffle

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


@pytest.mark.parametrize("wv", [T.dvector, T.dmatrix])
def test_weight_decay_step_is_one_inplace_gemm(wv, rng):
    """w - lr * (x.T @ dz + l2 * w): the gradient's gemm(w, 1, x.T, dz, l2) folds into the
    update, gemm(w, -lr, x.T, dz, 1 - lr * l2), which overwrites w (the shared value)."""
    x, dz = T.dmatrix("x"), wv("dz")
    lr = T.dscalar("lr")
    w0 = rng.normal(size=(3,) if wv is T.dvector else (3, 2))
    w = th.shared(w0.copy(), name="w")
    step = th.function([x, dz, lr], [], updates=[(w, w - lr * (T.dot(x.T, dz) + 0.02 * w))])
    gemms = [n for n in step.maker.fgraph.apply_nodes if isinstance(n.op, Gemm)]
    assert len(gemms) == 1 and gemms[0].op.inplace, th.explain(step)
    # besides the gemm: x's transpose and the scalar arithmetic of lr, no pass over w
    others = [n for n in step.maker.fgraph.apply_nodes
              if not isinstance(n.op, Gemm | DimShuffle) and n.outputs[0].ndim]
    assert not others, others
    xv, dzv = rng.normal(size=(5, 3)), rng.normal(size=(5,) + w0.shape[1:])
    step(xv, dzv, 0.1)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * (xv.T @ dzv + 0.02 * w0), rtol=1e-12)


def test_gemm_of_another_accumulator_is_not_folded():
    """b*z + c*gemm(u, ...) with u not z: two accumulators, no single gemm."""
    x, y, z, u = T.dmatrices("x", "y", "z", "u")
    f = th.function([x, y, z, u], z - 0.5 * (T.dot(x, y) + 0.3 * u))
    vals = [np.arange(4.0).reshape(2, 2) + k for k in range(4)]
    xv, yv, zv, uv = vals
    np.testing.assert_allclose(f(*vals), zv - 0.5 * (xv @ yv + 0.3 * uv))


def test_dot_used_elsewhere_is_not_recomputed_by_gemm():
    x, z = T.dmatrices("x", "z")
    d = T.dot(x, x.T)
    f = th.function([x, z], [z + d, d * 2])
    assert not any(isinstance(n.op, Gemm) for n in f.maker.fgraph.apply_nodes)


@pytest.mark.parametrize("order_x, order_y, order_z", [
    (ox, oy, oz) for ox in "CF" for oy in "CF" for oz in "CF"] + [("S", "S", "S")])
def test_gemm_every_memory_layout(order_x, order_y, order_z, rng):
    def arr(shape, order):
        if order == "S":  # strided in both orders
            return rng.normal(size=(shape[0] * 2, shape[1] * 2))[::2, ::2]
        return np.asarray(rng.normal(size=shape), order=order)

    x, y, z = arr((3, 4), order_x), arr((4, 5), order_y), arr((3, 5), order_z)
    zv, xv, yv = T.dmatrices("z", "x", "y")
    f = th.function([zv, xv, yv], gemm(zv, 0.5, xv, yv, -1.5))
    np.testing.assert_allclose(f(z, x, y), 0.5 * (x @ y) - 1.5 * z, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
def test_gemv_both_layouts(order, rng):
    A = np.asarray(rng.normal(size=(3, 4)), order=order)
    v4, v3 = rng.normal(size=4), rng.normal(size=3)
    Av, xv, zv = T.dmatrix("A"), T.dvector("x"), T.dvector("z")
    f = th.function([zv, Av, xv], gemm(zv, 2.0, Av, xv, 1.0))
    np.testing.assert_allclose(f(v3, A, v4), 2.0 * (A @ v4) + v3, rtol=1e-12)
    g = th.function([zv, xv, Av], gemm(zv, 2.0, xv, Av, 1.0))
    np.testing.assert_allclose(g(v4, v3, A), 2.0 * (v3 @ A) + v4, rtol=1e-12)
