"""The per-node hook seam and the modes built on it: NanGuardMode, MonitorMode, DebugMode.

Each mode runs on the Python backend and, where a compiler exists, on the C backend (native
code from the first call); results are checked against NumPy, and each DebugMode check against
a test Op made wrong in exactly one way."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.compile.debugmode import (
    BadDestroyMap,
    BadThunkOutput,
    BadViewMap,
    DebugMode,
    DebugModeError,
    InvalidValueError,
)
from theanine.compile.mode import Mode, get_mode
from theanine.compile.monitormode import MonitorMode
from theanine.compile.nanguardmode import NanGuardError, NanGuardMode
from theanine.config import config
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.ifelse import ifelse
from theanine.link.backend import select_backend
from theanine.plugins import PluginRegistry, use_registry


def _c_available() -> bool:
    try:
        return select_backend("c").is_available()[0]
    except Exception:
        return False


BACKENDS = ["python", pytest.param("c", marks=pytest.mark.skipif(
    not _c_available(), reason="no C backend"))]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with config.change_flags(backend=request.param, tiered=False):
        yield request.param


# The seam ------------------------------------------------------------------------------------
def test_plain_modes_have_no_hook_and_hooked_modes_keep_it_across_get_mode():
    assert Mode().node_hook is None and isinstance(get_mode("FAST_RUN").backend, str | None)
    mode = get_mode(NanGuardMode(), backend="python")
    assert mode.backend == "python" and mode.node_hook is not None
    x = T.dvector("x")
    f = theanine.function([x], T.log(x), mode=mode)
    assert f.maker.backend.name == "python"
    with np.errstate(all="ignore"), pytest.raises(NanGuardError):
        f(np.array([-1.0]))


def test_hook_wraps_every_node_eager_and_in_the_taken_branch_only(backend):
    seen: list[int] = []
    mode = MonitorMode(pre_func=lambda i, node, fn: seen.append(i))
    c, x = T.dscalar("c"), T.dvector("x")
    out = ifelse(c > 0, T.exp(x) * 2, T.log(x) - 1) + x.sum()
    f = theanine.function([c, x], out, mode=mode)
    order = f.maker.fgraph.toposort()
    xv = np.array([0.5, 2.0])
    for cv, expected in [(1.0, np.exp(xv) * 2 + xv.sum()), (-1.0, np.log(xv) - 1 + xv.sum())]:
        seen.clear()
        np.testing.assert_allclose(f(cv, xv), expected)
        ran = [order[i] for i in seen]
        assert len(set(seen)) == len(seen) and seen == sorted(seen)  # each once, in order
        branch = "exp" if cv > 0 else "log"
        other = "log" if cv > 0 else "exp"
        assert any(branch in str(n.op) for n in ran)
        assert not any(other in str(n.op) for n in ran)
        # every node of the graph except the ifelse itself and the untaken branch ran
        assert {str(n.op) for n in order} - {str(n.op) for n in ran} <= {
            str(n.op) for n in order if "IfElse" in type(n.op).__name__ or other in str(n.op)}


def test_a_backend_without_node_hook_is_refused_by_name():
    from theanine.link.python import BACKEND as PYTHON

    class Plain:
        name, priority = "plain", -1
        required_tags = incompatible_tags = frozenset()

        def is_available(self):
            return True, ""

        def link(self, fgraph):
            return PYTHON.link(fgraph)

    class Plugin:
        @theanine.hookimpl
        def theanine_register_backends(self, register):
            register(Plain())

    registry = PluginRegistry(entry_points=False)
    registry.register(Plugin())
    x = T.dvector("x")
    with use_registry(registry):
        assert theanine.function([x], x * 2, backend="plain")(np.ones(2)).tolist() == [2, 2]
        with pytest.raises(TypeError, match="backend 'plain' cannot run a debugging mode"):
            theanine.function([x], x * 2, mode=NanGuardMode(), backend="plain")


# NanGuardMode --------------------------------------------------------------------------------
def test_nanguard_names_the_fused_expression_the_output_and_the_nan(backend):
    x, y = T.dvector("x"), T.dvector("y")
    f = theanine.function([x, y], T.log(x) * y + 1, mode=NanGuardMode())
    good = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_allclose(f(*good), np.log(good[0]) * good[1] + 1)
    with np.errstate(all="ignore"), pytest.raises(NanGuardError) as err:
        f(np.array([-1.0, 2.0]), np.array([1.0, 1.0]))
    message = str(err.value)
    assert isinstance(err.value, AssertionError)
    assert "NaN (1 of 2 values) in output 0" in message
    assert "log(x) * y" in message and err.value.node in f.maker.fgraph.apply_nodes


@pytest.mark.parametrize("flags, value, found", [
    ({}, 0.0, "Inf"), ({}, 40.0, r"magnitude 2.354e\+17 > 1e\+10"),
    ({"big_is_error": False}, 40.0, None),
    ({"inf_is_error": False}, 0.0, None), ({"nan_is_error": False}, -1.0, None),
    ({}, -1.0, "NaN")])
def test_nanguard_flags_choose_what_is_an_error(backend, flags, value, found):
    x = T.dscalar("x")
    expr = T.switch(T.lt(x, 0), T.sqrt(x), T.exp(x)) / T.switch(T.eq(x, 0), x, 1.0)
    f = theanine.function([x], expr, mode=NanGuardMode(**flags))
    with np.errstate(all="ignore"):
        expected = (np.sqrt(value) if value < 0 else np.exp(value)) / (value if value == 0
                                                                       else 1.0)
        if found is None:
            np.testing.assert_allclose(f(value), expected, rtol=1e-14)
        else:
            with pytest.raises(NanGuardError, match=found):
                f(value)


def test_nanguard_checks_function_inputs_and_ignores_integers(backend):
    x, k = T.dvector("x"), T.lvector("k")
    f = theanine.function([x, k], [x * 2, k * 10 ** 9], mode=NanGuardMode())
    kv = np.array([10 ** 9, 3])
    np.testing.assert_array_equal(f(np.ones(2), kv)[1], kv * 10 ** 9)  # big integers pass
    with pytest.raises(NanGuardError, match="NaN .* in function input x"):
        f(np.array([np.nan, 1.0]), kv)


def test_nanguard_with_nothing_to_check_is_refused():
    with pytest.raises(ValueError, match="nothing would be checked"):
        NanGuardMode(False, False, False)


def test_nanguard_by_name_and_by_config_flags():
    x = T.dvector("x")
    with np.errstate(all="ignore"), pytest.raises(NanGuardError):
        theanine.function([x], T.log(x), mode="NanGuardMode")(np.array([-1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # theano_flags still calls the flag a no-op
        with config.change_flags(**{"NanGuardMode.nan_is_error": False}):
            mode = NanGuardMode()
    assert not mode.nan_is_error and mode.inf_is_error


# MonitorMode ---------------------------------------------------------------------------------
def test_monitor_calls_theanos_callbacks_with_cells(backend):
    calls = []

    def pre(i, node, fn):
        assert all(cell == [None] for cell in fn.outputs)
        calls.append(("pre", i, node, [cell[0].copy() for cell in fn.inputs]))

    def post(i, node, fn):
        calls.append(("post", i, node, [cell[0].copy() for cell in fn.outputs]))

    x = T.dvector("x")
    f = theanine.function([x], [T.log(x) * x, T.exp(x).sum()], mode=MonitorMode(pre, post))
    xv = np.array([1.0, 2.0, 3.0])
    out = f(xv)
    np.testing.assert_allclose(out[0], np.log(xv) * xv)
    np.testing.assert_allclose(out[1], np.exp(xv).sum())
    order = f.maker.fgraph.toposort()
    assert [(c[0], c[1]) for c in calls] == [(k, i) for i in range(len(order))
                                             for k in ("pre", "post")]
    produced = {}
    for kind, i, node, values in calls:
        assert node is order[i]
        if kind == "pre":  # inputs: the function's input, or what an earlier node produced
            for var, value in zip(node.inputs, values):
                expected = xv if var is f.maker.fgraph.inputs[0] else produced.get(var)
                if expected is not None:
                    np.testing.assert_array_equal(value, expected)
        else:
            produced.update(zip(node.outputs, values))
    for var, value in zip(f.maker.fgraph.outputs, out):  # outputs: the function's results
        np.testing.assert_array_equal(produced[var], value)


def test_monitor_detect_nan_example_from_theanos_docs(backend, capsys):
    def detect_nan(i, node, fn):
        for output in fn.outputs:
            if np.isnan(output[0]).any():
                print("*** NaN detected ***")
                print("Inputs : %s" % [input[0] for input in fn.inputs])
                break

    x = T.dscalar("x")
    f = theanine.function([x], [T.log(x) * x], mode=MonitorMode(post_func=detect_nan))
    with np.errstate(all="ignore"):
        f(0.0)
    text = capsys.readouterr().out
    assert "*** NaN detected ***" in text and "Inputs : [array(0.)]" in text
    f(2.0)
    assert capsys.readouterr().out == ""


def test_monitor_refuses_a_callback_that_is_not_callable():
    with pytest.raises(TypeError, match="MonitorMode: post_func must be a function"):
        MonitorMode(post_func="print")


# DebugMode: test Ops wrong in one way each ---------------------------------------------------
class Scale(Op):
    """x * 2; `python_thunk` may be made wrong, `perform` is the reference."""

    __props__ = ("wrong",)

    def __init__(self, wrong: bool = False):
        self.wrong = wrong

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = inputs[0] * 2

    def python_thunk(self, node):
        if self.wrong:
            return lambda x: (x * 2 + (x > 1),)
        return super().python_thunk(node)


class Returns(Op):
    """Hands back what `how` says, with no view_map or destroy_map."""

    __props__ = ("how",)

    def __init__(self, how: str):
        self.how = how

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [T.TensorType("float64", x.type.broadcastable)()])

    def perform(self, node, inputs, out):
        x = inputs[0]
        if self.how == "view":  # aliases its input
            out[0][0] = x[:]
        elif self.how == "inplace":  # overwrites its input
            x *= 3
            out[0][0] = x.copy()
        elif self.how == "float32":
            out[0][0] = x.astype("float32")
        elif self.how == "rank":
            out[0][0] = x[None]
        else:
            out[0][0] = x.copy()


def test_debugmode_catches_a_thunk_that_differs_from_perform(backend):
    x = T.dvector("x")
    xv = np.array([0.5, 1.0, 3.0])
    good = theanine.function([x], Scale()(x) + 1, mode=DebugMode())
    np.testing.assert_allclose(good(xv), xv * 2 + 1)
    f = theanine.function([x], Scale(wrong=True)(x) + 1, mode=DebugMode())
    with pytest.raises(BadThunkOutput, match=r"output 0 differs .* at index \(2,\) the backend "
                                             r"gave np.float64\(7.0\) and perform "
                                             r"np.float64\(6.0\)") as err:
        f(xv)
    assert "Scale{True}(x)" in str(err.value) and err.value.node.op == Scale(True)
    unchecked = theanine.function([x], Scale(wrong=True)(x), mode=DebugMode(check_py_code=False))
    np.testing.assert_allclose(unchecked(xv), xv * 2 + (xv > 1))


def test_debugmode_catches_a_wrong_impl_registered_for_the_backend(backend):
    """A custom-Op author's native impl, registered through the plugin registry."""

    class WrongImpl:
        @theanine.hookimpl
        def theanine_register_op_impls(self, register):
            register(Scale, backend, lambda node: lambda x: (x * 2.001,))

    registry = PluginRegistry(entry_points=backend != "python")
    registry.register(WrongImpl())
    x = T.dvector("x")
    xv = np.array([1.0, 2.0])
    with use_registry(registry):
        plain = theanine.function([x], Scale()(x))
        np.testing.assert_allclose(plain(xv), xv * 2.001)  # the impl really runs
        f = theanine.function([x], Scale()(x), mode=DebugMode())
        with pytest.raises(BadThunkOutput, match="in Scale{False}"):
            f(xv)


@pytest.mark.parametrize("how, error, match", [
    ("view", BadViewMap, r"output 0 shares memory with input 0 \(.*\), but neither the Op's "
                         r"view_map \{\} nor its destroy_map \{\} lists it"),
    ("inplace", BadDestroyMap, r"input 0 \(.*\) was changed in place, but the Op's destroy_map "
                               r"\{\} does not list it"),
    ("float32", InvalidValueError, "output 0 should be TensorType.float64, vector., but got "
                                   "dtype float32"),
    ("rank", InvalidValueError, r"got 2 dimensions \(shape \(1, 3\)\)")])
def test_debugmode_catches_undeclared_views_writes_and_wrong_types(backend, how, error, match):
    x = T.dvector("x")
    xv = np.array([1.0, 2.0, 3.0])
    f = theanine.function([x], Returns(how)(x * 1.5) + 0, mode=DebugMode())
    with pytest.raises(error, match=match) as err:
        f(xv)
    assert f"Returns{{{how}}}" in str(err.value) and isinstance(err.value, DebugModeError)
    assert theanine.function([x], Returns("copy")(x * 1.5) + 0, mode=DebugMode())(xv).tolist() \
        == (xv * 1.5).tolist()


def test_debugmode_catches_a_stretched_broadcastable_dimension():
    class Stretch(Returns):
        def perform(self, node, inputs, out):
            out[0][0] = np.repeat(inputs[0], 2, axis=0)

    x = T.TensorType("float64", (True, False))("x")
    f = theanine.function([x], Stretch("stretch")(x), mode=DebugMode())
    with pytest.raises(InvalidValueError, match="broadcastable dimension 0 has extent 2"):
        f(np.ones((1, 3)))


def test_debugmode_zero_over_zero_raises_and_check_isfinite_false_allows_it(backend):
    num, den = T.scalar("num"), T.scalar("den")
    f = theanine.function([num, den], num / den, mode="DebugMode")
    assert f(10, 2) == 5.0
    with np.errstate(all="ignore"), pytest.raises(InvalidValueError, match="holds NaN"):
        f(0, 0)
    lenient = theanine.function([num, den], num / den, mode=DebugMode(check_isfinite=False))
    with np.errstate(all="ignore"):
        assert np.isnan(lenient(0, 0))


def test_debugmode_check_c_code_false_runs_on_python():
    x = T.dvector("x")
    f = theanine.function([x], x * 2, mode=DebugMode(check_c_code=False))
    assert f.maker.backend.name == "python"


# DebugMode: correct graphs run cleanly, with Mode's results ----------------------------------
def test_mlp_training_steps_under_debugmode_match_mode(backend):
    rng = np.random.default_rng(3)
    X, y = T.dmatrix("X"), T.ivector("y")
    start = [rng.standard_normal((5, 8)) * 0.3, np.zeros(8), rng.standard_normal((8, 3)) * 0.3]
    params = [theanine.shared(v.copy()) for v in start]
    W1, b1, W2 = params
    p = T.nnet.softmax(T.dot(T.tanh(T.dot(X, W1) + b1), W2))
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    updates = [(v, v - 0.1 * g) for v, g in zip(params, theanine.grad(cost, params))]
    Xv, yv = rng.standard_normal((10, 5)), rng.integers(0, 3, 10).astype("int32")
    runs = {}
    for name, mode in [("mode", Mode()), ("debug", DebugMode())]:
        for v, s in zip(params, start):
            v.set_value(s.copy())
        f = theanine.function([X, y], cost, updates=updates, mode=mode)
        costs = [float(f(Xv, yv)) for _ in range(3)]
        runs[name] = costs, [v.get_value() for v in params]
    np.testing.assert_allclose(runs["debug"][0], runs["mode"][0], rtol=1e-12)
    for a, b in zip(runs["debug"][1], runs["mode"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert runs["mode"][0][2] < runs["mode"][0][0]  # it trained


def test_scan_and_its_gradient_under_debugmode_match_numpy(backend):
    rng = np.random.default_rng(4)
    h0, W, S = T.dvector("h0"), T.dmatrix("W"), T.dmatrix("S")
    hs, _ = theanine.scan(lambda s, h: T.tanh(T.dot(W, h) + s), sequences=[S],
                          outputs_info=[h0])
    f = theanine.function([h0, W, S], [hs, theanine.grad(hs[-1].sum(), W)], mode=DebugMode())
    h0v, Wv, Sv = rng.standard_normal(3), rng.standard_normal((3, 3)), rng.standard_normal((4, 3))
    states, grad_w = f(h0v, Wv, Sv)
    h, expected = h0v, []
    for s in Sv:
        h = np.tanh(Wv @ h + s)
        expected.append(h)
    np.testing.assert_allclose(states, expected, rtol=1e-12)
    eps, numeric = 1e-6, np.zeros_like(Wv)
    for idx in np.ndindex(*Wv.shape):
        d = np.zeros_like(Wv)
        d[idx] = eps
        numeric[idx] = (f(h0v, Wv + d, Sv)[0][-1].sum() - f(h0v, Wv - d, Sv)[0][-1].sum()) / (
            2 * eps)
    np.testing.assert_allclose(grad_w, numeric, rtol=1e-6, atol=1e-8)
