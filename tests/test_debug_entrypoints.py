"""Theano's two debugging entry points: `theanine.function_dump` (the arguments of a `function`
call in a file that `theanine.function(**pickle.load(...))` compiles again) and
`theanine.breakpoint.PdbBreakpoint` (stop in pdb inside a compiled function when a condition
holds).  `pdb.set_trace` is replaced by a recorder that reads the breakpoint's `monitored`
list from the frame it is called from, as a pdb user would."""

from __future__ import annotations

import inspect
import pdb
import pickle
import sys

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.breakpoint import PdbBreakpoint
from theanine.compile.io import In
from theanine.compile.mode import Mode
from theanine.compile.monitormode import MonitorMode
from theanine.compile.ops import as_op
from theanine.config import config
from theanine.gradient import DisconnectedInputError
from theanine.link.backend import select_backend
from theanine.testing.checks import check_infer_shape


def _available(name: str) -> bool:
    try:
        return select_backend(name).is_available()[0]
    except Exception:
        return False


BACKENDS = ["python"] + [pytest.param(b, marks=pytest.mark.skipif(
    not _available(b), reason=f"no {b} backend")) for b in ("c", "opencl")]


# function_dump ------------------------------------------------------------------------------
def _training_graph():
    """A linear-regression step: shared weights updated in place, the learning rate given by a
    shared variable through `givens`, an `In` with a default."""
    x, y = T.dmatrix("x"), T.dvector("y")
    lr = T.dscalar("lr")
    scale = T.dscalar("scale")
    w = theanine.shared(np.array([0.5, -1.0, 2.0]), name="w")
    rate = theanine.shared(np.float64(0.1), name="rate")
    err = T.dot(x, w) * scale - y
    cost = T.mean(err ** 2)
    gw = theanine.grad(cost, w)
    kwargs = dict(inputs=[x, In(y), In(scale, value=2.0)], outputs=[cost, err],
                  updates=[(w, w - lr * gw)], givens={lr: rate * 1.0}, name="step")
    return kwargs, w, rate


def _numpy_steps(w, rate, x, y, scale, steps):
    """The same training with NumPy: (cost, err) per step and the final weights."""
    seen = []
    for _ in range(steps):
        err = x @ w * scale - y
        seen.append((np.mean(err ** 2), err))
        w = w - rate * (2 * scale * x.T @ err / len(y))
    return seen, w


def test_dump_round_trip_compiles_the_same_function(tmp_path, rng):
    kwargs, w, rate = _training_graph()
    path = tmp_path / "step.pkl"
    theanine.function_dump(str(path), **kwargs)
    with open(path, "rb") as file:
        d = pickle.load(file)
    reloaded = theanine.function(**d)
    original = theanine.function(**kwargs)

    xv, yv = rng.standard_normal((5, 3)), rng.standard_normal(5)
    expected, w_end = _numpy_steps(w.get_value(), 0.1, xv, yv, 2.0, 3)
    for want_cost, want_err in expected:  # the reloaded function first: w must not move
        cost, err = reloaded(xv, yv)
        np.testing.assert_allclose(cost, want_cost, rtol=1e-12)
        np.testing.assert_allclose(err, want_err, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(w.get_value(), [0.5, -1.0, 2.0])
    for want_cost, _ in expected:
        np.testing.assert_allclose(original(xv, yv)[0], want_cost, rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), w_end, rtol=1e-12)

    loaded_w, _ = d["updates"][0]  # one object for the updated and the read shared variable
    assert loaded_w is not w and loaded_w.name == "w"
    np.testing.assert_allclose(loaded_w.get_value(), w_end, rtol=1e-12)
    assert loaded_w in theanine.graph.basic.graph_inputs(d["outputs"])
    assert reloaded.name == "step"
    np.testing.assert_allclose(reloaded(xv, yv, 1.0)[0],  # the explicit scale, not the default
                               np.mean((xv @ w_end - yv) ** 2), rtol=1e-12)
    with pytest.raises(TypeError, match=r"missing input 1 \(y\)"):
        reloaded(xv)  # y has no default after reloading either


def test_dump_writes_every_argument_of_function_as_given(tmp_path):
    x = T.dvector("x")
    theanine.function_dump(tmp_path / "f.pkl", [x], x * 2, mode="FAST_COMPILE",
                           no_default_updates=True, accept_inplace=True, name="double",
                           rebuild_strict=False, allow_input_downcast=True,
                           on_unused_input="warn", backend="python")
    with open(tmp_path / "f.pkl", "rb") as file:
        d = pickle.load(file)
    assert {k: d[k] for k in ("mode", "no_default_updates", "accept_inplace", "name",
                              "rebuild_strict", "allow_input_downcast", "on_unused_input",
                              "backend", "updates", "givens", "profile")} == {
        "mode": "FAST_COMPILE", "no_default_updates": True, "accept_inplace": True,
        "name": "double", "rebuild_strict": False, "allow_input_downcast": True,
        "on_unused_input": "warn", "backend": "python", "updates": None, "givens": None,
        "profile": None}
    f = theanine.function(**d)
    assert f.maker.backend.name == "python"
    np.testing.assert_array_equal(f([1, 2]), [2.0, 4.0])  # allow_input_downcast came along


def test_dump_takes_every_keyword_that_function_takes():
    """Kept in step: a parameter added to `function` must be added to `function_dump`."""
    compiled = inspect.signature(theanine.function).parameters
    dumped = inspect.signature(theanine.function_dump).parameters
    assert list(dumped)[:2] == ["filename", "inputs"]
    for name, param in compiled.items():
        assert name in dumped, name
        assert dumped[name].default == param.default, name
    assert set(dumped) - set(compiled) == {"filename", "extra_tag_to_remove"}


def test_graph_built_with_test_values_dumps_without_them(tmp_path):
    """Computing test values caches a thunk on every node; neither it nor the test values
    go into the file, and the user's graph keeps both."""
    x = T.dvector("x")
    x.tag.test_value = np.array([1.0, 2.0])
    with theanine.change_flags(compute_test_value="raise"):
        y = T.exp(x * 2) + 1
    theanine.function_dump(tmp_path / "tv.pkl", [x], y)
    with open(tmp_path / "tv.pkl", "rb") as file:
        d = pickle.load(file)
    assert "test_value" in y.tag and "test_value" in x.tag  # the caller's graph is untouched
    assert "test_value" not in d["outputs"].tag and "test_value" not in d["inputs"][0].tag
    assert d["outputs"].owner.tag.trace == y.owner.tag.trace  # creation lines are kept
    f = theanine.function(**d)
    np.testing.assert_allclose(f(np.array([0.5, -1.0])), np.exp([1.0, -2.0]) + 1)


def test_unpicklable_tag_entry_is_named_and_can_be_left_out(tmp_path):
    x = T.dvector("x")
    x.tag.annotations = lambda: "not picklable"
    path = tmp_path / "f.pkl"
    with pytest.raises(TypeError, match=r"function_dump: cannot pickle the argument 'inputs': "
                                        r"the tag entry 'annotations' of the variable x; pass "
                                        r"extra_tag_to_remove=\['annotations'\]"):
        theanine.function_dump(path, [x], x + 1)
    assert not path.exists()
    theanine.function_dump(path, [x], x + 1, extra_tag_to_remove=["annotations"])
    assert callable(x.tag.annotations)
    with open(path, "rb") as file:
        f = theanine.function(**pickle.load(file))
    np.testing.assert_array_equal(f(np.array([1.0])), [2.0])


def test_unpicklable_mode_is_named(tmp_path):
    x = T.dvector("x")
    mode = MonitorMode(post_func=lambda i, node, fn: None)
    with pytest.raises(TypeError, match=r"cannot pickle the argument 'mode' \("):
        theanine.function_dump(tmp_path / "f.pkl", [x], x + 1, mode=mode)


def test_unpicklable_op_is_named_with_its_node(tmp_path):
    def local_double(v):  # a local function: pickle cannot find it by name
        return v * 2

    op = as_op(itypes=[T.dvector], otypes=[T.dvector])(local_double)
    x = T.dvector("x")
    out = op(x) + 1
    with pytest.raises(TypeError, match=r"cannot pickle the argument 'outputs': the Op "
                                        r".*local_double.* of the node .* \(built at .*"
                                        r"test_debug_entrypoints.py:\d+\)"):
        theanine.function_dump(tmp_path / "f.pkl", [x], [out])


def test_bad_filename_and_tag_list_are_refused(tmp_path):
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"filename must be a path .* got int 3"):
        theanine.function_dump(3, [x], x)
    with pytest.raises(TypeError, match=r"extra_tag_to_remove must be a list of tag names .* "
                                        r"got 'roles'"):
        theanine.function_dump(tmp_path / "f.pkl", [x], x, extra_tag_to_remove="roles")


# PdbBreakpoint ------------------------------------------------------------------------------
@pytest.fixture
def stops(monkeypatch):
    """Replaces pdb.set_trace: each stop records copies of the caller's `monitored` list."""
    recorded: list[list[np.ndarray]] = []

    def set_trace():
        recorded.append([np.array(v) for v in sys._getframe(1).f_locals["monitored"]])

    monkeypatch.setattr(pdb, "set_trace", set_trace)
    return recorded


@pytest.mark.parametrize("backend", BACKENDS)
def test_stops_exactly_when_the_condition_holds(backend, stops, capsys, rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    a, b = x * 2, T.exp(y)
    a2, b2 = PdbBreakpoint("big")(T.max(a) > 3, a, b)
    with config.change_flags(tiered=False):
        f = theanine.function([x, y], [a2 - 1, b2.sum()], backend=backend)
    if backend != "python":
        assert "fallback to perform (PdbBreakpoint{big}" in f.report()
    calls = [(rng.random((2, 3)), rng.random(3)) for _ in range(2)]
    calls += [(rng.random((2, 3)) + 2, rng.random(3)) for _ in range(2)]
    fired = []
    for xv, yv in calls:
        out, total = f(xv, yv)
        np.testing.assert_allclose(out, xv * 2 - 1, rtol=1e-12)  # the values flow on
        np.testing.assert_allclose(total, np.exp(yv).sum(), rtol=1e-12)
        if np.max(xv * 2) > 3:
            fired.append((xv * 2, np.exp(yv)))
    assert len(stops) == len(fired) == 2
    for got, want in zip(stops, fired):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    banner = capsys.readouterr().out
    assert banner.count("Conditional breakpoint 'big' activated") == 2
    assert "((x * 2.0), exp(y))" in banner  # the monitored values as the user wrote them


def test_outputs_equal_inputs_and_have_their_types(stops):
    x, n = T.fmatrix("x"), T.iscalar("n")
    outs = PdbBreakpoint("types")(n > 0, x, n)
    assert [o.type for o in outs] == [x.type, n.type]
    f = theanine.function([x, n], outs)
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    for nv in (0, 4):
        got_x, got_n = f(xv, nv)
        assert got_x.dtype == np.float32 and got_n.dtype == np.int32
        np.testing.assert_array_equal(got_x, xv)
        assert got_n == nv
        assert not np.shares_memory(got_x, xv)  # an output viewing an input is copied
    assert len(stops) == 1


def test_edited_monitored_values_flow_on_and_inputs_stay_untouched(monkeypatch, capsys):
    def set_trace():
        monitored = sys._getframe(1).f_locals["monitored"]
        monitored[0][:] = 0.0  # edited in place
        monitored[1] = [7, 8]  # replaced (cast back to the variable's type)

    monkeypatch.setattr(pdb, "set_trace", set_trace)
    x, v = T.dvector("x"), T.dvector("v")
    a, b = PdbBreakpoint("edit")(T.constant(True), x, v)
    f = theanine.function([In(x, borrow=True), v], [a + 1, b * 2])
    xv = np.array([1.0, 2.0])
    got_a, got_b = f(xv, np.array([3.0, 4.0]))
    np.testing.assert_array_equal(got_a, [1.0, 1.0])
    np.testing.assert_array_equal(got_b, [14.0, 16.0])
    np.testing.assert_array_equal(xv, [1.0, 2.0])
    capsys.readouterr()


def test_gradient_passes_through_and_the_condition_gets_none(stops):
    x, c = T.dvector("x"), T.dscalar("c")
    y = T.sin(x) * x
    (y_bp,) = [PdbBreakpoint("g")(c, y)]
    cost_bp, cost = (y_bp ** 2).sum(), (y ** 2).sum()
    g_bp = theanine.function([x, c], theanine.grad(cost_bp, x))
    g = theanine.function([x], theanine.grad(cost, x))
    xv = np.array([0.3, -1.2, 2.5])
    np.testing.assert_allclose(g_bp(xv, 0.0), g(xv), rtol=1e-12)
    f = theanine.function([x, c], cost_bp)
    eps = 1e-6
    numeric = [(f(xv + eps * e, 0.0) - f(xv - eps * e, 0.0)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g_bp(xv, 0.0), numeric, rtol=1e-6)
    assert stops == []
    with pytest.raises(DisconnectedInputError, match="does not depend on c"):
        theanine.grad(cost_bp, c)
    assert theanine.grad(cost_bp, c, disconnected_inputs="ignore",
                         return_disconnected="None") is None


@pytest.mark.parametrize("optimizer", ["fast_run", "fast_compile", None])
def test_survives_the_rewrites_with_a_constant_condition(optimizer, stops, capsys):
    """Not folded (a constant condition stops at call time, not while compiling, even on
    constant values), not removed as an identity, and kept when its output is fused around."""
    x = T.dvector("x")
    mid = PdbBreakpoint("kept")(T.constant(1), T.exp(x) * 2)
    const = PdbBreakpoint("const")(T.constant(True), T.constant(np.array([1.0, 3.0])))
    f = theanine.function([x], T.log(mid) + const, mode=Mode(optimizer=optimizer))
    assert stops == []
    names = sorted(n.op.name for n in f.maker.fgraph.apply_nodes
                   if isinstance(n.op, PdbBreakpoint))
    assert names == ["const", "kept"]
    xv = np.array([0.5, 1.5])
    np.testing.assert_allclose(f(xv), np.log(np.exp(xv) * 2) + [1.0, 3.0], rtol=1e-12)
    assert len(stops) == 2
    got = sorted(stops, key=lambda values: values[0][0])
    np.testing.assert_array_equal(got[0][0], [1.0, 3.0])
    np.testing.assert_allclose(got[1][0], np.exp(xv) * 2, rtol=1e-12)
    capsys.readouterr()


def test_infer_shape_and_shape_of_the_output(stops):
    check_infer_shape(PdbBreakpoint("s"), [np.array(False), np.ones((2, 3)), np.ones(4)])
    x = T.dmatrix("x")
    out = PdbBreakpoint("s")(T.constant(False), x)
    f = theanine.function([x], out.shape)
    np.testing.assert_array_equal(f(np.ones((4, 5))), [4, 5])


def test_compiled_function_with_a_breakpoint_pickles(stops, capsys):
    x = T.dvector("x")
    f = theanine.function([x], PdbBreakpoint("p")(x.sum() > 1, x) * 3)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(np.array([0.25])), [0.75])
    np.testing.assert_array_equal(g(np.array([2.0])), [6.0])
    assert len(stops) == 1
    capsys.readouterr()


def test_bad_breakpoints_are_refused_by_name():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"PdbBreakpoint\{bp\}: the condition x must be a 0-d "
                                        r"\(scalar\) tensor, got TensorType\(float64, vector\)"):
        PdbBreakpoint("bp")(x, x)
    with pytest.raises(TypeError, match=r"PdbBreakpoint\{bp\} needs at least one value to "
                                        r"monitor"):
        PdbBreakpoint("bp")(x.sum() > 0)
    with pytest.raises(TypeError, match=r"name must be a str, got int 3"):
        PdbBreakpoint(3)


def test_theano_import_paths():
    import theanine.breakpoint

    assert theanine.breakpoint.PdbBreakpoint is PdbBreakpoint
    assert "function_dump" in theanine.__all__


def test_breakpoint_is_importable_from_theanos_path():
    from theanine.tests.breakpoint import PdbBreakpoint as FromTheanoPath

    assert FromTheanoPath is PdbBreakpoint
