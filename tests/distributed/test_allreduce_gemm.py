"""`AllreduceGemm` in one process (no mpiexec): the data-parallel weight update
`W - lr * allreduce(dot(x.T, d))` as one node, against NumPy; which updates the
`distributed_gemm` rewrite turns into it.  test_mpi.py runs it on every allreduce path."""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.distributed as dist
import theanine.tensor as T
from theanine.distributed import gemm, shared_memory
from theanine.distributed.ops import Allreduce, AllreduceGemm

pytestmark = pytest.mark.skipif(dist.launched_by_mpiexec(),
                                reason="these tests expect a process not started by mpiexec")


def _ops(f) -> list:
    return [n.op for n in f.maker.fgraph.toposort()
            if isinstance(n.op, Allreduce | AllreduceGemm)]


def _step(W, lr, mode=None, op="mean"):
    x, d = T.matrix("x", dtype=W.dtype), T.matrix("d", dtype=W.dtype)
    return theanine.function([x, d], [], mode=mode,
                             updates=[(W, W - lr * dist.allreduce(T.dot(x.T, d), op))])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["mean", "sum"])
def test_update_of_a_large_weight_is_one_allreduce_gemm_equal_to_numpy(dtype, op, rng,
                                                                       monkeypatch):
    monkeypatch.setattr(gemm, "MIN_BYTES", 0)
    w0 = rng.standard_normal((7, 5)).astype(dtype)
    x, d = (rng.standard_normal(s).astype(dtype) for s in [(4, 7), (4, 5)])
    W = theanine.shared(w0.copy(), name="W")
    step = _step(W, 0.25, op=op)
    assert [str(o) for o in _ops(step)] == ["AllreduceGemm{inplace}"]
    step(x, d)
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(W.get_value(), w0 - 0.25 * x.T @ d, rtol=tol, atol=tol)
    assert W.get_value().dtype == dtype


def test_small_weights_keep_the_fused_allreduce(rng):
    W = theanine.shared(np.zeros((7, 5)), name="W")
    assert W.get_value().nbytes < gemm.MIN_BYTES
    assert [type(o) for o in _ops(_step(W, 0.25))] == [Allreduce]


def test_the_rewrite_can_be_excluded(monkeypatch):
    monkeypatch.setattr(gemm, "MIN_BYTES", 0)
    W = theanine.shared(np.zeros((7, 5)), name="W")
    mode = theanine.compile.mode.get_default_mode().excluding("distributed_gemm")
    assert [type(o) for o in _ops(_step(W, 0.25, mode))] == [Allreduce]


def test_a_product_read_elsewhere_is_not_folded(monkeypatch, rng):
    monkeypatch.setattr(gemm, "MIN_BYTES", 0)
    W = theanine.shared(np.zeros((7, 5)), name="W")
    x, d = T.dmatrix("x"), T.dmatrix("d")
    g = dist.allreduce(T.dot(x.T, d))
    f = theanine.function([x, d], g, updates=[(W, W - 0.5 * g)])
    assert [type(o) for o in _ops(f)] == [Allreduce]


@pytest.mark.parametrize("inplace", [False, True])
def test_op_computes_z_plus_alpha_times_the_product(inplace, rng):
    z, x, y = T.dmatrix("z"), T.dmatrix("x"), T.dmatrix("y")
    node = AllreduceGemm(1, (0,) if inplace else ()).make_node(z, T.constant(-0.5), x, y)
    zv = rng.standard_normal((3, 2))
    xv, yv = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    before = zv.copy()
    storage = [[None]]
    node.op.perform(node, [zv, -0.5, xv, yv], storage)
    np.testing.assert_allclose(storage[0][0], before - 0.5 * xv @ yv, rtol=1e-14)
    assert (storage[0][0] is zv) == inplace
    if not inplace:
        np.testing.assert_array_equal(zv, before)


def test_shapes_that_do_not_multiply_into_z_are_named(rng):
    z, x, y = T.dmatrix("W1"), T.dmatrix("x"), T.dmatrix("d")
    node = AllreduceGemm().make_node(z, T.constant(1.0), x, y)
    with pytest.raises(ValueError, match=r"x \(3, 4\) times d \(4, 2\) does not give the "
                                         r"shape of W1, \(3, 3\)"):
        node.op.perform(node, [np.zeros((3, 3)), 1.0, np.zeros((3, 4)), np.zeros((4, 2))],
                        [[None]])


def test_make_node_rejects_other_ranks_and_dtypes():
    with pytest.raises(TypeError, match="matrices"):
        AllreduceGemm()(T.dvector("z"), 1.0, T.dmatrix("x"), T.dmatrix("y"))
    with pytest.raises(TypeError, match="share a float dtype"):
        AllreduceGemm()(T.fmatrix("z"), 1.0, T.dmatrix("x"), T.dmatrix("y"))


def test_fusion_joins_the_other_gradients_to_one_node_equal_to_numpy(rng, monkeypatch):
    monkeypatch.setattr(gemm, "MIN_BYTES", 0)
    w1, w2 = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    b = rng.standard_normal(4)
    W1, W2, B = (theanine.shared(v.copy(), name=n) for v, n in [(w1, "W1"), (w2, "W2"), (b, "b")])
    x, d1, d2 = T.dmatrix("x"), T.dmatrix("d1"), T.dmatrix("d2")
    h = T.dmatrix("h")
    step = theanine.function([x, h, d1, d2], [], updates=[
        (W1, W1 - 0.1 * dist.allreduce(T.dot(x.T, d1), "mean")),
        (W2, W2 - 0.2 * dist.allreduce(T.dot(h.T, d2), "mean")),
        (B, B - 0.3 * dist.allreduce(d1.sum(0), "mean"))])
    assert [str(o) for o in _ops(step)] == ["AllreduceGemm{2 products,inplace}"]
    xv, hv = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    d1v, d2v = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    step(xv, hv, d1v, d2v)
    np.testing.assert_allclose(W1.get_value(), w1 - 0.1 * xv.T @ d1v, rtol=1e-14)
    np.testing.assert_allclose(W2.get_value(), w2 - 0.2 * hv.T @ d2v, rtol=1e-14)
    np.testing.assert_allclose(B.get_value(), b - 0.3 * d1v.sum(0), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [1.0, -0.25])
@pytest.mark.parametrize("aligned", [True, False])
def test_add_scaled_updates_out_in_place_even_in_unaligned_memory(dtype, alpha, aligned, rng):
    """The products' update (BLAS axpy): BLAS copies an unaligned array instead of writing it
    (a shared window's slice could be one), which must still land in `out`."""
    item = np.dtype(dtype).itemsize
    raw = np.zeros(7 * item + 1, np.uint8)
    out = raw[0 if aligned else 1:][:7 * item].view(dtype)
    assert out.flags.aligned == aligned
    out[...] = rng.standard_normal(7)
    x = rng.standard_normal(7).astype(dtype)
    expected = out + np.asarray(alpha, dtype) * x
    shared_memory.add_scaled(out, out.dtype.type(alpha), x)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
