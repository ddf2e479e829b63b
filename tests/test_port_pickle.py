"""Pickling, deepcopy and copy() of compiled functions (issue 11): the unpickled function
computes what the original does, its updates go to its own (unpickled) shared variables, and
random streams, scan, as_op Ops and In(update=) states come back.  Run on the configured
backend, and on the C backend (when available) to check that unpickling relinks from the
artifact cache without building anything."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.compile.ops import as_op
from theanine.sandbox.rng_mrg import MRG_RandomStreams
from theanine.tensor.shared_randomstreams import RandomStreams


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _sgd_step():
    """A logistic-regression step with shared weights and updates."""
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(rng.standard_normal(3), name="w")
    b = theano.shared(np.float64(0.0), name="b")
    p = T.nnet.sigmoid(T.dot(x, w) + b)
    cost = T.mean(-y * T.log(p) - (1 - y) * T.log(1 - p))
    gw, gb = theano.grad(cost, [w, b])
    train = theano.function([x, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                            name="train")
    data = rng.standard_normal((8, 3)), (rng.random(8) > 0.5).astype(np.float64)
    return train, w, b, data


def _numpy_sgd(w, b, x, y, steps):
    """The same training, written with NumPy."""
    costs = []
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        costs.append(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))
        err = (p - y) / len(y)
        w, b = w - 0.1 * x.T @ err, b - 0.1 * err.sum()
    return costs, w, b


def test_unpickled_function_trains_on_its_own_shared_variables():
    train, w, b, (xv, yv) = _sgd_step()
    train(xv, yv)
    w0, b0 = w.get_value(), b.get_value()
    clone = roundtrip(train)
    assert clone.name == "train"
    expected, w_end, b_end = _numpy_sgd(w0, b0, xv, yv, 3)
    got = [float(clone(xv, yv)) for _ in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    named = {v.name: v for v in clone.shared_vars}
    w2, b2 = named["w"], named["b"]
    np.testing.assert_allclose(w2.get_value(), w_end, rtol=1e-10)
    np.testing.assert_allclose(b2.get_value(), b_end, rtol=1e-10)
    np.testing.assert_array_equal(w.get_value(), w0)  # the original's state is untouched
    assert [float(train(xv, yv)) for _ in range(3)] == pytest.approx(expected, rel=1e-10)


def test_functions_pickled_together_share_their_shared_variable():
    s = theano.shared(np.zeros(2), name="s")
    x = T.dvector("x")
    add = theano.function([x], [], updates=[(s, s + x)])
    read = theano.function([], s * 10)
    add2, read2 = roundtrip((add, read))
    add2(np.array([1.0, 2.0]))
    add2(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(read2(), [20.0, 40.0])
    np.testing.assert_array_equal(read(), [0.0, 0.0])


def test_deepcopy_is_independent_and_equal(rng):
    train, w, _, (xv, yv) = _sgd_step()
    twin = copy.deepcopy(train)
    a = [float(train(xv, yv)) for _ in range(2)]
    b = [float(twin(xv, yv)) for _ in range(2)]
    assert a == b
    w2 = next(v for v in twin.shared_vars if v.name == "w")
    assert w2 is not w and w2.container is not w.container
    np.testing.assert_array_equal(w2.get_value(), w.get_value())


def test_random_streams_continue_from_the_pickled_state():
    srng = RandomStreams(seed=234)
    mrg = MRG_RandomStreams(seed=42)
    draw = theano.function([], [srng.uniform((3,), dtype="float64"),
                                mrg.normal((4,), dtype="float64")])
    draw()
    clone = roundtrip(draw)
    for _ in range(3):  # the same stream, advancing independently in each
        for a, b in zip(draw(), clone()):
            np.testing.assert_array_equal(a, b)


def test_scan_function_round_trips(rng):
    x = T.dvector("x")
    acc = theano.shared(np.float64(0.0), name="acc")
    ys, _ = theano.scan(lambda v, total: total + v * 2, sequences=[x],
                        outputs_info=[T.constant(0.0, dtype="float64")])
    f = theano.function([x], ys, updates=[(acc, acc + ys[-1])])
    clone = roundtrip(f)
    xv = rng.standard_normal(5)
    np.testing.assert_allclose(clone(xv), np.cumsum(xv * 2))
    clone(xv)
    assert clone.shared_vars[0].get_value() == pytest.approx(2 * np.sum(xv * 2))
    assert acc.get_value() == 0.0


@as_op(itypes=[T.dvector().type], otypes=[T.dvector().type])
def reverse(v):
    return v[::-1].copy()


def test_as_op_and_input_states_round_trip():
    x, s = T.dvector("x"), T.dscalar("s")
    f = theano.function([x, theano.In(s, value=1.0, update=s * 2)], reverse(x) * s)
    f(np.ones(2))  # the state is now 2
    clone = roundtrip(f)
    np.testing.assert_array_equal(clone(np.array([1.0, 3.0])), [6.0, 2.0])
    np.testing.assert_array_equal(clone(np.array([1.0, 3.0])), [12.0, 4.0])
    np.testing.assert_array_equal(f(np.array([1.0, 3.0])), [6.0, 2.0])


def test_unpickling_does_not_rewrite_again():
    x = T.dvector("x")
    f = theano.function([x], T.exp(x) * 2 + T.exp(x))
    clone = roundtrip(f)
    assert ([str(n.op) for n in clone.maker.fgraph.toposort()]
            == [str(n.op) for n in f.maker.fgraph.toposort()])
    assert clone.maker.mode == f.maker.mode
    xv = np.array([0.5, -1.0])
    np.testing.assert_array_equal(clone(xv), f(xv))


def test_copy_share_memory_swap_and_delete_updates():
    s = theano.shared(np.float64(1.0), name="s")
    other = theano.shared(np.float64(10.0), name="other")
    x = T.dscalar("x")
    f = theano.function([x], s + x, updates=[(s, s * 2)])
    shared_copy = f.copy(share_memory=True)
    assert shared_copy(1.0) == 2.0 and s.get_value() == 2.0
    frozen = f.copy(delete_updates=True)
    assert frozen(0.0) == 2.0 and s.get_value() == 2.0
    swapped = f.copy(swap={s: other})
    assert swapped(0.0) == 10.0 and other.get_value() == 20.0 and s.get_value() == 2.0
    assert roundtrip(swapped)(1.0) == 21.0 and other.get_value() == 20.0


def test_c_backend_relinks_from_the_cache(rng, tmp_path):
    from theanine.cache import get_cache
    from theanine.link.backend import select_backend

    try:
        ok, why = select_backend("c").is_available()
    except (ValueError, RuntimeError) as exc:
        ok, why = False, str(exc)
    if not ok:
        pytest.skip(f"C backend unavailable: {why}")
    from theanine.config import config

    x, y = T.dmatrix("x"), T.dvector("y")
    s = theano.shared(np.zeros(3), name="s")
    # a cache of its own: other processes may be adding entries to the user's cache
    with config.change_flags(tiered=False, cache_dir=str(tmp_path / "cache")):
        f = theano.function([x, y], T.exp(x).sum(axis=0) * y + T.tanh(y),
                            updates=[(s, s + y)], mode=theano.Mode(backend="c"))
        before = len(get_cache().entries())
        clone = roundtrip(f)
        assert before and len(get_cache().entries()) == before  # nothing was built again
    assert "native" in clone.report() and clone.report() == f.report()
    xv, yv = rng.standard_normal((2, 3)), rng.standard_normal(3)
    np.testing.assert_allclose(clone(xv, yv), np.exp(xv).sum(axis=0) * yv + np.tanh(yv))
    np.testing.assert_array_equal(clone.shared_vars[0].get_value(), yv)
    np.testing.assert_array_equal(s.get_value(), np.zeros(3))


def test_unpickled_input_without_default_still_has_none():
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([theano.In(x), theano.In(y, value=np.ones(2))], x + y)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g([1.0, 2.0]), [2.0, 3.0])  # y's default came back
    with pytest.raises(TypeError, match=r"missing input 0 \(x\)"):
        g()  # x had no default before pickling, and has none after


def test_graph_with_test_values_pickles():
    with theano.change_flags(compute_test_value="raise"):
        x = T.dvector("x")
        x.tag.test_value = np.array([1.0, 2.0])
        y = T.exp(x) * 2  # computing test values caches a thunk on each node
    z = pickle.loads(pickle.dumps(y))
    f = theano.function([z.owner.inputs[0].owner.inputs[0]], z)
    np.testing.assert_allclose(f([0.0, 1.0]), 2 * np.exp([0.0, 1.0]))
