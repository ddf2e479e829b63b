"""Scan states the loop owns are overwritten in place by the step (`scan_module.ownership`):
an accumulator's update becomes an in-place node, the caller's initial value and sequences
stay untouched, and a state whose new value shares memory with something that outlives the
step is copied on every step instead.  Values against NumPy loops, on the configured backend
and on the Python backend."""

from __future__ import annotations

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.scan_module import Scan, scan
from theanine.scan_module.ownership import copies

MODES = [None, Mode(backend="python")]


def _scan_node(f):
    return next(n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan))


def _overwritten_states(f):
    """{state index: how its input is copied} of the compiled function's Scan, and whether
    some inner node overwrites a state input."""
    op = _scan_node(f).op
    return copies(op, op.inner)


@pytest.mark.parametrize("mode", MODES)
def test_accumulator_is_updated_in_place_and_the_initial_value_is_kept(mode, rng):
    xs, ds = T.tensor3("xs", dtype="float64"), T.tensor3("ds", dtype="float64")
    acc0 = T.dmatrix("acc0")
    acc, _ = scan(lambda x, d, acc: acc + T.dot(x.T, d), sequences=[xs, ds],
                  outputs_info=[acc0])
    f = th.function([xs, ds, acc0], acc[-1], mode=mode)
    assert _overwritten_states(f) == {0: "first"}
    xv, dv = rng.standard_normal((6, 3, 4)), rng.standard_normal((6, 3, 5))
    init = rng.standard_normal((4, 5))
    kept = init.copy()
    want = init + sum(x.T @ d for x, d in zip(xv, dv))
    np.testing.assert_allclose(f(xv, dv, init), want, rtol=1e-12)
    np.testing.assert_allclose(f(xv, dv, init), want, rtol=1e-12)
    np.testing.assert_array_equal(init, kept)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_gradient_accumulates_in_place(mode, rng):
    x, h0, w = T.tensor3("x", dtype="float64"), T.dmatrix("h0"), T.dmatrix("w")
    h, _ = scan(lambda x_t, h, w: T.tanh(x_t + T.dot(h, w)), sequences=[x],
                outputs_info=[h0], non_sequences=[w])
    cost = h[-1].sum()
    f = th.function([x, h0, w], th.grad(cost, w), mode=mode)
    grad_scan = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)][-1].op
    assert "first" in copies(grad_scan, grad_scan.inner).values()
    xv, hv, wv = rng.standard_normal((7, 2, 3)), rng.standard_normal((2, 3)), \
        rng.standard_normal((3, 3)) * 0.5
    hs, hp = [], hv
    for t in range(7):
        hp = np.tanh(xv[t] + hp @ wv)
        hs.append(hp)
    g_h, g_w = np.ones_like(hv), np.zeros_like(wv)
    for t in range(6, -1, -1):
        g_pre = g_h * (1 - hs[t] ** 2)
        g_w += (hs[t - 1] if t else hv).T @ g_pre
        g_h = g_pre @ wv.T
    np.testing.assert_allclose(f(xv, hv, wv), g_w, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_state_that_views_a_sequence_is_copied_every_step(mode, rng):
    """s takes the sequence's row (a view); the step also doubles s, which the rewrites may
    do in place: the loop must then copy s on every step, or the sequence changes."""
    x, s0 = T.dmatrix("x"), T.dvector("s0")
    (s, doubled), _ = scan(lambda x_t, s: [x_t, s * 2], sequences=[x],
                           outputs_info=[s0, None])
    f = th.function([x, s0], [s[-1], doubled], mode=mode)
    assert _overwritten_states(f).get(0) in (None, "every")
    xv, sv = rng.standard_normal((5, 4)), rng.standard_normal(4)
    kept_x, kept_s = xv.copy(), sv.copy()
    last, dbl = f(xv, sv)
    np.testing.assert_array_equal(last, xv[-1])
    np.testing.assert_allclose(dbl, 2 * np.vstack([sv, xv[:-1]]))
    np.testing.assert_array_equal(xv, kept_x)
    np.testing.assert_array_equal(sv, kept_s)


@pytest.mark.parametrize("mode", MODES)
def test_state_shared_with_another_output_keeps_each_steps_value(mode, rng):
    """The new state is also returned, transposed, on every step: overwriting it on the next
    step must not change the rows already returned."""
    acc0, x = T.dmatrix("acc0"), T.tensor3("x", dtype="float64")
    (acc, seen), _ = scan(lambda x_t, a: [a + x_t, (a + x_t).T], sequences=[x],
                          outputs_info=[acc0, None])
    f = th.function([x, acc0], [acc[-1], seen], mode=mode)
    xv, av = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3))
    sums = av + np.cumsum(xv, axis=0)
    last, rows = f(xv, av)
    np.testing.assert_allclose(last, sums[-1])
    np.testing.assert_allclose(rows, sums.transpose(0, 2, 1))
