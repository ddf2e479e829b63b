"""Errors that point at the user's code: every node remembers the user's line that built it
(`tag["trace"]`), rewrites hand it on to the nodes they build, and a run-time error names it
with the node and its inputs' shapes and dtypes (more at exception_verbosity='high')."""

import inspect
import pickle

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.config import config
from theanine.graph.basic import creation_trace, no_creation_trace
from theanine.link.python import NodeError

HERE = __file__


def _line_of(marker: str) -> int:
    """The line number in this file of the (unique) line that contains `marker`."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    found = [k + 1 for k, text in enumerate(lines) if marker in text and "_line_of" not in text]
    assert len(found) == 1, (marker, found)
    return found[0]


def test_a_runtime_shape_error_names_the_users_line():
    x = T.dvector("x")
    y = T.dvector("y")
    z = x * 2 + y  # the building line
    f = theano.function([x, y], z)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    text = str(info.value)
    assert isinstance(info.value, NodeError)
    assert f"node created at {HERE}:{_line_of('# the building line')} in " \
           "test_a_runtime_shape_error_names_the_users_line: z = x * 2 + y" in text
    assert "float64 array of shape (3,)" in text and "float64 array of shape (4,)" in text
    assert "exception_verbosity='high'" in text
    assert len(text.splitlines()) <= 8  # short by default


def _scaled(v):
    return v * 3.0  # inside a user helper


def test_high_verbosity_shows_every_frame_the_rewrites_and_values():
    x = T.dvector("x")
    y = T.dvector("y")
    z = _scaled(x) - y  # the caller's line
    f = theano.function([x, y], [z, T.exp(x)])
    with config.change_flags(exception_verbosity="high"), pytest.raises(ValueError) as info:
        f(np.arange(3.0), np.ones(2))
    text = str(info.value)
    lines = text.splitlines()
    first = next(k for k, line in enumerate(lines) if line.strip().startswith(HERE))
    # the fused node's trace is the subtraction's: built on the caller's line, and the whole
    # trace (innermost first) follows it up into pytest
    assert lines[first].strip().startswith(f"{HERE}:{_line_of('# the caller')}")
    assert "made by the rewrites" in text
    assert "values in [0.0, 2.0]" in text  # np.arange(3.0)
    assert "exception_verbosity='high' shows" not in text


def test_the_helper_line_is_the_innermost_frame():
    x = T.dvector("x")
    node = _scaled(x).owner
    trace = node.tag["trace"]
    assert trace[0][:2] == (HERE, _line_of("# inside a user helper"))
    assert trace[1][:2] == (HERE, _line_of("node = _scaled(x).owner"))
    assert not any("/theanine/" in frame[0] for frame in trace)  # theanine's frames skipped


def test_traceback_limit_caps_the_frames_and_zero_turns_it_off():
    x = T.dvector("x")
    with config.change_flags({"traceback.limit": 1}):
        assert len(_scaled(x).owner.tag["trace"]) == 1
    with config.change_flags({"traceback.limit": 3}):
        assert len(_scaled(x).owner.tag["trace"]) == 3
    with config.change_flags({"traceback.limit": 0}):
        z = (x + 1) * np.arange(2.0)
    assert "trace" not in z.owner.tag
    f = theano.function([x], z)
    with pytest.raises(ValueError) as info:
        f(np.ones(3))
    assert "node created at" not in str(info.value)
    assert len(creation_trace(-1)) > len(creation_trace(2)) == 2


def test_every_node_of_a_compiled_graph_carries_a_users_line():
    """Rewrites (fusion, inplace, gemm, stabilization) build most nodes of the compiled graph
    while compiling; each gets the line of the node it replaces."""
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(np.zeros(5), name="w")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w)))  # forward
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # loss
    gw = T.grad(xent.mean(), w)  # gradient
    train = theano.function([x, y], xent, updates=[(w, w - 0.1 * gw)])  # update
    wanted = {_line_of(f"# {m}") for m in ("forward", "loss", "gradient", "update")}
    rewritten = 0
    for node in train.maker.fgraph.apply_nodes:
        filename, lineno, _ = node.tag["trace"][0]
        assert filename == HERE and lineno in wanted, node
        rewritten += bool(node.tag.get("provenance"))
    assert rewritten >= 3  # the check covers nodes that rewrites built


def test_a_fused_node_names_the_expression_and_the_line(theanine_backend):
    x = T.dvector("x")
    y = T.dvector("y")
    z = T.log(x) * y + 1  # fused expression
    f = theano.function([x, y], z, backend=theanine_backend)
    nodes = f.maker.fgraph.apply_nodes
    assert any("source" in n.tag for n in nodes)  # fusion happened
    with pytest.raises(Exception) as info:  # noqa: B017 - the backend picks the error type
        f(np.ones(3), np.ones(5))
    text = str(info.value)
    assert "fused into one elementwise node" in text
    assert f"{HERE}:{_line_of('# fused expression')}" in text


def test_nodes_built_while_compiling_record_no_line_of_their_own():
    x = T.dvector("x")
    with no_creation_trace():
        z = x + 1
        with no_creation_trace():
            pass
        w = x - 1
    assert "trace" not in z.owner.tag and "trace" not in w.owner.tag
    assert "trace" in (x * 2).owner.tag


def test_traces_survive_pickling_a_function():
    x = T.dvector("x")
    z = x * 2 + x[:1]  # pickled line
    f = theano.function([x], z)
    g = pickle.loads(pickle.dumps(f))
    with pytest.raises(ValueError) as info:
        g(np.ones(3))  # x[:1] has length 1, not typed broadcastable: no stretching
    assert f"{HERE}:{_line_of('# pickled line')}" in str(info.value)
    lines = {n.tag["trace"][0][1] for n in g.maker.fgraph.apply_nodes}
    assert lines == {_line_of("# pickled line")}
