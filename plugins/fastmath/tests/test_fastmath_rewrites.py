"""The substitutions fire only when included (by tag, by name, through the config flag or a
Mode), `theanine.explain` shows them, and what they produce fuses and runs natively."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from theanine_fastmath import ERROR_BOUNDS, REWRITE_NAMES

import theanine
import theanine.tensor as T
from theanine.config import config
from theanine.plugins import get_registry
from theanine.tensor.elemwise import Elemwise

VALUES = np.linspace(0.05, 6.0, 101, dtype=np.float32)


def _graph(x):
    return T.exp(-x) + T.tanh(x) * T.nnet.sigmoid(x) + T.log(x)


def _exact(v):
    v = v.astype(np.float64)
    return np.exp(-v) + np.tanh(v) / (1 + np.exp(-v)) + np.log(v)


def _fired(f) -> set[str]:
    explained = theanine.explain(f)
    return {name for name in REWRITE_NAMES if f"fastmath:{name}:" in explained}


def test_registered_opt_in_only():
    regs = {r.name: r for r in get_registry().rewrites if r.plugin == "fastmath"}
    assert set(regs) == set(REWRITE_NAMES)
    for reg in regs.values():
        assert reg.opt_in and "fast_run" not in reg.tags and "fast_compile" not in reg.tags
        assert reg.stage == "fusion" and reg.position < 0  # before fusion itself


def test_nothing_fires_by_default(theanine_backend):
    x = T.fvector("x")
    f = theanine.function([x], _graph(x))
    assert _fired(f) == set()
    assert "fastmath" not in theanine.explain(f)
    np.testing.assert_allclose(f(VALUES), _exact(VALUES), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("how", ["mode", "flag", "mode.including"])
def test_tag_turns_them_on(theanine_backend, how):
    x = T.fvector("x")
    if how == "flag":
        with config.change_flags(optimizer_including=("fastmath",)):
            f = theanine.function([x], _graph(x))
    elif how == "mode":
        f = theanine.function([x], _graph(x), mode=theanine.Mode(including=("fastmath",)))
    else:
        f = theanine.function([x], _graph(x), mode=theanine.Mode().including("fastmath"))
    assert _fired(f) == {"local_fast_exp", "local_fast_log", "local_fast_tanh",
                         "local_ultra_fast_sigmoid"}
    got, exact = f(VALUES), _exact(VALUES)
    # four approximations added up: the sum of their bounds (sigmoid's is scaled by tanh <= 1)
    allowed = ERROR_BOUNDS["ultra_fast_sigmoid"].absolute + 1e-5 * np.abs(exact) + 1e-5
    assert np.all(np.abs(got - exact) <= allowed)
    assert not np.allclose(got, exact, rtol=1e-6)  # it really is the approximation


def test_one_fused_native_kernel(theanine_backend):
    x = T.fvector("x")
    f = theanine.function([x], _graph(x), mode=theanine.Mode(including=("fastmath",)))
    elemwise = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Elemwise)]
    assert len(elemwise) == 1, elemwise
    # the approximations' constants are folded (constant_folding_before_fusion), not
    # broadcast by a DimShuffle at every call
    assert len(f.maker.fgraph.apply_nodes) == 1, list(f.maker.fgraph.apply_nodes)
    report = getattr(f.maker.program, "report", None)
    if theanine_backend == "c":
        assert report.how(elemwise[0]) == "native", report.summary()


@pytest.mark.parametrize("name, scalar", [("local_fast_exp", "exp"),
                                          ("local_fast_log", "log"),
                                          ("local_fast_tanh", "tanh"),
                                          ("local_ultra_fast_sigmoid", "sigmoid"),
                                          ("local_hard_sigmoid", "sigmoid")])
def test_by_name_only_that_one(name, scalar):
    x = T.fvector("x")
    f = theanine.function([x], _graph(x), mode=theanine.Mode(including=(name,)))
    assert _fired(f) == {name}


def test_hard_sigmoid_is_by_name_and_wins_over_the_tag():
    x = T.fvector("x")
    y = T.nnet.sigmoid(x)
    tagged = theanine.function([x], y, mode=theanine.Mode(including=("fastmath",)))
    assert _fired(tagged) == {"local_ultra_fast_sigmoid"}
    both = theanine.function([x], y, mode=theanine.Mode(
        including=("fastmath", "local_hard_sigmoid")))
    assert _fired(both) == {"local_hard_sigmoid"}
    v = np.array([-3.0, 0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    np.testing.assert_allclose(both(v), np.clip(0.2 * v + 0.5, 0, 1), rtol=1e-6)


def test_excluding_wins():
    x = T.fvector("x")
    f = theanine.function([x], _graph(x), mode=theanine.Mode(
        including=("fastmath",), excluding=("local_fast_log",)))
    assert _fired(f) == {"local_fast_exp", "local_fast_tanh", "local_ultra_fast_sigmoid"}


def test_dtypes_left_alone():
    """exp/log/tanh only for float32; sigmoid for every float (in its own dtype)."""
    d = T.dvector("d")
    f = theanine.function([d], _graph(d), mode=theanine.Mode(including=("fastmath",)))
    assert _fired(f) == {"local_ultra_fast_sigmoid"}
    assert f.maker.fgraph.outputs[0].dtype == "float64"
    i = T.ivector("i")
    g = theanine.function([i], T.nnet.sigmoid(i), mode=theanine.Mode(including=("fastmath",)))
    assert _fired(g) == set()  # int32 -> float64: not a same-dtype substitution


def test_pickled_function_keeps_the_approximation(tmp_path):
    x = T.fvector("x")
    f = theanine.function([x], _graph(x), mode=theanine.Mode(including=("fastmath",)))
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(VALUES), f(VALUES))
