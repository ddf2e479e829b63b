"""A restricted Boltzmann machine as the tutorials write it: a Gibbs chain in `scan` whose random
`updates` go into the training function, `consider_constant=[chain_end]`, persistent CD through a
shared chain (`if persistent:`). The update is recomputed with NumPy from the returned chain end."""

from __future__ import annotations

import numpy as np
from port_data import binary_patterns, sigmoid

import theanine as theano
import theanine.tensor as T
from theanine.tensor.shared_randomstreams import RandomStreams

floatX = theano.config.floatX


class RBM:
    def __init__(self, input=None, n_visible=16, n_hidden=6, numpy_rng=None, theano_rng=None):
        if numpy_rng is None:
            numpy_rng = np.random.RandomState(1234)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
        self.W = theano.shared(np.asarray(numpy_rng.uniform(-bound, bound, (n_visible, n_hidden)),
                                          dtype=floatX), name="W", borrow=True)
        self.hbias = theano.shared(np.zeros(n_hidden, dtype=floatX), name="hbias", borrow=True)
        self.vbias = theano.shared(np.zeros(n_visible, dtype=floatX), name="vbias", borrow=True)
        self.input = input
        if not input:
            self.input = T.matrix("input")
        self.theano_rng = theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v_sample):
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def sample_h_given_v(self, v0_sample):
        pre = T.dot(v0_sample, self.W) + self.hbias
        mean = T.nnet.sigmoid(pre)
        return [pre, mean, self.theano_rng.binomial(size=mean.shape, n=1, p=mean, dtype=floatX)]

    def sample_v_given_h(self, h0_sample):
        pre = T.dot(h0_sample, self.W.T) + self.vbias
        mean = T.nnet.sigmoid(pre)
        return [pre, mean, self.theano_rng.binomial(size=mean.shape, n=1, p=mean, dtype=floatX)]

    def gibbs_hvh(self, h0_sample):
        pre_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_v1, v1_mean, v1_sample, pre_h1, h1_mean, h1_sample]

    def get_cost_updates(self, lr=0.1, persistent=None, k=1):
        pre_ph, ph_mean, ph_sample = self.sample_h_given_v(self.input)
        chain_start = persistent if persistent else ph_sample
        (
            [pre_nv, nv_means, nv_samples, pre_nh, nh_means, nh_samples],
            updates,
        ) = theano.scan(self.gibbs_hvh, outputs_info=[None, None, None, None, None, chain_start],
                        n_steps=k, name="gibbs_hvh")
        chain_end = nv_samples[-1]
        cost = T.mean(self.free_energy(self.input)) - T.mean(self.free_energy(chain_end))
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * T.cast(lr, dtype=floatX)
        if persistent:
            updates[persistent] = nh_samples[-1]
        # reconstruction cross-entropy of the first step, the tutorial's CD monitor
        z = T.nnet.sigmoid(pre_nv[-1])
        monitor = T.mean(T.sum(self.input * T.log(z) + (1 - self.input) * T.log(1 - z), axis=1))
        return -monitor, updates, chain_end


def numpy_cd_update(W, hb, vb, v0, vk, lr):
    """Parameters after one step on mean F(v0) - mean F(vk), vk held constant."""
    n = len(v0)
    s0, sk = sigmoid(v0 @ W + hb), sigmoid(vk @ W + hb)
    gW = (-v0.T @ s0 + vk.T @ sk) / n
    ghb = (-s0.sum(0) + sk.sum(0)) / n
    gvb = (-v0.sum(0) + vk.sum(0)) / n
    return W - lr * gW, hb - lr * ghb, vb - lr * gvb


def test_cd_k_update_matches_numpy_and_reconstruction_improves(rng):
    data = binary_patterns(rng, 60, 16, dtype=floatX)
    rbm = RBM(n_visible=16, n_hidden=6)
    cost, updates, chain_end = rbm.get_cost_updates(lr=0.1, k=2)
    train = theano.function([rbm.input], [cost, chain_end], updates=updates)
    costs, ends = [], []
    for _ in range(80):
        W, hb, vb = (p.get_value().astype("float64") for p in rbm.params)
        c, vk = train(data)
        assert set(np.unique(vk)) <= {0.0, 1.0}
        ref = numpy_cd_update(W, hb, vb, data.astype("float64"), vk.astype("float64"), 0.1)
        for p, r in zip(rbm.params, ref):
            np.testing.assert_allclose(p.get_value(), r, rtol=1e-4, atol=1e-5)
        costs.append(float(c))
        ends.append(vk)
    assert not all(np.array_equal(ends[0], e) for e in ends[1:])   # the chain's draws advance
    assert np.mean(costs[-10:]) < 0.8 * np.mean(costs[:10])


def test_persistent_chain_is_updated_from_the_scan(rng):
    data = binary_patterns(rng, 20, 16, dtype=floatX)
    rbm = RBM(n_visible=16, n_hidden=6)
    persistent = theano.shared(np.zeros((20, 6), dtype=floatX), borrow=True)
    cost, updates, chain_end = rbm.get_cost_updates(lr=0.05, persistent=persistent, k=1)
    assert persistent in updates
    train = theano.function([rbm.input], chain_end, updates=updates)
    train(data)
    h = persistent.get_value()
    assert h.shape == (20, 6) and set(np.unique(h)) <= {0.0, 1.0}
    assert h.any()
