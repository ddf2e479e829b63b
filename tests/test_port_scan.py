"""Theano's scan semantics for ported code (issue 11): sequence taps and the number of steps
they leave, random draws passed as non-sequences, `until`, `scan(mode=...)` and Theano's
positional signature; and the gradient of `arange`.  References are plain Python loops written
from Theano's documented rules, and central finite differences of NumPy loops."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.gradient import DisconnectedInputError
from theanine.scan_module import Scan, ScanError, foldl, foldr, reduce, scan, until
from theanine.scan_module import map as scan_map
from theanine.tensor.random import MRG_RandomStreams, RandomStreams


def scans_of(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def tapped_rows(n_rows: int, taps: list[int]) -> list[list[int]]:
    """Theano's rule as a loop over "current times": t runs over every position where each
    tap t + k lands inside the sequence, counting tap 0 as read; the step gets rows t + k."""
    first = -min(min(taps), 0)
    last = n_rows - max(max(taps), 0)
    return [[t + k for k in taps] for t in range(first, last)]


def finite_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        g[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# Taps of sequences ------------------------------------------------------------------------
@pytest.mark.parametrize("taps", [[-1], [-2, -1], [-3], [2], [1, 3], [0, 2], [-1, 1],
                                  [-2, 0, 1]])
def test_sequence_taps_read_the_rows_theano_reads(rng, taps):
    x = T.dvector("x")
    weights = [10.0 ** i for i in range(len(taps))]  # tells the taps apart

    def step(*rows):
        return sum(w * r for w, r in zip(weights, rows))

    y, _ = scan(step, sequences=dict(input=x, taps=taps))
    xv = rng.standard_normal(9)
    want = [sum(w * xv[r] for w, r in zip(weights, rows)) for rows in tapped_rows(9, taps)]
    got = th.function([x], y)(xv)
    assert got.shape == (len(want),)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_one_step_back_runs_len_minus_one_steps_and_two_back_len_minus_two(rng):
    x = T.dmatrix("x")
    one, _ = scan(lambda prev: prev * 2.0, sequences=dict(input=x, taps=[-1]))
    two, _ = scan(lambda a, b: a - b, sequences=dict(input=x, taps=[-2, -1]))
    ahead, _ = scan(lambda nxt: nxt + 0.0, sequences=dict(input=x, taps=[2]))
    xv = rng.standard_normal((7, 3))
    got_one, got_two, got_ahead = th.function([x], [one, two, ahead])(xv)
    np.testing.assert_allclose(got_one, 2.0 * xv[:-1], rtol=1e-12)
    np.testing.assert_allclose(got_two, xv[:-2] - xv[1:-1], rtol=1e-12)
    np.testing.assert_allclose(got_ahead, xv[2:], rtol=1e-12)


def test_mixed_taps_on_several_sequences_and_a_state(rng):
    x, z, h0 = T.dvector("x"), T.dvector("z"), T.dscalar("h0")

    def step(x_prev, z_now, z_next, plain, h):
        return 0.5 * h + x_prev * z_now - z_next + plain

    plain = T.dvector("plain")
    h, _ = scan(step, sequences=[dict(input=x, taps=[-1]), dict(input=z, taps=[0, 1]), plain],
                outputs_info=h0)
    xv, zv, pv = rng.standard_normal(8), rng.standard_normal(6), rng.standard_normal(9)
    rows_x, rows_z = tapped_rows(8, [-1]), tapped_rows(6, [0, 1])
    n = min(len(rows_x), len(rows_z), 9)  # the shortest sequence sets the steps
    want, hv = [], 0.3
    for s in range(n):
        (i,), (j, k) = rows_x[s], rows_z[s]
        hv = 0.5 * hv + xv[i] * zv[j] - zv[k] + pv[s]
        want.append(hv)
    np.testing.assert_allclose(th.function([x, z, plain, h0], h)(xv, zv, pv, 0.3), want,
                               rtol=1e-12)


@pytest.mark.parametrize("taps", [[-1], [-2, -1], [2], [-1, 2]])
def test_go_backwards_with_taps_is_a_forward_scan_of_the_reversed_sequence(rng, taps):
    # Theano's rule seen from the reversed sequence: time runs the other way, so tap k
    # becomes tap -k
    x = T.dvector("x")
    weights = [10.0 ** i for i in range(len(taps))]

    def step(*rows):
        return sum(w * r for w, r in zip(weights, rows))

    back, _ = scan(step, sequences=dict(input=x, taps=taps), go_backwards=True)
    xv = rng.standard_normal(8)
    rev = xv[::-1]
    want = [sum(w * rev[r] for w, r in zip(weights, rows))
            for rows in tapped_rows(8, [-k for k in taps])]
    np.testing.assert_allclose(th.function([x], back)(xv), want, rtol=1e-12)


def test_symbolic_n_steps_with_tapped_sequences(rng):
    x, k = T.dvector("x"), T.iscalar("k")
    y, _ = scan(lambda prev, now: prev * now, sequences=dict(input=x, taps=[-1, 0]),
                n_steps=k)
    f = th.function([x, k], y)
    xv = rng.standard_normal(7)
    np.testing.assert_allclose(f(xv, 3), xv[:3] * xv[1:4], rtol=1e-12)
    np.testing.assert_allclose(f(xv, 6), xv[:6] * xv[1:7], rtol=1e-12)
    with pytest.raises(ValueError, match=r"has 7 entries, but 7 steps with taps \[-1, 0\]"):
        f(xv, 7)


def test_too_short_a_sequence_for_its_taps_is_explained():
    x = T.dvector("x")
    y, _ = scan(lambda a: a * 2.0, sequences=dict(input=x, taps=[-3]), n_steps=4)
    with pytest.raises(ValueError, match=r"sequence 0 \(x\) has 5 entries, but 4 steps with "
                                         r"taps \[-3\] read 7"):
        th.function([x], y)(np.zeros(5))


def test_gradient_through_tapped_sequences_matches_finite_differences(rng):
    x, w, h0 = T.dvector("x"), T.dscalar("w"), T.dscalar("h0")

    def step(x_back2, x_next, h, w):
        return T.tanh(w * h + x_back2 * x_next)

    h, _ = scan(step, sequences=dict(input=x, taps=[-2, 1]), outputs_info=h0,
                non_sequences=w)
    cost = (h ** 2).sum() + h[-1]
    f = th.function([x, w, h0], T.grad(cost, [x, w, h0]))
    xv, wv, hv = rng.standard_normal(7), 0.7, 0.2

    def reference(xs, wv=wv, hv=hv):
        hs = []
        for a, b in tapped_rows(len(xs), [-2, 1]):
            hv = np.tanh(wv * hv + xs[a] * xs[b])
            hs.append(hv)
        return (np.array(hs) ** 2).sum() + hs[-1]

    gx, gw, gh = f(xv, wv, hv)
    np.testing.assert_allclose(gx, finite_difference(reference, xv), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gw, finite_difference(lambda v: reference(xv, v[0]),
                                                     np.array([wv]))[0], rtol=1e-6)
    np.testing.assert_allclose(gh, finite_difference(lambda v: reference(xv, wv, v[0]),
                                                     np.array([hv]))[0], rtol=1e-6)
    assert gx[0] != 0.0 and gx[-1] != 0.0  # both ends are read


def test_truncated_gradient_through_a_tapped_sequence(rng):
    x, h0 = T.dvector("x"), T.dscalar("h0")
    a = 0.8
    h, _ = scan(lambda prev, h: a * h + prev, sequences=dict(input=x, taps=[-1]),
                outputs_info=h0, truncate_gradient=3)
    gx, gh0 = T.grad(h.sum(), [x, h0])
    f = th.function([x, h0], [gx, gh0])
    xv = rng.standard_normal(8)
    # h[s] = a * h[s-1] + x[s] for s in 0..6 (x[7] is never read); the backward loop covers
    # the last 3 steps, where d sum(h) / d x[s] = sum over later steps u of a ** (u - s)
    n = 7
    want = np.zeros(8)
    for s in range(n - 3, n):
        want[s] = sum(a ** (u - s) for u in range(s, n))
    got_x, got_h0 = f(xv, 0.1)
    np.testing.assert_allclose(got_x, want, rtol=1e-12)
    assert got_h0 == 0.0


# Random draws -----------------------------------------------------------------------------
@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_a_draw_passed_as_a_non_sequence_is_drawn_once_per_call(streams):
    srng = streams(seed=42)
    x = T.dmatrix("x")
    mask = srng.binomial(size=x.shape, p=0.5, dtype="float64")
    noise = srng.normal(size=(x.shape[1],), dtype="float64")
    h, updates = scan(lambda row, m, e: row * m + e, sequences=x,
                      non_sequences=[mask[0], noise * 2.0])
    assert updates == OrderedDict()  # no generator lives inside the loop
    f = th.function([x], [h, mask, noise])
    xv = np.arange(12.0).reshape(4, 3) + 1
    h1, m1, e1 = f(xv)
    np.testing.assert_allclose(h1, xv * m1[0] + 2 * e1, rtol=1e-12)  # every step: one mask
    h2, m2, e2 = f(xv)
    assert not np.array_equal(e1, e2)  # a new draw at the next call
    np.testing.assert_allclose(h2, xv * m2[0] + 2 * e2, rtol=1e-12)


def test_theano_draw_as_input_to_scan():
    # Theano's own example: the loop returns the draw it was given, unchanged, at each step
    trng = RandomStreams(123)
    x = T.dmatrix("x")
    y = trng.binomial(size=x.shape, p=x)
    z, updates = scan(lambda a: a, non_sequences=y, n_steps=2)
    f = th.function([x], [y, z], updates=updates)
    nx = np.random.RandomState(0).uniform(size=(10, 10))
    ny1, nz1 = f(nx)
    ny2, nz2 = f(nx)
    np.testing.assert_array_equal(nz1, [ny1, ny1])
    np.testing.assert_array_equal(nz2, [ny2, ny2])
    assert not np.array_equal(ny1, ny2)


def test_a_draw_built_outside_and_only_read_inside_is_drawn_every_step():
    # Theano's rule: its generator is a shared variable with a default update, so it becomes
    # a state of the loop (pass the draw in non_sequences to draw it once per call)
    srng = RandomStreams(7)
    d = srng.normal((3,), dtype="float64")
    z, updates = scan(lambda: d * 1.0, n_steps=4)
    assert list(updates) == [d.rng]
    state = d.rng.get_value()
    twin = np.random.RandomState()
    twin.set_state(state.get_state())
    got = th.function([], z, updates=updates)()
    np.testing.assert_allclose(got, [twin.normal(0.0, 1.0, (3,)) for _ in range(4)])


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_draws_made_inside_the_step_are_drawn_every_step_and_their_state_returned(streams):
    srng = streams(seed=11)
    ys, updates = scan(lambda: srng.uniform((2,), -1.0, 1.0, dtype="float64"), n_steps=5)
    (state,) = updates
    f = th.function([], ys, updates=updates)
    first, second = f(), f()
    assert len({tuple(r) for r in np.vstack([first, second])}) == 10
    assert np.all((first >= -1) & (first < 1))
    if streams is RandomStreams:  # Theano's test: one RandomState drawn step after step
        seed = np.random.RandomState(11).randint(2 ** 30)
        ref = np.random.RandomState(int(seed))
        want = np.array([ref.uniform(-1, 1, size=(2,)) for _ in range(10)])
        np.testing.assert_allclose(np.vstack([first, second]), want)


# until --------------------------------------------------------------------------------------
def test_until_is_importable_where_theano_had_it():
    import theanine.scan_module
    from theanine.scan_module.scan_utils import until as until_utils

    assert theanine.scan_module.until is until is until_utils


def test_until_stops_after_the_step_whose_condition_holds():
    # Theano's documentation example
    max_value = T.dscalar("max_value")

    def power_of_2(previous_power, max_value):
        return previous_power * 2, until(previous_power * 2 > max_value)

    values, _ = scan(power_of_2, outputs_info=T.constant(1.0, dtype="float64"),
                     non_sequences=max_value, n_steps=1024)
    f = th.function([max_value], values)

    def reference(limit):
        out, p = [], 1.0
        for _ in range(1024):
            p *= 2
            out.append(p)
            if p > limit:
                break
        return out

    for limit in (45.0, 0.5, 1e6, 1e300):
        got = f(limit)
        np.testing.assert_array_equal(got, reference(limit))


def test_until_with_outputs_updates_sequences_and_an_output_not_fed_back(rng):
    x = T.dvector("x")
    total = th.shared(0.0, name="total")

    def step(a, s):
        return [s + a, a * 10], OrderedDict([(total, total + a)]), until(s + a > 5)

    (sums, tens), updates = scan(step, sequences=x,
                                 outputs_info=[T.constant(0.0, dtype="float64"), None])
    f = th.function([x], [sums, tens, sums[-1]], updates=updates)
    xv = np.abs(rng.standard_normal(20)) + 0.5
    cut = int(np.argmax(np.cumsum(xv) > 5)) + 1  # the steps run, the stopping one included
    got_sums, got_tens, last = f(xv)
    np.testing.assert_allclose(got_sums, np.cumsum(xv)[:cut], rtol=1e-12)
    np.testing.assert_allclose(got_tens, 10 * xv[:cut], rtol=1e-12)
    assert last == got_sums[-1]
    assert total.get_value() == pytest.approx(xv[:cut].sum())
    # never true: every step runs
    np.testing.assert_allclose(f(np.full(4, 0.1))[0], np.cumsum(np.full(4, 0.1)))


def test_until_with_a_condition_that_does_not_change_in_the_loop():
    x, go_on = T.dvector("x"), T.dscalar("go_on")
    h, _ = scan(lambda a, s, g: (s + a, until(g > 0)), sequences=x,
                outputs_info=T.constant(0.0, dtype="float64"), non_sequences=go_on)
    f = th.function([x, go_on], [h, h[-1]])
    got, last = f(np.arange(1.0, 5.0), 1.0)
    np.testing.assert_array_equal(got, [1.0])
    assert last == 1.0
    np.testing.assert_array_equal(f(np.arange(1.0, 5.0), -1.0)[0], [1.0, 3.0, 6.0, 10.0])


@pytest.mark.parametrize("mode", [None, Mode(optimizer=None)], ids=["rewritten", "as built"])
def test_until_going_backwards_and_keeping_the_last_value_only(mode):
    x = T.dvector("x")
    h, _ = scan(lambda a, s: (s + a, until(s + a > 10)), sequences=x,
                outputs_info=T.constant(0.0, dtype="float64"), go_backwards=True)
    f = th.function([x], [h, h[-1]], mode=mode)
    full, last = f(np.arange(8.0))
    np.testing.assert_array_equal(full, [7.0, 13.0])
    assert last == 13.0
    only_last = th.function([x], h[-1], mode=mode)
    assert only_last(np.arange(8.0)) == 13.0


def test_gradient_of_a_loop_that_stopped_early_matches_finite_differences(rng):
    x, w = T.dvector("x"), T.dscalar("w")

    def step(a, p, w):
        new = p * w + a
        return new, until(new > 3.0)

    h, _ = scan(step, sequences=x, outputs_info=T.constant(0.0, dtype="float64"),
                non_sequences=w)
    cost = (h ** 2).sum()
    f = th.function([x, w], [h, *T.grad(cost, [x, w])])

    def reference(xs, wv):
        p, total = 0.0, 0.0
        for a in xs:
            p = p * wv + a
            total += p ** 2
            if p > 3.0:
                break
        return total

    xv, wv = np.abs(rng.standard_normal(9)) + 0.6, 0.9
    hv, gx, gw = f(xv, wv)
    assert 1 < len(hv) < 9  # it stopped early
    np.testing.assert_allclose(gx, finite_difference(lambda v: reference(v, wv), xv),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gw, finite_difference(lambda v: reference(xv, v[0]),
                                                     np.array([wv]))[0], rtol=1e-6)
    assert np.all(gx[len(hv):] == 0.0)  # rows after the stop get nothing


def test_until_in_the_wrong_place_is_explained():
    x = T.dvector("x")
    with pytest.raises(ScanError, match=r"return until\(\.\.\.\) last"):
        scan(lambda a: (until(a > 0), a), sequences=x)
    with pytest.raises(TypeError, match="until: the condition must be a scalar"):
        until(x)


def test_loops_that_may_stop_early_are_not_merged():
    x = T.dvector("x")
    a, _ = scan(lambda v: (v * 2.0, until(v > 2)), sequences=x)
    b, _ = scan(lambda v: v * 3.0, sequences=x)
    f = th.function([x], [a, b])
    assert len(scans_of(f)) == 2
    got_a, got_b = f(np.arange(6.0))
    np.testing.assert_array_equal(got_a, [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(got_b, 3.0 * np.arange(6.0))


# mode, profile and the positional signature ---------------------------------------------
def _step_nodes(f):
    (node,) = scans_of(f)
    return [str(n.op) for n in node.op.inner.toposort()]


def test_scan_mode_decides_the_rewrites_of_the_step():
    x = T.dvector("x")

    def step(a):
        return T.exp(a) * 2.0 + 1.0

    plain, _ = scan(step, sequences=x, mode=Mode(optimizer=None))
    default, _ = scan(step, sequences=x)
    f_plain, f_default = th.function([x], plain), th.function([x], default)
    assert len(_step_nodes(f_plain)) == 3  # exp, mul, add as written
    assert len(_step_nodes(f_default)) == 1  # fused by the outer function's rewrites
    xv = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f_plain(xv), np.exp(xv) * 2 + 1, rtol=1e-12)
    np.testing.assert_allclose(f_default(xv), np.exp(xv) * 2 + 1, rtol=1e-12)
    # a step compiled FAST_RUN inside a FAST_COMPILE function is still fused
    fast_run, _ = scan(step, sequences=x, mode="FAST_RUN")
    assert len(_step_nodes(th.function([x], fast_run, mode="FAST_COMPILE"))) == 1


def test_scan_mode_decides_the_backend_of_the_step():
    x = T.dvector("x")
    y, _ = scan(lambda a: a + 1.0, sequences=x, mode=Mode(backend="no_such_backend"))
    with pytest.raises(Exception, match="no_such_backend"):
        th.function([x], y)
    z, _ = scan(lambda a: a + 1.0, sequences=x, mode=Mode(linker="py"))
    np.testing.assert_array_equal(th.function([x], z)(np.arange(3.0)), [1.0, 2.0, 3.0])


def test_an_unknown_scan_mode_names_the_loop():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="scan 'walk': mode: unknown mode 'FAST_WALK'"):
        scan(lambda a: a, sequences=x, mode="FAST_WALK", name="walk")


def test_the_gradient_loop_uses_the_forward_loops_mode(rng):
    x, w = T.dvector("x"), T.dscalar("w")
    h, _ = scan(lambda a, p, w: T.tanh(p * w + a), sequences=x,
                outputs_info=T.constant(0.0, dtype="float64"), non_sequences=w,
                mode=Mode(optimizer=None))
    g = T.grad(h.sum(), w)
    backward = g.owner
    while not isinstance(backward.op, Scan):
        backward = next(i.owner for i in backward.inputs if i.owner is not None)
    assert backward.op.info.mode == Mode(optimizer=None)


def test_theanos_positional_signature_and_accepted_flags(rng):
    x, h0 = T.dvector("x"), T.dscalar("h0")
    # fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient, go_backwards,
    # mode, name, profile, allow_gc, strict, return_list
    (h,), updates = scan(lambda a, p: p + a, [x], [h0], [], None, -1, False, None, "acc",
                         True, False, True, True)
    assert updates == OrderedDict()
    xv = rng.standard_normal(5)
    np.testing.assert_allclose(th.function([x, h0], h)(xv, 1.0), 1.0 + np.cumsum(xv))
    assert str(h.owner.inputs[0].owner.op) == "Scan{acc}"


def test_strict_wants_outer_values_passed_but_not_generators_drawn_inside(rng):
    x = T.dvector("x")
    w = th.shared(2.0, name="w")
    srng = RandomStreams(4)
    with pytest.raises(ScanError, match="strict=True, but fn uses w"):
        scan(lambda a: a * w, sequences=x, strict=True)
    y, updates = scan(lambda a, ww: a * ww + srng.uniform((), dtype="float64"), sequences=x,
                      non_sequences=[w], strict=True)
    assert len(updates) == 1  # the generator drawn inside is a state, not a non-sequence
    got = th.function([x], y, updates=updates)(np.zeros(3))
    assert got.shape == (3,) and len(set(got)) == 3


def test_map_reduce_foldl_foldr_take_mode_and_name_by_position(rng):
    x = T.dvector("x")
    xv = rng.standard_normal(6)
    no_rewrites = Mode(optimizer=None)
    doubled, _ = scan_map(lambda a: a * 2.0, x, None, -1, False, no_rewrites, "double")
    total, _ = reduce(lambda a, s: s + a, x, T.constant(0.0, dtype="float64"), None, False,
                      no_rewrites, "sum")
    left, _ = foldl(lambda a, s: s * 0.5 + a, x, T.constant(0.0, dtype="float64"), None,
                    no_rewrites, "left")
    right, _ = foldr(lambda a, s: s * 0.5 + a, x, T.constant(0.0, dtype="float64"), None,
                     no_rewrites, "right")
    got = th.function([x], [doubled, total, left, right])(xv)

    def fold(values):
        s = 0.0
        for v in values:
            s = s * 0.5 + v
        return s

    np.testing.assert_allclose(got[0], 2 * xv)
    np.testing.assert_allclose(got[1], xv.sum())
    np.testing.assert_allclose(got[2], fold(xv))
    np.testing.assert_allclose(got[3], fold(xv[::-1]))


# arange's gradient ------------------------------------------------------------------------
@pytest.mark.parametrize("start,stop,step", [(1.0, 10.2, 1.5), (-2.3, 4.1, 0.7),
                                             (5.0, -1.0, -0.45)])
def test_arange_gradient_wrt_start_and_step_matches_finite_differences(start, stop, step):
    s, e, st = T.dscalar("s"), T.dscalar("e"), T.dscalar("st")
    r = T.arange(s, e, st)
    cost = (T.sin(r) * r).sum()
    f = th.function([s, e, st], T.grad(cost, [s, st]))

    def reference(a, b, c):
        v = np.arange(a, b, c)
        return (np.sin(v) * v).sum()

    gs, gst = f(start, stop, step)
    eps = 1e-7  # small enough that the length does not change
    num_s = (reference(start + eps, stop, step) - reference(start - eps, stop, step)) / (2 * eps)
    num_st = (reference(start, stop, step + eps) - reference(start, stop, step - eps)) / (2 * eps)
    np.testing.assert_allclose(gs, num_s, rtol=1e-6)
    np.testing.assert_allclose(gst, num_st, rtol=1e-6)


def test_arange_gradient_is_theanos_sum_rules():
    s, e, st = T.dscalar("s"), T.dscalar("e"), T.dscalar("st")
    r = T.arange(s, e, st)
    g = T.dvector("g")
    cost = (r * g).sum()
    f = th.function([s, e, st, g], T.grad(cost, [s, st]))
    gv = np.array([1.0, -2.0, 0.5, 4.0])
    gs, gst = f(0.0, 2.0, 0.5, gv)  # four elements
    assert gs == pytest.approx(gv.sum())
    assert gst == pytest.approx((gv * np.arange(4)).sum())


def test_arange_stop_is_disconnected_as_in_theano():
    s, e = T.dscalar("s"), T.dscalar("e")
    cost = T.arange(s, e).sum()
    with pytest.raises(DisconnectedInputError):
        T.grad(cost, e)
    zero = T.grad(cost, e, disconnected_inputs="ignore")
    assert th.function([e], zero, on_unused_input="ignore")(5.0) == 0.0


def test_integer_arange_gives_zero_gradients_to_start_and_step():
    n = T.dscalar("n")
    r = T.arange(T.cast(n, "int64"), 10)
    cost = T.cast(r, "float64").sum() * n
    (gn,) = T.grad(cost, [n])
    # only the explicit factor n carries a gradient: d/dn (n * sum(arange(int(n), 10)))
    assert th.function([n], gn)(3.0) == pytest.approx(np.arange(3, 10).sum())
