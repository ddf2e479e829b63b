"""Shared values that a function updates are overwritten in place, only after every reader.

The reference is NumPy run on copies: whatever the destroy handler lets a node overwrite, the
outputs and the new shared values must be those of the plain computation.
"""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.tensor.blas import Gemm
from theanine.tensor.elemwise import Elemwise


def _destroyers(f) -> list:
    return [n for n in f.maker.fgraph.apply_nodes if n.op.destroy_map]


def _destroys_input(f, shared) -> bool:
    """Whether some node of `f` overwrites the graph input standing for `shared`."""
    k = f.shared_vars.index(shared) + len(f.specs)
    target = f.maker.fgraph.inputs[k]
    return any(n.inputs[i] is target for n in _destroyers(f)
               for ins in n.op.destroy_map.values() for i in ins)


def test_sgd_weight_update_accumulates_into_the_shared_value():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((6, 4))
    xv, dv = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    W = theanine.shared(w0.copy(), name="W")
    x, d = T.dmatrix("x"), T.dmatrix("d")
    loss = ((T.dot(x, W) - d) ** 2).sum()
    step = theanine.function([x, d], loss, updates=[(W, W - 0.1 * T.grad(loss, W))])
    gemms = [n for n in step.maker.fgraph.apply_nodes if isinstance(n.op, Gemm)]
    assert [n.op.inplace for n in gemms] == [True]
    assert _destroys_input(step, W)
    expected = w0.copy()
    for _ in range(3):
        before = W.get_value(borrow=True)
        got = step(xv, dv)
        np.testing.assert_allclose(got, ((xv @ expected - dv) ** 2).sum())
        expected = expected - 0.1 * 2 * xv.T @ (xv @ expected - dv)
        np.testing.assert_allclose(W.get_value(), expected)
        if step.maker.backend.name in ("python", "c"):  # host memory: the same buffer
            assert W.get_value(borrow=True) is before


def test_readers_the_update_does_not_depend_on_run_before_it():
    w0 = np.arange(6.0).reshape(2, 3)
    W = theanine.shared(w0.copy(), name="W")
    f = theanine.function([], [W.sum(), (W.T * 3).sum(axis=0)], updates=[(W, W * 2)])
    # neither reader feeds the update: the graph's order puts them before it
    assert _destroys_input(f, W)
    order = f.maker.fgraph.toposort()
    target = f.maker.fgraph.inputs[len(f.specs)]
    writer = next(n for n in order if n.op.destroy_map and target in n.inputs)
    readers = [n for n in order if n is not writer and any(
        i is target or (i.owner is not None and target in i.owner.inputs) for i in n.inputs)]
    assert readers and all(order.index(r) < order.index(writer) for r in readers)
    for k in range(3):
        total, cols = f()
        assert total == (w0 * 2 ** k).sum()
        np.testing.assert_allclose(cols, (w0.T * 2 ** k * 3).sum(axis=0))
    np.testing.assert_allclose(W.get_value(), w0 * 8)


def test_a_reader_that_depends_on_the_update_keeps_the_value_intact():
    w0 = np.array([1.0, -2.0, 4.0])
    W = theanine.shared(w0.copy(), name="W")
    V = theanine.shared(np.zeros(3), name="V")
    doubled = W * 2
    f = theanine.function([], [], updates=[(W, doubled), (V, doubled + W)])
    f()
    np.testing.assert_allclose(W.get_value(), w0 * 2)
    np.testing.assert_allclose(V.get_value(), w0 * 3)


def test_an_updated_value_that_is_also_an_output_is_returned_as_it_was():
    w0 = np.array([1.0, 2.0, 3.0])
    W = theanine.shared(w0.copy(), name="W")
    f = theanine.function([], W, updates=[(W, W + 1)])
    assert not _destroys_input(f, W)
    for k in range(3):
        np.testing.assert_allclose(f(), w0 + k)
    np.testing.assert_allclose(W.get_value(), w0 + 3)


def test_a_reader_the_update_depends_on_comes_first():
    w0 = np.array([1.0, -2.0, 4.0])
    W = theanine.shared(w0.copy(), name="W")
    s = W.sum()
    f = theanine.function([], s, updates=[(W, W - s)])
    assert _destroys_input(f, W)  # the sum is an ancestor of the update: in place is safe
    np.testing.assert_allclose(f(), w0.sum())
    np.testing.assert_allclose(W.get_value(), w0 - w0.sum())


def test_two_updates_reading_one_value_both_see_the_old_one():
    w0 = np.array([1.0, 2.0])
    W = theanine.shared(w0.copy(), name="W")
    V = theanine.shared(np.zeros(2), name="V")
    f = theanine.function([], [], updates=[(W, W + 1), (V, W * 2)])
    f()
    np.testing.assert_allclose(W.get_value(), w0 + 1)
    np.testing.assert_allclose(V.get_value(), w0 * 2)


def test_a_value_read_by_a_function_without_updates_is_never_overwritten():
    w0 = np.array([1.0, 2.0])
    W = theanine.shared(w0.copy(), name="W")
    f = theanine.function([], W * 2)
    assert not _destroyers(f) or not _destroys_input(f, W)
    f()
    np.testing.assert_allclose(W.get_value(), w0)


def test_a_mutable_default_without_update_is_not_overwritten():
    x = T.dvector("x")
    default = np.array([1.0, 2.0])
    f = theanine.function([theanine.In(x, value=default, mutable=True)], x + 1)
    assert not _destroyers(f)
    for _ in range(2):
        np.testing.assert_allclose(f(), [2.0, 3.0])
    np.testing.assert_allclose(default, [1.0, 2.0])


@pytest.mark.parametrize("steps", [1, 4])
def test_an_updated_state_input_is_overwritten_correctly(steps):
    s, x = T.dvector("s"), T.dvector("x")
    new = s * 0.5 + x
    f = theanine.function([x, theanine.In(s, value=np.zeros(2), update=new)], new.sum())
    assert any(isinstance(n.op, Elemwise) and n.op.destroy_map for n in _destroyers(f))
    state, xv = np.zeros(2), np.array([1.0, 3.0])
    for _ in range(steps):
        state = state * 0.5 + xv
        np.testing.assert_allclose(f(xv), state.sum())


def test_a_lazy_reader_keeps_the_value_intact():
    from theanine.ifelse import ifelse

    w0 = np.array([1.0, 2.0, 5.0])
    W = theanine.shared(w0.copy(), name="W")
    c = T.bscalar("c")
    f = theanine.function([c], ifelse(c, W.sum(), T.constant(0.0, dtype="float64")),
                          updates=[(W, W * 2)])
    assert not _destroys_input(f, W)  # the sum runs only in its branch: no order to impose
    assert f(1) == w0.sum()
    assert f(0) == 0.0
    assert f(1) == (w0 * 4).sum()


def test_a_copy_without_updates_leaves_the_values_alone():
    w0 = np.array([1.0, 2.0])
    W = theanine.shared(w0.copy(), name="W")
    s, x = T.dvector("s"), T.dvector("x")
    new = s * 0.5 + x
    f = theanine.function([x, theanine.In(s, value=np.ones(2), update=new)], new.sum(),
                          updates=[(W, W * 2)])
    frozen = f.copy(delete_updates=True)
    for _ in range(2):
        assert frozen(np.zeros(2)) == 1.0  # the state stays ones
    np.testing.assert_allclose(W.get_value(), w0)
    assert f(np.zeros(2)) == 1.0 and f(np.zeros(2)) == 0.5
    np.testing.assert_allclose(W.get_value(), w0 * 4)


def test_an_output_that_numpy_would_alias_is_not_overwritten_by_the_update():
    # np.real(x) returns x itself for a real x: the output must not share W's buffer
    w0 = np.array([1.0, -2.0, 3.0])
    W = theanine.shared(w0.copy(), name="W")
    f = theanine.function([], T.real(W), updates=[(W, W * 2)])
    np.testing.assert_allclose(f(), w0)
    np.testing.assert_allclose(f(), w0 * 2)
    np.testing.assert_allclose(W.get_value(), w0 * 4)


def test_an_update_reading_its_value_through_a_view_writes_elsewhere():
    # an in-place (W + W.T) / 2 would overwrite W[0, 1] before reading it as W.T[1, 0]
    w0 = np.arange(9.0).reshape(3, 3) ** 2
    W = theanine.shared(w0.copy(), name="W")
    f = theanine.function([], [], updates=[(W, (W + W.T) / 2)])
    assert not _destroys_input(f, W)
    f()
    np.testing.assert_allclose(W.get_value(), (w0 + w0.T) / 2)
