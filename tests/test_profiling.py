"""Profiling (`function(profile=True)`, `config.profile`, `ProfileMode`): per-node and per-Op
times and calls, the compile-time split, the text summary, the HTML report, printing at exit."""

import io
import itertools
from html.parser import HTMLParser

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.compile import profiling
from theanine.compile.function import Function
from theanine.compile.profiling import ProfileStats
from theanine.config import config


def _logistic_regression_step(profile=True):
    """Seed 004's training step (tests/seeds/test_seed004.py), small weights."""
    rng = np.random.RandomState(0)
    N, feats = 400, 784
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2).astype(np.float64))
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(rng.randn(feats) * 0.01, name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function(inputs=[x, y], outputs=[prediction, xent],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)), profile=profile,
                            name="train")
    return D, train


def test_the_training_step_profile_lists_every_node_and_adds_up_to_the_call_time(monkeypatch):
    # a clock that ticks once per reading: every reading is then counted, and the profile's
    # sums are exact whatever the machine's load (no timing bound in a unit test)
    ticks = itertools.count()
    monkeypatch.setattr(profiling, "_clock", lambda: float(next(ticks)))
    D, train = _logistic_regression_step()
    profile = train.profile
    calls = 35
    for _ in range(calls):
        train(*D)
    nodes = train.maker.fgraph.apply_nodes
    n = len(nodes)
    assert profile.fct_callcount == calls
    # a node is two readings around its thunk, the program two around its nodes, the call
    # two around the program: every node's time is inside the program's, inside the call's
    assert profile.thunk_time == n * calls
    assert profile.vm_call_time == (2 * n + 1) * calls
    assert profile.fct_call_time == (2 * n + 3) * calls

    nodes = train.maker.fgraph.apply_nodes
    rows = profile.node_times()
    assert {r.node for r in rows} == set(nodes)  # every node, with its time and calls
    assert all(r.calls == calls and r.seconds == calls for r in rows)
    assert [r.seconds for r in rows] == sorted((r.seconds for r in rows), reverse=True)
    order = train.maker.fgraph.toposort()
    assert all(order[r.index] is r.node for r in rows)
    out = io.StringIO()
    profile.summary(file=out, n_apply_to_print=len(nodes))
    text = out.getvalue()
    for r in rows:
        assert f"{r.index:4d}   {r.node}" in text


def test_the_slow_node_comes_first_and_groups_add_up(rng):
    a = T.dmatrix("a")
    v = T.dvector("v")
    f = theano.function([a, v], [T.dot(a, a), v + 1], profile=True)
    av, vv = rng.standard_normal((300, 300)), rng.standard_normal(3)
    for _ in range(5):
        f(av, vv)
    profile = f.profile
    rows = profile.node_times()
    assert type(rows[0].node.op).__name__ in ("Dot", "Gemm")  # a 300^3 product vs 3 adds
    assert sum(g.seconds for g in profile.op_times()) == pytest.approx(profile.thunk_time)
    assert sum(g.calls for g in profile.class_times()) == 5 * len(rows)
    assert profile.op_time()[str(rows[0].node.op)] == pytest.approx(rows[0].seconds)
    assert profile.apply_callcount == {r.node: 5 for r in rows}
    assert f.profile.vm_call_time <= f.profile.fct_call_time


def test_unprofiled_functions_run_the_backends_program_untouched(monkeypatch):
    monkeypatch.setattr(ProfileStats, "node_hook", None)  # any use would fail
    x = T.dvector("x")
    f = theano.function([x], x * 2)
    assert type(f) is Function and f.profile is None
    assert f._program is f.maker.program
    assert f(np.ones(2)).tolist() == [2.0, 2.0]
    off = theano.function([x], x * 2, profile=False)
    assert off.profile is None


def test_the_compile_time_split():
    coverage = []
    for _ in range(3):  # the best of three: the OS may preempt a compile between two phases
        _, train = _logistic_regression_step()
        p = train.profile
        phases = p.compile_phases
        for name in ("normalize inputs, outputs, updates, givens", "select the backend",
                     "build the FunctionGraph", "link", "make the Function"):
            assert phases[name] > 0, name
        assert p.optimizer_time > 0 and any(n.startswith("rewrite") for n in phases)
        assert p.linker_time == phases["link"]
        assert sum(phases.values()) <= p.compile_time
        assert p.n_nodes == len(train.maker.fgraph.apply_nodes)
        coverage.append(sum(phases.values()) / p.compile_time)
        if coverage[-1] >= 0.9:
            break
    assert max(coverage) >= 0.9, coverage


def test_each_rewrite_stage_is_timed():
    _, train = _logistic_regression_step()
    stages = [n for n in train.profile.compile_phases if n.startswith("rewrite: ")]
    assert {"rewrite: canonicalize", "rewrite: fusion"} <= set(stages)


def test_the_c_backend_reports_its_build_and_cache(backend_name):
    if backend_name != "c":
        pytest.skip("the C backend's phases")
    x = T.dvector("x")
    expr = T.tanh(x) * 3 + T.exp(-x)
    with config.change_flags(tiered=False):  # on a cold cache, built before the first call
        first = theano.function([x], expr, profile=True)
        again = theano.function([x], expr, profile=True)
    assert first(np.zeros(3)) == pytest.approx(np.ones(3) * 1.0)
    for p in (first.profile, again.profile):
        assert any(n.startswith("c: compile and load kernels") for n in p.backend_phases)
        assert any(n.startswith("c: plan and render kernels") for n in p.backend_phases)
    counts = again.profile.counts
    units = sum(counts.values())
    assert units >= 1
    assert counts["c kernel units already loaded"] == units  # the first one loaded them
    assert counts["c kernel units compiled"] == 0
    assert first.profile.counts.keys() == counts.keys()
    assert sum(first.profile.counts.values()) == units


def test_summary_has_theanos_sections_and_limits():
    D, train = _logistic_regression_step()
    train(*D)
    out = io.StringIO()
    train.profile.summary(file=out, n_ops_to_print=3, n_apply_to_print=2)
    text = out.getvalue()
    for heading in ("Function profiling", "Message: train",
                    "Time in 1 calls to Function.__call__", "Time in thunks",
                    "Total compile time", "Class\n-----", "Ops\n---", "Apply\n------",
                    "<% time> <sum %> <apply time> <time per call> <#call> <id> <Apply name>"):
        assert heading in text, heading
    apply_part = text.split("Apply\n------")[1]
    assert apply_part.count("output 0:") == 2
    assert f"remaining {len(train.maker.fgraph.apply_nodes) - 2} Apply instances" in apply_part
    with config.change_flags({"profiling.n_apply": 1}):
        out = io.StringIO()
        train.profile.summary(file=out)
        assert out.getvalue().split("Apply\n------")[1].count("output 0:") == 1


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.titles, self.text, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_data(self, data):
        if self._in == "title":
            self.titles.append(data)
        self.text.append(data)


def test_the_html_report_is_self_contained_with_a_bar_per_node(tmp_path):
    D, train = _logistic_regression_step()
    for _ in range(3):
        train(*D)
    path = tmp_path / "profile.html"
    train.profile.to_html(path)
    page = _Page()
    page.feed(path.read_text())
    names = [t for t, _ in page.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert all(not a.get("src") and not a.get("href") for _, a in page.tags)
    rects = names.count("rect")
    p = train.profile
    expected = (len(p.node_times()) + len(p.op_times()) + len(p.compile_phases)
                + len(p.backend_phases))
    assert rects == expected
    hover = " ".join(page.titles)
    for row in p.node_times():  # every node's time is in its bar's hover text
        assert f"{row.seconds:.4e}s in 3 calls" in hover


def test_profile_mode_shares_one_profile_and_prints_it(rng):
    mode = theano.ProfileMode()
    x = T.dvector("x")
    f = theano.function([x], T.exp(x), mode=mode)
    g = theano.function([x], x * 2, mode=mode)
    xv = rng.standard_normal(4)
    np.testing.assert_allclose(f(xv), np.exp(xv))
    g(xv)
    g(xv)
    assert f.profile is g.profile is mode.profile_stats
    assert mode.profile_stats.fct_callcount == 3
    out = io.StringIO()
    mode.print_summary(file=out)
    assert "Time in 3 calls to Function.__call__" in out.getvalue()


def test_a_shared_profile_and_copies_accumulate(rng):
    shared_profile = ProfileStats(message="both")
    x = T.dvector("x")
    s = theano.shared(0.0)
    f = theano.function([x], x.sum(), updates=[(s, s + 1)], profile=shared_profile)
    g = theano.function([x], x - 1, profile=shared_profile)
    h = f.copy(delete_updates=True)
    for fn in (f, g, h):
        fn(np.ones(2))
    assert shared_profile.fct_callcount == 3
    assert sum(shared_profile.apply_callcount.values()) == (
        2 * len(f.maker.fgraph.apply_nodes) + len(g.maker.fgraph.apply_nodes))
    assert h.profile is shared_profile


def test_profiling_a_debugging_mode_keeps_the_mode_working():
    seen = []
    mode = theano.compile.MonitorMode(post_func=lambda i, node, fn: seen.append(i))
    x = T.dvector("x")
    f = theano.function([x], T.exp(x) + 1, mode=mode, profile=True)
    f(np.zeros(2))
    assert len(seen) == len(f.maker.fgraph.apply_nodes) >= 1
    assert all(r.calls == 1 for r in f.profile.node_times())


def test_bad_profile_argument_is_named():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"function\(profile=...\) takes True, False, a message "
                                        "string or a ProfileStats, got int 3"):
        theano.function([x], x, profile=3)


def test_config_profile_profiles_every_function_and_prints_at_exit(tmp_path, monkeypatch):
    monkeypatch.setattr(profiling, "_AT_EXIT", [])
    x = T.dvector("x")
    with config.change_flags(profile=True):
        f = theano.function([x], x + 1, name="everywhere")
    quiet = theano.function([x], x + 2, profile="by request")
    f(np.ones(2))
    quiet(np.ones(2))
    assert f.profile is not None and f.profile.message == "everywhere"
    assert profiling._AT_EXIT == [f.profile]  # made while config.profile was on
    destination = tmp_path / "profiles.txt"
    with config.change_flags({"profiling.destination": str(destination)}):
        profiling._print_at_exit()
    text = destination.read_text()
    assert "Message: everywhere" in text and "by request" not in text
    assert "Time in 1 calls to Function.__call__" in text
