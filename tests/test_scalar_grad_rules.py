"""The gradient rule table of the scalar ops (`theanine.tensor.scalar_grads`): every rule of the
table against central finite differences, a plugin-style op carrying its own rule, and a
Composite differentiated by reverse accumulation over its steps against its unfused graph."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from op_checks import check_grad, compile_py

import theanine.tensor as T
from theanine.gradient import DisconnectedInputError, grad
from theanine.scalar import basic as ps
from theanine.scalar.composite import Composite
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.scalar_grads import CLASS_RULES, RULES, grad_rule
from theanine.testing.checks import verify_grad


def _op(scalar_op):
    return lambda *xs: Elemwise(scalar_op)(*xs)


# name: (low, high) of the sampled point, for the ops of real arguments
REAL = {
    "add": (-2, 2), "sub": (-2, 2), "mul": (-2, 2), "true_div": (0.5, 2), "int_div": (0.3, 3),
    "mod": (0.3, 3), "pow": (0.5, 2), "maximum": (-2, 2), "minimum": (-2, 2), "neg": (-2, 2),
    "abs": (-2, 2), "sgn": (-2, 2), "exp": (-2, 2), "log": (0.1, 3), "log1p": (-0.5, 2),
    "expm1": (-2, 2), "sqrt": (0.1, 3), "sqr": (-2, 2), "tanh": (-2, 2), "sin": (-3, 3),
    "cos": (-3, 3), "sigmoid": (-4, 4), "softplus": (-4, 4), "relu": (-2, 2),
    "floor": (-3, 3), "ceil": (-3, 3), "trunc": (-3, 3), "round_half_to_even": (-3, 3),
    "round_half_away_from_zero": (-3, 3), "inv": (0.5, 2), "exp2": (-2, 2), "log2": (0.1, 3),
    "log10": (0.1, 3), "tan": (-1, 1), "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9),
    "arctan": (-2, 2), "arctan2": (0.5, 2), "sinh": (-2, 2), "cosh": (-2, 2),
    "arcsinh": (-2, 2), "arccosh": (1.2, 3), "arctanh": (-0.9, 0.9), "erf": (-2, 2),
    "erfc": (-2, 2), "erfinv": (-0.9, 0.9), "gamma": (0.5, 3), "gammaln": (0.5, 3),
    "psi": (0.5, 3), "tri_gamma": (0.5, 3),
}
#: ops with a kink or a jump at 0: sampled away from it
AWAY_FROM_ZERO = {"abs", "relu", "sgn"}
#: the complex ops, each through a real-valued function of two real inputs
COMPLEX = {
    "real": lambda a, b: T.real(T.complex(a, b) * T.complex(b, a)),
    "imag": lambda a, b: T.imag(T.exp(T.complex(a, b))),
    "conj": lambda a, b: T.imag(T.conj(T.complex(a, b) * T.complex(a, a))),
    "angle": lambda a, b: T.angle(T.complex(a, b)),
    "complex": lambda a, b: T.real(T.log(T.complex(a, b))),
}


def _point(rng, name, shape, nin):
    lo, hi = REAL.get(name, (0.5, 2))
    values = [rng.uniform(lo, hi, size=shape) for _ in range(nin)]
    if name in AWAY_FROM_ZERO:
        values = [rng.uniform(0.2, 2, size=shape) * rng.choice([-1.0, 1.0], size=shape)]
    return values


def test_every_rule_of_the_table_is_checked():
    """A rule added to the table without a finite-difference check here fails this test."""
    names = {op.name for op in RULES} - {"tetra_gamma"}
    assert names == set(REAL) | set(COMPLEX)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_rule_matches_finite_differences(name, rng):
    op = ps.by_name(name)
    check_grad(_op(op), _point(rng, name, (2, 3), op.nin))


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_rule_matches_finite_differences(name, rng):
    check_grad(COMPLEX[name], [rng.uniform(0.5, 2, size=(2, 3)) for _ in range(2)])


def test_class_rules_cast_and_switch(rng):
    assert set(CLASS_RULES) == {ps.Cast, ps.Switch, Composite}
    x32 = rng.uniform(-2, 2, size=(4,)).astype("float32")
    verify_grad(lambda x: T.cast(x, "float64") * x, [x32], backend="python")
    check_grad(lambda c, a, b: T.switch(T.gt(c, 0), a * a, 3 * b),
               [rng.uniform(-2, 2, size=(5,)) for _ in range(3)])
    x = T.lvector("x")  # an integer operand of cast has no gradient
    assert grad_rule(ps.Cast("float64"))([x], [T.cast(x, "float64")], [T.dvector()]) == [None]


def test_tetra_gamma_has_no_derivative():
    x = T.dvector("x")
    with pytest.raises(NotImplementedError, match="tetra_gamma"):
        grad(T.tetra_gamma(x).sum(), x)


def test_table_ops_carry_no_rule_and_pickle_as_the_singletons():
    x = T.dvector("x")
    assert ps.exp.grad([x], [T.exp(x)], [x]) == [None]  # the table, not the op, has the rule
    restored = pickle.loads(pickle.dumps(ps.exp))
    assert restored is ps.exp and grad_rule(restored) is RULES[ps.exp]


def _cube_grad(inputs, outputs, output_grads):
    return [output_grads[0] * 3 * inputs[0] ** 2]


def test_user_op_with_its_own_rule_differentiates_through_elemwise(rng):
    cube = ps.ScalarOp("test_cube", lambda x: np.asarray(x) ** 3, "({0} * {0} * {0})",
                       grad=_cube_grad)
    assert cube not in RULES and grad_rule(cube) == cube.grad
    check_grad(_op(cube), [rng.uniform(-2, 2, size=(3, 2))])
    x = T.dvector("x")
    g = compile_py([x], grad(Elemwise(cube)(x).sum(), x))(np.array([1.0, -2.0]))
    np.testing.assert_allclose(g, [3.0, 12.0])


def test_user_op_without_a_rule_is_disconnected():
    opaque = ps.ScalarOp("test_opaque", np.negative, "(-{0})")
    x = T.dvector("x")
    with pytest.raises(DisconnectedInputError):
        grad(Elemwise(opaque)(x).sum(), x)


# Composite ------------------------------------------------------------------------------------
#: (exp(x) * y + sqr(x) - x / y) * float64(int32(y)): x used four times, y three, a row y
#: broadcast against a matrix x, and an integer intermediate (no gradient flows through it)
STEPS = [
    (ps.exp, (0,), "float64"),            # 2
    (ps.mul, (2, 1), "float64"),          # 3
    (ps.sqr, (0,), "float64"),            # 4
    (ps.true_div, (0, 1), "float64"),     # 5
    (ps.add, (3, 4), "float64"),          # 6
    (ps.sub, (6, 5), "float64"),          # 7
    (ps.Cast("int32"), (1,), "int32"),    # 8
    (ps.Cast("float64"), (8,), "float64"),  # 9
    (ps.mul, (7, 9), "float64"),          # 10
]


def _unfused(x, y):
    return (T.exp(x) * y + T.sqr(x) - x / y) * T.cast(T.cast(y, "int32"), "float64")


def test_composite_gradient_equals_the_unfused_graph(rng):
    comp = Composite(2, STEPS)
    x, y = T.dmatrix("x"), T.drow("y")
    proj = T.constant(rng.uniform(0.5, 1.5, size=(3, 4)))
    fused = Elemwise(comp)(x, y)
    gf = grad((fused * proj).sum(), [x, y])
    gu = grad((_unfused(x, y) * proj).sum(), [x, y])
    xv, yv = rng.uniform(-2, 2, size=(3, 4)), rng.uniform(1.5, 3, size=(1, 4))
    f = compile_py([x, y], [fused, _unfused(x, y), *gf, *gu])
    vf, vu, gxf, gyf, gxu, gyu = f(xv, yv)
    np.testing.assert_allclose(vf, vu, rtol=1e-12)
    assert gxf.shape == xv.shape and gyf.shape == yv.shape
    np.testing.assert_allclose(gxf, gxu, rtol=1e-12)
    np.testing.assert_allclose(gyf, gyu, rtol=1e-12)


def test_composite_gradient_matches_finite_differences(rng):
    comp = pickle.loads(pickle.dumps(Composite(2, STEPS)))
    check_grad(_op(comp), [rng.uniform(-2, 2, size=(2, 3)), rng.uniform(1.5, 3, size=(2, 3))])


def test_composite_input_reached_only_through_a_comparison_is_disconnected():
    comp = Composite(2, [(ps.gt, (0, 1), "bool"),
                         (ps.switch, (2, 1, 1), "float64")])  # switch(x > y, y, y)
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(DisconnectedInputError):
        grad(Elemwise(comp)(x, y).sum(), x)
    gy = compile_py([x, y], grad(Elemwise(comp)(x, y).sum(), y))(np.zeros(2), np.ones(2))
    np.testing.assert_array_equal(gy, [1.0, 1.0])
