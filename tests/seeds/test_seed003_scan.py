"""Seed 003 ("七小时 Theano 入门", day 2), section 5-6: `scan` for elementwise vector addition,
the Fibonacci sequence with taps, and the character-level RNN's step
`step(x_w_xh, previous, w_hh)` with `outputs_info=[init_state, None]` and
`non_sequences=[w_hh]` (its `w_o` and `b_o` are read from the enclosing scope)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import theanine as theano
import theanine.scan_module.rewriting as scan_rewriting
import theanine.tensor as T
from theanine.plugins import PluginRegistry, use_registry
from theanine.scan_module import scan


@pytest.fixture(autouse=True)
def scan_rewrites():
    registry = PluginRegistry()
    with use_registry(registry):
        if not registry.pm.is_registered(scan_rewriting):
            registry.register(scan_rewriting)
        yield


def test_elementwise_vector_addition():
    v1 = T.vector("v1")
    v2 = T.vector("v2")

    def add(x1, x2):
        return x1 + x2

    result, updates = scan(fn=add, sequences=[v1, v2])
    f = theano.function([v1, v2], result, updates=updates)
    a = np.array([1, 2, 3, 4], dtype="float32")
    b = np.array([10, 20, 30, 40], dtype="float32")
    out = f(a, b)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a + b)


def test_fibonacci_with_taps():
    n = T.iscalar("n")
    init = T.as_tensor_variable(np.asarray([0, 1], dtype="int64"))
    fibonacci, _ = scan(fn=lambda f_m2, f_m1: f_m2 + f_m1,
                        outputs_info=[dict(initial=init, taps=[-2, -1])], n_steps=n)
    f = theano.function([n], fibonacci)
    expected = [0, 1]
    for _ in range(10):
        expected.append(expected[-2] + expected[-1])
    np.testing.assert_array_equal(f(10), expected[2:])


def _model(vocab, hidden, rng):
    def param(*shape):
        return theano.shared((rng.standard_normal(shape) * 0.3).astype("float32"))

    w_xh, w_hh, b_h = param(vocab, hidden), param(hidden, hidden), param(hidden)
    w_o, b_o = param(hidden, vocab), param(vocab)

    def step(x_w_xh, previous, w_hh):
        hidden = T.tanh(T.dot(previous, w_hh) + x_w_xh)
        output = T.nnet.softmax(T.dot(hidden, w_o) + b_o)
        return [hidden, output]

    def model(X, init_state, w_xh, w_hh, b_h, w_o, b_o):
        x_w_xh = T.dot(X, w_xh) + b_h
        [hidden, output], _ = theano.scan(step, sequences=[x_w_xh],
                                          outputs_info=[init_state, None],
                                          non_sequences=[w_hh])
        return hidden, output

    X = T.matrix("X")
    init_state = T.vector("init_state")
    hidden, output = model(X, init_state, w_xh, w_hh, b_h, w_o, b_o)
    # Theano's softmax of a vector is a 1 x vocab row: one row per step
    output = output.reshape((output.shape[0], output.shape[2]))
    return X, init_state, hidden, output, [w_xh, w_hh, b_h, w_o, b_o]


def test_rnn_step_matches_numpy():
    rng = np.random.default_rng(3)
    vocab, hidden_size, steps = 5, 8, 6
    X, init_state, hidden, output, params = _model(vocab, hidden_size, rng)
    f = theano.function([X, init_state], [hidden, output])
    xv = np.eye(vocab, dtype="float32")[rng.integers(0, vocab, steps)]
    h0 = np.zeros(hidden_size, dtype="float32")
    got_h, got_o = f(xv, h0)
    w_xh, w_hh, b_h, w_o, b_o = (p.get_value() for p in params)
    h, want_h, want_o = h0, [], []
    for t in range(steps):
        h = np.tanh(h @ w_hh + xv[t] @ w_xh + b_h)
        logits = h @ w_o + b_o
        want_h.append(h)
        want_o.append(np.exp(logits) / np.exp(logits).sum())
    assert got_h.dtype == got_o.dtype == np.float32
    np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_o, want_o, rtol=1e-5, atol=1e-6)


def test_rnn_language_model_learns_a_sequence():
    rng = np.random.default_rng(0)
    text = "hello world, hello theano. "
    chars = sorted(set(text))
    idx = np.array([chars.index(c) for c in text])
    vocab = len(chars)
    X, init_state, _, output, params = _model(vocab, 16, rng)
    Y = T.ivector("Y")
    cost = T.mean(T.nnet.categorical_crossentropy(output, Y))
    updates = [(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))]
    train = theano.function([X, init_state, Y], cost, updates=updates)
    xv = np.eye(vocab, dtype="float32")[idx[:-1]]
    yv = idx[1:].astype("int32")
    h0 = np.zeros(16, dtype="float32")
    losses = [float(train(xv, h0, yv)) for _ in range(150)]
    assert losses[0] > 2.0  # about log(vocab) before training
    assert losses[-1] < 0.3 * losses[0]


def test_char_rnn_example_learns_and_samples():
    path = Path(__file__).resolve().parents[2] / "examples" / "char_rnn.py"
    spec = importlib.util.spec_from_file_location("char_rnn", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    history, generated = example.main(iterations=400, hidden=32, sample_length=40,
                                      verbose=False)
    assert history[-1] < history[0] - 0.5
    assert len(generated) == 41 and set(generated) <= set(example.TEXT.read_text())
