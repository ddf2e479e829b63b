"""MRG_RandomStreams (MRG31k3p): the generator against L'Ecuyer's reference numbers and a
scalar re-statement of the recurrence, the state layout, seeding, statistics of every
distribution, identical streams on every available backend, updates and Function.copy,
dropout, and seed 003's network (examples/mlp_dropout.py)."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from test_random_streams import (
    assert_ks,
    assert_moments,
    binomial_pmf,
    discrete_cdf,
    normal_cdf,
    uniform_cdf,
)

import theanine as theano
import theanine.tensor as T
from theanine import function, shared
from theanine.config import config
from theanine.sandbox.rng_mrg import MRG_RandomStreams, ff_2p72, ff_2p134, guess_n_streams
from theanine.tensor.random import MRGUniform, mrg

M1, M2 = 2**31 - 1, 2**31 - 21069
N_STAT = 20000

# Values of L'Ecuyer's Java implementation of MRG31k3p (SSJ), main seed [12345] * 6:
# stream i (2**134 steps apart), substream j (2**72 apart), sample k, at index
# 35 * i + 5 * j + k of the sequence Theano kept as its reference data.
JAVA = {
    (0, 0): [0.7353244530968368, 0.6142074400559068, 0.11007806099951267,
             0.6487741703167558, 0.36619443260133266],
    (0, 1): [0.2585685825906694, 0.9489980279468, 0.4309556516818702, 0.12257590936496854,
             0.9760319022461772],
    (1, 0): [0.5180770065635443, 0.2319392478093505, 0.36197659047320485,
             0.11120751267299056, 0.5018561617471278],
    (11, 6): [0.8762755445204675, 0.8020628895610571, 0.1663151141256094,
              0.31246642768383026, 0.18852565623819828],
}


def step(state):
    """One step of the recurrence on Python ints: (new state, k in [1, M1])."""
    x10, x11, x12, x20, x21, x22 = state
    y1 = (2**22 * x11 + (2**7 + 1) * x12) % M1
    y2 = (2**15 * x20 + (2**15 + 1) * x22) % M2
    k = y1 - y2 if y1 > y2 else y1 - y2 + M1
    return [y1, x10, x11, y2, x20, x21], k


def ks_of(state, count):
    out = []
    for _ in range(count):
        state, k = step(state)
        out.append(k)
    return state, out


# The generator -----------------------------------------------------------------------------
def test_streams_match_the_reference_implementation():
    srng = MRG_RandomStreams(seed=12345)
    for i in range(12):
        u = srng.uniform(size=(7,), nstreams=7, dtype="float64")  # one per substream
        f = function([], u)
        samples = np.array([f() for _ in range(5)]).T  # (substream, sample)
        for j in range(7):
            if (i, j) in JAVA:
                np.testing.assert_array_equal(samples[j], JAVA[i, j])


def test_jumps_used_by_ported_code():
    start = np.array([12345] * 6, dtype=np.int32)
    state = ff_2p72(start)
    ks = ks_of([int(v) for v in state], 5)[1]
    np.testing.assert_array_equal(np.array(ks) * 2.0**-31, JAVA[0, 1])
    state = ff_2p134(start)
    np.testing.assert_array_equal(np.array(ks_of([int(v) for v in state], 5)[1]) * 2.0**-31,
                                  JAVA[1, 0])


@pytest.mark.parametrize("e", [0, 1, 3, 6])
def test_a_jump_of_2_to_the_e_is_that_many_steps(e):
    state = [1, 2, 3, 4, 5, 6]
    for _ in range(2**e):
        state, _ = step(state)
    np.testing.assert_array_equal(mrg.jump(np.arange(1, 7, dtype=np.int32), e), state)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_element_i_is_a_draw_of_substream_i_mod_s(dtype):
    n_streams, n = 3, 11
    start = np.array([[7, 8, 9, 10, 11, 12]], dtype=np.int32)
    states = mrg.substreams(start[0], n_streams)
    new_states, u = mrg.draw(states, n, dtype)
    expected = np.empty(n)
    for s in range(n_streams):
        row = [int(v) for v in states[s]]
        count = len(range(s, n, n_streams))
        row, ks = ks_of(row, count)
        np.testing.assert_array_equal(new_states[s], row)
        if dtype == "float64":
            expected[s::n_streams] = np.array(ks) * 2.0**-31
        else:
            expected[s::n_streams] = np.float32(ks) * np.float32(4.6566126e-10)
    assert u.dtype == dtype
    np.testing.assert_array_equal(u, expected.astype(dtype))


def test_float32_uniforms_stay_inside_the_open_interval():
    assert np.float32(M1) * mrg.NORM32 < 1.0  # the largest k
    assert np.float32(1) * mrg.NORM32 > 0.0
    u = function([], MRG_RandomStreams(3).uniform((50000,), dtype="float32"))()
    assert 0.0 < u.min() and u.max() < 1.0


def test_state_of_a_variable():
    srng = MRG_RandomStreams(12345)
    a = srng.uniform((10, 20))
    b = srng.uniform((T.lscalar("n"),))
    state, new = a.update
    assert state is a.rstate and state.default_update is new
    assert state.get_value().shape == (guess_n_streams((10, 20)), 6) == (33, 6)
    assert b.rstate.get_value().shape == (mrg.MAX_STREAMS, 6)
    assert srng.uniform((3,), nstreams=5).rstate.get_value().shape == (5, 6)
    assert [guess_n_streams(s) for s in [(3,), (7,), (10**6,)]] == [3, 1, mrg.MAX_STREAMS]
    np.testing.assert_array_equal(state.get_value()[0], [12345] * 6)
    np.testing.assert_array_equal(b.rstate.get_value()[0], ff_2p134([12345] * 6))
    np.testing.assert_array_equal(state.get_value()[1], ff_2p72([12345] * 6))
    assert srng.state_updates == srng.updates() and len(srng.state_updates) == 3


# Seeding -----------------------------------------------------------------------------------
def test_same_seed_same_numbers_and_reseeding():
    a = MRG_RandomStreams(42).uniform((4, 5))
    b = MRG_RandomStreams(42).uniform((4, 5))
    fa, fb = function([], a), function([], b)
    x1, x2 = fa(), fa()
    assert not np.array_equal(x1, x2)
    np.testing.assert_array_equal(fb(), x1)
    np.testing.assert_array_equal(fb(), x2)
    other = function([], MRG_RandomStreams(43).uniform((4, 5)))()
    assert not np.array_equal(other, x1)


def test_seed_restarts_every_variable():
    srng = MRG_RandomStreams(5)
    u, n = srng.uniform((6,)), srng.normal((3,))
    f = function([], [u, n])
    first = f()
    f()
    srng.seed()
    for got, want in zip(f(), first):
        np.testing.assert_array_equal(got, want)
    srng.seed(99)
    fresh = MRG_RandomStreams(99)
    g = function([], [fresh.uniform((6,)), fresh.normal((3,))])
    for got, want in zip(f(), g()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(srng.rstate, fresh.rstate)


def test_seed_as_six_integers():
    srng = MRG_RandomStreams([1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(srng.rstate, [1, 2, 3, 4, 5, 6])
    u = function([], srng.uniform((1,), dtype="float64"))()
    np.testing.assert_array_equal(u, [step([1, 2, 3, 4, 5, 6])[1] * 2.0**-31])


@pytest.mark.parametrize("seed, error", [(0, ValueError), (M2, ValueError), (-3, ValueError),
                                         ([1, 2, 3], TypeError), ([0, 0, 0, 1, 1, 1], ValueError),
                                         ("seed", TypeError)])
def test_bad_seeds(seed, error):
    with pytest.raises(error, match="MRG_RandomStreams"):
        MRG_RandomStreams(seed)


# Distributions -----------------------------------------------------------------------------
def test_uniform_statistics():
    x = function([], MRG_RandomStreams(1).uniform((N_STAT,), low=-2.0, high=4.0))()
    assert x.dtype == config.floatX
    assert_moments(x, 1.0, 3.0)
    assert_ks(x, uniform_cdf(-2.0, 4.0))


@pytest.mark.parametrize("size", [(N_STAT,), (99, 101)])  # an odd number of draws too
def test_normal_statistics(size):
    x = function([], MRG_RandomStreams(2).normal(size, avg=-1.0, std=2.0))()
    assert x.shape == size and x.dtype == config.floatX
    assert_moments(x, -1.0, 4.0)
    assert_ks(x, normal_cdf(-1.0, 2.0))


@pytest.mark.parametrize("n", [1, 4])
def test_binomial_statistics(n):
    x = function([], MRG_RandomStreams(3).binomial((N_STAT,), n=n, p=0.3))()
    assert x.dtype == "int64"
    assert_moments(x, n * 0.3, n * 0.21)
    assert_ks(x, discrete_cdf(range(n + 1), binomial_pmf(n, 0.3)), discrete=True)


def test_multinomial_statistics():
    pvals = np.tile(np.array([0.2, 0.3, 0.5], dtype=config.floatX), (N_STAT // 4, 1))
    x = function([], MRG_RandomStreams(4).multinomial(pvals=pvals, n=6))()
    assert x.shape == pvals.shape
    np.testing.assert_array_equal(x.sum(axis=1), 6)
    for j, p in enumerate([0.2, 0.3, 0.5]):  # each count is binomial
        assert_moments(x[:, j], 6 * p, 6 * p * (1 - p))
        assert_ks(x[:, j], discrete_cdf(range(7), binomial_pmf(6, p)), discrete=True)
    single = function([], MRG_RandomStreams(4).multinomial(pvals=[0.5, 0.5], n=3))()
    assert single.shape == (2,) and single.sum() == 3


def test_choice_with_replacement_statistics():
    p = [0.1, 0.2, 0.3, 0.4]
    x = function([], MRG_RandomStreams(5).choice(size=N_STAT, p=p))()
    assert x.shape == (N_STAT,)
    assert_moments(x, 2.0, 1.0)
    assert_ks(x, discrete_cdf(range(4), p), discrete=True)


def test_choice_without_replacement():
    p = np.array([[0.1, 0.2, 0.3, 0.4]] * (N_STAT // 4))
    x = function([], MRG_RandomStreams(6).choice(size=3, p=p, replace=False))()
    assert x.shape == (N_STAT // 4, 3)
    assert (np.sort(x, axis=1)[:, 1:] != np.sort(x, axis=1)[:, :-1]).all()  # distinct
    assert_ks(x[:, 0], discrete_cdf(range(4), p[0]), discrete=True)  # the first pick is p
    # The second pick, given the first: P(second = j) = sum_i p_i p_j / (1 - p_i).
    second = [sum(p[0][i] * p[0][j] / (1 - p[0][i]) for i in range(4) if i != j)
              for j in range(4)]
    assert_ks(x[:, 1], discrete_cdf(range(4), second), discrete=True)
    with pytest.raises(ValueError, match="without replacement"):
        function([], MRG_RandomStreams(6).choice(size=3, p=[0.5, 0.5, 0.0], replace=False))()


def test_symbolic_sizes_and_parameters():
    srng = MRG_RandomStreams(7)
    x = T.fmatrix("x")
    lo = T.fscalar("lo")
    n = srng.normal(x.shape)
    b = srng.binomial((x.shape[0], 4), p=0.5, dtype="float32")
    u = srng.uniform(x.shape[1], low=lo, high=lo + 1)
    a, m, v = function([x, lo], [n, b, u])(np.zeros((3, 5), "float32"), 10.0)
    assert a.shape == (3, 5) and m.shape == (3, 4) and v.shape == (5,)
    assert m.dtype == "float32" and set(np.unique(m)) <= {0.0, 1.0}
    assert ((10 <= v) & (v <= 11)).all()


def test_shapes_are_known_without_drawing():
    srng = MRG_RandomStreams(7)
    x = T.fmatrix("x")
    p = T.fmatrix("p")
    draws = [srng.uniform(x.shape), srng.multinomial(pvals=p),
             srng.choice(size=x.shape[0], p=p, replace=False)]
    f = function([x, p], [d.shape[i] for d in draws for i in range(2)],
                 no_default_updates=True)
    assert not any(isinstance(n.op, MRGUniform) for n in f.maker.fgraph.apply_nodes)
    dims = f(np.zeros((2, 5), "float32"), np.full((4, 3), 1 / 3, "float32"))
    assert [int(d) for d in dims] == [2, 5, 4, 3, 4, 2]


# Backends, updates, copies -----------------------------------------------------------------
def _available_backends():
    from theanine.plugins import get_registry

    return [name for name, (b, _) in get_registry().backends.items() if b.is_available()[0]]


def test_the_same_seed_gives_the_same_stream_on_every_backend():
    def outputs(backend):
        srng = MRG_RandomStreams(2718)
        pvals = np.array([[0.1, 0.9], [0.6, 0.4]], dtype="float32")
        graph = [srng.uniform((5, 7)), srng.uniform((9,), dtype="float64"),
                 srng.normal((4, 3)), srng.binomial((6,), p=0.4),
                 srng.multinomial(pvals=pvals, n=5), srng.choice(size=2, p=pvals)]
        f = function([], graph, backend=backend)
        return [f() for _ in range(2)]

    reference = outputs("python")
    for backend in _available_backends():
        for got_call, want_call in zip(outputs(backend), reference):
            for k, (got, want) in enumerate(zip(got_call, want_call)):
                assert got.dtype == want.dtype
                if k == 2:  # normal: the same uniforms through log/cos/sqrt, which native
                    # vector math computes within a few ulp of NumPy's
                    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(got.dtype).eps,
                                               err_msg=f"backend {backend}")
                else:
                    np.testing.assert_array_equal(got, want, err_msg=f"backend {backend}")


def test_no_default_updates_copy_and_swap():
    srng = MRG_RandomStreams(8)
    u = srng.uniform((4,))
    frozen = function([], u, no_default_updates=True)
    x = frozen()
    np.testing.assert_array_equal(frozen(), x)
    f = function([], u)
    np.testing.assert_array_equal(f(), x)
    assert not np.array_equal(f(), x)

    still = f.copy(delete_updates=True)
    y = still()
    np.testing.assert_array_equal(still(), y)
    other = shared(mrg.substreams(np.array([5] * 6, dtype=np.int32), 1))
    g = f.copy(swap={u.rstate: other})
    before = u.rstate.get_value()
    expected = MRG_RandomStreams(5).uniform((4,), nstreams=1)
    h = function([], expected)
    np.testing.assert_array_equal(g(), h())
    np.testing.assert_array_equal(g(), h())
    np.testing.assert_array_equal(u.rstate.get_value(), before)


def test_a_bad_state_is_refused_when_drawing():
    u = MRG_RandomStreams(8).uniform((4,))
    f = function([], u)
    u.rstate.set_value(np.zeros((1, 6), dtype=np.int32))
    with pytest.raises(ValueError, match="invalid MRG state"):
        f()
    u.rstate.set_value(np.ones((1, 5), dtype=np.int32))
    with pytest.raises(ValueError, match=r"shape \(streams, 6\)"):
        f()


def test_bad_arguments():
    srng = MRG_RandomStreams(1)
    with pytest.raises(ValueError, match="size is required"):
        srng.uniform(None)
    with pytest.raises(ValueError, match="nstreams must be a positive integer"):
        srng.uniform((3,), nstreams=0)
    with pytest.raises(ValueError, match="ndim=2 does not match"):
        srng.normal((3,), ndim=2)
    with pytest.raises(ValueError, match="do not pass size"):
        srng.multinomial(size=(2,), pvals=[[0.5, 0.5]])
    with pytest.raises(TypeError, match="pvals / p"):
        srng.multinomial()
    with pytest.raises(TypeError, match="`a` is not supported"):
        srng.choice(size=2, a=3, p=[0.5, 0.5])
    with pytest.raises(ValueError, match="positive integer"):
        srng.binomial((3,), n=0)
    with pytest.raises(ValueError, match="must broadcast to the size"):
        srng.uniform((3,), low=np.zeros((2, 3), dtype="float32"))
    with pytest.raises(TypeError, match="float32 or float64"):
        MRGUniform("int32", (False,))


def test_draws_inside_scan_advance_the_state():
    from theanine.scan_module import scan

    rv = MRG_RandomStreams(21).uniform((2,), dtype="float64")
    out, updates = scan(lambda: rv, n_steps=3)
    f = function([], out, updates=updates)
    one_draw = function([], MRG_RandomStreams(21).uniform((2,), dtype="float64"))
    for _ in range(2):
        np.testing.assert_array_equal(f(), [one_draw() for _ in range(3)])


# Dropout -----------------------------------------------------------------------------------
def test_dropout_mask_and_its_gradient():
    srng = MRG_RandomStreams(9)
    x = T.fmatrix("x")
    w = shared(np.ones((3, 3), dtype="float32"))
    h = T.dot(x, w)
    mask = srng.binomial(h.shape, p=0.8, dtype=config.floatX)
    cost = (h * mask / 0.8).sum()
    g = theano.grad(cost, w)
    f = function([x], [g, mask], no_default_updates=True)
    xv = np.arange(6, dtype="float32").reshape(2, 3)
    gv, m = f(xv)
    assert m.dtype == config.floatX and set(np.unique(m)) <= {0.0, 1.0}
    np.testing.assert_allclose(gv, xv.T @ m / 0.8, rtol=1e-6)
    big = function([], srng.binomial((200, 100), p=0.8, dtype=config.floatX))()
    assert abs(big.mean() - 0.8) < 6 * math.sqrt(0.16 / big.size)


def test_seed003_network_learns():
    path = Path(__file__).resolve().parents[1] / "examples" / "mlp_dropout.py"
    spec = importlib.util.spec_from_file_location("mlp_dropout", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    history = example.main(epochs=8, n_train=512, n_test=256, hidden=64, batch=32,
                           verbose=False)
    costs = [c for c, _ in history]
    assert all(np.isfinite(costs))
    assert costs[-1] < costs[0] - 0.2
