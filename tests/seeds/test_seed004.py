"""Seed 004 ("Theano学习及探索"): variables and Apply nodes, `f(2, 3)`, an accumulator,
`T.grad(x ** 2, x)`, logistic regression on synthetic data, `a + a ** 10` and the
`e = (a + b) * (b + 1)` example of reverse-mode differentiation.

The printed optimized graph (`pp(f.maker.fgraph.outputs[0])` = `(2.0 * x)`) depends on
the rewrites and is tested with them, not here.
"""

import numpy as np

import theanine as theano
import theanine.tensor as T
from theanine import function, shared


def test_apply_connects_inputs_op_and_output():
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    z = x + y
    assert isinstance(z.owner, theano.Apply)
    assert z.owner.inputs == [x, y]
    assert z.owner.outputs == [z]
    assert x.owner is None and y.owner is None
    assert z.type == x.type


def test_add_two_scalars():
    x = T.dscalar("x")
    y = T.dscalar("y")
    z = x + y
    f = function([x, y], z)
    result = f(2, 3)
    assert isinstance(result, np.ndarray) and result.shape == () and result.dtype == np.float64
    assert result == 5.0


def test_accumulator():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    for k in (1, 2, 3):
        accumulator(k)
    assert state.get_value() == 6


def test_derivative_of_square():
    x = T.dscalar("x")
    y = x**2
    gy = T.grad(y, x)
    f = theano.function([x], gy)
    result = f(4)
    assert result.shape == () and result.dtype == np.float64
    assert result == 8.0
    np.testing.assert_allclose([f(v) for v in (-1.5, 0.0, 3.0)], [-3.0, 0.0, 6.0])


def test_a_plus_a_to_the_tenth():
    a = theano.tensor.vector("a")
    b = a + a**10
    f = theano.function([a], b)
    result = f([0, 1, 2])
    np.testing.assert_array_equal(result, [0.0, 2.0, 1026.0])


def test_reverse_mode_example():
    a, b = T.dscalars("a", "b")
    c = a + b
    d = b + 1
    e = c * d
    f = function([a, b], [e] + T.grad(e, [a, b]))
    value, de_da, de_db = f(2, 1)
    assert value == 6.0
    assert de_da == 2.0  # d
    assert de_db == 5.0  # d + c


def _logistic_regression(w_scale):
    rng = np.random.RandomState(0)
    N = 400
    feats = 784
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(rng.randn(feats) * w_scale, name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function(inputs=[x, y], outputs=[prediction, xent],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)
    return D, w, b, train, predict


def _train_until_accurate(D, train, predict, max_steps):
    losses = []
    for _ in range(max_steps):
        pred, err = train(D[0], D[1])
        losses.append(err.mean())
        if np.mean(predict(D[0]) == D[1]) > 0.95:
            break
    return losses


def test_logistic_regression_as_in_the_seed():
    """The seed's code with its `randn` initial weights: |w.x| ~ 28 saturates the sigmoid, so
    1 - p_1 rounds to 0 in the raw graph; the stabilizing rewrites keep cost and gradients
    finite, as in Theano (whose default mode, like the seed's, runs them)."""
    with theano.config.change_flags(optimizer="fast_run"):
        D, w, b, train, predict = _logistic_regression(w_scale=1.0)
    losses = _train_until_accurate(D, train, predict, max_steps=2000)
    assert np.all(np.isfinite(w.get_value())) and np.isfinite(b.get_value())
    assert np.all(np.isfinite(losses))
    assert np.mean(predict(D[0]) == D[1]) > 0.95
    assert losses[-1] < losses[0]


def test_logistic_regression_step_matches_numpy():
    """With small initial weights (no saturation) every step can be checked against NumPy."""
    D, w, b, train, predict = _logistic_regression(w_scale=0.01)
    for _ in range(3):
        w0, b0 = w.get_value(), b.get_value()
        pred, err = train(D[0], D[1])
        z = D[0] @ w0 + b0
        p = 1 / (1 + np.exp(-z))
        np.testing.assert_array_equal(pred, p > 0.5)
        np.testing.assert_allclose(err, -D[1] * np.log(p) - (1 - D[1]) * np.log(1 - p),
                                   rtol=1e-10)
        gz = (p - D[1]) / len(z)
        np.testing.assert_allclose(w.get_value(), w0 - 0.1 * (D[0].T @ gz + 0.02 * w0),
                                   rtol=1e-10)
        np.testing.assert_allclose(b.get_value(), b0 - 0.1 * gz.sum(), rtol=1e-10)
    _train_until_accurate(D, train, predict, max_steps=2000)
    assert np.mean(predict(D[0]) == D[1]) > 0.95
