"""Each standard rewrite fires on its pattern and leaves the values unchanged."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.tensor.elemwise import Elemwise

FAST = Mode(optimizer="fast_run")
NONE = Mode(optimizer=None)


def compiled_ops(f):
    """The Op of every node of a compiled function, with Elemwise shown by scalar op name."""
    names = []
    for node in f.maker.fgraph.toposort():
        op = node.op
        names.append(op.scalar_op.name if isinstance(op, Elemwise) else type(op).__name__)
    return names


def both(inputs, output, **kwargs):
    return (th.function(inputs, output, mode=FAST, **kwargs),
            th.function(inputs, output, mode=NONE, **kwargs))


def reasons(f):
    return th.explain(f)


def assert_same_values(f_fast, f_none, *args, **tol):
    np.testing.assert_allclose(f_fast(*args), f_none(*args), **tol)


def test_grad_of_square_compiles_to_two_times_x():
    x = T.dscalar("x")
    f = th.function([x], T.grad(x**2, x))
    assert th.pp(f.maker.fgraph.outputs[0]) == "(2.0 * x)"
    assert f(4.0) == 8.0


def test_a_plus_a_pow_10_is_one_fused_node():
    a = T.vector("a")
    f, g = both([a], a + a**10)
    assert len(f.maker.fgraph.apply_nodes) == 1
    assert compiled_ops(f)[0].startswith("Composite")
    np.testing.assert_allclose(f([0, 1, 2]), [0, 2, 1026])
    assert_same_values(f, g, np.linspace(-1.5, 1.5, 7).astype("float32"), rtol=1e-6)


@pytest.mark.parametrize("expr, gone", [
    (lambda x: x * 1, "mul"), (lambda x: 1 * x, "mul"), (lambda x: x + 0, "add"),
    (lambda x: x - 0, "sub"), (lambda x: x / 1, "true_div"), (lambda x: T.neg(T.neg(x)), "neg"),
])
def test_useless_elemwise(expr, gone):
    x = T.dvector("x")
    f, g = both([x], expr(x))
    assert gone not in compiled_ops(f)
    assert "useless_elemwise" in reasons(f)
    assert_same_values(f, g, np.array([1.5, -2.0, 0.0]))


def test_x_minus_x_is_zeros():
    # integers only: for floats, inf - inf and nan - nan are nan (tests/test_issue9_ops.py)
    x = T.lvector("x")
    f, g = both([x], x - x)
    assert "sub" not in compiled_ops(f)
    assert_same_values(f, g, np.array([1, 2]))
    assert f(np.zeros(0, "int64")).shape == (0,)


def test_constant_folding_and_collection():
    x = T.dvector("x")
    f, g = both([x], 2.0 * (3.0 * x) + (T.constant(1.0) + 2.0))
    ops = compiled_ops(f)
    assert "constant_folding" in reasons(f) and "collect_constants" in reasons(f)
    assert ops.count("mul") <= 1 or any(o.startswith("Composite") for o in ops)
    assert_same_values(f, g, np.array([1.0, -4.0]))


def test_dimshuffle_chain_collapses():
    m = T.dmatrix("m")
    f, g = both([m], m.T.dimshuffle("x", 0, 1).dimshuffle(1, 2, 0).T)
    assert compiled_ops(f).count("DimShuffle") <= 1
    assert_same_values(f, g, np.arange(6.0).reshape(2, 3))


def test_sum_gradient_alloc_is_removed():
    x = T.dmatrix("x")
    f, g = both([x], T.grad(T.sum(T.exp(x)), x))
    assert "Alloc" not in compiled_ops(f)
    assert_same_values(f, g, np.arange(6.0).reshape(2, 3) / 5)


@pytest.mark.parametrize("value", [800.0, -800.0, 0.3])
def test_log_one_minus_sigmoid_is_stable(value):
    x = T.dscalar("x")
    f = th.function([x], T.log(1 - T.nnet.sigmoid(x)))
    expected = -np.logaddexp(0, value)
    np.testing.assert_allclose(f(value), expected, rtol=1e-12)
    assert "softplus" in compiled_ops(f) or "Composite" in str(compiled_ops(f))


def test_naive_logistic_is_recognized_and_stable():
    x = T.dscalar("x")
    f = th.function([x], T.log(1 / (1 + T.exp(-x))))
    assert "recognize_sigmoid" in reasons(f)
    np.testing.assert_allclose(f(-800.0), -800.0)
    np.testing.assert_allclose(f(2.0), -np.logaddexp(0, -2.0))


def test_binary_crossentropy_of_sigmoid_is_finite_with_its_gradient():
    z, t = T.dvectors("z", "t")
    cost = T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t).sum()
    f = th.function([z, t], [cost, T.grad(cost, z)])
    zv, tv = np.array([50.0, -50.0, 0.5]), np.array([0.0, 1.0, 1.0])
    c, gz = f(zv, tv)
    exact = np.logaddexp(0, zv) - tv * zv  # softplus(z) - t*z
    np.testing.assert_allclose(c, exact.sum(), rtol=1e-12)
    np.testing.assert_allclose(gz, 1 / (1 + np.exp(-zv)) - tv, rtol=1e-12)


def test_log1p_and_expm1():
    x = T.dvector("x")
    f = th.function([x], [T.log(1 + x), T.exp(x) - 1])
    tiny = np.array([1e-18, -1e-17])
    a, b = f(tiny)
    np.testing.assert_allclose(a, np.log1p(tiny))
    np.testing.assert_allclose(b, np.expm1(tiny))
    assert "log1p" in compiled_ops(f) or "log1p" in str(compiled_ops(f))


def test_log_softmax_is_stable():
    x = T.dmatrix("x")
    f = th.function([x], T.log(T.nnet.softmax(x)))
    xv = np.array([[1000.0, 0.0, -1000.0]])
    m = xv.max(axis=1, keepdims=True)
    expected = xv - (m + np.log(np.exp(xv - m).sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(f(xv), expected)


def test_logsumexp_is_stable():
    x = T.dvector("x")
    f = th.function([x], T.log(T.sum(T.exp(x))))
    np.testing.assert_allclose(f(np.array([1000.0, 1000.0])), 1000.0 + np.log(2.0))


@pytest.mark.parametrize("power, expected_ops", [
    (2, {"sqr"}), (3, {"sqr", "mul"}), (0.5, {"sqrt"}), (-1, {"true_div"}),
])
def test_pow_specialization(power, expected_ops):
    x = T.dvector("x")
    f, g = both([x], x**power)
    ops = set(compiled_ops(f))
    flat = " ".join(ops) + " ".join(str(n.op) for n in f.maker.fgraph.apply_nodes)
    assert "pow" not in flat
    assert_same_values(f, g, np.array([0.5, 2.0, 3.0]))
    assert expected_ops & (ops | {s for s in expected_ops if s in flat})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("divisor, becomes_mul", [
    (2, True), (0.25, True), (-1024, True), (3, False), (0.1, False),
    (2.0**-130, False),  # its reciprocal overflows float32 / is not exact for every dtype
])
def test_division_by_a_power_of_two_is_an_exact_multiplication(dtype, divisor, becomes_mul):
    x = T.matrix("x", dtype=dtype)
    f = th.function([x], x / np.asarray(divisor, dtype=dtype), mode=FAST)
    ops = compiled_ops(f)
    flat = " ".join(ops) + " ".join(str(n.op) for n in f.maker.fgraph.apply_nodes)
    if dtype == "float64" and divisor == 2.0**-130:
        becomes_mul = True  # 2**130 is a normal float64
    assert ("true_div" not in flat) == becomes_mul, flat
    info = np.finfo(dtype)
    values = np.array([[1.5, -3.0, 0.0, -0.0], [info.tiny, info.tiny * 3, info.max, np.inf],
                       [np.nan, -np.inf, 7e-3, info.smallest_subnormal]], dtype=dtype)
    expected = values / np.asarray(divisor, dtype=dtype)
    np.testing.assert_array_equal(f(values).view(f"u{info.bits // 8}"),
                                  expected.view(f"u{info.bits // 8}"))  # to the bit


def test_merge_shares_equal_subexpressions():
    x = T.dvector("x")
    f = th.function([x], [T.exp(x) + 1, T.exp(x) * 2], mode=Mode(optimizer="fast_compile"))
    assert compiled_ops(f).count("exp") == 1


def test_optimizer_excluding_turns_a_rewrite_off():
    x = T.dvector("x")
    with th.config.change_flags(optimizer_excluding=("specialize_pow",)):
        f = th.function([x], x**2)
    assert "pow" in " ".join(str(n.op) for n in f.maker.fgraph.apply_nodes)
    f_tag = th.function([x], x**2, mode=Mode(excluding=("specialize",)))
    assert "pow" in " ".join(str(n.op) for n in f_tag.maker.fgraph.apply_nodes)


def test_optimizer_none_runs_no_rewrite():
    x = T.dvector("x")
    f = th.function([x], x * 1, mode=NONE)
    assert compiled_ops(f) == ["DimShuffle", "mul"]  # the constant's broadcast stays too
    assert "replacements made" not in th.explain(f)


def test_explain_names_rewrites_and_nodes():
    a = T.vector("a")
    f = th.function([a], a + a**10)
    text = th.explain(f)
    assert "elemwise_fusion" in text and "specialize_pow" in text
    assert "Composite" in text


# Randomized equivalence -------------------------------------------------------------------
UNARY = [T.exp, T.tanh, T.nnet.sigmoid, lambda v: -v, lambda v: v * 2.0, lambda v: v**2,
         lambda v: T.log(1 + v * v), lambda v: 1 / (1 + T.exp(-v)), T.abs_]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, T.maximum,
          lambda a, b: a / (1 + b * b)]
REDUCE = [lambda v: v.sum(axis=0), lambda v: v.max(axis=1), lambda v: v.mean(axis=-1)]


def random_graph(rng, x, y, n_ops):
    pool = [x, y]
    for _ in range(n_ops):
        kind = rng.integers(3)
        if kind == 0:
            pool.append(UNARY[rng.integers(len(UNARY))](pool[rng.integers(len(pool))]))
        elif kind == 1:
            a, b = (pool[rng.integers(len(pool))] for _ in range(2))
            if a.ndim == b.ndim:
                pool.append(BINARY[rng.integers(len(BINARY))](a, b))
        else:
            m = [p for p in pool if p.ndim == 2]
            red = REDUCE[rng.integers(len(REDUCE))](m[rng.integers(len(m))])
            pool.append(red.dimshuffle("x", 0) + pool[0] * 0 if red.ndim == 1 else red)
    return pool[-3:]


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_fast_run_matches_no_rewrites(seed):
    rng = np.random.default_rng(seed)
    x, y = T.dmatrices("x", "y")
    outs = [o for o in random_graph(rng, x, y, 12) if o.ndim == 2]
    if not outs:
        outs = [x + y]
    f, g = both([x, y], outs, on_unused_input="ignore")
    xv, yv = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    for a, b in zip(f(xv, yv), g(xv, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# Inplace ----------------------------------------------------------------------------------
def inplace_nodes(f):
    return [n for n in f.maker.fgraph.apply_nodes if n.op.destroy_map]


def test_inplace_overwrites_an_intermediate_only():
    W, x = T.dmatrix("W"), T.dvector("x")
    expr = T.exp(T.dot(W, x)) * 2 + x.sum()
    f = th.function([W, x], expr)
    g = th.function([W, x], expr, mode=NONE)
    destroyers = inplace_nodes(f)
    assert destroyers and "inplace_elemwise" in th.explain(f)
    fg = f.maker.fgraph
    for node in destroyers:
        for i in node.op.destroy_map[0]:
            assert node.inputs[i] not in fg.inputs and node.inputs[i].owner is not None
    Wv, xv = np.arange(6.0).reshape(2, 3) / 10, np.array([0.5, -1.0, 2.0])
    W0, x0 = Wv.copy(), xv.copy()
    np.testing.assert_allclose(f(Wv, xv), g(Wv, xv))
    np.testing.assert_allclose(f(Wv, xv), g(Wv, xv))  # a second call sees fresh buffers
    np.testing.assert_array_equal(Wv, W0)  # the caller's arrays are untouched
    np.testing.assert_array_equal(xv, x0)


def test_inplace_never_overwrites_a_shared_value_or_an_output():
    x = T.dvector("x")
    s = th.shared(np.array([1.0, 2.0]), name="s")
    e = T.exp(x)
    f = th.function([x], [e, e * s + 1], updates=[(s, s * 2)])
    first = f(np.array([0.0, 1.0]))
    np.testing.assert_allclose(first[0], np.exp([0.0, 1.0]))  # e, read by a later node too
    np.testing.assert_allclose(first[1], np.exp([0.0, 1.0]) * [1.0, 2.0] + 1)
    np.testing.assert_allclose(s.get_value(), [2.0, 4.0])
    for node in inplace_nodes(f):
        for i in node.op.destroy_map[0]:
            assert node.inputs[i] not in f.maker.fgraph.outputs


def test_excluding_inplace_turns_it_off():
    W, x = T.dmatrix("W"), T.dvector("x")
    expr = T.exp(T.dot(W, x)) * 2
    assert inplace_nodes(th.function([W, x], expr))
    assert not inplace_nodes(th.function([W, x], expr, mode=Mode(excluding=("inplace",))))


def test_shape_of_computed_reads_the_shape_without_computing():
    x = T.dmatrix("x")
    f, g = both([x], (T.exp(x) * 2 + 1).shape[1])
    assert not any(isinstance(n.op, Elemwise) and "exp" in str(n.op)
                   for n in f.maker.fgraph.apply_nodes)
    assert "shape_of_computed" in reasons(f)
    xv = np.zeros((2, 5))
    assert f(xv) == g(xv) == 5


def test_softplus_from_log1p_of_exp():
    x = T.dvector("x")
    f, g = both([x], T.log(1 + T.exp(x)))
    assert "softplus" in " ".join(str(n.op) for n in f.maker.fgraph.apply_nodes)
    np.testing.assert_allclose(f(np.array([-3.0, 0.0, 3.0])), g(np.array([-3.0, 0.0, 3.0])))
    np.testing.assert_allclose(f(np.array([800.0])), [800.0])  # the naive form overflows


def test_useless_rebroadcast_and_alloc_are_removed():
    from theanine.tensor.basic import Rebroadcast, alloc

    x = T.dvector("x")
    expr = Rebroadcast((False,))(x) * alloc(T.constant(2.0))
    f, g = both([x], expr)
    assert not {"Rebroadcast", "Alloc"} & set(compiled_ops(f))
    assert_same_values(f, g, np.array([1.0, 2.5]))


def test_sum_of_vector_product_becomes_dot():
    from theanine.tensor.math import Dot

    x, y = T.dvectors("x", "y")
    f, g = both([x, y], T.sum(x * y))
    assert any(isinstance(n.op, Dot) for n in f.maker.fgraph.apply_nodes)
    xv, yv = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    assert_same_values(f, g, xv, yv)
    assert f(np.zeros(0), np.zeros(0)) == 0.0


def test_merge_gives_the_same_values():
    x = T.dvector("x")
    outs = [T.exp(x) + 1, T.exp(x) * 2, T.exp(x) + 1]
    f = th.function([x], outs, mode=Mode(optimizer="fast_compile"))
    g = th.function([x], outs, mode=NONE)
    assert "merge" in reasons(f)
    xv = np.array([0.5, -2.0])
    for a, b in zip(f(xv), g(xv)):
        np.testing.assert_allclose(a, b)


def test_alloc_is_absorbed_into_a_fused_node():
    # the gradient of a sum broadcasts its seed with an alloc shaped like w; after fusion the
    # fused node also reads w, so the alloc is only a broadcast and goes away
    w = T.dvector("w")
    x = T.dvector("x")
    cost = 0.01 * (w**2).sum() + (w * x).sum()
    f, g = both([w, x], T.grad(cost, w) * 3 - w)
    assert "Alloc" not in compiled_ops(f)
    wv, xv = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -1.0])
    assert_same_values(f, g, wv, xv)


def test_shape_of_an_elementwise_result_is_its_inputs_shape_without_computing_it():
    """Theano's shape_info page: f = function([x], (x ** 2).shape) runs no elementwise."""
    x = T.dmatrix("x")
    f = th.function([x], (x ** 2).shape)
    assert not [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Elemwise)]
    np.testing.assert_array_equal(f(np.ones((3, 4))), [3, 4])


def test_shape_of_a_join_is_computed_from_the_operands_and_still_checked():
    """shape(join(0, x, y)) is x.shape[0] + y.shape[0] and x.shape[1], without the join; the
    other dimensions must agree, as the join itself would require (Theano skipped that)."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = th.function([x, y], T.join(0, x, y).shape)
    assert not [n for n in f.maker.fgraph.toposort() if type(n.op).__name__ == "Join"]
    np.testing.assert_array_equal(f(np.ones((5, 4)), np.ones((3, 4))), [8, 4])
    with pytest.raises(ValueError, match=r"dimension 1: operands have lengths \[4, 3\]"):
        f(np.ones((5, 4)), np.ones((3, 3)))


def test_constant_factors_made_by_gradients_and_specialization_fold_into_one():
    w = th.shared(np.array([1.0, -2.0, 3.0]), name="w")
    x = T.fvector("x")
    # the gradient of 0.01 * sum(w ** 2) is alloc(0.01, n) * 2 * w; 0.1 * (x / 2) becomes
    # 0.1 * (x * 0.5) in specialization
    f = th.function([x], [T.grad(0.01 * (w ** 2).sum(), w), 0.1 * (x / 2)],
                        mode=Mode(backend="python").excluding("fusion"))
    nodes = f.maker.fgraph.toposort()
    muls = [n for n in nodes if str(n.op).startswith("Elemwise{mul")]
    assert len(muls) == 2 and not any("Alloc" in str(n.op) for n in nodes), nodes
    xv = np.array([1.0, 2.0, -4.0], dtype="float32")
    got_w, got_x = f(xv)
    np.testing.assert_allclose(got_w, 0.02 * np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(got_x, np.float32(0.1) * (xv / 2), rtol=1e-6)
