"""Issue 9: merging around in-place nodes, error types kept through the node-context re-raise,
and errors in fused nodes naming the user's expression."""

from __future__ import annotations

import errno

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine import function
from theanine.compile.mode import Mode
from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph
from theanine.graph.op import Op
from theanine.link.python import NodeError, PythonBackend
from theanine.printing import pp
from theanine.rewriting.inplace import DestroyHandler
from theanine.rewriting.merge import MergeRewriter
from theanine.scalar import basic as scalar
from theanine.scalar.composite import Composite
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.elemwise import Elemwise


def _destroyers(fgraph):
    return [n for n in fgraph.apply_nodes if n.op.destroy_map]


def _assert_destroyed_values_have_one_reader(fgraph):
    for node in _destroyers(fgraph):
        for ins in node.op.destroy_map.values():
            for i in ins:
                assert fgraph.clients[node.inputs[i]] == [(node, i)], node


# Defect 2: merging after in-place ---------------------------------------------------------
def _concat_grad_function(excluding=()):
    x = T.dmatrix("x")
    a, b, c = T.dvector("a"), T.dvector("b"), T.dvector("c")
    inner = T.concatenate([a, x.flatten(), a])
    cost = T.sum(T.concatenate([b, inner, b]) * c)
    return function([x, a, b, c], theanine.grad(cost, x), mode=Mode(excluding=excluding))


def _concat_grad_reference(xv, av, bv, cv):
    """d/dx sum(concat([b, a, x.ravel(), a, b]) * c) = the slice of c facing x."""
    start = len(bv) + len(av)
    return cv[start:start + xv.size].reshape(xv.shape)


@pytest.mark.parametrize("excluding", [(), ("merge_before_inplace",)],
                         ids=["default", "final_merge_alone"])
def test_gradient_through_nested_concatenate(excluding, rng):
    f = _concat_grad_function(excluding)
    for shape, na, nb in [((2, 3), 2, 4), ((3, 1), 1, 2), ((1, 5), 3, 1)]:
        xv, av, bv = rng.random(shape), rng.random(na), rng.random(nb)
        cv = rng.random(2 * nb + 2 * na + xv.size)
        np.testing.assert_allclose(f(xv, av, bv, cv), _concat_grad_reference(xv, av, bv, cv))
    fgraph = f.maker.fgraph
    DestroyHandler().validate(fgraph)
    _assert_destroyed_values_have_one_reader(fgraph)


def _duplicated_exp(inplace: bool):
    """exp(v) built twice; one copy feeds `+ y`, the other `* y`, in place or not."""
    v, y = T.dvector("v"), T.dvector("y")
    pattern = ((0, 0),) if inplace else ()
    return [v, y], [Elemwise(scalar.add, pattern)(T.exp(v), y),
                    Elemwise(scalar.mul, pattern)(T.exp(v), y)]


def _exp_nodes(fgraph):
    return [n for n in fgraph.apply_nodes if n.op == T.exp(T.dvector()).owner.op]


@pytest.mark.parametrize("inplace", [False, True])
def test_merge_leaves_overwritten_duplicates_apart(inplace, rng):
    inputs, outputs = _duplicated_exp(inplace)
    fgraph = FunctionGraph(inputs, outputs)
    MergeRewriter().apply(fgraph)
    # each overwritten copy must keep its only reader; plain copies become one
    assert len(_exp_nodes(fgraph)) == (2 if inplace else 1)
    _assert_destroyed_values_have_one_reader(fgraph)
    vv, yv = rng.random(5), rng.random(5)
    got = PythonBackend().link(fgraph)(vv, yv)
    np.testing.assert_allclose(got[0], np.exp(vv) + yv)
    np.testing.assert_allclose(got[1], np.exp(vv) * yv)


def test_merge_before_inplace_lets_inplace_decide_on_the_merged_graph(rng):
    inputs, outputs = _duplicated_exp(inplace=False)
    mode = Mode(optimizer=None, including=("merge_before_inplace", "inplace_elemwise"))
    f = function(inputs, outputs, mode=mode)
    fgraph = f.maker.fgraph
    # merged before inplace: the one exp result has two readers, so neither overwrites it
    assert len(_exp_nodes(fgraph)) == 1
    assert _destroyers(fgraph) == []
    vv, yv = rng.random(4), rng.random(4)
    got = f(vv, yv)
    np.testing.assert_allclose(got[0], np.exp(vv) + yv)
    np.testing.assert_allclose(got[1], np.exp(vv) * yv)


# Defect 7: the re-raise keeps the exception's type ----------------------------------------
class Raises(Op):
    """Identity whose perform raises the exception a test gives it."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        raise self.exc


def _call_raising(exc):
    x = T.dvector("x")
    f = function([x], Raises(exc)(x) * 2.0)
    return f, lambda: f(np.ones(3))


class NeedsTwoArgs(Exception):
    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")
        self.code = code
        self.detail = detail


class KeywordOnlyNew(Exception):
    """An exception whose __new__ cannot be called with its own args."""

    def __new__(cls, *, code):
        self = super().__new__(cls)
        self.code = code
        return self

    def __init__(self, *, code):
        super().__init__(f"code {code}")


def test_error_with_required_constructor_args_keeps_type_fields_and_gets_context():
    original = NeedsTwoArgs(7, "bad thing")
    _, call = _call_raising(original)
    with pytest.raises(NeedsTwoArgs) as info:
        call()
    err = info.value
    assert isinstance(err, NodeError)
    assert type(err).__name__ == "NeedsTwoArgs"
    assert (err.code, err.detail, err.args) == (7, "bad thing", original.args)
    text = str(err)
    assert text.startswith("code 7: bad thing")
    assert "while computing Raises(x)" in text
    assert "input x: expected TensorType(float64, vector), got float64 array of shape (3,)" \
        in text
    assert err.__cause__ is original


def test_oserror_subclass_keeps_errno_and_filename():
    original = FileNotFoundError(errno.ENOENT, "no such file", "weights.npy")
    _, call = _call_raising(original)
    with pytest.raises(FileNotFoundError) as info:
        call()
    err = info.value
    assert (err.errno, err.strerror, err.filename) == (errno.ENOENT, "no such file",
                                                       "weights.npy")
    assert "while computing Raises(x)" in str(err)


@pytest.mark.parametrize("original", [
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ImportError("no module", name="mod", path="/x/mod.py"),
    StopIteration(42),
], ids=["unicode", "import", "stop_iteration"])
def test_builtin_exception_fields_survive(original):
    fields = [f for f in ("encoding", "object", "start", "end", "reason", "name", "path",
                          "value") if hasattr(original, f)]
    _, call = _call_raising(original)
    with pytest.raises(type(original)) as info:
        call()
    err = info.value
    assert err is not original and isinstance(err, NodeError)
    assert [getattr(err, f) for f in fields] == [getattr(original, f) for f in fields]
    assert "while computing Raises(x)" in str(err)


def test_key_error_keeps_its_key():
    _, call = _call_raising(KeyError("missing"))
    with pytest.raises(KeyError) as info:
        call()
    assert info.value.args == ("missing",)
    assert "while computing Raises(x)" in str(info.value)


def test_memory_error_is_reraised_as_is_with_a_note():
    original = MemoryError("cannot allocate")
    _, call = _call_raising(original)
    with pytest.raises(MemoryError) as info:
        call()
    assert info.value is original
    assert any("while computing Raises(x)" in note for note in original.__notes__)


def test_keyboard_interrupt_is_not_touched():
    original = KeyboardInterrupt()
    _, call = _call_raising(original)
    with pytest.raises(KeyboardInterrupt) as info:
        call()
    assert info.value is original
    assert not hasattr(original, "__notes__") and not hasattr(original, "node")


def test_exception_that_cannot_be_rebuilt_gets_the_context_as_a_note():
    original = KeywordOnlyNew(code=5)
    _, call = _call_raising(original)
    with pytest.raises(KeywordOnlyNew) as info:
        call()
    assert info.value is original and info.value.code == 5
    assert any("while computing Raises(x)" in note for note in original.__notes__)


def test_node_context_is_added_once_through_nested_programs():
    original = ValueError("inner failure")
    x = T.dvector("x")
    out, _ = theanine.scan(lambda v: Raises(original)(v) * 2.0, sequences=[x])
    f = function([x], out)
    with pytest.raises(ValueError) as info:
        f(np.ones(3))
    assert str(info.value).count("while computing Raises(") == 1


# Errors inside fused nodes ---------------------------------------------------------------
def _fused_nodes(f):
    return [n for n in f.maker.fgraph.apply_nodes
            if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


def test_bad_shape_in_fused_node_names_the_expression():
    x, y = T.dvector("x"), T.dvector("y")
    expr = T.log(x) * y
    f = function([x, y], expr)
    assert len(_fused_nodes(f)) == 1
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    text = str(info.value)
    assert f"in {pp(expr)} (fused into one elementwise node)" in text
    assert "Composite" not in text
    assert "input y: expected TensorType(float64, vector), got float64 array of shape (4,)" \
        in text


def test_integer_division_by_zero_in_fused_node_names_the_expression():
    i, j = T.lvector("i"), T.lvector("j")
    expr = (i // j) * 3 + i
    # np.errstate governs NumPy's loops: the Python backend (native loops give NumPy's result,
    # 0, without consulting it)
    f = function([i, j], expr, backend="python")
    assert len(_fused_nodes(f)) == 1
    iv, jv = np.array([4, 9, -7]), np.array([2, 5, 3])
    np.testing.assert_array_equal(f(iv, jv), (iv // jv) * 3 + iv)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError) as info:
        f(iv, np.array([2, 0, 3]))
    text = str(info.value)
    assert f"in {pp(expr)}" in text
    assert "Composite" not in text


def test_fused_node_made_inplace_keeps_the_expression():
    A, v, y = T.dmatrix("A"), T.dvector("v"), T.dvector("y")
    z = T.dot(A, v)
    expr = T.exp(z) * y + z
    f = function([A, v, y], expr)
    fused = _fused_nodes(f)
    assert len(fused) == 1 and fused[0].op.destroy_map  # written into dot's result
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 2)), np.ones(2), np.ones(4))
    text = str(info.value)
    assert f"in {pp(expr)}" in text
    assert "Composite" not in text


def test_fused_expression_text_is_bounded_for_deep_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    deep = x
    for _ in range(40):
        deep = T.sum(deep * 1.5) * x  # each sum stops fusion, so the chain has 40 clusters
    expr = T.log(deep) * y
    f = function([x, y], expr)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    context = [line for line in str(info.value).splitlines() if "fused into" in line]
    assert len(context) == 1
    assert context[0].strip().startswith("in (log(") and len(context[0]) < 300


def test_fused_expression_is_whole_even_when_a_later_cluster_abbreviated_it():
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    u = T.log(x) * y + T.exp(x) * z - T.sqrt(x) * y * z + T.tanh(y) * T.cosh(z) * x
    assert len(pp(u)) > 80  # long enough to be abbreviated where it is an input
    # u is an output and the input of a second cluster, so the two clusters stay apart
    f = function([x, y, z], [u, T.log(u) * y])
    sources = sorted((n.tag["source"] for n in _fused_nodes(f)), key=len)
    assert len(sources) == 2
    assert pp(u) in sources
    assert sources[0].startswith("(log(") and len(sources[0]) < len(pp(u))


def test_same_extent_never_aliases_its_operand():
    """Fuzz seed 2027, graph 68976: SameExtent returned its operand itself, so an in-place add
    on its result overwrote a shape value a slice still read (a gradient of shape (1, 0, 1)
    instead of (1, 2, 1))."""
    x1 = T.TensorType("float64", (False, False, False))("x1")
    x2 = T.TensorType("float32", (True, False, True))("x2")
    g = T.grad(T.sum(T.sqr(T.join(1, x1, x1 + x2))), x2)
    f = function([x1, x2], g)
    got = f(np.zeros((0, 2, 0)), np.ones((1, 2, 1), "float32"))
    np.testing.assert_array_equal(got, np.zeros((1, 2, 1), "float32"))
