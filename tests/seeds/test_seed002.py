"""Seed 002 (定义函数、计算梯度、搭建神经网络): defining functions, gradients, a single
neuron with plain and shared parameters, and a training function built from updates."""

import random

import numpy as np

import theanine as theano
import theanine.tensor as T

FLOAT32 = {"rtol": 1e-6}


def test_twice_x():
    x = theano.tensor.scalar()
    y = 2 * x
    f = theano.function([x], y)
    result = f(-2)
    assert result.dtype == np.dtype(theano.config.floatX) and result.shape == ()
    assert result == -4.0


def test_elementwise_product_and_dot_on_lists():
    a = T.matrix()
    b = T.matrix()
    c = a * b
    d = T.dot(a, b)
    F1 = theano.function([a, b], c)
    F2 = theano.function([a, b], d)
    A = [[1, 2], [3, 4]]
    B = [[2, 4], [6, 8]]
    C = [[1, 2], [3, 4], [5, 6]]
    np.testing.assert_array_equal(F1(A, B), [[2.0, 8.0], [18.0, 32.0]])
    np.testing.assert_array_equal(F2(C, B), [[14.0, 20.0], [30.0, 44.0], [46.0, 68.0]])
    np.testing.assert_array_equal(F2(C, B), np.dot(C, B))


def test_batched_dot():
    a = T.tensor3(dtype=theano.config.floatX)
    b = T.tensor3(dtype=theano.config.floatX)
    tdot = T.batched_dot(a, b)
    F = theano.function([a, b], tdot)
    A = np.asarray([[[2, 4, 4], [6, 8, 3]]] * 4, dtype=np.float32)
    B = np.asarray([[[1, 2], [3, 4], [5, 6]]] * 4, dtype=np.float32)
    assert list(A.shape) == [4, 2, 3]
    assert list(B.shape) == [4, 3, 2]
    result = F(A, B)
    assert list(result.shape) == [4, 2, 2]
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.matmul(A, B), **FLOAT32)


def test_grad_scalar_wrt_scalar():
    x = T.scalar("x")
    y = x**2
    g = T.grad(y, x)
    f = theano.function([x], y)
    f_prime = theano.function([x], g)
    assert f(-2) == 4.0
    assert f_prime(-2) == -4.0


def test_grad_scalar_wrt_list_of_scalars():
    x1 = T.scalar()
    x2 = T.scalar()
    y = x1 * x2
    g = T.grad(y, [x1, x2])
    f = theano.function([x1, x2], y)
    f_prime = theano.function([x1, x2], g)
    assert f(2, 4) == 8.0
    result = f_prime(2, 4)
    # The seed prints [array(4., dtype=float32), array(2., dtype=float32)].
    assert isinstance(result, list) and len(result) == 2
    for r, expected in zip(result, [4.0, 2.0]):
        assert isinstance(r, np.ndarray) and r.shape == () and r.dtype == np.float32
        assert r == expected
    assert repr(result) == "[array(4., dtype=float32), array(2., dtype=float32)]"


def test_grad_scalar_wrt_matrix():
    A = T.matrix()
    B = T.matrix()
    C = A * B
    D = T.sum(C)
    g = T.grad(D, A)
    y_1 = theano.function([A, B], C)
    y_2 = theano.function([A, B], D)
    y_prime = theano.function([A, B], g)
    a = [[1, 2], [3, 4]]
    b = [[2, 4], [6, 8]]
    np.testing.assert_array_equal(y_1(a, b), [[2.0, 8.0], [18.0, 32.0]])
    assert y_2(a, b) == 60.0
    np.testing.assert_array_equal(y_prime(a, b), [[2.0, 4.0], [6.0, 8.0]])


def test_neuron_with_parameters_as_inputs():
    x = T.vector(dtype=theano.config.floatX)
    w = T.vector(dtype=theano.config.floatX)
    b = T.scalar(dtype=theano.config.floatX)
    z = T.dot(w, x) + b
    y = 1 / (1 + T.exp(-z))
    neuron = theano.function(inputs=[x, w, b], outputs=[y])
    w = [-1, 1]
    b = 0
    printed = [([0.53283304, 0.5341366], 0.50032586), ([0.509553, 0.71356404], 0.5508266),
               ([0.25699896, 0.7526936], 0.621447), ([0.8838792, 0.15489908], 0.32541856),
               ([0.6705464, 0.64344513], 0.4932251)]
    prng = np.random.RandomState(123456789)
    for seed_x, seed_y in printed:
        x = prng.rand(2).astype(np.float32)
        np.testing.assert_allclose(x, seed_x, **FLOAT32)
        out = neuron(x, w, b)
        assert isinstance(out, list) and len(out) == 1
        assert out[0].shape == () and out[0].dtype == np.float32
        np.testing.assert_allclose(out[0], seed_y, **FLOAT32)
        np.testing.assert_allclose(out[0], 1 / (1 + np.exp(-(x[1] - x[0]))), **FLOAT32)


def _shared_neuron():
    x = T.vector()
    w = theano.shared(np.array([1.0, 1.0]))
    b = theano.shared(0.0)
    z = T.dot(w, x) + b
    y = 1 / (1 + T.exp(-z))
    return x, w, b, y


def test_neuron_with_shared_parameters():
    x, w, b, y = _shared_neuron()
    neuron = theano.function(inputs=[x], outputs=y)
    w.set_value([0.1, 0.1])
    assert w.get_value().dtype == np.float64
    np.testing.assert_array_equal(w.get_value(), [0.1, 0.1])
    py_rng = random.Random(0)
    for _ in range(5):
        xv = np.asarray([py_rng.random(), py_rng.random()], dtype=np.float32)
        expected = 1 / (1 + np.exp(-(0.1 * xv.astype(np.float64)).sum()))
        np.testing.assert_allclose(neuron(xv), expected, rtol=1e-12)


def _numpy_step(w, b, xv, target, lr=0.1):
    """One gradient step of (sigmoid(w.x + b) - target)**2, computed by hand."""
    p = 1 / (1 + np.exp(-(w @ xv + b)))
    dz = 2 * (p - target) * p * (1 - p)
    return w - lr * dz * xv, b - lr * dz


def test_training_function_with_updates_only():
    x, w, b, y = _shared_neuron()
    y_hat = T.scalar()
    cost = (y - y_hat) ** 2
    dw, db = T.grad(cost, [w, b])
    gradient = theano.function(inputs=[x, y_hat], updates=[(w, w - 0.1 * dw), (b, b - 0.1 * db)])
    xv = np.asarray([0.3, 0.8], dtype=np.float32)
    w_ref, b_ref = np.array([1.0, 1.0]), 0.0
    for _ in range(3):
        assert gradient(xv, 0.0) == []
        w_ref, b_ref = _numpy_step(w_ref, b_ref, xv.astype(np.float64), 0.0)
        np.testing.assert_allclose(w.get_value(), w_ref, rtol=1e-12)
        np.testing.assert_allclose(b.get_value(), b_ref, rtol=1e-12)


def test_training_by_hand_matches_training_by_updates():
    """The seed's "常规" version (compute dw, db; set_value) equals the updates version."""
    x, w, b, y = _shared_neuron()
    y_hat = T.scalar()
    dw, db = T.grad((y - y_hat) ** 2, [w, b])
    gradient = theano.function(inputs=[x, y_hat], outputs=[dw, db])
    xv = np.asarray([0.5, -0.25], dtype=np.float32)
    for _ in range(3):
        gw, gb = gradient(xv, 1.0)
        w.set_value(w.get_value() - 0.1 * gw)
        b.set_value(b.get_value() - 0.1 * gb)
    w_ref, b_ref = np.array([1.0, 1.0]), 0.0
    for _ in range(3):
        w_ref, b_ref = _numpy_step(w_ref, b_ref, xv.astype(np.float64), 1.0)
    np.testing.assert_allclose(w.get_value(), w_ref, rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), b_ref, rtol=1e-12)
