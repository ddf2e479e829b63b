"""The LeNet-5 of the deeplearning.net tutorial ("Convolutional Neural Networks (LeNet)"):
two convolution + max-pooling layers, a tanh hidden layer and a logistic regression on top,
trained by minibatch SGD on the negative log-likelihood.

Written as the tutorial wrote it, after `import theanine as theano`, with synthetic
MNIST-shaped data instead of MNIST: each of the ten classes is a fixed pattern of strokes on
a 28x28 canvas, drawn shifted by a pixel or two, with noise.  Run `python examples/lenet.py`:
the training cost falls and the test error drops well below chance (90%).
"""

from __future__ import annotations

import numpy as np

import theanine as theano
import theanine.tensor as T
from theanine.tensor.nnet import conv2d
from theanine.tensor.signal import pool


class LeNetConvPoolLayer:
    """A convolution by `filter_shape` filters, max pooling by `poolsize`, a bias and tanh."""

    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2)):
        assert image_shape[1] == filter_shape[1]
        fan_in = np.prod(filter_shape[1:])
        fan_out = filter_shape[0] * np.prod(filter_shape[2:]) // np.prod(poolsize)
        W_bound = np.sqrt(6.0 / (fan_in + fan_out))
        self.W = theano.shared(
            np.asarray(rng.uniform(low=-W_bound, high=W_bound, size=filter_shape),
                       dtype=theano.config.floatX), borrow=True)
        self.b = theano.shared(np.zeros((filter_shape[0],), dtype=theano.config.floatX),
                               borrow=True)
        conv_out = conv2d(input=input, filters=self.W, filter_shape=filter_shape,
                          input_shape=image_shape)
        pooled_out = pool.pool_2d(input=conv_out, ws=poolsize, ignore_border=True)
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


class HiddenLayer:
    """tanh(input . W + b), with the tutorial's uniform initialisation."""

    def __init__(self, rng, input, n_in, n_out):
        bound = np.sqrt(6.0 / (n_in + n_out))
        self.W = theano.shared(np.asarray(rng.uniform(low=-bound, high=bound,
                                                      size=(n_in, n_out)),
                                          dtype=theano.config.floatX), borrow=True)
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), borrow=True)
        self.output = T.tanh(T.dot(input, self.W) + self.b)
        self.params = [self.W, self.b]


class LogisticRegression:
    """softmax(input . W + b) over the classes."""

    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(np.zeros((n_in, n_out), dtype=theano.config.floatX),
                               borrow=True)
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        return T.mean(T.neq(self.y_pred, y))


def synthetic_digits(rng, n, n_classes=10, size=28):
    """`n` images of `n_classes` stroke patterns (4 random segments each), shifted by up to
    two pixels, with Gaussian noise; returns (images as rows of size*size, int32 labels)."""
    templates = np.zeros((n_classes, size + 4, size + 4))
    t = np.linspace(0.0, 1.0, 40)
    for k in range(n_classes):
        for _ in range(4):
            (r0, c0), (r1, c1) = rng.uniform(6, size - 2, size=(2, 2))
            rows = np.round(r0 + (r1 - r0) * t).astype(int)
            cols = np.round(c0 + (c1 - c0) * t).astype(int)
            templates[k, rows, cols] = 1.0
            templates[k, rows + 1, cols] = 1.0
    labels = rng.integers(n_classes, size=n).astype("int32")
    shifts = rng.integers(0, 5, size=(n, 2))
    images = np.stack([templates[y, r:r + size, c:c + size]
                       for y, (r, c) in zip(labels, shifts)])
    images += 0.3 * rng.standard_normal(images.shape)
    return images.reshape(n, size * size).astype(theano.config.floatX), labels


def main(learning_rate=0.1, n_epochs=3, nkerns=(20, 50), batch_size=100, n_train=1000,
         n_test=500, seed=23455, verbose=True):
    """Train; return the training cost of every minibatch step."""
    rng = np.random.default_rng(seed)
    train_x, train_y = synthetic_digits(rng, n_train + n_test)
    test_x, test_y = train_x[n_train:], train_y[n_train:]
    train_x, train_y = train_x[:n_train], train_y[:n_train]

    x = T.matrix("x")  # rasterized images
    y = T.ivector("y")  # labels
    layer0_input = x.reshape((batch_size, 1, 28, 28))
    layer0 = LeNetConvPoolLayer(rng, input=layer0_input, image_shape=(batch_size, 1, 28, 28),
                                filter_shape=(nkerns[0], 1, 5, 5), poolsize=(2, 2))
    layer1 = LeNetConvPoolLayer(rng, input=layer0.output,
                                image_shape=(batch_size, nkerns[0], 12, 12),
                                filter_shape=(nkerns[1], nkerns[0], 5, 5), poolsize=(2, 2))
    layer2 = HiddenLayer(rng, input=layer1.output.flatten(2), n_in=nkerns[1] * 4 * 4,
                         n_out=500)
    layer3 = LogisticRegression(input=layer2.output, n_in=500, n_out=10)
    cost = layer3.negative_log_likelihood(y)

    params = layer3.params + layer2.params + layer1.params + layer0.params
    grads = T.grad(cost, params)
    updates = [(p, p - learning_rate * g) for p, g in zip(params, grads)]
    train_model = theano.function([x, y], cost, updates=updates)
    test_model = theano.function([x, y], layer3.errors(y))

    costs = []
    for epoch in range(n_epochs):
        for start in range(0, n_train - batch_size + 1, batch_size):
            stop = start + batch_size
            costs.append(float(train_model(train_x[start:stop], train_y[start:stop])))
        if verbose:
            errors = [test_model(test_x[s:s + batch_size], test_y[s:s + batch_size])
                      for s in range(0, n_test - batch_size + 1, batch_size)]
            n_steps = n_train // batch_size
            print(f"epoch {epoch}: training cost {np.mean(costs[-n_steps:]):.4f}, "
                  f"test error {100 * np.mean(errors):.1f}%")
    return costs


if __name__ == "__main__":
    main()
