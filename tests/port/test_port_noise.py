"""Random-stream idioms of the tutorials: a dropout net (`x *= srng.binomial(x.shape, p=retain)`)
and a denoising autoencoder corrupting its input with `theano_rng.binomial(size=, n=1, p=)`.
The masks are returned so every output can be recomputed with NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from port_data import binary_patterns, blobs, nll, sigmoid, softmax

import theanine as theano
import theanine.tensor as T
from theanine.sandbox.rng_mrg import MRG_RandomStreams
from theanine.tensor.shared_randomstreams import RandomStreams

floatX = theano.config.floatX


def floatx(x):
    return np.asarray(x, dtype=theano.config.floatX)


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_dropout_mask_and_output_match_numpy(streams):
    srng = streams(seed=1234)
    x = T.matrix("x")
    W = theano.shared(floatx(np.random.RandomState(0).normal(size=(50, 4))), name="W")
    retain_prob = 0.8
    mask = srng.binomial(x.shape, p=retain_prob, dtype=theano.config.floatX)
    h = x
    h *= mask
    h /= retain_prob
    out = T.dot(h, W)
    f = theano.function([x], [mask, out])
    xv = floatx(np.random.RandomState(1).normal(size=(400, 50)))
    m1, o1 = f(xv)
    assert set(np.unique(m1)) <= {0.0, 1.0}
    n = m1.size
    assert abs(m1.mean() - retain_prob) < 5 * np.sqrt(retain_prob * (1 - retain_prob) / n)
    np.testing.assert_allclose(o1, (xv * m1 / retain_prob) @ W.get_value(), rtol=1e-4, atol=1e-4)
    m2, _ = f(xv)
    assert not np.array_equal(m1, m2)          # the stream advances between calls
    srng.seed(1234)
    m3, _ = f(xv)
    np.testing.assert_array_equal(m3, m1)      # reseeding replays it


def test_dropout_training_lowers_the_clean_cost(rng):
    srng = RandomStreams(seed=42)
    xd, yd = blobs(rng, 200, 20, 4, floatX)
    x, t = T.matrix(), T.ivector()
    W1 = theano.shared(floatx(np.random.RandomState(2).randn(20, 32) * 0.1))
    W2 = theano.shared(floatx(np.zeros((32, 4))))

    def model(p):
        h = T.maximum(0, T.dot(x, W1))
        if p > 0:
            h *= srng.binomial(h.shape, p=1 - p, dtype=theano.config.floatX)
            h /= 1 - p
        return T.nnet.softmax(T.dot(h, W2))

    p_train, p_test = model(0.5), model(0.0)
    cost = T.mean(T.nnet.categorical_crossentropy(p_train, t))
    updates = [(w, w - 0.5 * g) for w, g in zip([W1, W2], T.grad(cost, [W1, W2]))]
    train = theano.function([x, t], cost, updates=updates)
    predict = theano.function([x], p_test)

    def clean_cost():
        h = np.maximum(0, xd @ W1.get_value())
        return nll(softmax(h @ W2.get_value()), yd)

    np.testing.assert_allclose(nll(predict(xd), yd), clean_cost(), rtol=1e-4)
    before = clean_cost()
    for _ in range(60):
        train(xd, yd.astype("int32"))
    assert clean_cost() < 0.5 * before


class dA:
    def __init__(self, numpy_rng, theano_rng=None, input=None, n_visible=16, n_hidden=8,
                 W=None, bhid=None, bvis=None):
        if not theano_rng:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        if not W:
            bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
            W = theano.shared(floatx(numpy_rng.uniform(-bound, bound, size=(n_visible, n_hidden))),
                              name="W", borrow=True)
        if not bvis:
            bvis = theano.shared(floatx(np.zeros(n_visible)), borrow=True)
        if not bhid:
            bhid = theano.shared(floatx(np.zeros(n_hidden)), name="b", borrow=True)
        self.W, self.b, self.b_prime = W, bhid, bvis
        self.W_prime = self.W.T
        self.theano_rng = theano_rng
        self.x = T.dmatrix(name="input") if input is None else input
        self.params = [self.W, self.b, self.b_prime]

    def get_corrupted_input(self, input, corruption_level):
        return self.theano_rng.binomial(size=input.shape, n=1, p=1 - corruption_level,
                                        dtype=theano.config.floatX) * input

    def get_cost_updates(self, corruption_level, learning_rate):
        tilde_x = self.get_corrupted_input(self.x, corruption_level)
        y = T.nnet.sigmoid(T.dot(tilde_x, self.W) + self.b)
        z = T.nnet.sigmoid(T.dot(y, self.W_prime) + self.b_prime)
        L = -T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        cost = T.mean(L)
        gparams = T.grad(cost, self.params)
        updates = [(p, p - learning_rate * g) for p, g in zip(self.params, gparams)]
        return cost, updates, tilde_x


def numpy_dA_step(W, b, bp, x, tilde, lr):
    y = sigmoid(tilde @ W + b)
    z = sigmoid(y @ W.T + bp)
    cost = np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1))
    dz = (z - x) / len(x)                      # d cost / d (pre-sigmoid of z)
    dy = (dz @ W) * y * (1 - y)
    gW = tilde.T @ dy + dz.T @ y               # tied weights: both uses of W
    return W - lr * gW, b - lr * dy.sum(0), bp - lr * dz.sum(0), cost


def test_denoising_autoencoder_matches_numpy_and_learns(rng):
    data = binary_patterns(rng, 100, 16, dtype=floatX)
    x = T.matrix("x")
    da = dA(np.random.RandomState(123), input=x, n_visible=16, n_hidden=8)
    cost, updates, tilde = da.get_cost_updates(corruption_level=0.3, learning_rate=0.1)
    train = theano.function([x], [cost, tilde], updates=updates)
    W, b, bp = (p.get_value().astype("float64") for p in da.params)
    costs = []
    for _ in range(150):
        c, tl = train(data)
        assert set(np.unique(tl[data == 0])) <= {0.0}
        W, b, bp, ref_cost = numpy_dA_step(W, b, bp, data.astype("float64"),
                                           tl.astype("float64"), 0.1)
        np.testing.assert_allclose(c, ref_cost, rtol=2e-3)
        costs.append(float(c))
    np.testing.assert_allclose(da.W.get_value(), W, rtol=1e-2, atol=1e-3)
    kept = np.mean(tl[data == 1])
    assert 0.55 < kept < 0.85                  # about 1 - corruption_level survive
    assert np.mean(costs[-10:]) < 0.8 * np.mean(costs[:10])
