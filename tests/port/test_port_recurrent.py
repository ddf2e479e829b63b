"""Recurrent nets as the tutorials write them with `scan`: an Elman net over word windows
(embedding rows picked by an index matrix), a recurrence with sequence and output taps, and an
LSTM step with a mask over a padded minibatch. Each is checked against a plain NumPy loop, and
training is checked to lower the cost."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from port_data import sigmoid, softmax

import theanine as theano
import theanine.tensor as T

floatX = theano.config.floatX


def test_sequence_and_output_taps_match_a_loop():
    x = T.vector("x")
    h0 = T.vector("h0")
    W = np.float32(0.5)

    def step(x_prev, x_now, h_2, h_1):
        return x_now - x_prev + W * h_2 + 0.25 * h_1

    out, updates = theano.scan(step, sequences=dict(input=x, taps=[-1, 0]),
                               outputs_info=dict(initial=h0, taps=[-2, -1]))
    f = theano.function([x, h0], out, updates=updates)
    xv = np.array([1.0, 4.0, 2.0, 0.5, 3.0, -1.0], dtype=floatX)
    hv = np.array([0.3, -0.2], dtype=floatX)
    got = f(xv, hv)
    hist = list(hv.astype("float64"))
    for t in range(1, len(xv)):
        hist.append(xv[t] - xv[t - 1] + 0.5 * hist[-2] + 0.25 * hist[-1])
    assert got.shape == (len(xv) - 1,)
    np.testing.assert_allclose(got, hist[2:], rtol=1e-5)


def contextwin(sentence, win):
    pad = win // 2 * [-1] + list(sentence) + win // 2 * [-1]
    return [pad[i:i + win] for i in range(len(sentence))]


class ElmanNet:
    def __init__(self, nh, nc, ne, de, cs, seed=345):
        r = np.random.RandomState(seed)

        def share(shape, name):
            return theano.shared(name=name, value=0.2 * r.uniform(-1.0, 1.0, shape).astype(floatX))

        self.emb = share((ne + 1, de), "embeddings")
        self.wx, self.wh = share((de * cs, nh), "wx"), share((nh, nh), "wh")
        self.w = share((nh, nc), "w")
        self.bh = theano.shared(name="bh", value=np.zeros(nh, dtype=floatX))
        self.b = theano.shared(name="b", value=np.zeros(nc, dtype=floatX))
        self.h0 = theano.shared(name="h0", value=np.zeros(nh, dtype=floatX))
        self.params = [self.emb, self.wx, self.wh, self.w, self.bh, self.b, self.h0]

        idxs = T.imatrix()
        x = self.emb[idxs].reshape((idxs.shape[0], de * cs))
        y_sentence = T.ivector("y_sentence")

        def recurrence(x_t, h_tm1):
            h_t = T.nnet.sigmoid(T.dot(x_t, self.wx) + T.dot(h_tm1, self.wh) + self.bh)
            s_t = T.nnet.softmax(T.dot(h_t, self.w) + self.b)
            return [h_t, s_t]

        [h, s], _ = theano.scan(fn=recurrence, sequences=x, outputs_info=[self.h0, None],
                                n_steps=x.shape[0])
        p_y_given_x_sentence = s[:, 0, :]
        y_pred = T.argmax(p_y_given_x_sentence, axis=1)
        lr = T.scalar("lr")
        nll = -T.mean(T.log(p_y_given_x_sentence)[T.arange(x.shape[0]), y_sentence])
        grads = T.grad(nll, self.params)
        updates = OrderedDict((p, p - lr * g) for p, g in zip(self.params, grads))
        self.classify = theano.function(inputs=[idxs], outputs=y_pred)
        self.probs = theano.function(inputs=[idxs], outputs=p_y_given_x_sentence)
        self.sentence_train = theano.function(inputs=[idxs, y_sentence, lr], outputs=nll,
                                              updates=updates)

    def numpy_probs(self, cwords):
        v = {p.name: p.get_value().astype("float64") for p in self.params}
        x = v["embeddings"][cwords].reshape(len(cwords), -1)
        h, out = v["h0"], []
        for x_t in x:
            h = sigmoid(x_t @ v["wx"] + h @ v["wh"] + v["bh"])
            out.append(softmax(h @ v["w"] + v["b"]))
        return np.array(out)


def test_elman_net_matches_numpy_and_learns_word_tags(rng):
    vocab, nclasses, win = 12, 3, 3
    sentences = [rng.integers(0, vocab, size=rng.integers(3, 7)) for _ in range(20)]
    tags = [(s % nclasses).astype("int32") for s in sentences]      # the tag follows the word
    net = ElmanNet(nh=8, nc=nclasses, ne=vocab, de=4, cs=win)
    windows = [np.asarray(contextwin(s, win)).astype("int32") for s in sentences]
    np.testing.assert_allclose(net.probs(windows[0]), net.numpy_probs(windows[0]), rtol=1e-4)

    def total():
        return sum(-np.mean(np.log(net.numpy_probs(w)[np.arange(len(t)), t]))
                   for w, t in zip(windows, tags))

    before = total()
    for _ in range(15):
        for w, t in zip(windows, tags):
            net.sentence_train(w, t, 1.0)
    assert total() < 0.5 * before
    np.testing.assert_allclose(net.probs(windows[1]), net.numpy_probs(windows[1]), rtol=1e-4)


def _slice(_x, n, dim):
    if _x.ndim == 3:
        return _x[:, :, n * dim:(n + 1) * dim]
    return _x[:, n * dim:(n + 1) * dim]


def lstm_layer(tparams, state_below, mask, dim):
    nsteps = state_below.shape[0]
    n_samples = state_below.shape[1]

    def _step(m_, x_, h_, c_):
        preact = T.dot(h_, tparams["U"]) + x_
        i = T.nnet.sigmoid(_slice(preact, 0, dim))
        f = T.nnet.sigmoid(_slice(preact, 1, dim))
        o = T.nnet.sigmoid(_slice(preact, 2, dim))
        c = T.tanh(_slice(preact, 3, dim))
        c = f * c_ + i * c
        c = m_[:, None] * c + (1.0 - m_)[:, None] * c_
        h = o * T.tanh(c)
        h = m_[:, None] * h + (1.0 - m_)[:, None] * h_
        return h, c

    state_below = T.dot(state_below, tparams["W"]) + tparams["b"]
    zero = np.asarray(0.0, dtype=floatX)
    rval, updates = theano.scan(_step, sequences=[mask, state_below],
                                outputs_info=[T.alloc(zero, n_samples, dim),
                                              T.alloc(zero, n_samples, dim)],
                                name="lstm_layers", n_steps=nsteps)
    return rval[0]


def numpy_lstm(p, x, mask, dim):
    h = np.zeros((x.shape[1], dim))
    c = np.zeros_like(h)
    hs = []
    for t in range(x.shape[0]):
        pre = h @ p["U"] + x[t] @ p["W"] + p["b"]
        i, f, o = (sigmoid(pre[:, k * dim:(k + 1) * dim]) for k in range(3))
        cn = f * c + i * np.tanh(pre[:, 3 * dim:])
        m = mask[t][:, None]
        c = m * cn + (1 - m) * c
        h = m * (o * np.tanh(c)) + (1 - m) * h
        hs.append(h)
    return np.array(hs)


def test_lstm_with_mask_matches_numpy_and_trains(rng):
    n_in, dim, steps, batch = 3, 4, 6, 5
    r = np.random.RandomState(0)
    init = {"W": r.randn(n_in, 4 * dim) * 0.3, "U": r.randn(dim, 4 * dim) * 0.3,
            "b": np.zeros(4 * dim)}
    tparams = OrderedDict((k, theano.shared(v.astype(floatX), name=k)) for k, v in init.items())
    U_out = theano.shared(np.zeros((dim, 2), dtype=floatX), name="U_out")
    x, mask, y = T.tensor3("x"), T.matrix("mask"), T.ivector("y")
    h = lstm_layer(tparams, x, mask, dim)
    proj = (h * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    pred = T.nnet.softmax(T.dot(proj, U_out))
    cost = -T.log(pred[T.arange(y.shape[0]), y] + 1e-8).mean()
    params = list(tparams.values()) + [U_out]
    grads = T.grad(cost, wrt=params)
    lr = np.float32(0.5)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)]
    train = theano.function([x, mask, y], cost, updates=updates)
    hidden = theano.function([x, mask], h)

    lengths = rng.integers(2, steps + 1, size=batch)
    maskv = (np.arange(steps)[:, None] < lengths[None, :]).astype(floatX)
    yv = rng.integers(0, 2, size=batch).astype("int32")
    xv = (rng.normal(size=(steps, batch, n_in)) + 1.5 * (2 * yv - 1)[None, :, None]).astype(floatX)
    expected = numpy_lstm(init, xv.astype("float64"), maskv, dim)
    np.testing.assert_allclose(hidden(xv, maskv), expected, rtol=1e-4, atol=1e-5)
    costs = [float(train(xv, maskv, yv)) for _ in range(30)]
    assert costs[-1] < 0.3 * costs[0]
