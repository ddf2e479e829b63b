"""`pp` and `debugprint`: the exact text Theano users expect (seed 004 prints `(2.0 * x)`)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine import debugprint, pp
from theanine.compile.mode import Mode
from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph
from theanine.graph.op import Op

x = T.dscalar("x")
y = T.dscalar("y")


class SplitSign(Op):
    """Two outputs: (max(x, 0), min(x, 0))."""

    def make_node(self, v):
        v = T.as_tensor_variable(v)
        return Apply(self, [v], [v.type(), v.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.maximum(inputs[0], 0)
        output_storage[1][0] = np.minimum(inputs[0], 0)


# pp -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("build", "expected"), [
    (lambda: x + y, "(x + y)"),
    (lambda: x * 2, "(x * 2.0)"),
    (lambda: 2.0 * x, "(2.0 * x)"),
    (lambda: x - y, "(x - y)"),
    (lambda: x / y, "(x / y)"),
    (lambda: x ** 2, "(x ** 2.0)"),
    (lambda: -x, "-x"),
    (lambda: T.exp(x), "exp(x)"),
    (lambda: T.exp(x + y), "exp((x + y))"),
    (lambda: T.log(1 - x), "log((1.0 - x))"),
    (lambda: (x + y) * x, "((x + y) * x)"),
    (lambda: x + y * x, "(x + (y * x))"),
    (lambda: x - (y - x), "(x - (y - x))"),
    (lambda: (x - y) - x, "((x - y) - x)"),
    (lambda: -(x + y), "-(x + y)"),
    (lambda: -T.exp(x), "-exp(x)"),
    (lambda: T.neg(-x), "-(-x)"),
    (lambda: (-x) ** 2, "((-x) ** 2.0)"),
    (lambda: -(x ** 2), "-(x ** 2.0)"),
    (lambda: -x * y, "(-x * y)"),
    (lambda: x > y, "(x > y)"),
    (lambda: T.maximum(x, 0), "maximum(x, 0.0)"),
    (lambda: T.exp(x) * T.exp(x) + 1, "((exp(x) * exp(x)) + 1.0)"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_pp_infix(build, expected):
    assert pp(build()) == expected


def test_pp_seed_004_target_built_by_hand():
    x = T.dscalar("x")
    assert pp(2.0 * x) == "(2.0 * x)"
    assert pp(T.mul(T.constant(2.0, dtype="float64"), x)) == "(2.0 * x)"


def test_pp_constants_print_their_value():
    a = T.fscalar("a")
    assert pp(T.constant(0.1, dtype="float32") * a) == "(0.1 * a)"  # not 0.10000000149011612
    i = T.iscalar("i")
    assert pp(i * 2) == "(i * 2)"
    v = T.dvector("v")
    assert pp(v + np.array([1.0, 2.0])) == "(v + TensorConstant{[1., 2.]})"
    assert pp(T.constant(3.5, name="c") * x) == "(c * x)"


def test_pp_names_win_over_structure():
    s = x + y
    s.name = "s"
    assert pp(s * s) == "(s * s)"
    assert pp(s) == "s"


def test_pp_unnamed_input_shows_its_type():
    assert pp(T.dmatrix() + 1) == "(<TensorType(float64, matrix)> + 1.0)"


def test_pp_broadcasting_is_invisible_and_transpose_is_dot_t():
    m, v = T.dmatrix("m"), T.dvector("v")
    assert pp(m + v) == "(m + v)"
    assert pp(m.T) == "m.T"
    assert pp((m + 1).T) == "(m + 1.0).T"
    t = T.dtensor3("t")
    assert pp(t.dimshuffle(2, 0, 1)) == "DimShuffle{2,0,1}(t)"


def test_pp_multi_output_and_other_ops():
    v = T.dvector("v")
    pos, neg = SplitSign()(v)
    assert pp(pos - neg) == "(SplitSign(v).0 - SplitSign(v).1)"
    assert pp(T.dot(v, v) + 1) == "(Dot(v, v) + 1.0)"


def test_pp_of_a_compiled_function_prints_its_outputs():
    f = theanine.function([x, y], [x + y, T.exp(x)], mode=Mode(optimizer=None))
    assert pp(f) == "(x + y)\nexp(x)"


def test_pp_deep_graph_needs_no_recursion():
    z = x
    for _ in range(3000):
        z = z + 1
    text = pp(z)
    assert text.startswith("(" * 3000 + "x + 1.0)")
    assert text.endswith(" + 1.0)")


def test_pp_rejects_non_variables():
    with pytest.raises(TypeError, match="pp expects a symbolic variable or a compiled function, "
                                        "got ndarray"):
        pp(np.ones(2))


# debugprint ---------------------------------------------------------------------------------
def _shared_subexpression():
    z = x + y
    z.name = "z"
    return z * z + x


def test_debugprint_format_and_repeated_nodes():
    text = debugprint(_shared_subexpression(), file="str")
    assert text == "\n".join([
        "Elemwise{add,no_inplace} [id A] ''",
        " |Elemwise{mul,no_inplace} [id B] ''",
        " | |Elemwise{add,no_inplace} [id C] 'z'",
        " | | |x [id D]",
        " | | |y [id E]",
        " | |Elemwise{add,no_inplace} [id C] 'z'",
        " |x [id D]",
    ])


def test_debugprint_prints_to_file_or_stdout_and_returns_the_file(capsys):
    """Theano's contract: the text for file='str', else `file` (None for stdout: a REPL
    must not echo the graph twice)."""
    buf = io.StringIO()
    text = "Elemwise{mul,no_inplace} [id A] ''\n |x [id B]\n |TensorConstant{2.0} [id C]"
    assert debugprint(x * 2.0, file=buf) is buf
    assert buf.getvalue() == text + "\n"
    assert capsys.readouterr().out == ""
    assert debugprint(x * 2.0) is None
    assert capsys.readouterr().out == text + "\n"
    debugprint(x * 2.0, file="str")
    assert capsys.readouterr().out == ""


def test_debugprint_print_type():
    m, v = T.dmatrix("m"), T.dvector("v")
    text = debugprint(m.sum(axis=0) + v, file="str", print_type=True)
    lines = text.splitlines()
    assert lines[0] == "Elemwise{add,no_inplace} [id A] <TensorType(float64, vector)> ''"
    assert lines[1].startswith(" |Sum") and lines[1].endswith(
        "[id B] <TensorType(float64, vector)> ''")
    assert lines[2:] == [" | |m [id C] <TensorType(float64, matrix)>",
                         " |v [id D] <TensorType(float64, vector)>"]


def test_debugprint_several_outputs_share_ids():
    z = x + y
    text = debugprint([z * 2.0, T.exp(z)], file="str")
    assert text == "\n".join([
        "Elemwise{mul,no_inplace} [id A] ''",
        " |Elemwise{add,no_inplace} [id B] ''",
        " | |x [id C]",
        " | |y [id D]",
        " |TensorConstant{2.0} [id E]",
        "Elemwise{exp,no_inplace} [id F] ''",
        " |Elemwise{add,no_inplace} [id B] ''",
    ])


def test_debugprint_multi_output_node():
    v = T.dvector("v")
    pos, neg = SplitSign()(v)
    text = debugprint(pos - neg, file="str")
    assert text == "\n".join([
        "Elemwise{sub,no_inplace} [id A] ''",
        " |SplitSign.0 [id B] ''",
        " | |v [id C]",
        " |SplitSign.1 [id B] ''",
    ])
    assert debugprint(pos.owner, file="str") == "\n".join([
        "SplitSign.0 [id A] ''", " |v [id B]", "SplitSign.1 [id A] ''"])


def test_debugprint_compiled_function_shows_execution_order():
    f = theanine.function([x, y], _shared_subexpression(), mode=Mode(optimizer=None))
    fg_inputs = f.maker.fgraph.inputs
    assert [v.name for v in fg_inputs] == ["x", "y"]
    text = debugprint(f, file="str")
    assert text == "\n".join([
        "Elemwise{add,no_inplace} [id A] ''   2",
        " |Elemwise{mul,no_inplace} [id B] ''   1",
        " | |Elemwise{add,no_inplace} [id C] 'z'   0",
        " | | |x [id D]",
        " | | |y [id E]",
        " | |Elemwise{add,no_inplace} [id C] 'z'   0",
        " |x [id D]",
    ])
    assert debugprint(f.maker.fgraph, file="str") == text.replace("   2", "").replace(
        "   1", "").replace("   0", "")


def test_debugprint_of_a_function_graph():
    v = T.dvector("v")
    fg = FunctionGraph([v], [T.exp(v)], clone=False)
    assert debugprint(fg, file="str") == "Elemwise{exp,no_inplace} [id A] ''\n |v [id B]"


def test_debugprint_deep_graph_and_labels_beyond_z():
    z = x
    for k in range(30):
        z = z + float(k)
    lines = debugprint(z, file="str").splitlines()
    assert len(lines) == 61
    assert lines[30] == " |" * 30 + "x [id AE]"  # 30 add nodes take A..Z, AA..AD
    assert lines[-1] == " |TensorConstant{29.0} [id BI]"
    deep = x
    for _ in range(3000):
        deep = T.exp(deep)
    assert len(debugprint(deep, file="str").splitlines()) == 3001


def test_debugprint_rejects_non_variables():
    with pytest.raises(TypeError, match="debugprint expects symbolic variables"):
        debugprint([x, 3.0], file="str")


def test_printing_distinguishes_index_from_slice():
    v = T.dvector("v")
    assert pp(v[1]) != pp(v[1:])
    assert debugprint(v[1], file="str") != debugprint(v[1:], file="str")
