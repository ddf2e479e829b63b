"""Seed 003's "modern net": two ReLU hidden layers with dropout, a softmax output, trained
with RMSprop, on synthetic data (Gaussian clusters, one per class) instead of MNIST.

Written as the Theano tutorial wrote it, after `import theanine as theano`; the dropout masks
come from `MRG_RandomStreams`.  Run `python examples/mlp_dropout.py`: the training loss goes
down epoch after epoch and the test accuracy goes up.
"""

from __future__ import annotations

import numpy as np

import theanine as theano
import theanine.tensor as T
from theanine.sandbox.rng_mrg import MRG_RandomStreams as RandomStreams

srng = RandomStreams()


def floatX(x):
    return np.asarray(x, dtype=theano.config.floatX)


def init_weights(rng, shape):
    return theano.shared(floatX(rng.standard_normal(shape) * 0.01))


def rectify(X):
    return T.maximum(X, 0.0)


def softmax(X):
    e_x = T.exp(X - X.max(axis=1).dimshuffle(0, "x"))
    return e_x / e_x.sum(axis=1).dimshuffle(0, "x")


def RMSprop(cost, params, lr=0.001, rho=0.9, epsilon=1e-6):
    grads = T.grad(cost=cost, wrt=params)
    updates = []
    for p, g in zip(params, grads):
        acc = theano.shared(p.get_value() * 0.0)
        acc_new = rho * acc + (1 - rho) * g**2
        gradient_scaling = T.sqrt(acc_new + epsilon)
        g = g / gradient_scaling
        updates.append((acc, acc_new))
        updates.append((p, p - lr * g))
    return updates


def dropout(X, p=0.0):
    if p > 0:
        retain_prob = 1 - p
        X *= srng.binomial(X.shape, p=retain_prob, dtype=theano.config.floatX)
        X /= retain_prob
    return X


def model(X, w_h, w_h2, w_o, p_drop_input, p_drop_hidden):
    X = dropout(X, p_drop_input)
    h = rectify(T.dot(X, w_h))
    h = dropout(h, p_drop_hidden)
    h2 = rectify(T.dot(h, w_h2))
    h2 = dropout(h2, p_drop_hidden)
    py_x = softmax(T.dot(h2, w_o))
    return h, h2, py_x


def synthetic_data(rng, n, n_features=64, n_classes=10):
    """Points scattered around one random centre per class, with one-hot labels."""
    centres = rng.standard_normal((n_classes, n_features)) * 0.4
    labels = rng.integers(n_classes, size=n)
    x = centres[labels] + rng.standard_normal((n, n_features))
    return floatX(x), floatX(np.eye(n_classes)[labels])


def main(epochs=10, n_train=2048, n_test=512, hidden=256, batch=128, seed=0, verbose=True):
    """Train and return (mean training cost, test accuracy) per epoch."""
    rng = np.random.default_rng(seed)
    trX, trY = synthetic_data(rng, n_train + n_test)
    teX, teY = trX[n_train:], trY[n_train:]
    trX, trY = trX[:n_train], trY[:n_train]

    X = T.fmatrix()
    Y = T.fmatrix()
    w_h = init_weights(rng, (trX.shape[1], hidden))
    w_h2 = init_weights(rng, (hidden, hidden))
    w_o = init_weights(rng, (hidden, trY.shape[1]))

    noise_h, noise_h2, noise_py_x = model(X, w_h, w_h2, w_o, 0.2, 0.5)
    h, h2, py_x = model(X, w_h, w_h2, w_o, 0.0, 0.0)
    y_x = T.argmax(py_x, axis=1)

    cost = T.mean(T.nnet.categorical_crossentropy(noise_py_x, Y))
    params = [w_h, w_h2, w_o]
    updates = RMSprop(cost, params, lr=0.001)

    train = theano.function(inputs=[X, Y], outputs=cost, updates=updates,
                            allow_input_downcast=True)
    predict = theano.function(inputs=[X], outputs=y_x, allow_input_downcast=True)

    history = []
    for epoch in range(epochs):
        costs = [float(train(trX[start:start + batch], trY[start:start + batch]))
                 for start in range(0, len(trX) - batch + 1, batch)]
        accuracy = float(np.mean(np.argmax(teY, axis=1) == predict(teX)))
        history.append((float(np.mean(costs)), accuracy))
        if verbose:
            print(f"epoch {epoch}: cost {history[-1][0]:.4f}, test accuracy {accuracy:.3f}")
    return history


if __name__ == "__main__":
    main()
