"""Small idioms of ported Theano programs, each checked against NumPy: plural constructors that
split a string, NumPy scalars on the left of an operator, softmax of a vector, truthiness of
variables, updates given as an OrderedDict, and pickled parameters."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest
from port_data import softmax

import theanine as theano
import theanine.tensor as T

floatX = theano.config.floatX


def test_scalars_splits_a_string_into_one_variable_per_character():
    x, y = T.scalars("xy")
    assert (x.name, y.name) == ("x", "y")
    f = theano.function([x, y], x * y + x)
    np.testing.assert_allclose(f(3.0, 4.0), 15.0)
    a, b, c = T.dvectors("abc")
    g = theano.function([a, b, c], a + b * c)
    np.testing.assert_allclose(g([1.0], [2.0], [3.0]), [7.0])


@pytest.mark.parametrize("lhs", [np.float32(0.1), np.asarray(0.1, dtype=floatX)])
def test_numpy_scalar_times_gradient_builds_a_graph(lhs):
    w = theano.shared(np.array([1.0, -2.0, 3.0], dtype=floatX), name="w")
    cost = T.sum(w ** 2)
    g = T.grad(cost, w)
    step = lhs * g
    assert isinstance(step, theano.Variable)
    train = theano.function([], cost, updates=[(w, w - step)])
    before = w.get_value().copy()
    train()
    np.testing.assert_allclose(w.get_value(), before - 0.1 * 2 * before, rtol=1e-6)


def test_numpy_array_on_the_left_of_every_operator():
    x = T.vector("x")
    a = np.array([1.0, 2.0, 4.0], dtype=floatX)
    exprs = [a + x, a - x, a * x, a / x, a ** x, a // x, a % x]
    f = theano.function([x], exprs)
    xv = np.array([0.5, 3.0, 2.0], dtype=floatX)
    expected = [a + xv, a - xv, a * xv, a / xv, a ** xv, a // xv, a % xv]
    for got, want in zip(f(xv), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_softmax_of_a_vector_is_a_one_row_matrix():
    v = T.vector("v")
    out = T.nnet.softmax(v)
    assert out.ndim == 2
    vv = np.array([1.0, 2.0, 0.5], dtype=floatX)
    res = theano.function([v], out)(vv)
    assert res.shape == (1, 3)
    np.testing.assert_allclose(res[0], softmax(vv.astype("float64")), rtol=1e-6)
    # marekrei's classifier takes row 0 of it
    theano.function([v], T.argmax(out[0]))(vv)


def test_variables_are_truthy_but_comparisons_refuse_bool():
    persistent = theano.shared(np.zeros((2, 2), dtype=floatX))
    assert persistent
    x = T.matrix("x")
    assert x
    input_ = None
    chosen = input_ if input_ else x
    assert chosen is x
    with pytest.raises(TypeError):
        bool(x < 2)


def test_updates_as_an_ordered_dict_with_float32_learning_rate():
    lr = np.float32(0.5)
    p = theano.shared(np.array([2.0, -1.0], dtype=floatX), name="p")
    cost = T.sum((p - 1) ** 2)
    g = T.grad(cost, p)
    updates = OrderedDict()
    updates[p] = p - lr * g
    f = theano.function([], cost, updates=updates)
    ref = np.array([2.0, -1.0])
    for _ in range(3):
        got = f()
        np.testing.assert_allclose(got, np.sum((ref - 1) ** 2), rtol=1e-6)
        ref = ref - 0.5 * 2 * (ref - 1)
    np.testing.assert_allclose(p.get_value(), ref, rtol=1e-6)


def test_pickled_parameters_restore_a_trained_model(tmp_path):
    rng = np.random.RandomState(3)
    W = theano.shared(rng.normal(size=(4, 2)).astype(floatX), name="W")
    b = theano.shared(np.zeros(2, dtype=floatX), name="b")
    x = T.matrix("x")
    y = T.dot(x, W) + b
    train = theano.function([x], T.sum(y ** 2), updates=[(W, W * 0.5), (b, b + 1)])
    train(np.ones((1, 4), dtype=floatX))
    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump([p.get_value() for p in (W, b)], f)
    with open(tmp_path / "params.pkl", "rb") as f:
        saved = pickle.load(f)
    W2 = theano.shared(np.zeros((4, 2), dtype=floatX))
    b2 = theano.shared(np.zeros(2, dtype=floatX))
    for p, v in zip((W2, b2), saved):
        p.set_value(v)
    xv = rng.normal(size=(3, 4)).astype(floatX)
    f = theano.function([x], T.dot(x, W2) + b2)
    np.testing.assert_allclose(f(xv), xv @ W.get_value() + b.get_value(), rtol=1e-6)
    # and the shared variables themselves pickle with their values
    W3 = pickle.loads(pickle.dumps(W))
    np.testing.assert_array_equal(W3.get_value(), W.get_value())
