"""grad's options, jacobian and hessian, against NumPy and finite differences."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.gradient import (
    DisconnectedInputError,
    GradientError,
    hessian,
    jacobian,
    verify_grad,
)


def numeric_jacobian(fn, x, eps=1e-6):
    x = np.asarray(x, dtype="float64")
    cols = []
    for j in range(x.size):
        d = np.zeros_like(x)
        d.flat[j] = eps
        cols.append((np.asarray(fn(x + d)) - np.asarray(fn(x - d))).ravel() / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(fn(x)) + x.shape)


def test_grad_of_list_returns_list_in_order():
    x, y = T.dscalars("x", "y")
    gx, gy = th.grad(x * y + x**2, [x, y])
    f = th.function([x, y], [gx, gy])
    np.testing.assert_allclose(f(3.0, 5.0), [5.0 + 6.0, 3.0])


def test_consider_constant_blocks_the_gradient():
    x = T.dscalar("x")
    y = x**2
    g = th.grad(y * x, x, consider_constant=[y])
    assert th.function([x], g)(3.0) == pytest.approx(9.0)  # d(c*x)/dx with c = x**2 frozen


def test_known_grads_starts_backprop_from_an_intermediate():
    x = T.dvector("x")
    h = T.exp(x)
    g_h = T.dvector("g_h")
    gx = th.grad(None, x, known_grads={h: g_h})
    f = th.function([x, g_h], gx)
    xv, gv = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(f(xv, gv), gv * np.exp(xv))


def test_disconnected_input_options():
    x, z = T.dscalars("x", "z")
    cost = x**2
    with pytest.raises(DisconnectedInputError, match="z"):
        th.grad(cost, z)
    with pytest.warns(UserWarning, match="z"):
        gz = th.grad(cost, z, disconnected_inputs="warn")
    assert th.function([z], gz, on_unused_input="ignore")(1.5) == 0.0
    gz = th.grad(cost, z, disconnected_inputs="ignore")
    assert th.function([z], gz, on_unused_input="ignore")(1.5) == 0.0


def test_gradient_through_integer_path_is_disconnected():
    x = T.dvector("x")
    k = T.argmax(x)
    with pytest.raises(DisconnectedInputError):
        th.grad(T.cast(k, "float64"), x)


def test_grad_accumulates_over_several_uses():
    x = T.dvector("x")
    cost = (T.sin(x) * x + x).sum()
    g = th.function([x], th.grad(cost, x))
    xv = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(g(xv), np.cos(xv) * xv + np.sin(xv) + 1)


def test_jacobian_matches_finite_differences():
    x = T.dvector("x")
    W = T.dmatrix("W")
    expr = T.tanh(T.dot(W, x))
    jx = th.function([W, x], jacobian(expr, x))
    rng = np.random.default_rng(0)
    Wv, xv = rng.normal(size=(3, 4)), rng.normal(size=4)
    expected = numeric_jacobian(lambda v: np.tanh(Wv @ v), xv)
    np.testing.assert_allclose(jx(Wv, xv), expected, rtol=1e-6, atol=1e-8)


def test_jacobian_wrt_matrix_and_list():
    x = T.dvector("x")
    W = T.dmatrix("W")
    jw, jx = jacobian(T.dot(W, x), [W, x])
    f = th.function([W, x], [jw, jx])
    Wv, xv = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    got_w, got_x = f(Wv, xv)
    np.testing.assert_allclose(got_w, numeric_jacobian(lambda m: m @ xv, Wv), atol=1e-6)
    np.testing.assert_allclose(got_x, Wv, atol=1e-12)


def test_hessian_matches_analytic():
    x = T.dvector("x")
    cost = T.sum(x**3) + x[0] * x[1]
    H = th.function([x], hessian(cost, x))
    xv = np.array([1.0, 2.0, 3.0])
    expected = np.diag(6 * xv)
    expected[0, 1] = expected[1, 0] = 1.0
    np.testing.assert_allclose(H(xv), expected, atol=1e-10)


def test_verify_grad_catches_a_wrong_gradient():
    class BadSquare(th.Op):
        __props__ = ()

        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return th.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, out):
            out[0][0] = inputs[0] ** 2

        def grad(self, inputs, g):
            return [g[0] * 3 * inputs[0]]  # should be 2 * x

    with pytest.raises(GradientError, match="input 0"):
        verify_grad(BadSquare(), [np.array([1.0, 2.0])])


def test_verify_grad_accepts_a_right_gradient():
    verify_grad(lambda a, b: T.tanh(a) * b, [np.array([0.1, -0.4]), np.array([2.0, 3.0])])


@pytest.mark.parametrize("optimizer", [None, "fast_run"])
def test_std_gradient_is_zero_where_the_variance_is_exactly_zero(optimizer):
    """Constant rows have std 0; its gradient there is 0 (std's minimum), whatever order
    the backend sums in (fuzz seed 2027, graph 47502 gave NaN on one backend, 0 on the
    other); elsewhere it matches finite differences, and a NaN input stays NaN."""
    x = T.dmatrix("x")
    s = T.std(x, axis=1)
    f = th.function([x], [s, th.grad(T.sum(s * [1.0, 2.0, 3.0]), x)],
                    mode=th.Mode(optimizer=optimizer))
    v = np.array([[2.0, 2.0, 2.0], [1.0, 4.0, 6.0], [np.nan, 1.0, 2.0]])
    got_s, got_g = f(v)
    np.testing.assert_allclose(got_s, np.std(v, axis=1))
    assert (got_g[0] == 0).all()
    eps = 1e-6
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps
        fd = (np.std(v[1] + d) - np.std(v[1] - d)) / (2 * eps) * 2.0
        np.testing.assert_allclose(got_g[1, j], fd, rtol=1e-6)
    assert np.isnan(got_g[2]).all()


def test_arctan2_gradient_of_a_low_precision_operand_is_computed_in_the_result_dtype():
    """arctan2(float16, float64) is float64; its gradient must not square the float16
    operand in float16 (fuzz seed 2027, graph 60113: 1.4e-4 off finite differences)."""
    y = T.TensorType("float16", (False,))("y")
    x = T.dvector("x")
    g = th.function([y, x], th.grad(T.sum(T.arctan2(y, x)), x))
    yv = np.array([19.08, 1.718, -0.8647], dtype="float16")
    xv = np.array([1.0, -2.0, 3.0])
    want = -yv.astype("float64") / (xv ** 2 + yv.astype("float64") ** 2)
    np.testing.assert_allclose(g(yv, xv), want, rtol=1e-12)
