"""RandomStreams (a NumPy RandomState per random variable, seeded as Theano seeded them):
exact streams against NumPy, symbolic sizes and parameters, statistics of every
distribution, default updates, seeding, shared RandomState variables and Function.copy.

`assert_moments` and `assert_ks` are also used by test_mrg.py.
"""

import math

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import function, shared
from theanine.config import config
from theanine.gradient import DisconnectedInputError
from theanine.tensor.random import RandomFunction, RandomStreams, random_state_type
from theanine.tensor.sharedvar import GenericSharedVariable, GenericType

N_STAT = 20000
#: sqrt(n) * D, the Kolmogorov-Smirnov statistic, stays below this with probability 0.999
KS_CRITICAL = 1.95


# Statistical checks ------------------------------------------------------------------------
def assert_moments(samples, mean, var, k=6.0):
    """Sample mean and variance within k standard errors of the true ones (the variance's
    standard error estimated from the sample's fourth central moment)."""
    x = np.asarray(samples, dtype="float64").ravel()
    n = x.size
    m, s2 = x.mean(), x.var()
    m4 = ((x - m) ** 4).mean()
    assert abs(m - mean) < k * math.sqrt(var / n), f"mean {m} vs {mean}"
    assert abs(s2 - var) < k * math.sqrt(max(m4 - s2 * s2, 1e-300) / n), f"var {s2} vs {var}"


def assert_ks(samples, cdf, discrete=False):
    """The Kolmogorov-Smirnov distance between the sample and `cdf` is plausible (at the
    0.001 level; conservative for a discrete distribution, where it is taken over the whole
    integer range of the sample)."""
    x = np.sort(np.asarray(samples, dtype="float64").ravel())
    n = x.size
    if discrete:
        support = np.arange(x[0], x[-1] + 1)
        d = np.max(np.abs(np.searchsorted(x, support, side="right") / n - cdf(support)))
    else:
        f = cdf(x)
        d = max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))
    assert d * math.sqrt(n) < KS_CRITICAL, f"KS distance {d} for {n} samples"


def normal_cdf(avg, std):
    erf = np.vectorize(math.erf)
    return lambda x: 0.5 * (1 + erf((x - avg) / (std * math.sqrt(2))))


def uniform_cdf(low, high):
    return lambda x: np.clip((x - low) / (high - low), 0, 1)


def discrete_cdf(values, probs):
    values, cum = np.asarray(values), np.cumsum(probs)
    return lambda x: np.array([cum[values <= v].max(initial=0.0) for v in x])


def binomial_pmf(n, p):
    return [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


def poisson_pmf(lam, kmax):
    return [math.exp(-lam) * lam**k / math.factorial(k) for k in range(kmax + 1)]


def _seeds(seed, count):
    """The seeds Theano's RandomStreams(seed) gives its first `count` variables."""
    gen = np.random.RandomState(seed)
    return [int(gen.randint(2**30)) for _ in range(count)]


# Exact streams -----------------------------------------------------------------------------
P3 = [0.2, 0.3, 0.5]
EXACT = {
    "uniform": (lambda s: s.uniform((3, 4), low=-1.0, high=2.0),
                lambda r: r.uniform(-1.0, 2.0, (3, 4))),
    "normal": (lambda s: s.normal((5,), avg=1.0, std=3.0), lambda r: r.normal(1.0, 3.0, (5,))),
    "binomial": (lambda s: s.binomial((6,), n=5, p=0.3), lambda r: r.binomial(5, 0.3, (6,))),
    # Theano drew random_integers one element at a time with randint(low, high + 1)
    "random_integers": (lambda s: s.random_integers((2, 4), low=-2, high=4),
                        lambda r: [[r.randint(-2, 5) for _ in range(4)] for _ in range(2)]),
    "integers": (lambda s: s.integers(3, 9, size=(4,)), lambda r: r.randint(3, 9, (4,))),
    "poisson": (lambda s: s.poisson((5,), lam=3.0), lambda r: r.poisson(3.0, (5,))),
    "choice": (lambda s: s.choice((4,), a=3, p=P3), lambda r: r.choice(3, (4,), True, P3)),
    "choice_without_replacement": (lambda s: s.choice((3,), a=5, replace=False),
                                   lambda r: r.choice(5, (3,), False)),
    "permutation": (lambda s: s.permutation((2,), n=5),
                    lambda r: [r.permutation(5) for _ in range(2)]),
    "multinomial": (lambda s: s.multinomial((3,), n=4, pvals=P3),
                    lambda r: [r.multinomial(4, P3) for _ in range(3)]),
}


@pytest.mark.parametrize("dist", list(EXACT))
def test_each_draw_is_numpys_with_theanos_seed(dist):
    build, reference = EXACT[dist]
    rv = build(RandomStreams(seed=42))
    f = function([], rv)
    rng = np.random.RandomState(_seeds(42, 1)[0])
    for _ in range(2):  # the default update moves the state on, as NumPy's does
        expected = np.asarray(reference(rng))
        got = f()
        assert got.dtype == rv.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected.astype(rv.dtype))


def test_float_draws_follow_float_x_and_tensor_parameters():
    srng = RandomStreams(1)
    assert srng.uniform((2,)).dtype == config.floatX
    assert srng.normal((2,), avg=T.dscalar()).dtype == "float64"
    assert srng.uniform((2,), dtype="float64").dtype == "float64"
    with config.change_flags(floatX="float64"):
        assert srng.normal((2,)).dtype == "float64"
    assert srng.binomial((2,)).dtype == "int64"
    assert srng.choice((2,), a=np.array([1.5, 2.5])).dtype == "float64"


def test_variables_take_successive_seeds():
    srng = RandomStreams(seed=7)
    a, b = srng.uniform((3,)), srng.normal((3,))
    sa, sb = _seeds(7, 2)
    np.testing.assert_array_equal(function([], a)(),
                                  np.random.RandomState(sa).uniform(size=3).astype(a.dtype))
    np.testing.assert_array_equal(function([], b)(),
                                  np.random.RandomState(sb).normal(size=3).astype(b.dtype))


def test_size_none_broadcasts_the_parameters():
    srng = RandomStreams(3)
    low, high = np.zeros(3), np.array([[1.0], [2.0]])
    rv = srng.uniform(low=low, high=high, dtype="float64")
    assert rv.broadcastable == (False, False)
    rng = np.random.RandomState(_seeds(3, 1)[0])
    np.testing.assert_array_equal(function([], rv)(), rng.uniform(low, high))


def test_random_integers_with_broadcast_bounds_matches_an_element_loop():
    srng = RandomStreams(5)
    low, high = np.array([0, 10, 20]), np.array([[30], [50]])
    rv = srng.random_integers(size=(2, 3), low=low, high=high)
    rng = np.random.RandomState(_seeds(5, 1)[0])
    expected = [[rng.randint(low[j], high[i, 0] + 1) for j in range(3)] for i in range(2)]
    np.testing.assert_array_equal(function([], rv)(), expected)


def test_symbolic_size_and_parameters():
    srng = RandomStreams(11)
    x = T.dmatrix("x")
    m = T.dscalar("m")
    a = srng.normal(x.shape, avg=m, dtype="float64")
    b = srng.uniform((x.shape[0], 3), dtype="float64")
    c = srng.binomial(size=x.shape[1], n=T.lscalar("n_trials"), p=0.5)
    assert (a.ndim, b.ndim, c.ndim) == (2, 2, 1)
    f = function([x, m], [a, b])
    sa, sb, _ = _seeds(11, 3)
    xa, xb = f(np.zeros((2, 5)), 10.0)
    np.testing.assert_array_equal(xa, np.random.RandomState(sa).normal(10.0, 1.0, (2, 5)))
    np.testing.assert_array_equal(xb, np.random.RandomState(sb).uniform(size=(2, 3)))


def test_broadcastable_pattern_from_constant_sizes():
    srng = RandomStreams(0)
    n = T.lscalar("n")
    assert srng.uniform((1, 3)).broadcastable == (True, False)
    assert srng.uniform((n, 1)).broadcastable == (False, True)
    assert srng.permutation((1,), n=4).broadcastable == (True, False)


# Statistics --------------------------------------------------------------------------------
def _stat_cases():
    b_pmf = binomial_pmf(10, 0.3)
    p_pmf = poisson_pmf(4.0, 60)
    pc = [0.1, 0.2, 0.3, 0.4]
    return {
        "uniform": (lambda s: s.uniform((N_STAT,), low=-1.0, high=3.0), 1.0, 16 / 12,
                    uniform_cdf(-1.0, 3.0), False),
        "normal": (lambda s: s.normal((N_STAT,), avg=2.0, std=0.5), 2.0, 0.25,
                   normal_cdf(2.0, 0.5), False),
        "binomial": (lambda s: s.binomial((N_STAT,), n=10, p=0.3), 3.0, 2.1,
                     discrete_cdf(range(11), b_pmf), True),
        "random_integers": (lambda s: s.random_integers((N_STAT,), low=-3, high=3), 0.0, 4.0,
                            discrete_cdf(range(-3, 4), [1 / 7] * 7), True),
        "integers": (lambda s: s.integers(10, size=(N_STAT,)), 4.5, 99 / 12,
                     discrete_cdf(range(10), [0.1] * 10), True),
        "poisson": (lambda s: s.poisson((N_STAT,), lam=4.0), 4.0, 4.0,
                    discrete_cdf(range(61), p_pmf), True),
        "choice": (lambda s: s.choice((N_STAT,), a=4, p=pc), 2.0, 1.0,
                   discrete_cdf(range(4), pc), True),
        # the value at one position of a random permutation of arange(6) is uniform on 0..5
        "permutation": (lambda s: s.permutation((N_STAT // 4,), n=6)[:, 2], 2.5, 35 / 12,
                        discrete_cdf(range(6), [1 / 6] * 6), True),
        # one component of a multinomial count is binomial
        "multinomial": (lambda s: s.multinomial((N_STAT // 4,), n=8, pvals=[0.2, 0.3, 0.5])[:, 1],
                        2.4, 1.68, discrete_cdf(range(9), binomial_pmf(8, 0.3)), True),
    }


@pytest.mark.parametrize("dist", list(_stat_cases()))
def test_statistics(dist):
    build, mean, var, cdf, discrete = _stat_cases()[dist]
    sample = function([], build(RandomStreams(seed=2024)))()
    assert_moments(sample, mean, var)
    assert_ks(sample, cdf, discrete)


def test_permutations_and_multinomials_are_well_formed():
    srng = RandomStreams(9)
    perms, counts = function([], [srng.permutation((50,), n=7),
                                  srng.multinomial((50,), n=5, pvals=P3)])()
    np.testing.assert_array_equal(np.sort(perms, axis=1), np.tile(np.arange(7), (50, 1)))
    np.testing.assert_array_equal(counts.sum(axis=1), 5)


# Updates -----------------------------------------------------------------------------------
def test_default_update_and_no_default_updates():
    srng = RandomStreams(4)
    a, b = srng.uniform((3,)), srng.uniform((3,))
    moving = function([], [a, b])
    frozen_a = function([], [a, b], no_default_updates=[a.rng])
    frozen = function([], [a, b], no_default_updates=True)
    a1, b1 = frozen()
    np.testing.assert_array_equal(frozen()[0], a1)
    fa, fb = frozen_a()
    np.testing.assert_array_equal(fa, a1)
    np.testing.assert_array_equal(fb, b1)  # b's state moved only now
    a2, b2 = moving()
    np.testing.assert_array_equal(a2, a1)
    assert not np.array_equal(b2, b1)
    assert not np.array_equal(moving()[0], a1)


def test_a_variable_is_drawn_once_per_call():
    srng = RandomStreams(8)
    rv = srng.normal((4,))
    f = function([], [rv, rv * 2, rv + rv - 2 * rv])
    x, x2, zero = f()
    np.testing.assert_array_equal(x2, 2 * x)
    np.testing.assert_allclose(zero, 0, atol=1e-6)


def test_two_equal_draws_are_not_merged_or_folded():
    srng = RandomStreams(8)
    a, b = srng.uniform((5,)), srng.uniform((5,))
    f = function([], [a, b])
    nodes = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, RandomFunction)]
    assert len(nodes) == 2 and not nodes[0].op.foldable
    x, y = f()
    assert not np.array_equal(x, y)


def test_explicit_state_updates():
    srng = RandomStreams(6)
    rv = srng.uniform((2,))
    f = function([], rv, updates=srng.state_updates, no_default_updates=True)
    assert not np.array_equal(f(), f())
    with pytest.raises(TypeError, match="RandomStateType"):
        function([], rv, updates=[(rv.rng, rv * 2)])


def test_seed_reseeds_every_variable_and_later_ones():
    srng = RandomStreams(5)
    a = srng.uniform((3,))
    fa = function([], a)
    first = fa()
    fa()
    srng.seed()  # back to the constructor's seed
    np.testing.assert_array_equal(fa(), first)
    srng.seed(77)
    b = srng.normal((3,))
    sa, sb = _seeds(77, 2)
    np.testing.assert_array_equal(fa(), np.random.RandomState(sa).uniform(size=3)
                                  .astype(a.dtype))
    np.testing.assert_array_equal(function([], b)(), np.random.RandomState(sb).normal(size=3)
                                  .astype(b.dtype))


def test_state_updates_and_item_access():
    srng = RandomStreams(5)
    rv = srng.uniform((2,))
    assert srng.state_updates == [rv.update] == srng.updates()
    rng, new = rv.update
    assert rng is rv.rng and rng.default_update is new
    assert str(new) == "RandomFunction{uniform}.0"
    assert rng.tag["is_rng"]
    assert srng[rv] is rv.rng.get_value(borrow=True)
    srng[rv] = np.random.RandomState(123)
    np.testing.assert_array_equal(function([], rv)(), np.random.RandomState(123)
                                  .uniform(size=2).astype(rv.dtype))
    with pytest.raises(KeyError, match="not a random variable"):
        srng[T.dvector()]


# Shared RandomState ------------------------------------------------------------------------
def test_shared_random_state():
    s = shared(np.random.RandomState(1), name="r")
    assert isinstance(s, GenericSharedVariable)
    assert s.type == random_state_type == GenericType(np.random.RandomState)
    assert str(s.type) == "RandomStateType"
    copy = s.get_value()
    copy.uniform()
    assert s.get_value(borrow=True).uniform() == np.random.RandomState(1).uniform()
    with pytest.raises(TypeError, match=r"set_value of shared variable 'r' \(RandomStateType\)"
                                        r".*expected a numpy.random.*RandomState"):
        s.set_value(np.zeros(3))
    g = shared(np.random.default_rng(0))
    assert str(g.type) == "GeneratorType" and g.type != s.type
    with pytest.raises(TypeError, match="broadcastable"):
        shared(np.random.RandomState(1), broadcastable=())


def test_copy_with_swapped_state_and_without_updates():
    srng = RandomStreams(12)
    rv = srng.uniform((3,))
    f = function([], rv)
    other = shared(np.random.RandomState(99))
    g = f.copy(swap={rv.rng: other})
    expected = np.random.RandomState(99)
    before = rv.rng.get_value().get_state()[1]
    for _ in range(2):
        np.testing.assert_array_equal(g(), expected.uniform(size=3).astype(rv.dtype))
    np.testing.assert_array_equal(rv.rng.get_value().get_state()[1], before)
    frozen = f.copy(delete_updates=True)
    x = frozen()
    np.testing.assert_array_equal(frozen(), x)
    np.testing.assert_array_equal(f(), x)  # the original still draws, then moves on
    assert not np.array_equal(f(), x)


# Errors ------------------------------------------------------------------------------------
def test_bad_sizes_and_parameters():
    srng = RandomStreams(0)
    with pytest.raises(TypeError, match=r"size entry 'a'"):
        srng.uniform((2, "a"))
    with pytest.raises(ValueError, match="negative"):
        srng.uniform((2, -1))
    with pytest.raises(ValueError, match="ndim=3 does not match"):
        srng.uniform((2, 2), ndim=3)
    with pytest.raises(ValueError, match="more than the 1 of size"):
        srng.uniform((3,), low=np.zeros((3, 3)))
    with pytest.raises(TypeError, match="not an integer scalar"):
        srng.uniform((T.dscalar("d"),))
    with pytest.raises(ValueError, match="p must be a vector"):
        srng.choice((2,), a=3, p=np.ones((2, 2)))
    with pytest.raises(TypeError, match="first input must be a RandomState"):
        RandomFunction("uniform", "float64", ()).make_node(T.dvector(), [], 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown distribution"):
        RandomFunction("gamma", "float64", ())


def test_bad_parameter_values_fail_at_call_time_naming_the_draw():
    srng = RandomStreams(0)
    p = T.dscalar("p")
    f = function([p], srng.binomial((2,), p=p))
    assert f(0.5).shape == (2,)
    with pytest.raises(ValueError, match=r"RandomFunction\{binomial\}"):
        f(1.5)


# Gradients and shapes ----------------------------------------------------------------------

def test_transforms_of_a_draw_are_differentiable():
    srng = RandomStreams(3)
    avg, std = T.dscalar("avg"), T.dscalar("std")
    z = srng.normal((4,), dtype="float64")
    cost = (avg + std * z).sum()
    g_avg, g_std = theano.grad(cost, [avg, std])
    f = function([avg, std], [g_avg, g_std, z], no_default_updates=True)
    ga, gs, zv = f(1.0, 2.0)
    assert ga == 4.0
    np.testing.assert_allclose(gs, zv.sum())


def test_infer_shape_gives_the_size():
    srng = RandomStreams(0)
    x = T.dmatrix("x")
    rv = srng.permutation((x.shape[0], 2), n=5)
    node = rv.owner
    shapes = node.op.infer_shape(None, node, [(), (2,), ()])[1]
    f = function([x], list(shapes))
    assert [int(s) for s in f(np.zeros((3, 1)))] == [3, 2, 5]


def test_shape_of_a_draw():
    rv = RandomStreams(0).uniform((2, 3))
    assert function([], rv.shape[0] * 10 + rv.shape[1])() == 23



def test_a_draw_is_not_differentiable_in_its_parameters():
    avg = T.dscalar("avg")
    with pytest.raises(DisconnectedInputError):
        theano.grad(RandomStreams(3).normal((4,), avg=avg).sum(), avg)


def test_gradient_through_a_dropout_mask():
    srng = RandomStreams(0)
    x = T.dmatrix("x")
    w = shared(np.ones((3, 3)))
    h = T.dot(x, w)
    mask = srng.binomial(h.shape, p=0.5, dtype="float64")
    g = theano.grad((h * mask).sum(), w)
    f = function([x], [g, mask], no_default_updates=True)
    gv, m = f(np.ones((2, 3)))
    np.testing.assert_allclose(gv, np.ones((3, 2)) @ m)


def test_draws_inside_scan_advance_the_state():
    from theanine.scan_module import scan

    rv = RandomStreams(21).uniform((2,), dtype="float64")
    out, updates = scan(lambda: rv, n_steps=3)
    f = function([], out, updates=updates)
    reference = np.random.RandomState(_seeds(21, 1)[0])
    for _ in range(2):  # the loop's last state is written back after each call
        np.testing.assert_array_equal(f(), [reference.uniform(size=2) for _ in range(3)])


def test_reachable_as_attributes_of_theanine_tensor():
    import theanine.tensor as TT

    assert TT.shared_randomstreams.RandomStreams is RandomStreams
    assert TT.random.MRG_RandomStreams is not None
