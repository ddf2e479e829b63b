"""Elementwise ops against NumPy: values (with broadcasting, 0-size and non-contiguous inputs),
gradients (verify_grad at float64 points) and infer_shape."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# name: (theanine function, NumPy reference, (low, high) of the test domain, differentiable)
UNARY = {
    "neg": (T.neg, np.negative, (-2, 2), True),
    "abs": (T.abs, np.abs, (-2, 2), True),
    "exp": (T.exp, np.exp, (-2, 2), True),
    "log": (T.log, np.log, (0.1, 3), True),
    "log1p": (T.log1p, np.log1p, (-0.5, 2), True),
    "expm1": (T.expm1, np.expm1, (-2, 2), True),
    "sqrt": (T.sqrt, np.sqrt, (0.1, 3), True),
    "sqr": (T.sqr, np.square, (-2, 2), True),
    "tanh": (T.tanh, np.tanh, (-2, 2), True),
    "sin": (T.sin, np.sin, (-3, 3), True),
    "cos": (T.cos, np.cos, (-3, 3), True),
    "sigmoid": (T.sigmoid, _np_sigmoid, (-4, 4), True),
    "softplus": (T.softplus, lambda x: np.log1p(np.exp(x)), (-4, 4), True),
    "relu": (T.nnet.relu, lambda x: np.maximum(x, 0), (-2, 2), True),
    "floor": (T.floor, np.floor, (-3, 3), False),
    "ceil": (T.ceil, np.ceil, (-3, 3), False),
    "sgn": (T.sgn, np.sign, (-3, 3), False),
}

# name: (theanine function, NumPy reference, (low, high) of the test domain for both inputs)
BINARY = {
    "add": (T.add, np.add, (-2, 2)),
    "sub": (T.sub, np.subtract, (-2, 2)),
    "mul": (T.mul, np.multiply, (-2, 2)),
    "true_div": (T.true_div, np.true_divide, (0.5, 2)),
    "int_div": (T.int_div, np.floor_divide, (0.3, 3)),
    "mod": (T.mod, np.remainder, (0.3, 3)),
    "pow": (T.pow, np.power, (0.5, 2)),
    "maximum": (T.maximum, np.maximum, (-2, 2)),
    "minimum": (T.minimum, np.minimum, (-2, 2)),
}

# Shapes and broadcastable patterns of two operands and the broadcast result.
BROADCAST_CASES = [
    ((3, 4), (False, False), (3, 4), (False, False)),
    ((3, 4), (False, False), (4,), (False,)),
    ((3, 1), (False, True), (1, 4), (True, False)),
    ((2, 3, 4), (False, False, False), (3, 1), (False, True)),
    ((), (), (2, 3), (False, False)),
    ((0, 4), (False, False), (4,), (False,)),
    ((0, 4), (False, False), (1, 4), (True, False)),
]


def _var(pattern, dtype="float64", name=None):
    return T.tensor(dtype, pattern, name=name)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("layout", ["contiguous", "strided", "fortran"])
def test_unary_values(name, layout, rng):
    fn, ref, (lo, hi), _ = UNARY[name]
    x = T.dmatrix("x")
    xv = rand(rng, (3, 5), low=lo, high=hi)
    arg = {"contiguous": xv, "strided": noncontig(xv), "fortran": fortran(xv)}[layout]
    out = compile_py([x], fn(x))(arg)
    np.testing.assert_allclose(out, ref(xv), rtol=1e-12, atol=1e-12)
    assert out.dtype == np.float64


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3)])
def test_unary_scalar_and_empty(name, shape, rng):
    fn, ref, (lo, hi), _ = UNARY[name]
    x = _var((False,) * len(shape))
    xv = rand(rng, shape, low=lo, high=hi)
    out = compile_py([x], fn(x))(xv)
    assert out.shape == shape
    np.testing.assert_allclose(out, ref(xv), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_stays_float32(name, rng):
    fn, ref, (lo, hi), _ = UNARY[name]
    x = T.fvector("x")
    xv = rand(rng, (6,), "float32", lo, hi)
    out = compile_py([x], fn(x))(xv)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref(xv.astype("float64")), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n, spec in UNARY.items() if spec[3]))
def test_unary_grad(name, rng):
    fn, _, (lo, hi), _ = UNARY[name]
    xv = rand(rng, (2, 3), low=lo, high=hi)
    if name in ("abs", "relu"):
        xv = np.where(np.abs(xv) < 0.1, 0.5, xv)  # stay away from the kink
    check_grad(fn, [xv])


@pytest.mark.parametrize("name", ["floor", "ceil", "sgn"])
def test_piecewise_constant_ops_have_zero_gradient(name, rng):
    fn = UNARY[name][0]
    x = T.dvector("x")
    g = grad(fn(x).sum(), x)
    xv = rand(rng, (5,), low=-3, high=3)
    np.testing.assert_array_equal(compile_py([x], g)(xv), np.zeros(5))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_infer_shape(name, rng):
    fn, _, (lo, hi), _ = UNARY[name]
    x = T.dtensor3("x")
    check_infer_shape([x], fn(x), [rand(rng, (2, 0, 3), low=lo, high=hi)])
    check_infer_shape([x], fn(x), [rand(rng, (2, 1, 3), low=lo, high=hi)])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("case", BROADCAST_CASES, ids=str)
def test_binary_values_broadcasting(name, case, rng):
    fn, ref, (lo, hi) = BINARY[name]
    xs, xb, ys, yb = case
    x, y = _var(xb, name="x"), _var(yb, name="y")
    xv, yv = rand(rng, xs, low=lo, high=hi), rand(rng, ys, low=lo, high=hi)
    out = compile_py([x, y], fn(x, y))(xv, yv)
    expected = ref(xv, yv)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    check_infer_shape([x, y], fn(x, y), [xv, yv])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_non_contiguous(name, rng):
    fn, ref, (lo, hi) = BINARY[name]
    x, y = T.dmatrices("x", "y")
    xv, yv = rand(rng, (4, 3), low=lo, high=hi), rand(rng, (4, 3), low=lo, high=hi)
    out = compile_py([x, y], fn(x, y))(noncontig(xv), fortran(yv))
    np.testing.assert_allclose(out, ref(xv, yv), rtol=1e-12)
    xt = rand(rng, (3, 4), low=lo, high=hi)
    out = compile_py([x, y], fn(x, y))(xt.T, yv)
    np.testing.assert_allclose(out, ref(xt.T, yv), rtol=1e-12)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "true_div", "pow", "maximum",
                                  "minimum"])
@pytest.mark.parametrize("case", BROADCAST_CASES[:5], ids=str)
def test_binary_grad(name, case, rng):
    fn, _, (lo, hi) = BINARY[name]
    xs, xb, ys, yb = case
    xv, yv = rand(rng, xs, low=lo, high=hi), rand(rng, ys, low=lo, high=hi)
    if name in ("maximum", "minimum"):
        xv = np.where(np.abs(xv - 0.3) < 0.1, 1.0, xv)
        yv = np.full(ys, 0.3)  # no ties
    check_grad(lambda a, b: fn(_rebroadcast(a, xb), _rebroadcast(b, yb)), [xv, yv])


def test_mod_grad(rng):
    yv = rand(rng, (3, 4), low=0.5, high=1.5)
    xv = yv * (rng.integers(-3, 3, size=(3, 4)) + rng.uniform(0.2, 0.8, size=(3, 4)))
    check_grad(T.mod, [xv, yv])


def _rebroadcast(v, pattern):
    """verify_grad builds non-broadcastable inputs; mark the size-1 dimensions broadcastable."""
    from theanine.tensor.basic import Rebroadcast

    return Rebroadcast(pattern)(v) if any(pattern) else v


def test_int_div_gradient_is_zero(rng):
    x, y = T.dvectors("x", "y")
    gx, gy = grad(T.int_div(x, y).sum(), [x, y])
    xv, yv = rand(rng, (4,), low=1, high=3), rand(rng, (4,), low=1, high=3)
    gxv, gyv = compile_py([x, y], [gx, gy])(xv, yv)
    np.testing.assert_array_equal(gxv, 0)
    np.testing.assert_array_equal(gyv, 0)


@pytest.mark.parametrize("op, ref", [
    ("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.true_divide),
    ("//", np.floor_divide), ("%", np.remainder), ("**", np.power)])
def test_python_operators(op, ref, rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    xv, yv = rand(rng, (3, 4), low=0.5, high=2), rand(rng, (4,), low=0.5, high=2)
    f = compile_py([x, y], [eval(f"x {op} y"), eval(f"2 {op} y"), eval(f"x {op} 3")])
    got = f(xv, yv)
    for g, e in zip(got, [ref(xv, yv), ref(2, yv), ref(xv, 3)]):
        np.testing.assert_allclose(g, e, rtol=1e-12)
        assert g.dtype == np.float64


def test_unary_python_operators(rng):
    x = T.dvector("x")
    xv = rand(rng, (5,))
    neg, pos, ab = compile_py([x], [-x, +x, abs(x)])(xv)
    np.testing.assert_array_equal(neg, -xv)
    np.testing.assert_array_equal(pos, xv)
    np.testing.assert_array_equal(ab, np.abs(xv))


def test_integer_division_and_modulo_follow_python_signs():
    x, y = T.ivectors("x", "y")
    xv = np.array([7, -7, 7, -7, 0], dtype="int32")
    yv = np.array([2, 2, -2, -2, 3], dtype="int32")
    q, r = compile_py([x, y], [x // y, x % y])(xv, yv)
    np.testing.assert_array_equal(q, xv // yv)
    np.testing.assert_array_equal(r, xv % yv)
    assert q.dtype == np.int32 and r.dtype == np.int32


# Comparisons and logic --------------------------------------------------------------------
COMPARISONS = {"lt": np.less, "gt": np.greater, "le": np.less_equal, "ge": np.greater_equal,
               "eq": np.equal, "neq": np.not_equal}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons(name, rng):
    x, y = T.imatrix("x"), T.ivector("y")
    xv, yv = rand(rng, (4, 3), "int32", -1, 1), rand(rng, (3,), "int32", -1, 1)
    out = getattr(T, name)(x, y)
    assert out.dtype == "bool"
    got = compile_py([x, y], out)(fortran(xv), yv)
    np.testing.assert_array_equal(got, COMPARISONS[name](xv, yv))
    check_infer_shape([x, y], out, [xv, yv])


def test_comparison_operators(rng):
    x, y = T.dvectors("x", "y")
    xv, yv = rand(rng, (6,)), rand(rng, (6,))
    xv[:2] = yv[:2]
    got = compile_py([x, y], [x < y, x <= y, x > y, x >= y, x < 0.5, 0.5 < x])(xv, yv)
    for g, e in zip(got, [xv < yv, xv <= yv, xv > yv, xv >= yv, xv < 0.5, 0.5 < xv]):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8"])
@pytest.mark.parametrize("name, ref", [("and_", np.bitwise_and), ("or_", np.bitwise_or),
                                       ("xor", np.bitwise_xor)])
def test_bitwise(name, ref, dtype, rng):
    x, y = T.tensor(dtype, (False, False)), T.tensor(dtype, (False,))
    xv, yv = rand(rng, (3, 4), dtype, 0, 9), rand(rng, (4,), dtype, 0, 9)
    out = getattr(T, name)(x, y)
    got = compile_py([x, y], out)(xv, yv)
    np.testing.assert_array_equal(got, ref(xv, yv))
    assert got.dtype == ref(xv, yv).dtype


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8"])
def test_invert_and_operators(dtype, rng):
    x, y = T.tensor(dtype, (False,)), T.tensor(dtype, (False,))
    xv, yv = rand(rng, (7,), dtype, 0, 9), rand(rng, (7,), dtype, 0, 9)
    got = compile_py([x, y], [~x, x & y, x | y, x ^ y])(xv, yv)
    for g, e in zip(got, [~xv, xv & yv, xv | yv, xv ^ yv]):
        np.testing.assert_array_equal(g, e)
        assert g.dtype == e.dtype


def test_bitwise_on_floats_is_a_clear_error():
    with pytest.raises(TypeError, match="invert.*float64"):
        T.invert(T.dvector("x"))
    with pytest.raises(TypeError, match="and.*float"):
        T.and_(T.dvector("x"), T.fvector("y"))


# Selection and clipping --------------------------------------------------------------------
@pytest.mark.parametrize("fn", [T.switch, T.where])
def test_switch_values_broadcasting(fn, rng):
    c, a, b = T.bmatrix("c"), T.dvector("a"), T.dcol("b")
    cv = rand(rng, (3, 4), "int8", 0, 1)
    av, bv = rand(rng, (4,)), rand(rng, (3, 1))
    out = fn(c, a, b)
    got = compile_py([c, a, b], out)(cv, av, bv)
    np.testing.assert_array_equal(got, np.where(cv, av, bv))
    check_infer_shape([c, a, b], out, [cv, av, bv])


def test_switch_grad(rng):
    cv = rand(rng, (3, 4), "bool")
    c = T.constant(cv)
    check_grad(lambda a, b: T.switch(c, a, b), [rand(rng, (3, 4)), rand(rng, (3, 4))])


def test_switch_keeps_the_branch_dtype_with_a_literal(rng):
    c, a = T.lvector("c"), T.bvector("a")
    out = T.switch(c, a, 0)
    assert out.dtype == "int8"
    cv, av = rand(rng, (5,), "int64", 0, 1), rand(rng, (5,), "int8", -3, 3)
    np.testing.assert_array_equal(compile_py([c, a], out)(cv, av), np.where(cv, av, 0))


def test_clip(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (4, 5))
    out = T.clip(x, -0.5, 0.7)
    np.testing.assert_array_equal(compile_py([x], out)(noncontig(xv)), np.clip(xv, -0.5, 0.7))
    np.testing.assert_array_equal(compile_py([x], x.clip(-0.5, 0.7))(xv), np.clip(xv, -0.5, 0.7))
    xv = np.where(np.abs(np.abs(xv - 0.1) - 0.6) < 0.05, 0.0, xv)  # no point on a bound
    check_grad(lambda v: T.clip(v, -0.5, 0.7), [xv])


def test_clip_with_symbolic_bounds(rng):
    x, lo, hi = T.dvector("x"), T.dscalar("lo"), T.dscalar("hi")
    xv = rand(rng, (8,))
    got = compile_py([x, lo, hi], T.clip(x, lo, hi))(xv, -0.3, 0.4)
    np.testing.assert_array_equal(got, np.clip(xv, -0.3, 0.4))


# Broadcasting rules -------------------------------------------------------------------------
def test_runtime_broadcasting_of_a_non_broadcastable_dimension_is_refused(rng):
    x, y = T.dmatrices("x", "y")
    f = compile_py([x, y], x + y)
    with pytest.raises(ValueError, match="broadcastable"):
        f(rand(rng, (3, 4)), rand(rng, (1, 4)))
    with pytest.raises(ValueError):
        f(rand(rng, (3, 4)), rand(rng, (3, 5)))


def test_broadcastable_pattern_of_outputs():
    assert (T.row("r") + T.col("c")).broadcastable == (False, False)
    assert (T.row("r") * T.row("s")).broadcastable == (True, False)
    assert (T.dscalar("s") + T.dvector("v")).broadcastable == (False,)


def test_wrong_number_of_inputs():
    with pytest.raises(TypeError, match="2 input"):
        T.add(T.dvector("x"))


def test_elemwise_grad_sums_over_broadcast_dimensions(rng):
    x, b = T.dmatrix("x"), T.dvector("b")
    g = grad((x * b).sum(), b)
    xv, bv = rand(rng, (3, 4)), rand(rng, (4,))
    np.testing.assert_allclose(compile_py([x, b], g)(xv, bv), xv.sum(axis=0))


# Cast -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "float32", "float64",
                                   "bool"])
def test_cast_values(dtype, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4), low=-100, high=100)
    out = T.cast(x, dtype)
    assert out.dtype == dtype
    got = compile_py([x], out)(noncontig(np.abs(xv) if dtype == "uint8" else xv))
    expected = (np.abs(xv) if dtype == "uint8" else xv).astype(dtype)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype
    if out is not x:
        check_infer_shape([x], out, [xv])


def test_cast_grad(rng):
    check_grad(lambda v: T.cast(v, "float32") * 2, [rand(rng, (3,))], eps=1e-3, abs_tol=1e-3,
               rel_tol=1e-3)
    x = T.dvector("x")
    g = grad((T.cast(x, "int32") * x).sum(), x)  # no gradient flows through the int cast
    xv = rand(rng, (5,), low=-3, high=3)
    np.testing.assert_array_equal(compile_py([x], g)(xv), xv.astype("int32"))


def test_cast_to_same_dtype_is_identity():
    x = T.dvector("x")
    assert T.cast(x, "float64") is x
    assert x.astype("float64") is x


@pytest.mark.parametrize("alias, name", [("square", "sqr"), ("sign", "sgn"), ("abs_", "abs")])
def test_aliases(alias, name, rng):
    x = T.dvector("x")
    xv = rand(rng, (5,))
    got = compile_py([x], getattr(T, alias)(x))(xv)
    np.testing.assert_array_equal(got, UNARY[name][1](xv))
