"""`theanine.scan`: loops against NumPy loops, gradients against finite differences, and the
scan rewrites by what the compiled graph contains."""

from collections import OrderedDict

import numpy as np
import pytest

import theanine as th
import theanine.scan_module.rewriting as scan_rewriting
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.gradient import verify_grad
from theanine.plugins import PluginRegistry, use_registry
from theanine.scan_module import Scan, ScanError, foldl, foldr, reduce, scan
from theanine.scan_module import map as scan_map
from theanine.tensor.elemwise import DimShuffle
from theanine.tensor.random import MRG_RandomStreams, RandomStreams

NO_REWRITES = Mode(optimizer=None)


@pytest.fixture(autouse=True)
def scan_rewrites():
    """The scan rewrites registered as they are once built in (until then, in-process)."""
    registry = PluginRegistry()
    with use_registry(registry):
        if not registry.pm.is_registered(scan_rewriting):
            registry.register(scan_rewriting)
        yield registry


def scans_of(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def rnn_reference(x, h0, w):
    h, out = h0, []
    for x_t in x:
        h = np.tanh(h @ w + x_t)
        out.append(h)
    return np.array(out)


# Forward ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [None, NO_REWRITES], ids=["rewritten", "as built"])
def test_state_and_output_match_a_numpy_loop(rng, mode):
    X, h0, W = T.dmatrix("X"), T.dvector("h0"), T.dmatrix("W")

    def step(x, prev, w):
        h = T.tanh(T.dot(prev, w) + x)
        return h, (h ** 2).sum()

    (h, energy), updates = scan(step, sequences=[X], outputs_info=[h0, None],
                                non_sequences=[W])
    assert updates == OrderedDict()
    f = th.function([X, h0, W], [h, energy], mode=mode)
    xv, hv, wv = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))
    got_h, got_e = f(xv, hv, wv)
    want = rnn_reference(xv, hv, wv)
    np.testing.assert_allclose(got_h, want, rtol=1e-12)
    np.testing.assert_allclose(got_e, (want ** 2).sum(axis=1), rtol=1e-12)


def test_taps_of_outputs_and_sequences(rng):
    x = T.dvector("x")
    init = T.dvector("init")

    def step(x_prev, x_now, x_next, y2, y1):  # sequence taps, then output taps, in order
        return 0.5 * y2 - y1 + x_prev * x_next + x_now

    y, _ = scan(step, sequences=dict(input=x, taps=[-1, 0, 1]),
                outputs_info=dict(initial=init, taps=[-2, -1]))
    f = th.function([x, init], y)
    xv, iv = rng.standard_normal(8), rng.standard_normal(3)  # a longer initial: first 2 rows
    ys = [iv[0], iv[1]]
    for t in range(1, 7):
        ys.append(0.5 * ys[-2] - ys[-1] + xv[t - 1] * xv[t + 1] + xv[t])
    np.testing.assert_allclose(f(xv, iv), ys[2:], rtol=1e-12)


def test_go_backwards_reverses_the_sequences_as_theano_does(rng):
    x = T.dvector("x")
    y, _ = scan(lambda a, b, acc: acc + a * b, sequences=dict(input=x, taps=[0, 2]),
                outputs_info=T.constant(0.0, dtype="float64"), go_backwards=True)
    xv = rng.standard_normal(6)
    r = xv[::-1]
    np.testing.assert_allclose(th.function([x], y)(xv),
                               np.cumsum([r[t + 2] * r[t] for t in range(4)]), rtol=1e-12)


def test_n_steps_without_sequences_and_zero_steps():
    n = T.iscalar("n")
    fib, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=np.array([0, 1]), taps=[-2, -1]),
                  n_steps=n)
    f = th.function([n], fib)
    np.testing.assert_array_equal(f(8), [1, 2, 3, 5, 8, 13, 21, 34])
    assert f(0).shape == (0,)
    with pytest.raises(ValueError, match="number of steps must be >= 0"):
        f(-1)


def test_n_steps_with_a_longer_sequence_and_a_too_short_one():
    x = T.dvector("x")
    k = T.lscalar("k")
    y, _ = scan(lambda a, s: s + a, sequences=x, outputs_info=T.constant(0.0, dtype="float64"),
                n_steps=k)
    f = th.function([x, k], y)
    np.testing.assert_allclose(f(np.arange(5.0), 3), [0.0, 1.0, 3.0])
    with pytest.raises(ValueError, match=r"sequence 0 \(x\) has 5 entries, but 7 steps"):
        f(np.arange(5.0), 7)


def test_free_variables_shared_and_outer_expressions_are_read_once(rng):
    x = T.dvector("x")
    w = th.shared(2.0, name="w")
    c = T.dscalar("c")
    scale = T.exp(c)  # an outer expression used in the step
    y, _ = scan(lambda a: a * w + scale, sequences=x)
    f = th.function([x, c], y)
    xv = rng.standard_normal(4)
    np.testing.assert_allclose(f(xv, 0.5), xv * 2.0 + np.exp(0.5), rtol=1e-12)
    w.set_value(3.0)
    np.testing.assert_allclose(f(xv, 0.5), xv * 3.0 + np.exp(0.5), rtol=1e-12)
    inner_ops = {type(n.op).__name__ for s in scans_of(f) for n in s.op.inner.toposort()}
    assert "Elemwise" in inner_ops and not any("exp" in str(n.op) for s in scans_of(f)
                                               for n in s.op.inner.toposort())


def test_strict_refuses_variables_not_passed():
    x = T.dvector("x")
    w = th.shared(2.0, name="w")
    with pytest.raises(ScanError, match="strict=True, but fn uses w"):
        scan(lambda a: a * w, sequences=x, strict=True)
    y, _ = scan(lambda a, ww: a * ww + w * 3, sequences=x, non_sequences=[w], strict=True)
    np.testing.assert_allclose(th.function([x], y)(np.array([1.0, 2.0])), [8.0, 10.0])


def test_shared_variable_updated_inside_the_step():
    x = T.dvector("x")
    total = th.shared(np.float64(10.0), name="total")
    count = th.shared(np.int64(0), name="count")

    def step(a):
        return a * total, OrderedDict([(total, total + a), (count, count + 1)])

    y, updates = scan(step, sequences=x)
    assert list(updates) == [total, count]
    f = th.function([x], y, updates=updates)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [10.0, 22.0, 39.0])
    assert total.get_value() == 16.0 and count.get_value() == 3
    only_updates, updates = scan(lambda a: {total: total * a}, sequences=x)
    assert only_updates is None
    th.function([x], [], updates=updates)(np.array([2.0, 0.5, 4.0]))
    assert total.get_value() == 64.0


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_random_draws_inside_the_step_advance_every_step(streams):
    srng = streams(seed=234)
    x = T.dvector("x")
    y, updates = scan(lambda a: a + srng.normal((2,), dtype="float64"), sequences=x)
    assert len(updates) == 1
    (state,) = updates
    before = state.get_value()
    f = th.function([x], y, updates=updates)
    first, second = f(np.zeros(3)), f(np.zeros(3))
    assert len({tuple(r) for r in first} | {tuple(r) for r in second}) == 6  # all different
    if streams is RandomStreams:  # Theano's numbers: the steps draw in sequence
        np.testing.assert_allclose(first, [before.normal(0.0, 1.0, (2,)) for _ in range(3)])
        np.testing.assert_allclose(second, [before.normal(0.0, 1.0, (2,)) for _ in range(3)])


def test_shape_change_between_steps_is_an_error():
    x = T.dvector("x")
    h0 = T.dvector("h0")
    h, _ = scan(lambda a, h: h[:1] * a + h[:1], sequences=x, outputs_info=h0)
    with pytest.raises(ValueError, match="at step 0, output 0 of the step function has shape "
                                         r"\(1,\), but its initial value gave shape \(2,\)"):
        th.function([x, h0], h)(np.ones(3), np.ones(2))


def test_error_inside_the_step_names_the_step():
    x = T.dmatrix("x")
    w = T.dmatrix("w")
    y, _ = scan(lambda row, w: T.dot(row, w), sequences=x, non_sequences=[w], name="proj")
    in_the_loop = Mode(excluding=("scan_pushout",))  # the C backend's fast_run pushes it out
    with pytest.raises(ValueError, match=r"(?s)not aligned.*in scan 'proj' at step 0 of 2"):
        th.function([x, w], y, mode=in_the_loop)(np.ones((2, 3)), np.ones((4, 4)))
    pushed_out = Mode(including=("scan_pushout",))  # the product runs before the loop
    with pytest.raises(ValueError, match=r"\(x\) and .* \(w\) are not aligned"):
        th.function([x, w], y, mode=pushed_out)(np.ones((2, 3)), np.ones((4, 4)))


def test_bad_arguments_are_explained():
    x = T.dvector("x")
    with pytest.raises(ScanError, match="give n_steps or at least one sequence"):
        scan(lambda: T.constant(1.0))
    with pytest.raises(ScanError, match=r"fn returned 1 output\(s\) but outputs_info has 2"):
        scan(lambda a, b: a + b, sequences=x, outputs_info=[x[0], None])
    with pytest.raises(ScanError, match=r"output 0 of fn .* has type TensorType\(float32, "
                                        r"scalar\).*TensorType\(float64, scalar\)"):
        scan(lambda a, acc: T.cast(acc + a, "float32"), sequences=x, outputs_info=x[0])
    with pytest.raises(ScanError, match="must be negative"):
        scan(lambda a, b: a, sequences=x, outputs_info=dict(initial=x, taps=[0]))
    with pytest.raises(ScanError, match="needs a first dimension"):
        scan(lambda a: a, sequences=x[0])
    with pytest.raises(ScanError, match="repeat a tap"):
        scan(lambda a, b: a, sequences=dict(input=x, taps=[0, 0]))


def test_map_reduce_foldl_foldr(rng):
    x = T.dvector("x")
    xv = rng.standard_normal(5)
    squares, _ = scan_map(lambda a: a ** 2, sequences=x)
    total, _ = reduce(lambda a, acc: acc + a, sequences=x,
                      outputs_info=T.constant(0.0, dtype="float64"))
    left, _ = foldl(lambda a, acc: acc * 0.5 + a, sequences=x,
                    outputs_info=T.constant(0.0, dtype="float64"))
    right, _ = foldr(lambda a, acc: acc * 0.5 + a, sequences=x,
                     outputs_info=T.constant(0.0, dtype="float64"))
    got = th.function([x], [squares, total, left, right])(xv)

    def fold(values):
        acc = 0.0
        for v in values:
            acc = acc * 0.5 + v
        return acc

    np.testing.assert_allclose(got[0], xv ** 2)
    np.testing.assert_allclose(got[1], xv.sum())
    np.testing.assert_allclose(got[2], fold(xv))
    np.testing.assert_allclose(got[3], fold(xv[::-1]))


def test_nested_scan(rng):
    m = T.dmatrix("m")

    def row_cumsum(row):
        out, _ = scan(lambda a, acc: acc + a, sequences=row,
                      outputs_info=T.constant(0.0, dtype="float64"))
        return out

    y, _ = scan(row_cumsum, sequences=m)
    mv = rng.standard_normal((3, 4))
    np.testing.assert_allclose(th.function([m], y)(mv), np.cumsum(mv, axis=1))


def test_return_list_and_output_order():
    x = T.dvector("x")
    (a,), _ = scan(lambda v: v + 1, sequences=x, return_list=True)
    b, c, d = scan(lambda v, s: (v * 2, s + v, v - 1), sequences=x,
                   outputs_info=[None, T.constant(0.0, dtype="float64"), None])[0]
    got = th.function([x], [a, b, c, d])(np.array([1.0, 2.0]))
    np.testing.assert_allclose(np.array(got), [[2, 3], [2, 4], [1, 3], [0, 1]])


def test_output_shape_is_known_without_running_the_loop():
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    h, _ = scan(lambda a, p: T.tanh(a + p), sequences=x, outputs_info=h0)
    f = th.function([x, h0], [h.shape[0], h.shape[1]])
    np.testing.assert_array_equal(f(np.ones((7, 3)), np.ones(3)), [7, 3])
    assert not scans_of(f)


# Gradients --------------------------------------------------------------------------------
def test_grad_wrt_sequence_initial_state_and_non_sequence(rng):
    def rnn(x, h0, w):
        h, _ = scan(lambda a, p, w: T.tanh(T.dot(p, w) + a), sequences=x, outputs_info=h0,
                    non_sequences=[w])
        return h

    verify_grad(rnn, [rng.standard_normal((4, 3)), rng.standard_normal(3),
                      0.5 * rng.standard_normal((3, 3))], rng=rng)


def test_grad_through_taps_and_outputs_not_fed_back(rng):
    def fn(x, init, w):
        def step(x_prev, x_next, y2, y1, w):
            y = T.tanh(y2 * w[0] + y1 * w[1] + x_prev * x_next)
            return y, y * x_next
        (y, z), _ = scan(step, sequences=dict(input=x, taps=[-1, 1]),
                         outputs_info=[dict(initial=init, taps=[-2, -1]), None],
                         non_sequences=[w])
        return y + z ** 2

    verify_grad(fn, [rng.standard_normal(6), rng.standard_normal(2), rng.standard_normal(2)],
                rng=rng)


def test_grad_of_the_last_step_only(rng):
    # the backward loop then starts from the last row's gradient (no sequence of zeros)
    def fn(x, init):
        y, _ = scan(lambda a, y2, y1: T.tanh(y2 * a - y1), sequences=x,
                    outputs_info=dict(initial=init, taps=[-2, -1]))
        return y[-1]

    verify_grad(fn, [rng.standard_normal(4), rng.standard_normal(2)], rng=rng)
    x, init = T.dvector("x"), T.dvector("init")
    y, _ = scan(lambda a, y2, y1: T.tanh(y2 * a - y1), sequences=x,
                outputs_info=dict(initial=init, taps=[-2, -1]))
    f = th.function([x, init], T.grad(y[-1], [x, init]))
    backward = next(n for n in scans_of(f) if n.op.info.go_backwards)
    assert not any(str(v).startswith("grad_scan") for v in backward.op.inner.inputs)


def test_grad_going_backwards_with_matrix_states(rng):
    def fn(x, h0):
        h, _ = scan(lambda a, b, p: T.tanh(p * a + b), sequences=dict(input=x, taps=[0, 1]),
                    outputs_info=h0, go_backwards=True)
        return h[-1]

    verify_grad(fn, [rng.standard_normal((5, 2, 2)), rng.standard_normal((2, 2))], rng=rng)


def test_grad_wrt_a_shared_variable_used_inside(rng):
    w = th.shared(0.5 * rng.standard_normal((3, 3)), name="w")
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    h, _ = scan(lambda a, p: T.tanh(T.dot(p, w) + a), sequences=x, outputs_info=h0)
    cost = (h[-1] ** 2).sum() + h.sum()
    f = th.function([x, h0], [cost, T.grad(cost, w)])
    xv, hv = rng.standard_normal((4, 3)), rng.standard_normal(3)
    _, analytic = f(xv, hv)
    w0, eps, numeric = w.get_value(), 1e-6, np.zeros((3, 3))
    for idx in np.ndindex(3, 3):
        for sign in (1, -1):
            shifted = w0.copy()
            shifted[idx] += sign * eps
            w.set_value(shifted)
            numeric[idx] += sign * f(xv, hv)[0] / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_truncated_gradient_matches_truncated_bptt(rng):
    x, h0, w = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w")
    h, _ = scan(lambda a, p, w: T.tanh(T.dot(p, w) + a), sequences=x, outputs_info=h0,
                non_sequences=[w], truncate_gradient=2)
    gx, gh0, gw = T.grad(h.sum(), [x, h0, w])
    f = th.function([x, h0, w], [gx, gh0, gw])
    xv, hv, wv = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))
    hs = np.vstack([hv, rnn_reference(xv, hv, wv)])
    # backpropagate through the last 2 steps only; earlier steps get nothing
    want_x, want_w, adj = np.zeros_like(xv), np.zeros_like(wv), np.zeros(3)
    for t in (4, 3):
        g_pre = (adj + 1.0) * (1 - hs[t + 1] ** 2)
        want_x[t] = g_pre
        want_w += np.outer(hs[t], g_pre)
        adj = wv @ g_pre
    got_x, got_h0, got_w = f(xv, hv, wv)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-10)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-10)
    np.testing.assert_array_equal(got_h0, np.zeros(3))
    np.testing.assert_allclose(f(xv[:2], hv, wv)[1], wv @ ((1 + wv @ ((1 - hs[2] ** 2)))
                                                          * (1 - hs[1] ** 2)), rtol=1e-10)


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_grad_through_a_dropout_mask_reuses_the_draws(rng, streams):
    srng = streams(seed=3)
    x, h0, w = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w")

    def step(a, p, w):
        mask = srng.binomial((3,), p=0.5, dtype="float64")
        return T.tanh(T.dot(p, w) + a) * mask

    h, _ = scan(step, sequences=x, outputs_info=h0, non_sequences=[w])
    cost = (h ** 2).sum()
    f = th.function([x, h0, w], [cost, T.grad(cost, w)], no_default_updates=True)
    xv, hv, wv = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))
    _, analytic = f(xv, hv, wv)
    numeric = np.zeros((3, 3))
    for idx in np.ndindex(3, 3):
        d = np.zeros((3, 3))
        d[idx] = 1e-6
        numeric[idx] = (f(xv, hv, wv + d)[0] - f(xv, hv, wv - d)[0]) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    assert np.abs(analytic).sum() > 0


def test_grad_of_reduce_and_second_scan_output(rng):
    def fn(x, w):
        total, _ = reduce(lambda a, acc, w: acc * w + T.sin(a), sequences=x,
                          outputs_info=T.zeros_like(w), non_sequences=[w])
        return total

    verify_grad(fn, [rng.standard_normal((4, 2)), rng.standard_normal(2)], rng=rng)


# Rewrites ---------------------------------------------------------------------------------
def test_invariant_computations_move_out_of_the_loop(rng):
    x, h0, w = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("w")
    h, _ = scan(lambda a, p, w: T.tanh(T.dot(p, w) + a), sequences=x, outputs_info=h0,
                non_sequences=[w])
    g = T.grad(h[-1].sum(), h0)  # each backward step multiplies by w.T, which is invariant
    f = th.function([x, h0, w], g)
    backward = next(n for n in scans_of(f) if n.op.info.go_backwards)
    non_seqs = set(backward.op.non_seq_inputs())
    assert not any(isinstance(n.op, DimShuffle) and n.inputs[0] in non_seqs
                   for n in backward.op.inner.toposort())
    assert "theanine.scan_module.rewriting:scan_hoist_invariants" in th.explain(f)
    xv, hv, wv = (rng.standard_normal((3, 2, 2)), rng.standard_normal((2, 2)),
                  rng.standard_normal((2, 2)))
    as_built = th.function([x, h0, w], g, mode=NO_REWRITES)
    np.testing.assert_allclose(f(xv, hv, wv), as_built(xv, hv, wv), rtol=1e-12)


def test_outer_expressions_in_the_step_are_computed_once(rng):
    x, w, b = T.dmatrix("x"), T.dmatrix("w"), T.dvector("b")
    y, _ = scan(lambda a, w, b: T.dot(a, T.exp(w)) + b, sequences=x, non_sequences=[w, b])
    f = th.function([x, w, b], y)
    (node,) = scans_of(f)
    inner = [str(n.op) for n in node.op.inner.toposort()]
    assert not any("exp" in op or "DimShuffle" in op for op in inner), inner
    xv, wv, bv = rng.standard_normal((3, 2)), rng.standard_normal((2, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(f(xv, wv, bv), xv @ np.exp(wv) + bv, rtol=1e-12)


def test_non_sequences_are_the_callers_variables(rng):
    # Theano's Jacobian example: the step differentiates an outer expression
    v, A = T.dvector("v"), T.dmatrix("A")
    y = T.tanh(T.dot(v, A))
    J, _ = scan(lambda i, y, v: T.grad(y[i], v), sequences=T.arange(y.shape[0]),
                non_sequences=[y, v])
    vv, av = rng.standard_normal(3), rng.standard_normal((3, 4))
    want = (1 - np.tanh(vv @ av) ** 2)[:, None] * av.T
    np.testing.assert_allclose(th.function([v, A], J)(vv, av), want, rtol=1e-12)


def test_unused_outputs_and_their_work_are_dropped(rng):
    x, h0 = T.dvector("x"), T.dscalar("h0")
    (h, side), _ = scan(lambda a, p: (p + a, T.exp(a) * 2), sequences=x,
                        outputs_info=[h0, None])
    f = th.function([x, h0], h)
    (node,) = scans_of(f)
    assert node.op.info.n_nit == 0 and len(node.outputs) == 1
    assert not any("exp" in str(n.op) for n in node.op.inner.toposort())
    np.testing.assert_allclose(f(np.arange(3.0), 1.0), [1.0, 2.0, 4.0])


def test_unused_taps_keep_the_sequence_aligned(rng):
    x = T.dvector("x")
    y, _ = scan(lambda prev, now, nxt: now * 10 + nxt, sequences=dict(input=x, taps=[-1, 0, 1]))
    z, _ = scan(lambda prev, now, nxt: prev * 10 + now, sequences=dict(input=x, taps=[-1, 0, 1]))
    xv = rng.standard_normal(6)
    f = th.function([x], [y, z])
    np.testing.assert_allclose(f(xv)[0], xv[1:-1] * 10 + xv[2:])
    np.testing.assert_allclose(f(xv)[1], xv[:-2] * 10 + xv[1:-1])


def test_gradient_loop_keeps_only_what_the_requested_gradient_needs(rng):
    x, h0, w = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w")
    h, _ = scan(lambda a, p, w: T.tanh(T.dot(p, w) + a), sequences=x, outputs_info=h0,
                non_sequences=[w])
    f = th.function([x, h0, w], T.grad(h[-1].sum(), w))
    forward, backward = scans_of(f)
    assert backward.op.info.n_nit == 0  # no gradient for x is computed
    assert backward.op.info.state_keep_all == (False, False)  # adjoint and accumulator
    xv, hv, wv = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))
    unrewritten = th.function([x, h0, w], T.grad(h[-1].sum(), w), mode=NO_REWRITES)
    np.testing.assert_allclose(f(xv, hv, wv), unrewritten(xv, hv, wv), rtol=1e-12)


def test_loops_over_the_same_steps_are_merged(rng):
    x = T.dvector("x")
    a, _ = scan(lambda v, s: s + v, sequences=x, outputs_info=T.constant(0.0, dtype="float64"))
    b, _ = scan(lambda v: T.exp(v), sequences=x)
    c, _ = scan(lambda v, p: p * v, sequences=x, outputs_info=T.constant(1.0, dtype="float64"),
                go_backwards=True)
    f = th.function([x], [a, b, c])
    xv = rng.standard_normal(4)
    assert len(scans_of(f)) == 2  # a and b merge; c goes the other way
    merged = next(n for n in scans_of(f) if not n.op.info.go_backwards)
    assert merged.op.info.n_seqs == 1  # both read x: one sequence
    got = f(xv)
    np.testing.assert_allclose(got[0], np.cumsum(xv))
    np.testing.assert_allclose(got[1], np.exp(xv))
    np.testing.assert_allclose(got[2], np.cumprod(xv[::-1]))


def test_dependent_loops_are_not_merged(rng):
    x = T.dvector("x")
    a, _ = scan(lambda v: v * 2, sequences=x)
    b, _ = scan(lambda v, w: v + w, sequences=[x, a])
    f = th.function([x], b)
    assert len(scans_of(f)) == 2
    np.testing.assert_allclose(f(np.arange(3.0)), 3 * np.arange(3.0))


def test_equal_loops_are_one_node():
    x = T.dvector("x")
    a, _ = scan(lambda v: T.exp(v) + 1, sequences=x)
    b, _ = scan(lambda v: T.exp(v) + 1, sequences=x)
    assert a.owner.op == b.owner.op and hash(a.owner.op) == hash(b.owner.op)
    f = th.function([x], [a, b], mode=Mode(optimizer="fast_compile"))
    assert len(scans_of(f)) == 1


def test_reduce_keeps_only_the_last_value():
    x = T.dvector("x")
    total, _ = reduce(lambda v, s: s + v, sequences=x,
                      outputs_info=T.constant(0.0, dtype="float64"))
    f = th.function([x], total)
    (node,) = scans_of(f)
    assert node.op.info.state_keep_all == (False,)
    assert f(np.arange(5.0)) == 10.0


@pytest.mark.parametrize("mode", [None, NO_REWRITES], ids=["rewritten", "as built"])
def test_zero_steps_behave_the_same_with_and_without_rewrites(mode):
    x = T.dvector("x")
    total, _ = reduce(lambda v, s: s + v, sequences=x,
                      outputs_info=T.constant(0.0, dtype="float64"))
    with pytest.raises(IndexError):  # the last step of no steps
        th.function([x], total, mode=mode)(np.zeros(0))
    counter = th.shared(np.float64(5.0), name="counter")
    _, updates = scan(lambda v: {counter: counter + v}, sequences=x)
    th.function([x], [], updates=updates, mode=mode)(np.zeros(0))
    assert counter.get_value() == 5.0


def test_inner_graph_is_rewritten_like_the_outer_one(rng):
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    h, _ = scan(lambda a, p: T.tanh(p * 1 + a) * 2 + 1, sequences=x, outputs_info=h0)
    f = th.function([x, h0], h)
    (node,) = scans_of(f)
    inner = node.op.inner.toposort()
    assert len(inner) == 1 and "Composite" in str(inner[0].op)  # fused, x*1 gone
    xv, hv = rng.standard_normal((3, 2)), rng.standard_normal(2)
    want, p = [], hv
    for a in xv:
        p = np.tanh(p + a) * 2 + 1
        want.append(p)
    np.testing.assert_allclose(f(xv, hv), want, rtol=1e-12)
    unrewritten = th.function([x, h0], h, mode=NO_REWRITES)
    assert len(scans_of(unrewritten)[0].op.inner.toposort()) > 1


@pytest.mark.parametrize("go_backwards", [False, True])
def test_pushout_computes_the_input_projection_before_the_loop(go_backwards):
    from theanine.tensor.blas import Gemm
    from theanine.tensor.math import Dot

    x, h0, w_xh, w_hh = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("w_xh"), T.dmatrix("w_hh")
    b = T.dvector("b")
    h, _ = th.scan(lambda x_t, h, w_xh, w_hh, b: T.tanh(T.dot(x_t, w_xh) + T.dot(h, w_hh) + b),
                   sequences=[x], outputs_info=[h0], non_sequences=[w_xh, w_hh, b],
                   go_backwards=go_backwards)
    cost = h[-1].sum()
    outs = [h, th.grad(cost, w_xh), th.grad(cost, x)]
    f = th.function([x, h0, w_xh, w_hh, b], outs, mode=Mode(including=("scan_pushout",)))
    g = th.function([x, h0, w_xh, w_hh, b], outs, mode=Mode(optimizer=None))
    assert "scan_pushout_seqs" in th.explain(f)
    # opt-in on the Python backend (the C backend lists it in its fast_run_tags)
    assert "scan_pushout_seqs" not in th.explain(
        th.function([x, h0, w_xh, w_hh, b], outs, mode=Mode(backend="python")))
    forward = next(n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan))
    products = [n for n in forward.op.inner.apply_nodes if isinstance(n.op, Dot | Gemm)]
    assert len(products) == 1  # only h·w_hh is left in the loop
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4)) * 0.5,
            rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)]
    for got, want in zip(f(*args), g(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_transposed_matrix_multiplied_every_step_is_made_contiguous_once():
    from theanine.tensor.basic import Contiguous

    h0, w = T.dmatrix("h0"), T.dmatrix("w")
    h, _ = th.scan(lambda h, wt: T.tanh(T.dot(h, wt)), outputs_info=[h0], non_sequences=[w.T],
                   n_steps=4)
    f = th.function([h0, w], h)
    g = th.function([h0, w], h, mode=Mode(optimizer=None))
    assert "scan_contiguous_operands" in th.explain(f)
    assert any(isinstance(n.op, Contiguous) for n in f.maker.fgraph.apply_nodes)
    rng = np.random.default_rng(5)
    h0v, wv = rng.normal(size=(2, 3)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(f(h0v, wv), g(h0v, wv), rtol=1e-12)


def test_contiguous_op():
    from theanine.tensor.basic import contiguous

    m = T.dmatrix("m")
    f = th.function([m], contiguous(m.T), mode=Mode(optimizer=None))
    mv = np.arange(6.0).reshape(2, 3)
    out = f(mv)
    np.testing.assert_array_equal(out, mv.T)
    assert out.flags.c_contiguous and not np.shares_memory(out, mv)
    verify_grad(lambda v: contiguous(v.T) * 2, [mv])
