"""`OpFromGraph` (Theano's `compile.builders.OpFromGraph`) and `Variable.eval` (issue 11).

Values are checked against NumPy, gradients and R_op against finite differences.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.compile.builders import OpFromGraph
from theanine.compile.mode import Mode
from theanine.config import config
from theanine.gradient import grad, verify_grad
from theanine.tensor.sharedvar import shared


@pytest.fixture
def backend(theanine_backend):
    with config.change_flags(tiered=False):
        yield theanine_backend


def _ofg_nodes(f) -> list:
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, OpFromGraph)]


@pytest.mark.parametrize("inline", [False, True])
def test_applies_like_an_op(backend, inline):
    x, y, z = T.dscalar("x"), T.dscalar("y"), T.dscalar("z")
    op = OpFromGraph([x, y, z], [x + y * z], inline=inline)
    f = theanine.function([x, y, z], op(x, y, z) + op(z, y, x))
    assert f(2.0, 3.0, 4.0) == pytest.approx((2 + 3 * 4) + (4 + 3 * 2))
    assert bool(_ofg_nodes(f)) is not inline  # inline: pasted into the outer graph


def test_several_outputs_and_matrices(backend):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    op = OpFromGraph([a, b], [T.dot(a, b), a - b.T], name="pair")
    u, v = T.dmatrix("u"), T.dmatrix("v")
    p, q = op(u, v)
    f = theanine.function([u, v], [p, q.sum(axis=0)])
    rng = np.random.default_rng(1)
    uv, vv = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    got_p, got_q = f(uv, vv)
    np.testing.assert_allclose(got_p, uv @ vv)
    np.testing.assert_allclose(got_q, (uv - vv.T).sum(axis=0))
    assert str(op) == "pair{inline=False}"


def test_inner_graph_compiles_once_per_node(monkeypatch):
    x = T.dvector("x")
    op = OpFromGraph([x], [T.exp(x)])
    compiled = []
    original = OpFromGraph._compile

    def counting(self, node):
        compiled.append(node)
        return original(self, node)

    monkeypatch.setattr(OpFromGraph, "_compile", counting)
    f = theanine.function([x], [op(x), op(x * 2.0)], mode=Mode(backend="python"))
    for _ in range(3):
        first, second = f(np.array([0.0, 1.0]))
    np.testing.assert_allclose(second, np.exp([0.0, 2.0]))
    assert len(compiled) == 2 and compiled[0] is not compiled[1]


@pytest.mark.parametrize("inline", [False, True])
def test_shared_variables_become_implicit_inputs(backend, inline):
    x = T.dvector("x")
    s = shared(np.array([1.0, 2.0]), name="s")
    op = OpFromGraph([x], [x * s], inline=inline)
    out = op(x)
    assert out.owner.inputs[-1] is s
    f = theanine.function([x], out)
    xv = np.array([3.0, 4.0])
    np.testing.assert_allclose(f(xv), xv * [1.0, 2.0])
    s.set_value(np.array([-1.0, 5.0]))
    np.testing.assert_allclose(f(xv), xv * [-1.0, 5.0])  # read at call time
    gs = theanine.function([x], grad(op(x).sum(), s))(xv)
    np.testing.assert_allclose(gs, xv)


@pytest.mark.parametrize("inline", [False, True])
def test_default_gradient_matches_finite_differences(inline):
    a, b = T.dvector("a"), T.dvector("b")
    op = OpFromGraph([a, b], [T.exp(a) * b, T.tanh(a + b)], inline=inline)
    rng = np.random.default_rng(2)

    def cost(u, v):
        p, q = op(u, v)
        return (p * 3.0).sum() + (q ** 2).sum()

    verify_grad(cost, [rng.normal(size=4), rng.normal(size=4)], rng=rng)


def test_gradient_is_an_opfromgraph_unless_inline():
    a = T.dvector("a")
    for inline in (False, True):
        op = OpFromGraph([a], [T.sin(a)], inline=inline)
        g = grad(op(a).sum(), a)
        assert isinstance(g.owner.op, OpFromGraph) or any(
            isinstance(v.owner.op, OpFromGraph) for v in g.owner.inputs if v.owner)
        f = theanine.function([a], g)
        np.testing.assert_allclose(f(np.array([0.5, 1.0])), np.cos([0.5, 1.0]))
        assert bool(_ofg_nodes(f)) is not inline


def test_grad_overrides_per_input():
    x, y, z = T.dscalar("x"), T.dscalar("y"), T.dscalar("z")

    def rescale_dy(inps, grads):
        _, _, zz = inps
        return zz * 2

    op = OpFromGraph([x, y, z], [x + y * z], grad_overrides=["default", rescale_dy, "default"])
    dx, dy, dz = grad(op(x, y, z), [x, y, z])
    xv, yv, zv = 2.0, 3.0, 4.0
    got = theanine.function([x, y, z], [dx, dy, dz])(xv, yv, zv)
    np.testing.assert_allclose(got, [1.0, 2 * zv, yv])  # d/dx, the override, d/dz = y


def test_grad_overrides_callable_and_opfromgraph():
    x, g = T.dvector("x"), T.dvector("g")
    double = OpFromGraph([x, g], [2.0 * g])
    for override in (lambda inps, grads: [grads[0] * 2.0], double):
        op = OpFromGraph([x], [T.sin(x)], grad_overrides=override)
        xv = np.array([0.1, 0.2])
        got = theanine.function([x], grad(op(x).sum(), x))(xv)
        np.testing.assert_allclose(got, [2.0, 2.0])


def test_lop_overrides_see_the_outputs():
    x = T.dvector("x")
    seen = []

    def lop(inps, outs, grads):
        seen.append(outs[0])
        return [grads[0] * outs[0]]  # d exp(x) = exp(x) dx, written with the output

    op = OpFromGraph([x], [T.exp(x)], lop_overrides=lop)
    xv = np.array([0.0, 1.5])
    got = theanine.function([x], grad(op(x).sum(), x))(xv)
    np.testing.assert_allclose(got, np.exp(xv))
    assert len(seen) == 1
    with pytest.raises(ValueError, match="mutually exclusive"):
        OpFromGraph([x], [x], lop_overrides=lop, grad_overrides=lop)


def test_an_input_may_get_no_gradient():
    x, y = T.dvector("x"), T.dvector("y")
    op = OpFromGraph([x, y], [x * y], grad_overrides=["default", None])
    cost = op(x, y).sum()
    xv, yv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_allclose(theanine.function([x, y], grad(cost, x))(xv, yv), yv)
    gy = grad(cost, y, disconnected_inputs="ignore")
    np.testing.assert_allclose(theanine.function([x, y], gy, on_unused_input="ignore")(xv, yv),
                               0.0)


def test_infer_shape_does_not_run_the_inner_graph():
    x = T.dmatrix("x")
    op = OpFromGraph([x], [T.dot(x, x.T)[1:]])
    out = op(x)
    f = theanine.function([x], [out.shape[0], out.shape[1]])
    assert tuple(int(v) for v in f(np.ones((5, 2)))) == (4, 5)
    assert not _ofg_nodes(f)  # the shape comes from infer_shape, not from computing op(x)
    from theanine.testing.checks import check_infer_shape

    check_infer_shape(op, [np.ones((3, 7))])


def test_nested_opfromgraph(backend):
    x = T.dvector("x")
    inner = OpFromGraph([x], [x * 2.0])
    outer = OpFromGraph([x], [inner(x) + 1.0], inline=True)
    f = theanine.function([x], outer(outer(x)))
    xv = np.array([1.0, -3.0])
    np.testing.assert_allclose(f(xv), (xv * 2 + 1) * 2 + 1)
    verify_grad(lambda v: outer(v).sum() ** 2, [xv], rng=np.random.default_rng(3))


def test_r_op_default_and_override():
    x, v = T.dvector("x"), T.dvector("v")
    op = OpFromGraph([x], [T.sin(x) * x, (x ** 2).sum()])
    xv, vv = np.array([0.3, -0.8, 1.1]), np.array([1.0, 0.5, -2.0])
    jv_vec, jv_sum = theanine.function([x, v], op.R_op([x], [v]))(xv, vv)
    eps = 1e-6

    def f(a):
        return np.sin(a) * a, (a ** 2).sum()

    plus, minus = f(xv + eps * vv), f(xv - eps * vv)
    np.testing.assert_allclose(jv_vec, (plus[0] - minus[0]) / (2 * eps), rtol=1e-6)
    np.testing.assert_allclose(jv_sum, (plus[1] - minus[1]) / (2 * eps), rtol=1e-6)
    custom = OpFromGraph([x], [T.exp(x)], rop_overrides=lambda inps, pts: [pts[0] * 3.0])
    np.testing.assert_allclose(theanine.function([x, v], custom.R_op([x], [v])[0])(xv, vv),
                               vv * 3)


def test_bad_arguments_are_named():
    x, y = T.dvector("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match="outputs must be a list"):
        OpFromGraph([x], x * 2)
    with pytest.raises(TypeError, match="every input must be a symbolic variable"):
        OpFromGraph([np.ones(2)], [x])
    with pytest.raises(ValueError, match="depend on y"):
        OpFromGraph([x], [x + y.sum()])
    op = OpFromGraph([x], [x * 2], name="twice")
    with pytest.raises(ValueError, match="twice.*expects 1 input"):
        op(x, x)
    with pytest.raises(TypeError, match="input 0 must have type .*vector.*y"):
        op(y)
    with pytest.raises(TypeError, match="updates and givens"):
        OpFromGraph([x], [x], updates=[])


def test_plain_values_are_accepted_as_inputs():
    x = T.dvector("x")
    op = OpFromGraph([x], [x + 1.0])
    f = theanine.function([], op([1.0, 2.0]))
    np.testing.assert_allclose(f(), [2.0, 3.0])


# Variable.eval ------------------------------------------------------------------------------
def test_eval_with_inputs_and_cache():
    x, y = T.dscalar("x"), T.dvector("y")
    z = x * y + 1.0
    np.testing.assert_allclose(z.eval({x: 2.0, y: np.array([1.0, 3.0])}), [3.0, 7.0])
    np.testing.assert_allclose(z.eval({y: np.array([0.5]), x: -4.0}), [-1.0])
    assert len(z._fn_cache) == 1  # the same set of inputs, in any order, reuses one function
    assert (x * 2.0).eval({x: 1.5}) == 3.0


def test_eval_of_constants_and_shared_only_graphs():
    assert T.constant(7).eval() == 7
    s = shared(np.array([1.0, 2.0]))
    total = (s ** 2).sum()
    assert total.eval() == pytest.approx(5.0)
    s.set_value(np.array([3.0]))
    assert total.eval() == pytest.approx(9.0)  # the cached function reads the current value
    np.testing.assert_allclose(s.eval(), [3.0])


def test_eval_errors_and_pickling():
    x = T.dscalar("x")
    y = x + 1.0
    with pytest.raises(TypeError, match="must be a dict"):
        y.eval([2.0])
    with pytest.raises(TypeError, match="keys of inputs_to_values must be symbolic"):
        y.eval({"x": 2.0})
    with pytest.raises(Exception, match="x"):
        y.eval()  # x has no value
    assert y.eval({x: 1.0}) == 2.0
    clone = pickle.loads(pickle.dumps(y))
    assert "_fn_cache" not in clone.__dict__
    assert clone.eval({clone.owner.inputs[0]: 4.0}) == 5.0
