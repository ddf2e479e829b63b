"""Theano 1.0's gradient API (issue 11): Rop/Lop against finite-difference Jacobian products,
the gradient-changing identity Ops, grad's options, and verify_grad's Theano path."""

import warnings

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import gradient
from theanine.gradient import DisconnectedInputError, GradientError

RNG = np.random.default_rng(11)


def fd_jvp(fn, xs, vs, eps=1e-6):
    """d/dt fn(x + t v) at t = 0, by central differences."""
    plus = fn(*[x + eps * v for x, v in zip(xs, vs)])
    minus = fn(*[x - eps * v for x, v in zip(xs, vs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * eps)


# Rop ----------------------------------------------------------------------------------------
def test_rop_matches_finite_difference_jvp_of_a_layer():
    W, V = T.dmatrix("W"), T.dmatrix("V")
    x = T.dvector("x")
    y = T.tanh(T.dot(x, W))
    jv = theano.function([W, V, x], gradient.Rop(y, W, V))
    Wv, Vv, xv = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4)), RNG.normal(size=3)
    expected = fd_jvp(lambda w: np.tanh(xv @ w), [Wv], [Vv])
    np.testing.assert_allclose(jv(Wv, Vv, xv), expected, rtol=1e-6, atol=1e-8)


def test_rop_several_wrt_and_outputs_keep_the_form_of_f():
    a, b, va, vb = T.dvectors("a", "b", "va", "vb")
    f1, f2 = a * b + T.exp(a), T.sum(a**2) * b
    r = gradient.Rop([f1, f2], [a, b], [va, vb])
    assert isinstance(r, list) and len(r) == 2
    fn = theano.function([a, b, va, vb], r)
    pts = [RNG.normal(size=3) for _ in range(4)]
    got = fn(*pts)

    def both(x, y):
        return np.concatenate([x * y + np.exp(x), np.sum(x**2) * y])

    expected = fd_jvp(both, pts[:2], pts[2:])
    np.testing.assert_allclose(np.concatenate(got), expected, rtol=1e-6, atol=1e-8)
    single = gradient.Rop(f1, [a, b], [va, vb])
    assert not isinstance(single, list | tuple)


def test_rop_of_x_plus_x_uses_both_eval_points():
    """One backward term (the add's gradient) serves both wrt: the eval points must add."""
    x, y, vx, vy = T.dvectors("x", "y", "vx", "vy")
    fn = theano.function([x, y, vx, vy], gradient.Rop(x + y, [x, y], [vx, vy]),
                         on_unused_input="ignore")
    vals = [RNG.normal(size=2) for _ in range(4)]
    np.testing.assert_allclose(fn(*vals), vals[2] + vals[3])


def test_rop_of_a_wrt_variable_itself_is_its_eval_point():
    x, v = T.dvectors("x", "v")
    fn = theano.function([x, v], gradient.Rop(x, x, v), on_unused_input="ignore")
    np.testing.assert_array_equal(fn([1.0, 2.0], [3.0, 4.0]), [3.0, 4.0])


def test_rop_disconnected_output_options():
    x, y, v = T.dvectors("x", "y", "v")
    with pytest.raises(DisconnectedInputError, match="y"):
        gradient.Rop(T.exp(y), x, v)
    r = gradient.Rop(T.exp(y), x, v, disconnected_outputs="ignore")
    np.testing.assert_array_equal(theano.function([y], r)([1.0, 2.0]), [0.0, 0.0])
    assert gradient.Rop(T.exp(y), x, v, disconnected_outputs="ignore",
                 return_disconnected="None") is None


def test_rop_rejects_mismatched_rank_naming_both():
    x, v = T.dvector("x"), T.dmatrix("v")
    with pytest.raises(ValueError, match=r"eval_points\[0\].*rank"):
        gradient.Rop(T.exp(x), x, v)


def test_lop_is_the_vector_jacobian_product():
    W, x, u = T.dmatrix("W"), T.dvector("x"), T.dvector("u")
    y = T.tanh(T.dot(x, W))
    gW, gx = gradient.Lop(y, [W, x], u)
    fn = theano.function([W, x, u], [gW, gx])
    Wv, xv, uv = RNG.normal(size=(3, 2)), RNG.normal(size=3), RNG.normal(size=2)
    got_W, got_x = fn(Wv, xv, uv)
    d = uv * (1 - np.tanh(xv @ Wv) ** 2)
    np.testing.assert_allclose(got_W, np.outer(xv, d))
    np.testing.assert_allclose(got_x, Wv @ d)
    assert isinstance(gradient.Lop(y, (W, x), u), tuple)


def test_hessian_vector_product_by_rop_of_the_gradient():
    x, v = T.dvectors("x", "v")
    cost = T.sum(T.exp(x) * x[0])
    hv = theano.function([x, v], gradient.Rop(theano.grad(cost, x), x, v))
    xv, vv = RNG.normal(size=3), RNG.normal(size=3)

    def g(z):
        out = np.exp(z) * z[0]
        out[0] += np.sum(np.exp(z))
        return out

    np.testing.assert_allclose(hv(xv, vv), fd_jvp(g, [xv], [vv]), rtol=1e-6, atol=1e-8)


# gradient-changing identities ---------------------------------------------------------------
def test_grad_clip_is_the_identity_forward_and_clips_backward():
    x = T.dscalar("x")
    z = theano.grad(gradient.grad_clip(x, -1, 1) ** 2, x)
    z2 = theano.grad(x**2, x)
    f = theano.function([x], [gradient.grad_clip(x, -1, 1), z, z2])
    for v in (2.0, 0.3, -5.0):
        value, clipped, plain = f(v)
        assert value == v and plain == 2 * v
        assert clipped == np.clip(2 * v, -1, 1)
    with pytest.raises(ValueError, match="lower_bound"):
        gradient.grad_clip(x, 1, -1)


def test_zero_grad_gives_zeros_and_disconnected_grad_disconnects():
    x, y = T.dscalars("x", "y")
    cost = gradient.zero_grad(x**2) * y + x
    gx, gy = theano.grad(cost, [x, y])
    f = theano.function([x, y], [cost, gx, gy])
    np.testing.assert_allclose(f(3.0, 2.0), [9 * 2 + 3, 1.0, 9.0])
    with pytest.raises(DisconnectedInputError):
        theano.grad(gradient.disconnected_grad(x) * y, x)
    g0 = theano.grad(gradient.zero_grad(x) * y, x)  # zero_grad: connected, zero
    assert theano.function([x, y], g0, on_unused_input="ignore")(3.0, 2.0) == 0.0
    g = theano.grad(gradient.disconnected_grad(x**2) * x, x)
    assert theano.function([x], g)(3.0) == 9.0


def test_consider_constant_warns_and_stops_the_gradient():
    x = T.dscalar("x")
    with pytest.warns(DeprecationWarning, match="zero_grad"):
        c = gradient.consider_constant(x**2)
    assert theano.function([x], theano.grad(c * x, x))(3.0) == 9.0


def test_grad_scale_multiplies_the_gradient():
    x = T.dvector("x")
    g = theano.grad(T.sum(gradient.grad_scale(x, -0.5) ** 2), x)
    np.testing.assert_allclose(theano.function([x], g)([1.0, 2.0]), [-1.0, -2.0])


def test_gradient_ops_keep_shape_and_dtype():
    x = T.fmatrix("x")
    y = gradient.zero_grad(x)
    assert y.type == x.type
    out = theano.function([x], y.shape)(np.zeros((2, 5), "float32"))
    np.testing.assert_array_equal(out, [2, 5])


# grad's Theano options ----------------------------------------------------------------------
def test_grad_of_an_integer_input_is_zero_not_an_error():
    i, y = T.iscalar("i"), T.dscalar("y")
    g = theano.grad(T.cast(i, "float64") * y + y, i)
    f = theano.function([i], g)  # the zeros are computed from i: i is not an unused input
    assert f(3) == 0.0 and g.dtype == theano.config.floatX
    iv = T.ivector("iv")
    gv = theano.grad(T.sum(iv * y), iv)
    np.testing.assert_array_equal(theano.function([iv], gv)([1, 2, 3]), [0, 0, 0])
    with pytest.raises(DisconnectedInputError):
        theano.grad(y**2, T.iscalar("unrelated"))


def test_grad_of_a_constant_input():
    y = T.dscalar("y")
    c = T.constant(2.0)
    assert theano.function([y], theano.grad(c * y, c))(3.0) == 3.0
    k = T.constant(3)
    assert theano.function([y], theano.grad(k * y, k), on_unused_input="ignore")(3.0) == 0.0


def test_grad_wrt_tuple_returns_tuple_and_names_gradients():
    x, y = T.dscalars("x", "y")
    cost = x * y
    cost.name = "cost"
    gs = theano.grad(cost, (x, y))
    assert isinstance(gs, tuple)
    assert [g.name for g in gs] == ["(dcost/dx)", "(dcost/dy)"]
    assert theano.grad(cost, x, add_names=False).name is None
    with pytest.raises(TypeError, match="set"):
        theano.grad(cost, {x})


def test_return_disconnected_none():
    x, z = T.dscalars("x", "z")
    gx, gz = theano.grad(x**2, [x, z], disconnected_inputs="ignore",
                         return_disconnected="None")
    assert gz is None and gx is not None
    with pytest.raises(ValueError, match="return_disconnected"):
        theano.grad(x**2, x, return_disconnected="nothing")


def test_known_grads_alone_and_nothing_to_differentiate():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="known_grads"):
        theano.grad(None, x)


# verify_grad ------------------------------------------------------------------------------
def test_verify_grad_resolves_on_theano_paths_with_one_implementation():
    from theanine.testing import verify_grad as kit

    assert gradient.verify_grad is kit and T.verify_grad is kit
    assert kit.E_grad is GradientError


def test_verify_grad_with_theano_keywords_and_mode():
    rng = np.random.RandomState(0)
    gradient.verify_grad(lambda a: T.tanh(a) * 2, [rng.rand(3)], n_tests=1, rng=rng,
                         eps=1e-7, abs_tol=1e-6, rel_tol=1e-6, mode="FAST_COMPILE")
    gradient.verify_grad(T.exp, [rng.rand(2)], 2, rng, None, None, 1e-5, 1e-5,
                         theano.Mode(optimizer=None))


def test_verify_grad_catches_a_gradient_clipped_away():
    with pytest.raises(GradientError, match="input 0"):
        gradient.verify_grad(lambda a: gradient.grad_clip(a, -0.1, 0.1) * 5,
                             [np.array([1.0, 2.0])])


def test_verify_grad_refuses_integer_points_and_non_lists():
    with pytest.raises(TypeError, match=r"pt\[0\].*int"):
        gradient.verify_grad(T.exp, [np.array([1, 2])])
    with pytest.raises(TypeError, match="list"):
        gradient.verify_grad(T.exp, np.array([1.0]))


def test_gradient_module_does_not_import_compile_at_module_level():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(gradient))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [getattr(n, "module", None) or n.names[0].name for n in top]
    assert not [m for m in names if m and ("compile" in m or "testing" in m)], names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert callable(gradient.verify_grad)


def test_rop_reads_wrt_and_checks_the_eval_point_shape():
    """Theano's tutorial: Rop(dot(x, W), W, V) compiles with W among the inputs even though
    J v = dot(x, V) does not read W's value; a V of another shape is a clear error."""
    W, V, x = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    f = theano.function([W, V, x], gradient.Rop(T.dot(x, W), W, V))
    np.testing.assert_allclose(f(np.ones((2, 2)), np.full((2, 2), 2.0), [0.0, 1.0]),
                               np.dot([0.0, 1.0], np.full((2, 2), 2.0)))
    with pytest.raises(AssertionError, match=r"V has shape \(3, 2\).*\(2, 2\)"):
        f(np.ones((2, 2)), np.ones((3, 2)), [0.0, 1.0])


def test_rop_of_an_output_with_a_broadcastable_dimension():
    """zeros_like keeps the broadcastable pattern, so Rop can stand zeros in for the output
    gradient of a keepdims result (fuzz: seed 102, graph 132 on c)."""
    x = T.dmatrix("x")
    assert T.zeros_like(T.sum(x, axis=1, keepdims=True)).broadcastable == (False, True)
    out = T.var(x, axis=1, keepdims=True)
    v = T.dmatrix("v")
    f = theano.function([x, v], gradient.Rop(out, x, v))
    xv, vv = np.array([[1.0, 2.0, 4.0]]), np.array([[0.5, -1.0, 2.0]])
    eps = 1e-6
    fd = (np.var(xv + eps * vv, axis=1, keepdims=True)
          - np.var(xv - eps * vv, axis=1, keepdims=True)) / (2 * eps)
    np.testing.assert_allclose(f(xv, vv), fd, rtol=1e-6)
