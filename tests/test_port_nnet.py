"""T.nnet's Theano 1.0 functions (issue 11) against NumPy references, naive loops and
numerical gradients."""

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.testing import verify_grad

RNG = np.random.default_rng(7)
nnet = T.nnet


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ultra_fast_reference(v):
    """Theano's scalar definition, one element at a time."""
    a = 0.5 * v
    t = abs(a)
    z = 1.5 * t / (1 + t) if t < 1.7 else (
        0.935409070603099 + 0.0458812946797165 * (t - 1.7) if t < 3 else 0.99505475368673)
    return 0.5 * ((z if a >= 0 else -z) + 1)


# activations --------------------------------------------------------------------------------
def test_ultra_fast_sigmoid_matches_theanos_piecewise_definition():
    x = T.dvector("x")
    values = np.array([-9.0, -6.0, -4.0, -3.4, -1.0, -1e-3, 0.0, 0.5, 3.39, 3.41, 5.9, 6.1, 40.0])
    got = theano.function([x], nnet.ultra_fast_sigmoid(x))(values)
    np.testing.assert_allclose(got, [ultra_fast_reference(v) for v in values], rtol=1e-12)
    assert np.max(np.abs(got - 1 / (1 + np.exp(-values)))) < 0.03


def test_ultra_fast_sigmoid_gradient_and_dtype():
    verify_grad(nnet.ultra_fast_sigmoid, [np.array([-7.0, -4.5, -2.0, 0.3, 1.0, 4.0, 8.0])])
    assert nnet.ultra_fast_sigmoid(T.fvector()).dtype == "float32"
    assert nnet.ultra_fast_sigmoid(T.ivector()).dtype == "float64"


def test_hard_sigmoid_is_theanos_clip_of_a_line():
    x = T.dvector("x")
    values = np.linspace(-4, 4, 17)
    got = theano.function([x], nnet.hard_sigmoid(x))(values)
    np.testing.assert_allclose(got, np.clip(0.2 * values + 0.5, 0, 1))


def test_softsign_and_its_gradient():
    x = T.dvector("x")
    values = RNG.normal(size=6) * 3
    got = theano.function([x], nnet.softsign(x))(values)
    np.testing.assert_allclose(got, values / (1 + np.abs(values)))
    g = theano.function([x], theano.grad(T.sum(nnet.softsign(x)), x))(values)
    np.testing.assert_allclose(g, 1 / (1 + np.abs(values)) ** 2)


def test_selu_relu_elu_softplus_sigmoid():
    x = T.dvector("x")
    v = np.array([-3.0, -0.5, 0.0, 0.7, 2.0])
    f = theano.function([x], [nnet.selu(x), nnet.relu(x), nnet.relu(x, 0.1), nnet.elu(x),
                              nnet.softplus(x), nnet.sigmoid(x)])
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    expected = [scale * np.where(v > 0, v, alpha * np.expm1(v)), np.maximum(v, 0),
                np.where(v > 0, v, 0.1 * v), np.where(v > 0, v, np.expm1(v)),
                np.log1p(np.exp(v)), 1 / (1 + np.exp(-v))]
    for got, want in zip(f(v), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# softmax and cross-entropies ----------------------------------------------------------------
def test_softmax_with_bias():
    x, b = T.dmatrix("x"), T.dvector("b")
    xv, bv = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    got = theano.function([x, b], nnet.softmax_with_bias(x, b))(xv, bv)
    np.testing.assert_allclose(got, np_softmax(xv + bv))
    verify_grad(nnet.softmax_with_bias, [xv, bv])


def test_crossentropy_softmax_1hot_family():
    x, b, y = T.dmatrix("x"), T.dvector("b"), T.ivector("y")
    xv, bv, yv = RNG.normal(size=(4, 3)), RNG.normal(size=3), np.array([0, 2, 1, 2], "int32")
    sm = np_softmax(xv + bv)
    nll = -np.log(sm[np.arange(4), yv])
    nll1, sm1 = nnet.crossentropy_softmax_1hot_with_bias(x, b, y)
    nll2, sm2, am = nnet.crossentropy_softmax_argmax_1hot_with_bias(x, b, y)
    nll3, sm3 = nnet.crossentropy_softmax_1hot(x, y)
    f = theano.function([x, b, y], [nll1, sm1, nll2, sm2, am, nll3, sm3])
    r = f(xv, bv, yv)
    for got, want in zip(r, [nll, sm, nll, sm, (xv + bv).argmax(1), -np.log(
            np_softmax(xv)[np.arange(4), yv]), np_softmax(xv)]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    g = theano.function([x, b, y], theano.grad(T.sum(nll1), x))(xv, bv, yv)
    np.testing.assert_allclose(g, sm - np.eye(3)[yv], atol=1e-12)
    verify_grad(lambda a, c: nnet.crossentropy_softmax_1hot_with_bias(a, c, yv)[0], [xv, bv])


def test_crossentropy_softmax_1hot_stays_finite_for_huge_logits():
    x, y = T.dmatrix("x"), T.ivector("y")
    nll, _ = nnet.crossentropy_softmax_1hot(x, y)
    f = theano.function([x, y], [nll, theano.grad(T.sum(nll), x)])
    xv = np.array([[1e7, 0.0, -1e7], [0.0, 3e6, 0.0]])
    loss, grad = f(xv, np.array([1, 1], "int32"))
    np.testing.assert_allclose(loss, [1e7, 0.0])
    np.testing.assert_allclose(grad, [[1, -1, 0], [0, 0, 0]], atol=1e-12)


def test_crossentropy_categorical_1hot():
    p, y = T.dmatrix("p"), T.ivector("y")
    pv = np_softmax(RNG.normal(size=(3, 5)))
    yv = np.array([4, 0, 2], "int32")
    got = theano.function([p, y], nnet.crossentropy_categorical_1hot(p, y))(pv, yv)
    np.testing.assert_allclose(got, [-np.log(pv[i, yv[i]]) for i in range(3)])
    verify_grad(lambda q: nnet.crossentropy_categorical_1hot(q, yv), [pv])


def test_crossentropy_errors_name_the_argument():
    with pytest.raises(TypeError, match="y_idx.*integer vector"):
        nnet.crossentropy_softmax_1hot(T.dmatrix(), T.dvector("labels"))
    with pytest.raises(TypeError, match="b must be a float vector"):
        nnet.softmax_with_bias(T.dmatrix(), T.dmatrix("bias"))


# hierarchical softmax -----------------------------------------------------------------------
def h_softmax_reference(xv, W1, b1, W2, b2, n_outputs):
    batch, n_classes, per = xv.shape[0], W1.shape[1], W2.shape[2]
    out = np.zeros((batch, n_classes * per))
    for i in range(batch):
        pc = np_softmax(xv[i] @ W1 + b1)
        for c in range(n_classes):
            po = np_softmax(xv[i] @ W2[c] + b2[c])
            for k in range(per):
                out[i, c * per + k] = pc[c] * po[k]
    return out[:, :n_outputs]


def test_h_softmax_all_outputs_and_targets():
    batch, dim, n_classes, per, n_outputs = 5, 4, 3, 4, 10
    xv = RNG.normal(size=(batch, dim))
    W1, b1 = RNG.normal(size=(dim, n_classes)), RNG.normal(size=n_classes)
    W2, b2 = RNG.normal(size=(n_classes, dim, per)), RNG.normal(size=(n_classes, per))
    target = np.array([0, 9, 4, 7, 3], "int32")
    x, t = T.dmatrix("x"), T.ivector("t")
    syms = [T.dmatrix("W1"), T.dvector("b1"), T.dtensor3("W2"), T.dmatrix("b2")]
    full = nnet.h_softmax(x, batch, n_outputs, n_classes, per, *syms)
    picked = nnet.h_softmax(x, batch, n_outputs, n_classes, per, *syms, target=t)
    f = theano.function([x, *syms, t], [full, picked])
    got_full, got_picked = f(xv, W1, b1, W2, b2, target)
    want = h_softmax_reference(xv, W1, b1, W2, b2, n_outputs)
    np.testing.assert_allclose(got_full, want, rtol=1e-10)
    np.testing.assert_allclose(got_picked, want[np.arange(batch), target], rtol=1e-10)
    verify_grad(lambda a, w1, c1, w2, c2: T.log(nnet.h_softmax(
        a, batch, n_outputs, n_classes, per, w1, c1, w2, c2, target)), [xv, W1, b1, W2, b2])


def test_h_softmax_refuses_too_few_outputs():
    with pytest.raises(ValueError, match="n_outputs"):
        nnet.h_softmax(T.dmatrix(), 2, 20, 3, 4, T.dmatrix(), T.dvector(), T.dtensor3(),
                       T.dmatrix())


# batch normalization ------------------------------------------------------------------------
def test_batch_normalization_both_modes():
    vals = [RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=3),
            RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)]
    syms = [T.dmatrix("x")] + [T.dvector(n) for n in ("gamma", "beta", "mean", "std")]
    want = (vals[0] - vals[3]) * (vals[1] / vals[4]) + vals[2]
    for mode in ("low_mem", "high_mem"):
        out = nnet.bn.batch_normalization(*syms, mode=mode)
        np.testing.assert_allclose(theano.function(syms, out)(*vals), want)
    verify_grad(nnet.batch_normalization, vals)
    with pytest.raises(ValueError, match="mode"):
        nnet.bn.batch_normalization(*syms, mode="fast")


def np_bn_train(x, gamma, beta, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    invstd = 1 / np.sqrt(var + eps)
    return (x - mean) * gamma * invstd + beta, mean, var, invstd


@pytest.mark.parametrize("axes", ["per-activation", "spatial", (0, 2, 3)])
def test_batch_normalization_train_and_running_averages(axes):
    bn = nnet.bn
    xv = RNG.normal(size=(5, 3, 2, 4)) * 2 + 1
    ax = (0,) if axes == "per-activation" else (0, 2, 3)
    shape = [1 if i in ax else s for i, s in enumerate(xv.shape)]
    gamma, beta = RNG.normal(size=shape), RNG.normal(size=shape)
    rm, rv = RNG.normal(size=shape), RNG.uniform(1, 2, size=shape)
    x = T.dtensor4("x")
    g, b = T.dtensor4("g"), T.dtensor4("b")
    running_mean = theano.shared(rm, name="running_mean")
    running_var = theano.shared(rv, name="running_var")
    out, mean, invstd, new_rm, new_rv = bn.batch_normalization_train(
        x, g, b, axes, epsilon=1e-3, running_average_factor=0.2,
        running_mean=running_mean, running_var=running_var)
    f = theano.function([x, g, b], [out, mean, invstd],
                        updates=[(running_mean, new_rm), (running_var, new_rv)])
    got_out, got_mean, got_invstd = f(xv, gamma, beta)
    want_out, want_mean, want_var, want_invstd = np_bn_train(xv, gamma, beta, ax, 1e-3)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-10)
    np.testing.assert_allclose(got_mean, want_mean, rtol=1e-10)
    np.testing.assert_allclose(got_invstd, want_invstd, rtol=1e-10)
    m = np.prod([xv.shape[i] for i in ax])
    np.testing.assert_allclose(running_mean.get_value(), rm * 0.8 + want_mean * 0.2)
    np.testing.assert_allclose(running_var.get_value(), rv * 0.8 + want_var * m / (m - 1) * 0.2)
    verify_grad(lambda a, c, d: bn.batch_normalization_train(a, c, d, axes)[0],
                [xv, gamma, beta])


def test_batch_normalization_params_per_channel_and_test_form():
    bn = nnet.bn
    xv = RNG.normal(size=(6, 3))
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    x, g, b = T.dmatrix("x"), T.dvector("g"), T.dvector("b")
    out, mean, invstd = bn.batch_normalization_train(x, g, b)
    assert mean.ndim == 1 and invstd.ndim == 1
    got = theano.function([x, g, b], [out, mean, invstd])(xv, gamma, beta)
    want_out, want_mean, _, want_invstd = np_bn_train(xv, gamma, beta, (0,), 1e-4)
    np.testing.assert_allclose(got[0], want_out, rtol=1e-10)
    np.testing.assert_allclose(got[1], want_mean[0])
    np.testing.assert_allclose(got[2], want_invstd[0])
    mu, var = T.dvector("mu"), T.dvector("var")
    test_out = bn.batch_normalization_test(x, g, b, mu, var, epsilon=1e-3)
    mv, vv = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    np.testing.assert_allclose(theano.function([x, g, b, mu, var], test_out)(
        xv, gamma, beta, mv, vv), (xv - mv) * gamma / np.sqrt(vv + 1e-3) + beta)
    verify_grad(lambda a, c, d, e, h: bn.batch_normalization_test(a, c, d, e, h),
                [xv, gamma, beta, mv, vv])


def test_batch_normalization_argument_errors():
    bn = nnet.bn
    x, v = T.dmatrix("x"), T.dvector("v")
    with pytest.raises(ValueError, match="epsilon"):
        bn.batch_normalization_train(x, v, v, epsilon=1e-6)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        bn.batch_normalization_train(x, v, v, running_mean=v)
    with pytest.raises(ValueError, match="beta"):
        bn.batch_normalization_train(x, v, T.dmatrix("b"))
    with pytest.raises(ValueError, match="axes"):
        bn.batch_normalization_test(x, v, v, v, v, axes="channels")
