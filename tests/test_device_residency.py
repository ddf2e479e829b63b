"""Device backends keep shared values on the device: a training step copies only its inputs
to the device and its user outputs back, whatever the number of steps, and the weights it
learns are those NumPy computes.  Runs for every installed device backend (storage.py's
`DeviceStorage`); a backend that is not available is skipped with its reason."""

from __future__ import annotations

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.link.storage import storage_of
from theanine.plugins import get_registry


def _device_backends():
    found = []
    for name, (backend, _) in sorted(get_registry().backends.items()):
        if storage_of(backend) is not None:
            found.append(pytest.param(backend, id=name))
    return found or [pytest.param(None, marks=pytest.mark.skip(
        reason="no device backend (opencl, cuda) is installed"))]


@pytest.fixture(params=_device_backends())
def device(request):
    backend = request.param
    ok, reason = backend.is_available()
    if not ok:
        pytest.skip(f"backend {backend.name} is not available: {reason}")
    with theano.config.change_flags(backend=backend.name, floatX="float64"):
        yield backend


def _counts(storage):
    return dict(storage.transfers)


def _moved(storage, before):
    now = storage.transfers
    return {k: now[k] - before.get(k, 0) for k in ("to_device", "to_host")}


def test_shared_values_live_on_the_device(device):
    storage = device.storage
    w = theano.shared(np.arange(4.0), name="w")
    assert storage.is_device(w.get_value(borrow=True, return_internal_type=True))
    host = w.get_value()
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, np.arange(4.0))
    w.set_value(np.ones(4))
    np.testing.assert_array_equal(w.get_value(), np.ones(4))
    w.set_value(storage.to_device(np.full(4, 2.0)))
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))
    with pytest.raises(TypeError, match="'w'"):
        w.set_value(storage.to_device(np.zeros((2, 2))))


def test_device_inputs_are_taken_without_a_copy_and_borrowed_outputs_stay(device):
    storage = device.storage
    x = T.dvector("x")
    f = theano.function([x], theano.Out(x * 2, borrow=True))
    xd = storage.to_device(np.arange(3.0))
    before = _counts(storage)
    out = f(xd)
    assert _moved(storage, before) == {"to_device": 0, "to_host": 0}
    assert storage.is_device(out)
    np.testing.assert_array_equal(storage.to_host(out), [0.0, 2.0, 4.0])


def _logistic_regression():
    rng = np.random.RandomState(0)
    n, feats = 100, 20
    data = (rng.randn(n, feats), rng.randint(size=n, low=0, high=2).astype("float64"))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(rng.randn(feats) * 0.01, name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function([x, y], [p_1 > 0.5, xent],
                            updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    return data, w, b, train


def test_seed004_logistic_regression_moves_only_inputs_and_outputs(device):
    storage = device.storage
    (xs, ys), w, b, train = _logistic_regression()
    assert " 0 fallback" in train.report(), train.report()
    wn, bn = w.get_value(), float(b.get_value())
    for _ in range(5):
        before = _counts(storage)
        pred, err = train(xs, ys)
        # two inputs in, two outputs back; the updated w and b stay on the device
        assert _moved(storage, before) == {"to_device": 2, "to_host": 2}, train.report()
        p = 1 / (1 + np.exp(-(xs @ wn) - bn))
        np.testing.assert_array_equal(pred, p > 0.5)
        np.testing.assert_allclose(err, -ys * np.log(p) - (1 - ys) * np.log(1 - p), rtol=1e-9)
        gz = (p - ys) / len(ys)
        wn, bn = wn - 0.1 * (xs.T @ gz + 0.02 * wn), bn - 0.1 * gz.sum()
    assert storage.is_device(w.get_value(borrow=True, return_internal_type=True))
    np.testing.assert_allclose(w.get_value(), wn, rtol=1e-9)
    np.testing.assert_allclose(b.get_value(), bn, rtol=1e-9)


def test_mlp_trains_on_the_device(device):
    storage = device.storage
    rng = np.random.RandomState(1)
    xs = rng.randn(64, 10)
    labels = (xs[:, 0] + xs[:, 1] > 0).astype("int64")
    x, y = T.dmatrix("x"), T.lvector("y")
    w1 = theano.shared(rng.randn(10, 16) * 0.3, name="w1")
    b1 = theano.shared(np.zeros(16), name="b1")
    w2 = theano.shared(rng.randn(16, 2) * 0.3, name="w2")
    b2 = theano.shared(np.zeros(2), name="b2")
    h = T.tanh(T.dot(x, w1) + b1)
    p = T.nnet.softmax(T.dot(h, w2) + b2)
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    params = [w1, b1, w2, b2]
    grads = T.grad(cost, params)
    train = theano.function([x, y], cost,
                            updates=[(q, q - 0.5 * g) for q, g in zip(params, grads)])
    # the same step in NumPy
    ws = [q.get_value() for q in params]
    first = None
    for _ in range(30):
        before = _counts(storage)
        c = train(xs, labels)
        assert _moved(storage, before) == {"to_device": 2, "to_host": 1}, train.report()
        a1 = np.tanh(xs @ ws[0] + ws[1])
        z = a1 @ ws[2] + ws[3]
        e = np.exp(z - z.max(1, keepdims=True))
        pr = e / e.sum(1, keepdims=True)
        np.testing.assert_allclose(c, -np.mean(np.log(pr[np.arange(64), labels])), rtol=1e-8)
        gz = pr.copy()
        gz[np.arange(64), labels] -= 1
        gz /= 64
        g2, gb2 = a1.T @ gz, gz.sum(0)
        ga = (gz @ ws[2].T) * (1 - a1 ** 2)
        g1, gb1 = xs.T @ ga, ga.sum(0)
        ws = [ws[0] - 0.5 * g1, ws[1] - 0.5 * gb1, ws[2] - 0.5 * g2, ws[3] - 0.5 * gb2]
        first = c if first is None else first
    assert c < first * 0.7
    for q, wn in zip(params, ws):
        assert storage.is_device(q.get_value(borrow=True, return_internal_type=True))
        np.testing.assert_allclose(q.get_value(), wn, rtol=1e-7, atol=1e-10)
