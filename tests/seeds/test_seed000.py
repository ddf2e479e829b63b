"""Seed 000 ("Theano 学习一 初步使用"): softmax regression trained on index-based minibatches
of shared data through `givens`, and a Softmax Op written the way a user writes one."""

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T


def _numpy_softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _blobs(n=120, d=5, k=3, seed=0):
    """Linearly separable data: `k` well separated Gaussian blobs."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 4
    label = rng.randint(0, k, size=n)
    data = centers[label] + rng.randn(n, d)
    return data, label


class _SoftmaxRegression:
    """The seed's model: shared data, int32 labels cast from a float shared variable."""

    def __init__(self, data, label, landa=0.01, batch_size=20, softmax=None):
        softmax = softmax or T.nnet.softmax
        d = data.shape[1]
        k = int(label.max()) + 1
        self.batch_size = batch_size
        self.landa = landa
        data_x = theano.shared(np.asarray(data, dtype=theano.config.floatX), borrow=True)
        label = T.cast(theano.shared(np.asarray(label, dtype=theano.config.floatX)), "int32")
        x = T.matrix("x")
        y = T.ivector("y")
        index = T.lscalar()
        self.theta = theano.shared(np.zeros((d, k), dtype=theano.config.floatX), name="theta")
        theta = self.theta
        hx = softmax(T.dot(x, theta))
        cost = -T.mean(T.log(hx)[T.arange(y.shape[0]), y]) + 0.5 * self.landa * T.sum(theta**2)
        predict = T.argmax(hx, axis=1)
        g_theta = T.grad(cost, theta)
        bs = batch_size
        self.train = theano.function(
            [index], cost, updates=[(theta, theta - 0.1 * g_theta)],
            givens={x: data_x[index * bs:(index + 1) * bs], y: label[index * bs:(index + 1) * bs]})
        self.accuracy = theano.function([], T.mean(T.eq(predict, y)),
                                        givens={x: data_x, y: label})
        self.predict = theano.function([x], predict)


def test_label_cast_to_int32():
    label = np.array([0, 2, 1])
    cast = T.cast(theano.shared(np.asarray(label, dtype=theano.config.floatX)), "int32")
    assert cast.dtype == "int32"
    result = theano.function([], cast)()
    assert result.dtype == np.int32
    np.testing.assert_array_equal(result, label)


def test_softmax_regression_with_givens_trains():
    data, label = _blobs()
    model = _SoftmaxRegression(data, label)
    n_batches = len(data) // model.batch_size
    initial_accuracy = float(model.accuracy())
    epoch_costs = []
    for _ in range(5):
        epoch_costs.append(np.mean([model.train(i) for i in range(n_batches)]))
    assert all(later < earlier for earlier, later in zip(epoch_costs, epoch_costs[1:]))
    final_accuracy = float(model.accuracy())
    assert final_accuracy > max(initial_accuracy, 0.95)
    xv = np.asarray(data, dtype=theano.config.floatX)
    np.testing.assert_array_equal(model.predict(xv),
                                  np.argmax(xv @ model.theta.get_value(), axis=1))


def test_softmax_regression_step_matches_numpy():
    data, label = _blobs(n=40, d=4, k=3, seed=1)
    model = _SoftmaxRegression(data, label, landa=0.1, batch_size=10)
    rng = np.random.RandomState(2)
    theta0 = rng.randn(4, 3).astype(theano.config.floatX)
    model.theta.set_value(theta0)
    index = 2
    xb = data[index * 10:(index + 1) * 10].astype(np.float64)
    yb = label[index * 10:(index + 1) * 10]
    t = theta0.astype(np.float64)
    hx = _numpy_softmax(xb @ t)
    expected_cost = -np.mean(np.log(hx[np.arange(10), yb])) + 0.5 * 0.1 * np.sum(t**2)
    onehot = np.eye(3)[yb]
    expected_grad = xb.T @ (hx - onehot) / 10 + 0.1 * t
    cost = model.train(index)
    np.testing.assert_allclose(cost, expected_cost, rtol=1e-5)
    np.testing.assert_allclose(model.theta.get_value(), t - 0.1 * expected_grad, rtol=1e-5,
                               atol=1e-6)


def test_nnet_softmax_matches_numpy_h():
    x = T.matrix("x")
    f = theano.function([x], T.nnet.softmax(x))
    v = np.random.RandomState(3).randn(4, 5).astype(theano.config.floatX)
    # the seed's NumPy version: m = exp(x); m / sum(m, axis=1)
    m = np.exp(v.astype(np.float64))
    np.testing.assert_allclose(f(v), m / m.sum(axis=1, keepdims=True), rtol=1e-6)


# A Softmax Op written the way the seed shows a user writing one. ---------------------------
class SoftmaxGrad(theano.Op):
    __props__ = ()

    def make_node(self, dy, sm):
        dy = T.as_tensor_variable(dy)
        sm = T.as_tensor_variable(sm)
        return theano.Apply(self, [dy, sm], [sm.type()])

    def perform(self, node, inputs, output_storage):
        dy, sm = inputs
        output_storage[0][0] = (dy - (dy * sm).sum(axis=1)[:, None]) * sm


class Softmax(theano.Op):
    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, input_storage, output_storage):
        x, = input_storage
        e_x = np.exp(x - x.max(axis=1)[:, None])
        sm = e_x / e_x.sum(axis=1)[:, None]
        output_storage[0][0] = sm

    def grad(self, inp, grads):
        x, = inp
        g_sm, = grads
        sm = softmax_op(x)
        return [softmax_grad(g_sm, sm)]


softmax_op = Softmax()
softmax_grad = SoftmaxGrad()


def test_custom_softmax_op_values():
    assert softmax_op == Softmax() and hash(softmax_op) == hash(Softmax())
    x = T.dmatrix("x")
    f = theano.function([x], softmax_op(x))
    v = np.random.RandomState(4).randn(3, 4)
    np.testing.assert_allclose(f(v), _numpy_softmax(v), rtol=1e-12)
    # large inputs stay finite thanks to the max subtraction
    np.testing.assert_allclose(f(v * 1000), _numpy_softmax(v * 1000), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_custom_softmax_op_grad(dtype):
    v = np.random.RandomState(5).randn(3, 4).astype(dtype)
    theano.verify_grad(softmax_op, [v], rng=np.random.RandomState(6))


def test_custom_softmax_op_grad_matches_builtin():
    x = T.dmatrix("x")
    y = T.ivector("y")
    rows = T.arange(y.shape[0])
    costs = [-T.mean(T.log(sm(x))[rows, y]) for sm in (softmax_op, T.nnet.softmax)]
    grads = theano.function([x, y], [T.grad(c, x) for c in costs])
    v = np.random.RandomState(7).randn(5, 3)
    yv = np.array([0, 2, 1, 1, 0], dtype=np.int32)
    custom, builtin = grads(v, yv)
    expected = (_numpy_softmax(v) - np.eye(3)[yv]) / 5
    np.testing.assert_allclose(custom, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(builtin, expected, rtol=1e-10, atol=1e-14)


def test_softmax_regression_with_the_custom_op():
    data, label = _blobs(seed=8)
    model = _SoftmaxRegression(data, label, softmax=softmax_op)
    for _ in range(5):
        for i in range(len(data) // model.batch_size):
            model.train(i)
    assert float(model.accuracy()) > 0.95
