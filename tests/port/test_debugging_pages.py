"""Theano's debugging pages (printing_drawing, debug_faq, modes) in our own words: what each
code block is there to show, checked against NumPy or against the graph itself rather than
against Theano's printed text (tools/theano_doc_pages.py runs the blocks as written)."""

from __future__ import annotations

import re
import shutil
import traceback

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.compile.monitormode import MonitorMode, detect_nan
from theanine.compile.nanguardmode import NanGuardError
from theanine.graph.basic import io_toposort
from theanine.scalar.composite import Composite

N, FEATS = 60, 12


@pytest.fixture
def logreg():
    """The logistic regression both printing_drawing and modes build, float64 as in Theano."""
    rng = np.random.default_rng(7)
    D = (rng.normal(size=(N, FEATS)), rng.integers(0, 2, size=N).astype("float64"))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(rng.normal(size=FEATS), name="w")
    b = theano.shared(np.asarray(0.0), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function([x, y], [prediction, xent], name="train",
                            updates=[(w, w - 0.01 * gw), (b, b - 0.01 * gb)])
    predict = theano.function([x], prediction, name="predict")
    return dict(D=D, x=x, w=w, b=b, prediction=prediction, train=train, predict=predict)


# printing_drawing ---------------------------------------------------------------------------
def test_pprint_is_a_formula_that_computes_the_prediction(logreg):
    text = theano.printing.pprint(logreg["prediction"])
    x, w, b = logreg["D"][0], logreg["w"].get_value(), logreg["b"].get_value()
    from_text = eval(text, {"exp": np.exp, "Dot": np.dot, "x": x, "w": w, "b": b})
    np.testing.assert_array_equal(from_text, logreg["predict"](x))


def test_debugprint_before_compiling_shows_every_node_once_expanded(logreg):
    text = theano.printing.debugprint(logreg["prediction"], file="str")
    nodes = io_toposort([], [logreg["prediction"]])
    expanded = {}
    for line in text.splitlines():
        m = re.fullmatch(r"[ |]*(.+?) \[id (\w+)\](?: '.*')?", line)
        assert m, line
        expanded.setdefault(m.group(2), m.group(1))
    apply_lines = [v for v in expanded.values() if v not in ("x", "w", "b")
                   and not v.startswith("TensorConstant")]
    assert sorted(apply_lines) == sorted(str(n.op) for n in nodes)
    assert {"x", "w", "b"} <= set(expanded.values())


def test_debugprint_after_compiling_numbers_nodes_in_execution_order(logreg):
    predict = logreg["predict"]
    text = theano.printing.debugprint(predict, file="str")
    topo = predict.maker.fgraph.toposort()
    positions = {}
    for line in text.splitlines():
        m = re.fullmatch(r"[ |]*(.+?) \[id \w+\] '.*'   (\d+)", line)
        if m:
            positions[int(m.group(2))] = m.group(1)
    assert positions == {k: str(n.op) for k, n in enumerate(topo)}
    assert any(isinstance(getattr(n.op, "scalar_op", None), Composite) for n in topo)


def test_debugprint_shows_test_values_and_theano_options():
    x = T.dvector("x")
    x.tag.test_value = np.array([1.0, 2.0])
    y = (x * 2).sum()
    y.name = "total"
    with theano.change_flags(compute_test_value="raise"):
        z = T.exp(x * 2)
    lines = theano.printing.debugprint(z, file="str", print_test_value=True).splitlines()
    exp_2x = np.array2string(np.exp([2.0, 4.0]), separator=" ")
    assert lines[0] == f"Elemwise{{exp,no_inplace}} [id A] '' test_value={exp_2x}"
    assert " | |x [id C] test_value=[1. 2.]" in lines
    assert lines[-1] == " | | |TensorConstant{2.0} [id E]"  # a constant shows its value
    assert theano.printing.debugprint(y + 1, file="str", depth=1) == \
        "Elemwise{add,no_inplace} [id A] ''"
    stopped = theano.printing.debugprint(y + 1, file="str", stop_on_name=True, ids="int")
    assert re.fullmatch(r" \|Sum\{.*\} \[id 1\] 'total'", stopped.splitlines()[1])
    assert len(stopped.splitlines()) == 3  # total's inputs (x * 2) are not expanded
    with pytest.raises(ValueError, match="ids must be 'CHAR', 'int', 'id' or '', got 'abc'"):
        theano.printing.debugprint(y, ids="abc")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_pydotprint_draws_the_three_graphs_of_the_page(logreg, tmp_path, capsys):
    for what in ("prediction", "predict", "train"):
        out = tmp_path / f"logreg_pydotprint_{what}.png"
        theano.printing.pydotprint(logreg[what], outfile=str(out), var_with_name_simple=True)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert capsys.readouterr().out == f"The output file is available at {out}\n"


def test_d3viz_writes_the_interactive_view_of_the_page(logreg, tmp_path):
    import theanine.d3viz as d3v

    path = d3v.d3viz(logreg["predict"], str(tmp_path / "d3viz" / "predict.html"))
    page = open(path).read()
    for node in logreg["predict"].maker.fgraph.toposort():
        assert str(node.op).replace("<", "\\u003c") in page


# debug_faq ---------------------------------------------------------------------------------
def test_error_message_names_the_node_and_the_input_shapes():
    x, y = T.dvector(), T.dvector()
    z = x + x
    z = z + y
    f = theano.function([x, y], z)
    with pytest.raises(ValueError) as err:
        f(np.ones((2,)), np.ones((3,)))
    text = str(err.value)
    assert "(2,)" in text and "(3,)" in text
    assert "fused into one elementwise node" in text


def test_without_test_values_the_shape_error_comes_at_call_time():
    W1 = theano.shared(np.random.rand(2, 10, 10), "W1")
    x = T.dmatrix("x")
    func_of_W1 = W1.dimshuffle(2, 0, 1).flatten(2).T
    h1 = T.dot(x, func_of_W1)
    f = theano.function([x], h1)
    with pytest.raises(ValueError, match=r"\(5, 10\).*\(20, 10\)"):
        f(np.random.rand(5, 10))


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_with_test_values_the_error_is_raised_at_the_building_line(mode):
    W1 = theano.shared(np.random.rand(2, 10, 10), "W1")
    with theano.change_flags(compute_test_value=mode):
        x = T.dmatrix("x")
        x.tag.test_value = np.random.rand(5, 10)
        func_of_W1 = W1.dimshuffle(2, 0, 1).flatten(2).T
        assert func_of_W1.tag.test_value.shape == (20, 10)  # derived values are instrumented
        with pytest.raises(ValueError) as err:
            T.dot(x, func_of_W1)  # the culprit
    here = [fr for fr in traceback.extract_tb(err.tb) if fr.filename == __file__]
    assert here[-1].line == "T.dot(x, func_of_W1)  # the culprit"


def test_print_op_prints_the_value_as_it_flows(capsys):
    x = T.dvector("x")
    x_printed = theano.printing.Print("this is a very important value")(x)
    f = theano.function([x], x * 5)
    f_with_print = theano.function([x], x_printed * 5)
    np.testing.assert_array_equal(f([1, 2, 3]), [5, 10, 15])
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(f_with_print([1, 2, 3]), [5, 10, 15])
    value = np.array([1.0, 2.0, 3.0])
    assert capsys.readouterr().out == f"this is a very important value __str__ = {value}\n"
    shape = theano.function([x], theano.printing.Print("x", attrs=("shape",))(x).sum())
    assert shape([1.0, 2.0]) == 3.0
    assert capsys.readouterr().out == "x shape = (2,)\n"


def test_monitor_mode_sees_each_node_inputs_and_outputs():
    calls = []

    def inspect_inputs(i, node, fn):
        calls.append((i, str(node), [c[0] for c in fn.inputs], [c[0] for c in fn.outputs]))

    def inspect_outputs(i, node, fn):
        calls.append((i, [c[0] for c in fn.outputs]))

    x = T.dscalar("x")
    f = theano.function([x], [5 * x], mode=MonitorMode(pre_func=inspect_inputs,
                                                       post_func=inspect_outputs))
    assert f(3) == [15.0]
    assert calls[0][:2] == (0, "Elemwise{mul,no_inplace}(TensorConstant{5.0}, x)")
    assert calls[0][2] == [5.0, 3.0] and calls[0][3] == [None]
    assert calls[1] == (0, [15.0])


def _nan_finder(found):
    def detect_nan(i, node, fn):
        for output in fn.outputs:
            if np.isnan(output[0]).any():
                found.append((node, [c[0] for c in fn.inputs], [c[0] for c in fn.outputs]))
                break
    return detect_nan


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_monitor_mode_finds_the_node_that_makes_a_nan():
    x = T.dscalar("x")
    found = []
    f = theano.function([x], [T.log(x) * x], mode=MonitorMode(post_func=_nan_finder(found)))
    f(0)
    (node, inputs, outputs), = found
    assert isinstance(node.op.scalar_op, Composite)  # log and mul fused into one node
    assert inputs == [0.0] and np.isnan(outputs[0])
    found.clear()
    unfused = MonitorMode(post_func=_nan_finder(found)).excluding("fusion", "inplace")
    g = theano.function([x], [T.log(x) * x], mode=unfused)
    g(0)
    (node, inputs, outputs), = found
    assert node.op.scalar_op.name == "mul"  # log(0) is -inf, the product makes the NaN
    assert inputs[0] == -np.inf or inputs[1] == -np.inf


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_ready_made_detect_nan_prints_the_node_and_its_values(capsys):
    x = T.dscalar("x")
    mode = MonitorMode(post_func=detect_nan).excluding("fusion", "inplace")
    f = theano.function([x], [T.log(x) * x], mode=mode)
    f(2.0)
    assert capsys.readouterr().out == ""
    f(0.0)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "*** NaN detected ***"
    assert out[1].startswith("Elemwise{mul")
    assert out[-2:] == [f"Inputs : {[np.array(-np.inf), np.array(0.0)]}",
                        f"Outputs: {[np.array(np.nan)]}"]
    # the page's warning: with inplace on, mul writes its NaN over log's -inf, so post_func
    # no longer sees the input that went in (on the host backends, which write in place; a
    # device backend shows the hook copies of the values, which nothing overwrites)
    g = theano.function([x], [T.log(x) * x],
                        mode=MonitorMode(post_func=detect_nan).excluding("fusion"))
    g(0.0)
    seen = capsys.readouterr().out.splitlines()[-2]
    if getattr(g.maker.backend, "storage", None) is None:
        assert seen == f"Inputs : {[np.array(np.nan), np.array(0.0)]}"
    else:
        assert seen == f"Inputs : {[np.array(-np.inf), np.array(0.0)]}"


def test_elementwise_shape_mismatch_names_the_node():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = theano.function([a, b], [a * b])
    with pytest.raises(ValueError) as err:
        f(np.arange(12).reshape((3, 4)), np.arange(25).reshape((5, 5)))
    text = str(err.value)
    assert "Elemwise{mul,no_inplace}(a, b)" in text
    assert "(3, 4)" in text and "(5, 5)" in text


# modes -------------------------------------------------------------------------------------
def test_training_graph_uses_a_blas_call_and_learns(logreg):
    train, predict, (X, Y) = logreg["train"], logreg["predict"], logreg["D"]
    names = [n.op.__class__.__name__ for n in train.maker.fgraph.toposort()]
    assert any(n in ("Gemv", "CGemv", "Gemm", "CGemm") for n in names)  # "Used the cpu"
    w, b = logreg["w"].get_value(), float(logreg["b"].get_value())
    for _ in range(20):
        train(X, Y)
        p = 1 / (1 + np.exp(-X @ w - b))
        gw = X.T @ (p - Y) / N + 0.02 * w
        gb = np.mean(p - Y)
        w, b = w - 0.01 * gw, b - 0.01 * gb
    np.testing.assert_allclose(logreg["w"].get_value(), w, rtol=1e-10)
    np.testing.assert_array_equal(predict(X), 1 / (1 + np.exp(-X @ w - b)) > 0.5)


@pytest.mark.parametrize("mode", ["DebugMode", "DEBUG_MODE", "FAST_RUN", "FAST_COMPILE"])
def test_modes_by_name_compute_the_same(mode):
    x = T.dvector("x")
    f = theano.function([x], 10 * x, mode=mode)
    for v in ([5.0], [0.0], [7.0]):
        np.testing.assert_array_equal(f(v), 10 * np.asarray(v))


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_nan_guard_mode_by_name_stops_at_the_nan():
    x = T.dscalar("x")
    f = theano.function([x], T.log(x) * x, mode="NanGuardMode")
    assert f(2.0) == pytest.approx(np.log(2.0) * 2.0)
    with pytest.raises(NanGuardError, match=r"NaN .* of \(log\(x\) \* x\)"):
        f(0.0)


def test_print_test_value_shows_the_value_in_the_repr():
    """debug_faq: with `print_test_value` on, a variable's repr ends with its test value, as
    its type holds it."""
    x = T.dscalar("x")
    x.tag.test_value = 42
    with theano.config.change_flags(print_test_value=True):
        assert repr(x) == f"x\n{np.array(42.0)!r}"
    assert repr(x) == "x"
