"""Seed 003 ("七小时 Theano 入门", day 2): `T.nnet.binary_crossentropy` in place of the
hand-written cross entropy, and a two-layer network (sigmoid hidden layer, softmax output)
trained with SGD.

The seed's dropout network (random streams) and its RNN (scan) are tested with those
features, not here.
"""

import numpy as np

import theanine as theano
import theanine.tensor as T


def test_binary_crossentropy_equals_the_hand_written_loss():
    p_1 = T.dvector("p_1")
    y = T.dvector("y")
    by_hand = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    nnet = T.nnet.binary_crossentropy(p_1, y)
    f = theano.function([p_1, y], [by_hand, nnet])
    pv = np.array([0.1, 0.5, 0.9, 0.99])
    yv = np.array([0.0, 1.0, 1.0, 0.0])
    hand, builtin = f(pv, yv)
    expected = -(yv * np.log(pv) + (1 - yv) * np.log(1 - pv))
    np.testing.assert_allclose(hand, expected, rtol=1e-12)
    np.testing.assert_allclose(builtin, expected, rtol=1e-12)


def test_binary_crossentropy_gradient():
    yv = np.array([0.0, 1.0, 1.0])
    theano.verify_grad(lambda p: T.nnet.binary_crossentropy(p, T.constant(yv)),
                       [np.array([0.2, 0.6, 0.7])], rng=np.random.RandomState(0))


def test_two_layer_network_trains():
    rng = np.random.RandomState(0)
    n, d, hidden, k = 150, 2, 8, 3
    # three separable clusters on a circle
    label = rng.randint(0, k, size=n)
    angles = 2 * np.pi * label / k
    data = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 3 + rng.randn(n, d) * 0.5
    X = T.dmatrix("X")
    Y = T.ivector("Y")
    w_h = theano.shared(rng.randn(d, hidden) * 0.5, name="w_h")
    b_h = theano.shared(np.zeros(hidden), name="b_h")
    w_o = theano.shared(rng.randn(hidden, k) * 0.5, name="w_o")
    b_o = theano.shared(np.zeros(k), name="b_o")
    h = T.nnet.sigmoid(T.dot(X, w_h) + b_h)
    py_x = T.nnet.softmax(T.dot(h, w_o) + b_o)
    cost = T.mean(T.nnet.categorical_crossentropy(py_x, Y))
    params = [w_h, b_h, w_o, b_o]
    updates = [(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))]
    train = theano.function([X, Y], cost, updates=updates)
    predict = theano.function([X], T.argmax(py_x, axis=1))
    yv = label.astype(np.int32)
    costs = [float(train(data, yv)) for _ in range(300)]
    assert costs[-1] < 0.2 * costs[0]
    assert np.mean(predict(data) == label) > 0.95
    # the forward pass against NumPy with the trained parameters
    hv = 1 / (1 + np.exp(-(data @ w_h.get_value() + b_h.get_value())))
    logits = hv @ w_o.get_value() + b_o.get_value()
    np.testing.assert_array_equal(predict(data), np.argmax(logits, axis=1))
