"""T.nnet against NumPy: softmax, log_softmax, sigmoid, relu, softplus and the cross-entropies."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad
from theanine.tensor.nnet import SoftmaxGrad

nnet = T.nnet


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("fn, ref", [(nnet.softmax, _np_softmax),
                                     (nnet.log_softmax, _np_log_softmax),
                                     (nnet.logsoftmax, _np_log_softmax)])
@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((3, 5), 0), ((5,), -1), ((2, 3, 4), 1),
                                         ((0, 4), -1), ((3, 5), 1)])
def test_softmax_values(fn, ref, shape, axis, rng):
    x = T.tensor("float64", (False,) * len(shape), name="x")
    xv = rand(rng, shape, low=-5, high=5)
    out = fn(x, axis=axis)
    f = compile_py([x], out)
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.shape == shape
        np.testing.assert_allclose(got, ref(xv, axis), rtol=1e-12, atol=1e-14)
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("fn", [nnet.softmax, nnet.log_softmax])
def test_softmax_is_stable_for_large_inputs(fn):
    x = T.dmatrix("x")
    xv = np.array([[1000.0, 0.0, -1000.0], [-800.0, -801.0, -802.0]])
    got = compile_py([x], fn(x))(xv)
    assert np.all(np.isfinite(got))
    ref = _np_softmax(xv) if fn is nnet.softmax else _np_log_softmax(xv)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_softmax_float32_stays_float32(rng):
    x = T.fmatrix("x")
    xv = rand(rng, (3, 4), "float32")
    got = compile_py([x], nnet.softmax(x))(xv)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _np_softmax(xv.astype("float64")), rtol=1e-5)


@pytest.mark.parametrize("fn", [nnet.softmax, nnet.log_softmax])
@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((3, 4), 0), ((4,), -1), ((2, 3, 2), 1)])
def test_softmax_grad(fn, shape, axis, rng):
    check_grad(lambda x: fn(x, axis=axis), [rand(rng, shape)])


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_second_derivative(axis, rng):
    """SoftmaxGrad's own gradient, checked numerically in both of its inputs."""
    check_grad(lambda g, sm: SoftmaxGrad(axis)(g, sm), [rand(rng, (3, 4)),
                                                        rand(rng, (3, 4), low=0.1, high=1)])


def test_softmax_grad_infer_shape(rng):
    g, sm = T.dmatrices("g", "sm")
    out = SoftmaxGrad(-1)(g, sm)
    check_infer_shape([g, sm], out, [rand(rng, (3, 4)), rand(rng, (3, 4))])


def test_softmax_of_ints_is_float64(rng):
    x = T.imatrix("x")
    xv = rand(rng, (2, 3), "int32", -3, 3)
    got = compile_py([x], nnet.softmax(x))(xv)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _np_softmax(xv.astype("float64")), rtol=1e-12)


def test_softmax_bad_input():
    with pytest.raises(TypeError, match="dimension"):
        nnet.softmax(T.dscalar("s"))
    with pytest.raises(ValueError, match="axis"):
        nnet.softmax(T.dmatrix("m"), axis=2)


# Activations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, ref", [
    (nnet.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nnet.softplus, lambda x: np.log1p(np.exp(x))),
    (nnet.relu, lambda x: np.maximum(x, 0)),
    (lambda x: nnet.relu(x, alpha=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (nnet.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    (lambda x: nnet.elu(x, alpha=0.3), lambda x: np.where(x > 0, x, 0.3 * np.expm1(x))),
    (nnet.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
])
def test_activations(fn, ref, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (4, 5), low=-5, high=5)
    out = fn(x)
    np.testing.assert_allclose(compile_py([x], out)(noncontig(xv)), ref(xv), rtol=1e-12)
    check_infer_shape([x], out, [xv])
    xv = np.where(np.abs(xv) < 0.1, 0.5, xv)
    check_grad(fn, [xv])


def test_sigmoid_softplus_extremes():
    x = T.dvector("x")
    xv = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    sig, sp = compile_py([x], [nnet.sigmoid(x), nnet.softplus(x)])(xv)
    np.testing.assert_allclose(sig, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(sp, [0.0, np.exp(-40.0), np.log(2), 40.0, 800.0], rtol=1e-12,
                               atol=0)


@pytest.mark.parametrize("fn, ref", [
    (nnet.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    (nnet.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    (nnet.relu, lambda x: np.maximum(x, 0)),
])
def test_activations_broadcast_empty_and_float32(fn, ref, rng):
    x = T.fmatrix("x")
    f = compile_py([x], fn(x))
    for shape in [(0, 3), (3, 0)]:
        assert f(np.zeros(shape, "float32")).shape == shape
    xv = rand(rng, (3, 4), "float32", -5, 5)
    got = f(xv)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref(xv.astype("float64")), rtol=1e-6, atol=1e-7)
    row, m = T.row("r", dtype="float64"), T.dmatrix("m")
    rv, mv = rand(rng, (1, 4), low=-3, high=3), rand(rng, (3, 4))
    out = fn(row) * m  # the activation of a row, broadcast over the rows of m
    expected = ref(rv) * mv
    np.testing.assert_allclose(compile_py([row, m], out)(rv, mv), expected, rtol=1e-12)
    check_infer_shape([row, m], out, [rv, mv])


def test_elu_large_inputs_have_finite_grads():
    x = T.dvector("x")
    xv = np.array([-800.0, -1.0, 1.0, 800.0])
    out, g = compile_py([x], [nnet.elu(x), grad(nnet.elu(x).sum(), x)])(xv)
    np.testing.assert_allclose(out, [-1.0, np.expm1(-1.0), 1.0, 800.0], rtol=1e-12)
    np.testing.assert_allclose(g, [0.0, np.exp(-1.0), 1.0, 1.0], rtol=1e-12)


def test_hard_sigmoid_saturates():
    x = T.dvector("x")
    got = compile_py([x], nnet.hard_sigmoid(x))(np.array([-10.0, -2.5, 0.0, 2.5, 10.0]))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_relu_keeps_dtype(rng):
    for make in (T.fvector, T.ivector):
        x = make("x")
        xv = rand(rng, (5,), x.dtype, -3, 3)
        got = compile_py([x], nnet.relu(x))(xv)
        assert got.dtype == xv.dtype
        np.testing.assert_array_equal(got, np.maximum(xv, 0))
    assert nnet.relu(T.fvector("x"), alpha=0.2).dtype == "float32"


# Cross-entropies ------------------------------------------------------------------------------
def _np_bce(o, t):
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def test_binary_crossentropy(rng):
    o, t = T.dmatrices("o", "t")
    ov, tv = rand(rng, (3, 4), low=0.05, high=0.95), rand(rng, (3, 4), low=0, high=1)
    out = nnet.binary_crossentropy(o, t)
    np.testing.assert_allclose(compile_py([o, t], out)(ov, tv), _np_bce(ov, tv), rtol=1e-12)
    check_infer_shape([o, t], out, [ov, tv])
    check_grad(nnet.binary_crossentropy, [ov, tv])


def test_sigmoid_binary_crossentropy(rng):
    x, t = T.dmatrices("x", "t")
    xv, tv = rand(rng, (3, 4), low=-4, high=4), rand(rng, (3, 4), low=0, high=1)
    out = nnet.sigmoid_binary_crossentropy(x, t)
    expected = _np_bce(1 / (1 + np.exp(-xv)), tv)
    np.testing.assert_allclose(compile_py([x, t], out)(xv, tv), expected, rtol=1e-10)
    check_infer_shape([x, t], out, [xv, tv])
    check_grad(nnet.sigmoid_binary_crossentropy, [xv, tv])
    big = compile_py([x, t], out)(np.array([[800.0, -800.0]]), np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(big, [[800.0, 800.0]], rtol=1e-12)


def test_binary_crossentropy_with_broadcast_target(rng):
    o, t = T.dmatrix("o"), T.dvector("t")
    ov, tv = rand(rng, (3, 4), low=0.05, high=0.95), (rng.random(4) < 0.5).astype("float64")
    got = compile_py([o, t], nnet.binary_crossentropy(o, t))(ov, tv)
    np.testing.assert_allclose(got, _np_bce(ov, tv), rtol=1e-12)


@pytest.mark.parametrize("label_dtype", ["int32", "int64", "uint8"])
def test_categorical_crossentropy_integer_labels(label_dtype, rng):
    p = T.dmatrix("p")
    y = T.tensor(label_dtype, (False,), name="y")
    pv = _np_softmax(rand(rng, (5, 4)))
    yv = np.array([0, 3, 1, 3, 2], dtype=label_dtype)
    out = nnet.categorical_crossentropy(p, y)
    expected = -np.log(pv[np.arange(5), yv])
    np.testing.assert_allclose(compile_py([p, y], out)(noncontig(pv), yv), expected, rtol=1e-12)
    yc = T.constant(yv)
    check_grad(lambda v: nnet.categorical_crossentropy(v, yc), [pv])


def test_categorical_crossentropy_one_hot(rng):
    p, t = T.dmatrices("p", "t")
    pv = _np_softmax(rand(rng, (5, 4)))
    tv = np.eye(4)[[0, 3, 1, 3, 2]]
    out = nnet.categorical_crossentropy(p, t)
    expected = -(tv * np.log(pv)).sum(axis=1)
    np.testing.assert_allclose(compile_py([p, t], out)(pv, tv), expected, rtol=1e-12)
    check_infer_shape([p, t], out, [pv, tv])
    check_grad(nnet.categorical_crossentropy, [pv, tv])


def test_categorical_crossentropy_of_softmax_trains_like_the_tutorial(rng):
    """The gradient of mean cross-entropy of softmax(xW) w.r.t. W is X^T (P - Y) / n."""
    x, w, y = T.dmatrix("x"), T.dmatrix("w"), T.lvector("y")
    cost = nnet.categorical_crossentropy(nnet.softmax(T.dot(x, w)), y).mean()
    xv, wv = rand(rng, (6, 3)), rand(rng, (3, 4))
    yv = rng.integers(0, 4, size=6)
    gw = compile_py([x, w, y], grad(cost, w))(xv, wv, yv)
    pv = _np_softmax(xv @ wv)
    expected = xv.T @ (pv - np.eye(4)[yv]) / 6
    np.testing.assert_allclose(gw, expected, rtol=1e-10)


def test_categorical_crossentropy_rejects_mismatched_targets():
    with pytest.raises(TypeError, match="true_dist"):
        nnet.categorical_crossentropy(T.dmatrix("p"), T.dvector("t"))


@pytest.mark.parametrize("n_rows", [0, 4])
def test_crossentropies_on_empty_and_non_contiguous_batches(n_rows, rng):
    p, t, x = T.dmatrices("p", "t", "x")
    y = T.lvector("y")
    pv = _np_softmax(rand(rng, (n_rows, 3)))
    tv = np.eye(3)[rng.integers(0, 3, size=n_rows)]
    yv = rng.integers(0, 3, size=n_rows)
    xv = rand(rng, (n_rows, 3), low=-4, high=4)
    outs = [nnet.categorical_crossentropy(p, t), nnet.categorical_crossentropy(p, y),
            nnet.binary_crossentropy(p, t), nnet.sigmoid_binary_crossentropy(x, t)]
    expected = [-(tv * np.log(pv)).sum(axis=1), -np.log(pv[np.arange(n_rows), yv]),
                _np_bce(pv, tv), _np_bce(1 / (1 + np.exp(-xv)), tv)]
    got = compile_py([p, t, y, x], outs)(noncontig(pv), fortran(tv), noncontig(yv), fortran(xv))
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-10)
    for out in outs:
        check_infer_shape([p, t, y, x], out, [pv, tv, yv, xv])
