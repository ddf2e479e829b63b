"""`theanine.ifelse.ifelse` (issue 11): Theano's lazy conditional, on every backend.

Laziness is observed with Ops that count their `perform` calls or raise: only the taken
branch's nodes may run.  Values are checked against NumPy, gradients against finite
differences (`verify_grad`).
"""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.config import config
from theanine.gradient import grad, verify_grad
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.ifelse import IfElse, ifelse
from theanine.tensor.basic import as_tensor_variable
from theanine.testing.checks import check_infer_shape


class Count(Op):
    """x -> a copy of x, counting perform calls.  Never equal to another instance (no merge)
    and never folded, so each instance is one node of its own."""

    foldable = False

    def __init__(self, fail: bool = False):
        self.calls = 0
        self.fail = fail

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        self.calls += 1
        if self.fail:
            raise RuntimeError("the branch that must not run ran")
        output_storage[0][0] = np.array(inputs[0], copy=True)

    def grad(self, inputs, output_grads):
        return [output_grads[0]]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


@pytest.fixture
def backend(theanine_backend):
    """Each backend, with native code from the first call on the C backend."""
    with config.change_flags(tiered=False):
        yield theanine_backend


def test_only_the_taken_branch_runs(backend):
    c = T.iscalar("c")
    x = T.dvector("x")
    then_op, else_op = Count(), Count()
    out = ifelse(c, then_op(x) * 2.0, else_op(x) + 1.0)
    f = theanine.function([c, x], out)
    xv = np.arange(3.0)
    np.testing.assert_allclose(f(1, xv), xv * 2)
    assert (then_op.calls, else_op.calls) == (1, 0)
    np.testing.assert_allclose(f(0, xv), xv + 1)
    assert (then_op.calls, else_op.calls) == (1, 1)
    np.testing.assert_allclose(f(-3, xv), xv * 2)  # any non-zero value is true
    assert (then_op.calls, else_op.calls) == (2, 1)


def test_a_failing_branch_that_is_not_taken_never_runs(backend):
    c = T.dscalar("c")
    x = T.dmatrix("x")
    out = ifelse(T.gt(c, 0), T.exp(Count(fail=True)(x)).sum(), (x ** 2).sum())
    f = theanine.function([c, x], out)
    xv = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(f(-1.0, xv), (xv ** 2).sum())
    with pytest.raises(RuntimeError, match="must not run"):
        f(1.0, xv)


def test_branches_as_lists_and_single_values(backend):
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    pair = ifelse(c, [x + y, x * y], (x - y, y / x))
    assert isinstance(pair, list) and len(pair) == 2
    single = ifelse(c, x, y)
    assert not isinstance(single, list)
    f = theanine.function([c, x, y], [*pair, single])
    xv, yv = np.array([1.0, 2.0, 4.0]), np.array([3.0, 5.0, 7.0])
    for cv in (0, 1):
        got = f(cv, xv, yv)
        want = [xv + yv, xv * yv, xv] if cv else [xv - yv, yv / xv, yv]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w)


def test_nested_ifelse_runs_one_path(backend):
    a, b = T.iscalar("a"), T.iscalar("b")
    x = T.dvector("x")
    ops = [Count() for _ in range(3)]
    inner = ifelse(b, ops[0](x) + 1.0, ops[1](x) + 2.0)
    out = ifelse(a, inner, ops[2](x) * 3.0)
    f = theanine.function([a, b, x], out)
    xv = np.array([1.0, -2.0])
    for av, bv, taken, want in [(1, 1, 0, xv + 1), (1, 0, 1, xv + 2), (0, 1, 2, xv * 3)]:
        before = [op.calls for op in ops]
        np.testing.assert_allclose(f(av, bv, xv), want)
        ran = [op.calls - n for op, n in zip(ops, before)]
        assert ran == [int(k == taken) for k in range(3)]


def test_a_node_shared_by_two_lazy_nodes_runs_at_most_once(backend):
    a, b = T.iscalar("a"), T.iscalar("b")
    x = T.dvector("x")
    shared_op = Count()
    common = T.exp(shared_op(x))
    f = theanine.function([a, b, x], [ifelse(a, common, x), ifelse(b, x, common * 2.0)])
    xv = np.array([0.5, 1.5])
    for av, bv, runs in [(1, 0, 1), (1, 1, 1), (0, 0, 1), (0, 1, 0)]:
        before = shared_op.calls
        first, second = f(av, bv, xv)
        np.testing.assert_allclose(first, np.exp(xv) if av else xv)
        np.testing.assert_allclose(second, xv if bv else 2 * np.exp(xv))
        assert shared_op.calls - before == runs


def test_a_branch_node_the_outputs_also_need_runs_once(backend):
    c = T.iscalar("c")
    x = T.dvector("x")
    op = Count()
    y = op(x)
    f = theanine.function([c, x], [ifelse(c, y * 2.0, x), y + 1.0])
    xv = np.array([1.0, 3.0])
    for cv in (0, 1):
        before = op.calls
        got, plus = f(cv, xv)
        np.testing.assert_allclose(got, xv * 2 if cv else xv)
        np.testing.assert_allclose(plus, xv + 1)
        assert op.calls - before == 1


def test_rewrites_keep_branches_lazy(backend):
    """fast_run fuses, merges and works in place; none of it may move a branch's work out of
    its branch.  Both branches hold the same subexpression (merge) and elementwise chains
    (fusion, inplace) around a node that must not run."""
    c = T.iscalar("c")
    x = T.dvector("x")
    guard = Count(fail=True)
    common = T.exp(x) * 2.0 + 1.0
    then = T.log(common) + T.sqrt(guard(x) ** 2 + 1.0) * 3.0
    other = T.log(common) - T.tanh(x) * (x + 1.0)
    f = theanine.function([c, x], ifelse(c, then, other), mode=Mode(optimizer="fast_run"))
    assert any(isinstance(n.op, IfElse) for n in f.maker.fgraph.toposort())
    xv = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(0, xv), np.log(np.exp(xv) * 2 + 1) - np.tanh(xv) * (xv + 1))
    with pytest.raises(RuntimeError, match="must not run"):
        f(1, xv)


def test_outputs_do_not_alias_the_inputs_of_the_then_branch():
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    f = theanine.function([c, x, y], ifelse(c, y, x * 2.0))
    yv = np.ones(3)
    result = f(1, yv, yv)
    np.testing.assert_allclose(result, yv)
    assert not np.shares_memory(result, yv)


def test_outputs_do_not_alias_the_inputs_of_the_else_branch():
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    f = theanine.function([c, x, y], ifelse(c, x * 2.0, y))
    yv = np.ones(3)
    assert not np.shares_memory(f(0, yv, yv), yv)


def test_an_inplace_consumer_never_overwrites_a_branch_value():
    c = T.iscalar("c")
    x = T.dvector("x")
    y = T.exp(x)  # also an output: overwriting it through the ifelse would change it
    f = theanine.function([c, x], [ifelse(c, y, x) + 1.0, y])
    xv = np.array([0.0, 1.0])
    out, ey = f(1, xv)
    np.testing.assert_allclose(out, np.exp(xv) + 1)
    np.testing.assert_allclose(ey, np.exp(xv))


@pytest.mark.parametrize("taken", [0, 1])
def test_gradient_flows_into_the_taken_branch_only(taken):
    x, y = T.dvector("x"), T.dvector("y")
    xv, yv = np.array([0.3, -1.2, 2.0]), np.array([1.1, 0.4, -0.7])
    verify_grad(lambda a, b: ifelse(np.int8(taken), (a ** 2 * b).sum(), T.sin(a + b).sum()),
                [xv, yv], rng=np.random.default_rng(0))
    c = T.bscalar("c")
    cost = ifelse(c, (x ** 2).sum(), T.sin(y).sum())
    gx, gy = theanine.function([c, x, y], grad(cost, [x, y]))(taken, xv, yv)
    np.testing.assert_allclose(gx, 2 * xv if taken else np.zeros(3))
    np.testing.assert_allclose(gy, np.zeros(3) if taken else np.cos(yv))


def test_gradient_of_list_branches_and_no_gradient_for_the_condition():
    c = T.dscalar("c")
    x = T.dvector("x")
    first, second = ifelse(T.gt(c, 0), [x * 3.0, x ** 2], [x * c, T.exp(x)])
    cost = first.sum() + second.sum()
    gx, gc = grad(cost, [x, c], disconnected_inputs="ignore")
    f = theanine.function([c, x], [gx, gc])
    xv = np.array([0.5, -1.0])
    np.testing.assert_allclose(f(2.0, xv)[0], 3 + 2 * xv)
    got_x, got_c = f(-2.0, xv)
    np.testing.assert_allclose(got_x, -2.0 + np.exp(xv))
    # the condition only selects: on the else branch, c reaches the cost through `x * c`
    np.testing.assert_allclose(got_c, xv.sum())
    only_selects = grad(ifelse(T.gt(c, 0), x.sum(), (2 * x).sum()), c,
                        disconnected_inputs="ignore")
    assert float(theanine.function([c, x], only_selects, on_unused_input="ignore")(1.0, xv)) == 0.0


def test_lazy_gradient_does_not_run_the_other_branch(backend):
    c = T.iscalar("c")
    x = T.dvector("x")
    guard = Count(fail=True)
    cost = ifelse(c, (x ** 3).sum(), guard(x).sum())
    f = theanine.function([c, x], grad(cost, x))
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(1, xv), 3 * xv ** 2)


def test_infer_shape_follows_the_taken_branch():
    c = T.iscalar("c")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    xv, yv = np.ones((2, 3)), np.ones((4, 5))
    for cv in (0, 1):
        check_infer_shape(lambda cc, a, b: ifelse(cc, a, b), [cv, xv, yv],
                          variables=[c, x, y])
    f = theanine.function([c, x, y], ifelse(c, x, y).shape)
    assert tuple(f(1, xv, yv)) == (2, 3) and tuple(f(0, xv, yv)) == (4, 5)


def test_plain_numbers_take_the_other_branch_type():
    c = T.iscalar("c")
    x = T.fvector("x")
    assert ifelse(c, x, np.zeros(3, "float32")).type == x.type
    with pytest.raises(TypeError, match="identical types"):
        ifelse(c, x, np.zeros(3))  # float64 values do not fit float32 silently (Theano too)
    f = theanine.function([c, x], ifelse(c, x.sum(), 0.5))
    assert f(0, np.ones(3, "float32")).dtype == np.float32
    assert float(f(0, np.ones(3, "float32"))) == 0.5
    assert float(f(1, np.ones(3, "float32"))) == 3.0


def test_bad_arguments_are_named():
    x, y = T.dvector("x"), T.fvector("y")
    with pytest.raises(TypeError, match="condition must be a scalar.*x"):
        ifelse(x, x, x)
    with pytest.raises(ValueError, match="`then` branch has 2 value.*`else` branch has 1"):
        ifelse(1, [x, x], [x])
    with pytest.raises(TypeError, match="identical types.*x.*float64.*y.*float32"):
        ifelse(1, x, y, name="pick")
    with pytest.raises(TypeError, match="'pick'"):
        ifelse(1, x, y, name="pick")


def test_eager_perform_picks_a_branch():
    """Constant folding and tools that call `perform` directly see a plain selection."""
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    node = ifelse(c, x, y).owner
    cells = [[None]]
    xv, yv = np.ones(2), np.zeros(2)
    node.op.perform(node, [np.int32(0), xv, yv], cells)
    assert cells[0][0] is yv
    assert str(node.op) == "if{}" and str(IfElse(1, "sel")) == "if{sel}"


def test_c_backend_runs_the_lazy_node_in_its_program():
    """On C the IfElse is part of the generated program, not a fallback to perform: it is
    accepted even when fallbacks are refused, and the branches run as native code."""
    from theanine.link.backend import select_backend

    try:
        select_backend("c")
    except (KeyError, RuntimeError, LookupError, ValueError) as exc:
        pytest.skip(f"C backend unavailable: {exc}")
    c = T.iscalar("c")
    x = T.dvector("x")
    with config.change_flags(backend="c", tiered=False, impl_fallback="raise"):
        f = theanine.function([c, x], ifelse(c, T.exp(x) * 2.0, T.log(x) + 1.0))
    xv = np.array([0.5, 2.0])
    np.testing.assert_allclose(f(1, xv), np.exp(xv) * 2)
    np.testing.assert_allclose(f(0, xv), np.log(xv) + 1)
    report = f.maker.program.report
    kinds = {n.node.split("(")[0]: n.how for n in report.nodes}
    assert kinds["if{}"] == "host" and not report.fallbacks


def test_eager_nodes_leave_out_what_only_a_branch_needs():
    from theanine.graph.basic import eager_nodes, io_toposort

    c = T.iscalar("c")
    x = T.dvector("x")
    always = T.exp(x)
    then_only = T.sin(always)
    out = ifelse(T.gt(c, 0), then_only, x) + always
    eager = eager_nodes([c, x], [out])
    assert then_only.owner not in eager
    assert {always.owner, out.owner, out.owner.inputs[0].owner} <= set(eager)
    order = io_toposort([c, x], [out])
    assert eager == [n for n in order if n in eager]  # topological order kept


def test_scan_keeps_an_invariant_branch_inside_the_loop():
    cs, w = T.ivector("cs"), T.dvector("w")
    guard = Count(fail=True)
    out, _ = theanine.scan(lambda ct, wt: ifelse(ct, guard(wt).sum(), wt.sum() * 2.0),
                           sequences=[cs], non_sequences=[w])
    f = theanine.function([cs, w], out)
    np.testing.assert_allclose(f(np.zeros(3, "int32"), np.ones(2)), [4.0, 4.0, 4.0])
