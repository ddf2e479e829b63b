"""The clean-ups the logistic-regression training step showed: an alloc'd gradient scale that
its fused reader implies (through nested SameExtent checks and a dot), a double negation,
and cheap producers recomputed inside each fused consumer.  Each keeps the values and the
run-time refusal of mismatched lengths."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.demo import L2, LEARNING_RATE
from theanine.scalar.composite import Composite
from theanine.tensor.basic import Alloc, ExtentOf, SameExtent
from theanine.tensor.elemwise import Elemwise

FAST = Mode(optimizer="fast_run")


def nodes(f):
    return f.maker.fgraph.toposort()


def of_type(f, op_type):
    return [n for n in nodes(f) if isinstance(n.op, op_type)]


def elemwise_named(f, name):
    """Standalone Elemwise nodes of scalar op `name` (not fused into a Composite)."""
    return [n for n in of_type(f, Elemwise) if n.op.scalar_op.name == name]


def scalar_steps(f, name):
    """How many times scalar op `name` is computed, in fused nodes and standalone."""
    count = 0
    for n in of_type(f, Elemwise):
        op = n.op.scalar_op
        if isinstance(op, Composite):
            count += sum(step_op.name == name for step_op, _, _ in op.steps)
        else:
            count += op.name == name
    return count


# --- 1. SameExtent simplification and allocs implied per dimension -----------------------

def test_nested_and_repeated_same_extents_become_one_check():
    a, b = T.lscalar("a"), T.lscalar("b")
    inner = SameExtent("inner")(a, b)
    f = th.function([a, b], SameExtent("outer")(inner, SameExtent("inner")(a, b), a) + 1,
                    mode=FAST)
    (check,) = of_type(f, SameExtent)
    assert len(check.inputs) == 2
    assert f(3, 3) == 4
    with pytest.raises(ValueError, match="lengths"):
        f(3, 4)


def test_same_extent_of_one_distinct_extent_is_that_extent():
    a = T.lscalar("a")
    f = th.function([a], SameExtent("t")(a, a) * 2, mode=FAST)
    assert not of_type(f, SameExtent)
    assert f(5) == 10


def _rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("case", ["matrix_vector", "matrix_matrix", "vector_matrix"])
def test_alloc_of_a_mean_gradient_is_implied_through_a_dot(case):
    """The gradient of a mean allocs 1/n over n = SameExtent(shape(u)[i], shape(x)[j]); the
    fused gradient node reads dot(x, w), whose dimension i is x's dimension j."""
    rng = _rng()
    if case == "matrix_vector":
        x, w, u = T.dmatrix("x"), T.dvector("w"), T.dvector("u")
        vx, vw, vu = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
        bad = (vx, vw, vu[:4])
    elif case == "matrix_matrix":
        x, w, u = T.dmatrix("x"), T.dmatrix("w"), T.dmatrix("u")
        vx, vw, vu = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
        bad = (vx, vw, vu[:, :3])
    else:
        x, w, u = T.dvector("x"), T.dmatrix("w"), T.dvector("u")
        vx, vw, vu = rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=4)
        bad = (vx, vw, vu[:3])
    cost = ((T.tanh(T.dot(x, w)) - u) ** 2).mean()
    f = th.function([x, w, u], T.grad(cost, x), mode=FAST)
    assert not of_type(f, Alloc)
    z = np.tanh(vx @ vw)
    gz = 2 * (z - vu) * (1 - z ** 2) / z.size
    expected = vw @ gz if case == "vector_matrix" else np.dot(gz.reshape(5, -1),
                                                               vw.reshape(3, -1).T)
    np.testing.assert_allclose(f(vx, vw, vu), expected, rtol=1e-12)
    with pytest.raises(ValueError):  # the alloc's SameExtent refused this; the fused node must
        f(*bad)


def test_an_alloc_whose_extent_nothing_verifies_stays():
    """grad of mean(dot(x, w) * u) for w: the fused node reads only u, which cannot vouch
    for x's rows, so the alloc and its SameExtent keep the check."""
    x, w, u = T.dmatrix("x"), T.dvector("w"), T.dvector("u")
    f = th.function([x, w, u], T.grad((T.dot(x, w) * u).mean(), w), mode=FAST)
    rng = _rng()
    vx, vw, vu = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    np.testing.assert_allclose(f(vx, vw, vu), vx.T @ vu / 5, rtol=1e-12)
    with pytest.raises(ValueError):
        f(vx, vw, vu[:4])


@pytest.mark.parametrize("expr, good", [
    (lambda x: x + np.zeros((2, 3)), (2, 3)), (lambda x: x * np.ones((2, 3)), (2, 3)),
    (lambda x: x + T.zeros_like(x).T, (2, 2)), (lambda x: T.ones_like(x).T * x, (2, 2)),
])
def test_a_neutral_operand_that_sets_the_shape_is_not_dropped(expr, good):
    """x + 0 → x only where the 0 checks nothing: a full constant, or an alloc of x's shape
    transposed, must still refuse a 3 x 2 x."""
    x = T.dmatrix("x")
    f = th.function([x], expr(x), mode=FAST)
    value = np.arange(np.prod(good), dtype=float).reshape(good)
    np.testing.assert_array_equal(f(value), value)
    with pytest.raises(ValueError):
        f(np.ones((3, 2)))


# --- 2. double negation --------------------------------------------------------------------

def test_negated_difference_of_a_negation_is_a_sum():
    a, b = T.dvector("a"), T.dvector("b")
    f = th.function([a, b], T.neg(-a - b), mode=FAST)
    assert [n.op.scalar_op.name for n in nodes(f)] == ["add"]
    va, vb = np.array([1.0, -2.0, np.inf, 0.5]), np.array([3.0, 2.0, 1.0, np.nan])
    np.testing.assert_array_equal(f(va, vb), va + vb)


def test_sigmoid_of_a_negated_logit_has_no_negation_left():
    """1/(1 + exp(-z - b)) becomes sigmoid(-(-z - b)) in stabilization, after the
    canonicalization that would have removed the negations."""
    z, b = T.dvector("z"), T.dscalar("b")
    f = th.function([z, b], 1 / (1 + T.exp(-z - b)), mode=FAST)
    assert scalar_steps(f, "neg") == 0
    vz = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(f(vz, 0.5), 1 / (1 + np.exp(-vz - 0.5)), rtol=1e-12)


def test_a_wrapped_integer_negation_is_not_cancelled():
    """-(-a - b) for int8 a = -128 and float b: -a wraps to -128 before the float subtraction,
    so the result is not a + b."""
    a, b = T.bvector("a"), T.dvector("b")
    f = th.function([a, b], T.neg(T.neg(a) - b), mode=FAST)
    va, vb = np.array([-128, 5], dtype="int8"), np.array([0.5, 0.5])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(f(va, vb), -(np.negative(va) - vb))


# --- 3. cheap producers recomputed in each fused consumer --------------------------------

def _two_consumers(make_producer, *inputs):
    """A producer read by two outputs: sin and cos, which no producer below computes."""
    p = make_producer(*inputs)
    return th.function(list(inputs), [T.sin(p), T.cos(p)], mode=FAST,
                       on_unused_input="ignore")


@pytest.mark.parametrize("make", [
    lambda y: -y, lambda y: 1 - y, lambda y: y * 3, lambda y: y + 2, lambda y: -(2 * y),
])
def test_a_cheap_producer_is_recomputed_by_each_consumer(make):
    y = T.dvector("y")
    f = _two_consumers(make, y)
    assert len(nodes(f)) == 2
    vy = np.linspace(-1, 1, 5)
    p = make(vy)
    for got, want in zip(f(vy), [np.sin(p), np.cos(p)]):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_a_producer_scaled_by_a_scalar_variable_is_recomputed():
    y, s = T.dvector("y"), T.dscalar("s")
    f = _two_consumers(lambda y, s: y * s, y, s)
    assert len(nodes(f)) == 3  # the two consumers and the DimShuffle of s
    vy = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(vy, 0.5)[1], np.cos(vy * 0.5), rtol=1e-13)


@pytest.mark.parametrize("make, reference, op", [
    (lambda y, z: T.exp(y), lambda y, z: np.exp(y), "exp"),  # expensive
    (lambda y, z: y / 3, lambda y, z: y / 3, "true_div"),  # expensive
    (lambda y, z: y + z, lambda y, z: y + z, "add"),  # two arrays: each consumer reads both
])
def test_an_expensive_or_wide_producer_is_computed_once(make, reference, op):
    y, z = T.dvector("y"), T.dvector("z")
    f = _two_consumers(make, y, z)
    assert len(nodes(f)) == 3
    assert scalar_steps(f, op) == 1
    vy, vz = np.linspace(-1, 1, 5), np.linspace(0, 1, 5)
    np.testing.assert_allclose(f(vy, vz)[1], np.cos(reference(vy, vz)), rtol=1e-13)


def test_a_cheap_producer_read_by_a_non_elemwise_or_returned_stays():
    y = T.dvector("y")
    p = -y
    f = th.function([y], [T.sin(p), p.sum()], mode=FAST)
    assert len(elemwise_named(f, "neg")) == 1
    g = th.function([y], [T.sin(p), T.cos(p), p], mode=FAST)
    assert len(elemwise_named(g, "neg")) == 1
    np.testing.assert_allclose(g(np.ones(3))[2], -np.ones(3))


def test_a_shared_cheap_producer_does_not_duplicate_its_expensive_input():
    """-exp(y) read twice: each consumer negates, exp(y) stays one node computed once."""
    y = T.dvector("y")
    f = _two_consumers(lambda y: -T.exp(y), y)
    assert scalar_steps(f, "exp") == 1
    assert not elemwise_named(f, "neg")
    vy = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(vy)[1], np.cos(-np.exp(vy)), rtol=1e-13)


# --- the logistic-regression training step -------------------------------------------------

def test_logistic_training_step_loses_the_waste_and_keeps_the_values():
    rng = np.random.default_rng(0)
    n, k = 40, 7
    vx, vy = rng.normal(size=(n, k)), (rng.random(n) > 0.5).astype(float)
    w0 = rng.normal(size=k)
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = th.shared(w0.copy(), name="w"), th.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + L2 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    f = th.function([x, y], [p_1 > 0.5, xent], mode=FAST,
                    updates=[(w, w - LEARNING_RATE * gw), (b, b - LEARNING_RATE * gb)])

    assert not of_type(f, Alloc)
    (check,) = of_type(f, ExtentOf)  # x's and y's lengths, checked equal in one node
    assert check.op.dims == (0, 0) and not of_type(f, SameExtent)
    assert not elemwise_named(f, "neg")  # neither -y nor the double negation
    assert not any(n.op.scalar_op.name == "sub" and y in n.inputs
                   for n in of_type(f, Elemwise))  # 1 - y is fused into its readers
    assert len(nodes(f)) <= 13  # 23 before these clean-ups, 17 before ExtentOf

    pred, got_xent = f(vx, vy)
    z = vx @ w0
    np.testing.assert_array_equal(pred, z > 0)
    np.testing.assert_allclose(got_xent, vy * np.logaddexp(0, -z)
                               + (1 - vy) * np.logaddexp(0, z), rtol=1e-12)
    dz = (1 / (1 + np.exp(-z)) - vy) / n
    np.testing.assert_allclose(w.get_value(),
                               w0 - LEARNING_RATE * (vx.T @ dz + 2 * L2 * w0), rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), -LEARNING_RATE * dz.sum(), rtol=1e-12)
    with pytest.raises(ValueError):
        f(vx, vy[:-1])
