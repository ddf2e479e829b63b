"""The graph IR: variables, constants, Apply nodes, Op identity, graph walks, cloning and the
mutable FunctionGraph with its listener bus."""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.graph import (
    Apply,
    Constant,
    FunctionGraph,
    Op,
    Variable,
    ancestors,
    clone_graph,
    clone_replace,
    graph_inputs,
    io_toposort,
)
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.type import TensorType


class Scale(Op):
    """y = factor * x; `factor` is its identity."""

    __props__ = ("factor",)

    def __init__(self, factor: float):
        self.factor = factor

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self.factor * inputs[0]


class Shift(Op):
    """Same props as Scale, different meaning: must never compare equal to it."""

    __props__ = ("factor",)

    def __init__(self, factor: float):
        self.factor = factor


class SplitSign(Op):
    """Two outputs: (max(x, 0), min(x, 0))."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.maximum(inputs[0], 0)
        output_storage[1][0] = np.minimum(inputs[0], 0)


class Recorder:
    """A FunctionGraph feature that records every event it is told about."""

    def __init__(self):
        self.events = []

    def on_attach(self, fgraph):
        self.events.append(("attach", fgraph))

    def on_detach(self, fgraph):
        self.events.append(("detach", fgraph))

    def on_import(self, fgraph, node, reason):
        self.events.append(("import", node, reason))

    def on_prune(self, fgraph, node, reason):
        self.events.append(("prune", node, reason))

    def on_change_input(self, fgraph, client, i, old, new, reason):
        self.events.append(("change", client, i, old, new, reason))


def _op_name(node) -> str:
    op = node.op
    return op.scalar_op.name if isinstance(op, Elemwise) else type(op).__name__


def _assert_topological(nodes):
    position = {node: k for k, node in enumerate(nodes)}
    assert len(position) == len(nodes), "a node appears twice"
    for node in nodes:
        for inp in node.inputs:
            if inp.owner in position:
                assert position[inp.owner] < position[node], f"{inp.owner} after {node}"


# Variables, constants, Apply ----------------------------------------------------------------
def test_variable_basics():
    t = TensorType("float64", (False,))
    v = Variable(t, name="v")
    assert (v.type, v.owner, v.index, v.name) == (t, None, None, "v")
    assert str(v) == "v"
    assert str(Variable(t)) == "<TensorType(float64, vector)>"
    c = v.clone()
    assert c is not v and c.type == t and c.name == "v" and c.owner is None


def test_apply_sets_owner_and_index():
    x = T.dvector("x")
    node = SplitSign().make_node(x)
    assert node.inputs == [x]
    assert [o.owner for o in node.outputs] == [node, node]
    assert [o.index for o in node.outputs] == [0, 1]
    with pytest.raises(AttributeError, match="SplitSign has 2 outputs; use .outputs"):
        node.out  # noqa: B018
    single = Scale(2.0).make_node(x)
    assert single.out is single.outputs[0]
    assert str(single.out) == "Scale{2.0}.0"
    assert str(node.outputs[1]) == "SplitSign.1"


def test_apply_refuses_an_output_that_already_has_an_owner():
    x = T.dvector("x")
    y = x * 2
    with pytest.raises(ValueError, match="already has an owner"):
        Apply(Scale(1.0), [x], [y])


def test_constant_filters_its_data_and_merges_by_value():
    a = T.constant(np.array([1, 2, 3]), dtype="float64")
    b = T.constant([1.0, 2.0, 3.0], dtype="float64")
    assert isinstance(a, Constant)
    assert a.data.dtype == np.float64 and a.owner is None
    assert a.signature() == b.signature()
    assert a.signature() != T.constant([1.0, 2.0, 4.0], dtype="float64").signature()
    assert a.clone() is a
    assert str(T.constant(2.0, dtype="float64")) == "TensorConstant{2.0}"
    assert str(T.constant(2.0, name="two")) == "two"


def test_op_call_returns_outputs():
    x = T.dvector("x")
    y = Scale(3.0)(x)
    assert isinstance(y, Variable) and isinstance(y.owner.op, Scale)
    pos, neg = SplitSign()(x)
    assert pos.owner is neg.owner and (pos.index, neg.index) == (0, 1)


# Op identity --------------------------------------------------------------------------------
def test_op_identity_comes_from_class_and_props():
    assert Scale(2.0) == Scale(2.0)
    assert hash(Scale(2.0)) == hash(Scale(2.0))
    assert Scale(2.0) != Scale(3.0)
    assert Scale(2.0) != Shift(2.0)
    assert len({Scale(2.0), Scale(2.0), Scale(3.0), Shift(2.0)}) == 3
    assert str(Scale(2.0)) == "Scale{2.0}"
    assert str(SplitSign()) == "SplitSign"
    assert SplitSign() == SplitSign()


def test_tensor_op_identity():
    x = T.dvector("x")
    y = T.dvector("y")
    add1, add2, mul = (x + y).owner.op, (y + x).owner.op, (x * y).owner.op
    assert add1 == add2 and hash(add1) == hash(add2)
    assert add1 != mul
    assert DimShuffle((False,), ("x", 0)) == DimShuffle((False,), ("x", 0))
    assert DimShuffle((False,), ("x", 0)) != DimShuffle((False,), (0, "x"))


# Graph walks --------------------------------------------------------------------------------
def test_ancestors_and_graph_inputs():
    x, y, w = T.dvector("x"), T.dvector("y"), T.dvector("w")
    s = x + y
    z = T.exp(s) * x
    anc = ancestors([z])
    assert set(anc) == {z, z.owner.inputs[0], s, x, y}
    assert anc[0] is z
    assert set(graph_inputs([z])) == {x, y}
    assert set(graph_inputs([z], blockers=[s])) == {s, x}
    assert w not in anc
    c = T.constant(1.0, dtype="float64")
    assert c in graph_inputs([x + c])


def test_io_toposort_orders_nodes_after_their_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    pos, neg = SplitSign()(x - y)
    a = T.exp(pos)
    b = a * neg + a
    c = T.log(b) + pos - neg
    nodes = io_toposort([x, y], [c, b])
    _assert_topological(nodes)
    assert len(nodes) == len({v.owner for v in ancestors([c, b]) if v.owner is not None})
    assert sum(isinstance(n.op, SplitSign) for n in nodes) == 1


def test_io_toposort_stops_at_the_given_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    s = x + y
    z = T.exp(s)
    assert [_op_name(n) for n in io_toposort([s], [z])] == ["exp"]
    assert [_op_name(n) for n in io_toposort([x, y], [z])] == ["add", "exp"]


@pytest.mark.parametrize("seed", range(5))
def test_io_toposort_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    pool = [T.dvector(f"in{k}") for k in range(3)]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b]
    for _ in range(40):
        if rng.random() < 0.3:
            pool.append(T.exp(pool[rng.integers(len(pool))]))
        else:
            i, j = rng.integers(len(pool), size=2)
            pool.append(binary[rng.integers(3)](pool[i], pool[j]))
    outputs = [pool[-1], pool[-7]]
    nodes = io_toposort(pool[:3], outputs)
    _assert_topological(nodes)
    expected = {v.owner for v in ancestors(outputs) if v.owner is not None}
    assert set(nodes) == expected


# Cloning ------------------------------------------------------------------------------------
def test_clone_replace_substitutes_and_leaves_the_original_alone():
    x, y = T.dvector("x"), T.dvector("y")
    z = T.exp(x) + y
    z.name = "z"
    (z2,) = clone_replace([z], {x: y * 2})
    assert z2 is not z and z2.name == "z"
    assert {v for v in graph_inputs([z2]) if not isinstance(v, Constant)} == {y}
    assert set(graph_inputs([z])) == {x, y}
    f = theanine.function([y], z2)
    yv = np.array([0.5, -1.0])
    np.testing.assert_allclose(f(yv), np.exp(yv * 2) + yv)


def test_clone_replace_keeps_untouched_subgraphs_and_checks_types():
    x, y = T.dvector("x"), T.dvector("y")
    shared_part = T.exp(y)
    z = shared_part * x
    (z2,) = clone_replace([z], {x: T.dvector("x2")})
    assert z2.owner.inputs[0] is shared_part
    with pytest.raises(TypeError, match="cannot replace input x of type "
                                        r"TensorType\(float64, vector\) with x32"):
        clone_replace([z], {x: T.fvector("x32")})


def test_clone_graph_copies_structure_without_make_node(monkeypatch):
    x, y = T.dvector("x"), T.dvector("y")
    pos, neg = SplitSign()(x * y)
    out = pos + neg
    monkeypatch.setattr(SplitSign, "make_node", lambda *a: pytest.fail("make_node called"))
    (x2, y2), (out2,), equiv = clone_graph([x, y], [out])
    assert equiv[x] is x2 and equiv[y] is y2 and equiv[out] is out2
    assert x2 is not x and x2.name == "x" and x2.type == x.type
    old_nodes, new_nodes = io_toposort([x, y], [out]), io_toposort([x2, y2], [out2])
    assert [n.op for n in old_nodes] == [n.op for n in new_nodes]
    assert not set(old_nodes) & set(new_nodes)
    assert set(graph_inputs([out2])) == {x2, y2}
    assert equiv[pos].owner is equiv[neg].owner  # multi-output node copied once
    assert set(graph_inputs([out])) == {x, y}  # original untouched


# FunctionGraph ------------------------------------------------------------------------------
def _sample_fgraph(**kwargs):
    x, y = T.dvector("x"), T.dvector("y")
    z = T.exp(x + y) * x
    return FunctionGraph([x, y], [z], **kwargs), (x, y, z)


def test_fgraph_clones_by_default_and_tracks_clients():
    fg, (x, y, z) = _sample_fgraph()
    xi, yi = fg.inputs
    assert xi is not x and fg.equiv[x] is xi and fg.equiv[z] is fg.outputs[0]
    mul = fg.outputs[0].owner
    exp_out = mul.inputs[0]
    add = exp_out.owner.inputs[0].owner
    assert sorted((_op_name(n), i) for n, i in fg.clients[xi]) == [("add", 0), ("mul", 1)]
    assert fg.clients[yi] == [(add, 1)]
    assert fg.clients[exp_out] == [(mul, 0)]
    assert fg.clients[fg.outputs[0]] == [("output", 0)]
    assert fg.apply_nodes == {mul, exp_out.owner, add}
    assert [_op_name(n) for n in fg.toposort()] == ["add", "exp", "mul"]


def test_fgraph_without_clone_uses_the_given_variables():
    fg, (x, y, z) = _sample_fgraph(clone=False)
    assert fg.inputs == [x, y] and fg.outputs == [z]


def test_replace_rewires_clients_prunes_dead_nodes_and_tells_features():
    fg, _ = _sample_fgraph()
    rec = Recorder()
    fg.attach_feature(rec)
    assert rec.events == [("attach", fg)]
    xi, yi = fg.inputs
    mul = fg.outputs[0].owner
    exp_out = mul.inputs[0]
    exp_node, add_node = exp_out.owner, exp_out.owner.inputs[0].owner
    new = xi - yi
    fg.replace(exp_out, new, reason="test:exp_to_sub")

    assert mul.inputs[0] is new
    assert fg.apply_nodes == {mul, new.owner}
    assert exp_out not in fg.clients and exp_out not in fg.variables
    assert fg.clients[new] == [(mul, 0)]
    assert sorted((_op_name(n), i) for n, i in fg.clients[xi]) == [("mul", 1), ("sub", 0)]
    assert fg.clients[yi] == [(new.owner, 1)]
    assert rec.events[1:] == [
        ("import", new.owner, "test:exp_to_sub"),
        ("change", mul, 0, exp_out, new, "test:exp_to_sub"),
        ("prune", exp_node, "test:exp_to_sub"),
        ("prune", add_node, "test:exp_to_sub"),
    ]
    fg.remove_feature(rec)
    assert rec.events[-1] == ("detach", fg)


def test_replace_an_output():
    fg, _ = _sample_fgraph()
    rec = Recorder()
    fg.attach_feature(rec)
    xi, yi = fg.inputs
    old = fg.outputs[0]
    new = xi + yi  # a fresh add node, equal to the one inside
    fg.replace(old, new, reason="r")
    assert fg.outputs == [new]
    assert fg.clients[new] == [("output", 0)]
    assert [_op_name(n) for n in fg.toposort()] == ["add"]
    assert ("change", "output", 0, old, new, "r") in rec.events
    assert [_op_name(e[1]) for e in rec.events if e[0] == "prune"] == ["mul", "exp", "add"]


def test_partially_used_multi_output_node_is_kept():
    x = T.dvector("x")
    pos, neg = SplitSign()(x)
    fg = FunctionGraph([x], [pos * neg, neg], clone=False)
    split = pos.owner
    fg.replace(fg.outputs[0], neg * 2, reason="r")
    assert split in fg.apply_nodes  # neg still feeds an output
    assert fg.clients[pos] == []
    fg.replace(fg.outputs[1], x, reason="r")
    assert split not in fg.apply_nodes and neg not in fg.variables


def test_replace_with_incompatible_type_raises():
    fg, _ = _sample_fgraph()
    xi = fg.inputs[0]
    with pytest.raises(TypeError, match=r"cannot replace x \(TensorType\(float64, vector\)\) with "
                                        r"f \(TensorType\(float32, vector\)\), reason: bad"):
        fg.replace(xi, T.fvector("f"), reason="bad")
    with pytest.raises(TypeError, match="cannot replace"):
        fg.replace(xi, T.dmatrix("m"))
    assert fg.inputs[0] is xi


def test_replace_with_broadcastable_variable_is_allowed():
    x = T.dmatrix("x")
    row = T.drow("r")
    fg = FunctionGraph([x, row], [T.exp(x)], clone=False)
    fg.replace(x, row, reason="r")
    assert fg.outputs[0].owner.inputs[0] is row
    assert fg.clients[row] == [(fg.outputs[0].owner, 0)]
    assert fg.clients[x] == []


def test_output_needing_a_missing_input_raises_naming_it():
    x, w = T.dvector("x"), T.dvector("w")
    with pytest.raises(ValueError, match="variable w is needed to compute .* but is not an input"):
        FunctionGraph([x], [T.exp(x + w)])
    with pytest.raises(ValueError, match="output w is not computable from the inputs"):
        FunctionGraph([x], [w])


def test_constants_need_no_input():
    x = T.dvector("x")
    c = T.constant([2.0, 3.0], dtype="float64")
    fg = FunctionGraph([x], [x * c, c], clone=False)
    assert fg.outputs[1] is c
    assert (fg.outputs[0].owner, 1) in fg.clients[c]


def test_replace_with_a_variable_needing_a_missing_input_raises():
    fg, _ = _sample_fgraph()
    xi = fg.inputs[0]
    stranger = T.dvector("stranger")
    with pytest.raises(ValueError, match="variable stranger is needed"):
        fg.replace(fg.outputs[0].owner.inputs[0], T.exp(xi + stranger), reason="bad")


def test_failed_replace_leaves_the_graph_unchanged():
    fg, _ = _sample_fgraph()
    xi = fg.inputs[0]
    mul = fg.outputs[0].owner
    before_inputs, before_nodes = list(mul.inputs), set(fg.apply_nodes)
    with pytest.raises(ValueError):
        fg.replace(mul.inputs[0], T.exp(xi + T.dvector("stranger")), reason="bad")
    assert mul.inputs == before_inputs
    assert fg.apply_nodes == before_nodes


def test_fgraph_clone_is_independent():
    fg, _ = _sample_fgraph()
    fg2 = fg.clone()
    assert not fg.apply_nodes & fg2.apply_nodes
    xi, yi = fg2.inputs
    fg2.replace(fg2.outputs[0], xi + yi, reason="r")
    assert len(fg.apply_nodes) == 3 and len(fg2.apply_nodes) == 1
