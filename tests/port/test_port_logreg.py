"""Logistic regression as the deeplearning.net tutorial writes it: shared W/b, minibatches picked
by `givens` with `index * batch_size`, integer labels through `T.cast(shared_y, 'int32')`, and a
pickled classifier reloaded to predict. Checked step by step against a NumPy SGD loop."""

from __future__ import annotations

import pickle

import numpy as np
from port_data import blobs, nll, onehot, softmax

import theanine as theano
import theanine.tensor as T

floatX = theano.config.floatX


class LogisticRegression:
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(value=np.zeros((n_in, n_out), dtype=theano.config.floatX),
                               name="W", borrow=True)
        self.b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX),
                               name="b", borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError("y should have the same shape as self.y_pred")
        return T.mean(T.neq(self.y_pred, y))


def shared_dataset(data_xy, borrow=True):
    data_x, data_y = data_xy
    shared_x = theano.shared(np.asarray(data_x, dtype=theano.config.floatX), borrow=borrow)
    shared_y = theano.shared(np.asarray(data_y, dtype=theano.config.floatX), borrow=borrow)
    return shared_x, T.cast(shared_y, "int32")


def build(train, batch_size, lr):
    train_x, train_y = shared_dataset(train)
    index = T.lscalar()
    x = T.matrix("x")
    y = T.ivector("y")
    clf = LogisticRegression(input=x, n_in=train[0].shape[1], n_out=3)
    cost = clf.negative_log_likelihood(y)
    g_W = T.grad(cost=cost, wrt=clf.W)
    g_b = T.grad(cost=cost, wrt=clf.b)
    updates = [(clf.W, clf.W - lr * g_W), (clf.b, clf.b - lr * g_b)]
    train_model = theano.function(
        inputs=[index], outputs=cost, updates=updates,
        givens={x: train_x[index * batch_size: (index + 1) * batch_size],
                y: train_y[index * batch_size: (index + 1) * batch_size]})
    errors = theano.function(
        inputs=[index], outputs=clf.errors(y),
        givens={x: train_x[index * batch_size: (index + 1) * batch_size],
                y: train_y[index * batch_size: (index + 1) * batch_size]})
    return clf, train_model, errors


def test_minibatch_sgd_matches_numpy_and_lowers_cost(rng):
    data = blobs(rng, 240, 20, 3, floatX)
    batch_size, lr, n_batches = 40, 0.13, 6
    clf, train_model, errors = build(data, batch_size, lr)

    W, b = np.zeros((20, 3)), np.zeros(3)
    x, y = data[0].astype("float64"), data[1]
    costs, ref_costs = [], []
    for _epoch in range(3):
        for i in range(n_batches):
            xb, yb = x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]
            p = softmax(xb @ W + b)
            ref_costs.append(nll(p, yb))
            delta = (p - onehot(yb, 3)) / batch_size
            W, b = W - lr * xb.T @ delta, b - lr * delta.sum(0)
            costs.append(float(train_model(i)))
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clf.W.get_value(), W, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(clf.b.get_value(), b, rtol=1e-3, atol=1e-5)
    assert np.mean(costs[-n_batches:]) < 0.5 * np.mean(costs[:n_batches])
    ref_err = [np.mean(np.argmax(x[i * batch_size:(i + 1) * batch_size] @ W + b, 1)
                      != y[i * batch_size:(i + 1) * batch_size])
               for i in range(n_batches)]
    np.testing.assert_allclose([float(errors(i)) for i in range(n_batches)], ref_err)


def test_pickled_classifier_predicts_like_the_trained_one(rng, tmp_path):
    data = blobs(rng, 120, 10, 3, floatX)
    clf, train_model, _ = build(data, 30, 0.2)
    for i in range(4):
        train_model(i)
    with open(tmp_path / "best_model.pkl", "wb") as f:
        pickle.dump(clf, f)
    with open(tmp_path / "best_model.pkl", "rb") as f:
        loaded = pickle.load(f)
    predict_model = theano.function(inputs=[loaded.input], outputs=loaded.y_pred)
    expected = np.argmax(data[0] @ clf.W.get_value() + clf.b.get_value(), axis=1)
    np.testing.assert_array_equal(predict_model(data[0]), expected)
    np.testing.assert_array_equal(loaded.W.get_value(), clf.W.get_value())
