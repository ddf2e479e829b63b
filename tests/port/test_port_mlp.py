"""A multilayer perceptron as the tutorials write it: a `T.tanh` hidden layer whose weights default
through `if not W:`, L1 and squared-L2 penalties, `np.float32(lr) * g` updates. Checked against a
hand-written NumPy forward/backward pass."""

from __future__ import annotations

import numpy as np
from port_data import blobs, nll, onehot, softmax

import theanine as theano
import theanine.tensor as T

floatX = theano.config.floatX


class HiddenLayer:
    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation=T.tanh):
        self.input = input
        if not W:
            bound = np.sqrt(6.0 / (n_in + n_out))
            W_values = np.asarray(rng.uniform(low=-bound, high=bound, size=(n_in, n_out)),
                                  dtype=theano.config.floatX)
            if activation == T.nnet.sigmoid:
                W_values *= 4
            W = theano.shared(value=W_values, name="W", borrow=True)
        if not b:
            b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX),
                              name="b", borrow=True)
        self.W, self.b = W, b
        lin_output = T.dot(input, self.W) + self.b
        self.output = lin_output if activation is None else activation(lin_output)
        self.params = [self.W, self.b]


class MLP:
    def __init__(self, rng, input, n_in, n_hidden, n_out):
        self.hiddenLayer = HiddenLayer(rng, input, n_in, n_hidden, activation=T.tanh)
        self.outW = theano.shared(np.zeros((n_hidden, n_out), dtype=floatX), name="W_out")
        self.outb = theano.shared(np.zeros((n_out,), dtype=floatX), name="b_out")
        self.p_y_given_x = T.nnet.softmax(T.dot(self.hiddenLayer.output, self.outW) + self.outb)
        self.L1 = abs(self.hiddenLayer.W).sum() + abs(self.outW).sum()
        self.L2_sqr = (self.hiddenLayer.W ** 2).sum() + (self.outW ** 2).sum()
        self.params = self.hiddenLayer.params + [self.outW, self.outb]

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])


def numpy_step(params, x, y, lr, l1, l2):
    """One SGD step of the same MLP in float64; returns the new params and the cost before it."""
    W1, b1, W2, b2 = params
    h = np.tanh(x @ W1 + b1)
    p = softmax(h @ W2 + b2)
    penalty = l1 * (np.abs(W1).sum() + np.abs(W2).sum()) + l2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
    cost = nll(p, y) + penalty
    d_out = (p - onehot(y, p.shape[1])) / len(y)
    gW2 = h.T @ d_out + l1 * np.sign(W2) + 2 * l2 * W2
    gb2 = d_out.sum(0)
    d_h = (d_out @ W2.T) * (1 - h ** 2)
    gW1 = x.T @ d_h + l1 * np.sign(W1) + 2 * l2 * W1
    gb1 = d_h.sum(0)
    grads = [gW1, gb1, gW2, gb2]
    return [p_ - lr * g for p_, g in zip(params, grads)], cost


def test_mlp_sgd_with_l1_l2_matches_numpy(rng):
    x_data, y_data = blobs(rng, 64, 12, 3, floatX)
    np_rng = np.random.RandomState(1234)
    x, y = T.matrix("x"), T.ivector("y")
    net = MLP(np_rng, input=x, n_in=12, n_hidden=16, n_out=3)
    L1_reg, L2_reg, learning_rate = 0.001, 0.0001, 0.1
    cost = net.negative_log_likelihood(y) + L1_reg * net.L1 + L2_reg * net.L2_sqr
    gparams = [T.grad(cost, param) for param in net.params]
    updates = [(param, param - np.float32(learning_rate) * gparam)
               for param, gparam in zip(net.params, gparams)]
    train = theano.function([x, y], cost, updates=updates)

    ref = [p.get_value().astype("float64") for p in net.params]
    costs, ref_costs = [], []
    for _ in range(40):
        costs.append(float(train(x_data, y_data.astype("int32"))))
        ref, c = numpy_step(ref, x_data.astype("float64"), y_data, learning_rate, L1_reg, L2_reg)
        ref_costs.append(c)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-3)
    for p, r in zip(net.params, ref):
        np.testing.assert_allclose(p.get_value(), r, rtol=1e-3, atol=1e-4)
    assert costs[-1] < 0.5 * costs[0]


def test_if_not_W_keeps_a_given_shared_weight():
    x = T.matrix("x")
    W = theano.shared(np.full((3, 2), 0.5, dtype=floatX), name="W")
    layer = HiddenLayer(np.random.RandomState(0), x, 3, 2, W=W, activation=None)
    assert layer.W is W
    f = theano.function([x], layer.output)
    xv = np.arange(6, dtype=floatX).reshape(2, 3)
    np.testing.assert_allclose(f(xv), xv @ W.get_value())


def test_sigmoid_layer_scales_initial_weights_by_four():
    x = T.matrix("x")
    a = HiddenLayer(np.random.RandomState(7), x, 30, 20, activation=T.nnet.sigmoid)
    b = HiddenLayer(np.random.RandomState(7), x, 30, 20, activation=T.tanh)
    np.testing.assert_allclose(a.W.get_value(), 4 * b.W.get_value())
