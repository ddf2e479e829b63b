"""`LogSoftmax`: values against scipy, rows holding inf/-inf/NaN as the max-shifted expression
gives them, empty axes, its gradient (numerically, and without the max's zero path in a
classifier's backward pass), the stabilize rewrite producing it, and every backend against its
`perform`."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.special
from op_checks import check_infer_shape, compile_py, fortran, noncontig, rand

import theanine
import theanine.tensor as T
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.math import Reduce
from theanine.tensor.nnet import LogSoftmax
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable
from theanine.testing.checks import check_backends, verify_grad

nnet = T.nnet
SHAPES_AXES = [((3, 5), -1), ((3, 5), 0), ((3, 5), 1), ((7,), 0), ((2, 3, 4), 1),
               ((2, 3, 4), -3), ((4, 300), -1)]
SPECIAL_ROWS = np.array([[np.inf, 1.0, 2.0], [-np.inf, 1.0, 2.0], [-np.inf] * 3,
                         [np.nan, 1.0, 2.0], [np.inf, np.inf, 1.0], [-np.inf, np.inf, 1.0],
                         [1.0, -np.inf, -np.inf], [1e30, -1e30, 0.0]])


def _tol(dtype: str) -> dict:
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == "float32" else {"rtol": 1e-12,
                                                                    "atol": 1e-13}


def _var(dtype: str, ndim: int) -> TensorVariable:
    return TensorType(dtype, (False,) * ndim)("x")


def _shifted_expression(x, axis):
    """log-softmax as it was written before the Op (the answers the Op keeps)."""
    shifted = x - T.max(x, axis=axis, keepdims=True)
    return shifted - T.log(T.sum(T.exp(shifted), axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, axis", SHAPES_AXES)
def test_values_match_scipy(dtype, shape, axis, rng):
    x = _var(dtype, len(shape))
    out = nnet.log_softmax(x, axis=axis)
    assert isinstance(out.owner.op, LogSoftmax)
    f = compile_py([x], out)
    xv = rand(rng, shape, dtype, low=-20, high=20)
    want = scipy.special.log_softmax(xv.astype("float64"), axis=axis)
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, want, **_tol(dtype))
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [1, 0])
def test_rows_with_infinities_and_nan_are_those_of_the_shifted_expression(dtype, axis):
    x = T.matrix("x", dtype=dtype)
    xv = SPECIAL_ROWS.astype(dtype)
    xv = xv if axis == 1 else np.ascontiguousarray(xv.T)
    with np.errstate(invalid="ignore"):
        got = compile_py([x], nnet.log_softmax(x, axis=axis))(xv)
        want = compile_py([x], _shifted_expression(x, axis))(xv)
    np.testing.assert_allclose(got, want, equal_nan=True, **_tol(dtype))
    # +inf, NaN or only -inf in a row: NaN throughout; a lone -inf stays -inf
    nan_rows = np.take(got, [0, 2, 3, 4, 5], axis=1 - axis)
    assert np.isnan(nan_rows).all()
    np.testing.assert_array_equal(np.take(got, 1, axis=1 - axis)[0], -np.inf)
    np.testing.assert_array_equal(np.take(got, 6, axis=1 - axis), [0, -np.inf, -np.inf])


@pytest.mark.parametrize("shape, axis", [((3, 0), -1), ((0, 4), 0), ((0, 4), -1), ((0,), 0)])
def test_empty_axis_gives_an_empty_result(shape, axis):
    x = _var("float32", len(shape))
    got = compile_py([x], nnet.log_softmax(x, axis=axis))(np.zeros(shape, "float32"))
    assert got.shape == shape and got.dtype == np.float32


def test_vector_keeps_its_shape_and_alias():
    v = T.dvector("v")
    assert nnet.log_softmax(v).ndim == 1  # unlike softmax(v) without axis: a 1xn matrix
    assert nnet.logsoftmax is nnet.log_softmax
    assert nnet.log_softmax(v).owner.op == LogSoftmax(-1)
    vv = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(compile_py([v], nnet.log_softmax(v))(vv),
                               scipy.special.log_softmax(vv), rtol=1e-12)


def test_ints_become_float64_and_bad_inputs_are_refused():
    x = T.imatrix("x")
    out = nnet.log_softmax(x)
    assert out.dtype == "float64"
    xv = np.array([[1, 2, 3], [-4, 0, 4]], dtype="int32")
    np.testing.assert_allclose(compile_py([x], out)(xv), scipy.special.log_softmax(xv, axis=-1),
                               rtol=1e-12)
    with pytest.raises(TypeError, match="dimension"):
        nnet.log_softmax(T.dscalar("s"))
    with pytest.raises(ValueError, match="out of range"):
        nnet.log_softmax(T.dmatrix("m"), axis=2)


@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((3, 4), 0), ((5,), 0), ((2, 3, 2), 1)])
def test_gradient_matches_finite_differences(shape, axis, rng):
    verify_grad(lambda x: nnet.log_softmax(x, axis=axis), [rand(rng, shape, low=-3, high=3)],
                backend="python")


def test_second_derivative(rng):
    w = rand(rng, (3, 4))
    verify_grad(lambda x: T.grad((nnet.log_softmax(x) * w).sum() ** 2, x),
                [rand(rng, (3, 4))], backend="python")


def _op_names(f) -> set[str]:
    """Every Op and scalar op name of the compiled graph (inside fused Composites too)."""
    names = set()
    for node in f.maker.fgraph.toposort():
        if isinstance(node.op, Reduce):
            names.add(node.op.kind)
        names.update(re.findall(r"\w+", str(node.op.scalar_op) if isinstance(node.op, Elemwise)
                                else type(node.op).__name__))
    return names


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classifier_gradient_has_no_max_path(dtype, rng):
    """d/dz of the mean cross-entropy of softmax(z): (softmax(z) - y) / n, with neither the
    max nor its `eq` mask in the compiled graph (the default backend)."""
    z, y = T.matrix("z", dtype=dtype), T.matrix("y", dtype=dtype)
    cost = -T.mean(T.sum(y * T.log(nnet.softmax(z)), axis=1))
    f = theanine.function([z, y], [cost, T.grad(cost, z)])
    names = _op_names(f)
    assert "LogSoftmax" in names
    assert "max" not in names and "eq" not in names, names
    zv = rand(rng, (128, 10), dtype, low=-5, high=5)
    yv = np.eye(10, dtype=dtype)[rng.integers(0, 10, 128)]
    got_cost, got_grad = f(zv, yv)
    p = scipy.special.softmax(zv.astype("float64"), axis=1)
    np.testing.assert_allclose(got_cost, -np.mean(np.sum(yv * np.log(p), axis=1)), rtol=1e-5)
    np.testing.assert_allclose(got_grad, (p - yv) / 128, **_tol(dtype))


@pytest.mark.parametrize("labels", ["one_hot", "integers"])
def test_stabilize_produces_the_op(labels):
    x = T.dmatrix("x")
    y = T.dmatrix("y") if labels == "one_hot" else T.lvector("y")
    cost = nnet.categorical_crossentropy(nnet.softmax(x), y)
    f = theanine.function([x, y], cost)
    names = _op_names(f)
    assert "LogSoftmax" in names and "Softmax" not in names and "max" not in names, names
    xv = np.array([[1e4, 0.0, -1e4], [0.0, 2.0, 1.0]])
    yv = np.eye(3)[[2, 0]] if labels == "one_hot" else np.array([2, 0])
    want = -scipy.special.log_softmax(xv, axis=1)[[0, 1], [2, 0]]
    np.testing.assert_allclose(f(xv, yv), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, axis", [*SHAPES_AXES, ((3, 0), 1), ((0, 3), 1)])
def test_every_backend_matches_perform(dtype, shape, axis, rng):
    xv = rand(rng, shape, dtype, low=-20, high=20)
    assert "python" in check_backends(LogSoftmax(axis), [xv])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_backend_matches_perform_on_special_rows(dtype):
    with np.errstate(invalid="ignore"):
        for axis in (0, 1):
            check_backends(LogSoftmax(axis), [SPECIAL_ROWS.astype(dtype)])
