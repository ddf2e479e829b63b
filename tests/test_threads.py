"""Compiled functions called from several threads at once.

Every call must get its own results (no per-node state shared between calls), and a function
with updates must read, compute and write its shared values as one step.  A tiny switch
interval makes the interpreter change threads often, and `Yield` (an identity Op that lets
other threads run in the middle of its perform) opens the windows in which races happen, so
that they show up in a few thousand calls rather than by luck.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import theanine.tensor as T
from theanine import function, shared
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable

N_THREADS = 4


class Yield(Op):
    """Identity that sets its output, then gives the other threads a turn (through the
    default `python_thunk`, which wraps perform with output cells)."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].copy()
        time.sleep(1e-5)


yield_ = Yield()


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run_threads(work, n_threads=N_THREADS):
    """Run work(k) on n threads started together; re-raise the first failure."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def target(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_each_call_gets_its_own_results(fast_switching):
    x = T.dvector("x")
    # reshape and concatenate go through Op.python_thunk's default perform wrapper
    m = yield_(x).reshape((2, 3))
    out = T.concatenate([m.sum(axis=0), T.exp(yield_(x)) * 2.0 + x])
    f = function([x], [out, m.T])
    calls = 1000
    wrong: list[tuple[int, int]] = []

    def work(k):
        rng = np.random.default_rng(k)
        for n in range(calls):
            xv = rng.random(6) + k  # each thread's values differ from every other's
            got, mt = f(xv)
            want = np.concatenate([xv.reshape(2, 3).sum(axis=0), np.exp(xv) * 2.0 + xv])
            if not (np.allclose(got, want) and np.array_equal(mt, xv.reshape(2, 3).T)):
                wrong.append((k, n))

    _run_threads(work)
    assert wrong == []


def test_update_is_atomic(fast_switching):
    c = shared(np.int64(0), name="c")
    f = function([], updates=[(c, yield_(c) + 1)])
    calls = 500
    _run_threads(lambda k: [f() for _ in range(calls)])
    assert int(c.get_value()) == N_THREADS * calls


def test_functions_sharing_a_container_are_serialized(fast_switching):
    c = shared(np.int64(0), name="c")
    inc = function([], updates=[(c, yield_(c) + 1)])
    add_ten = function([], updates=[(c, yield_(c) + 10)])
    inc_copy = inc.copy()
    calls = 300
    fns = [inc, add_ten, inc_copy, add_ten]

    _run_threads(lambda k: [fns[k]() for _ in range(calls)])
    assert int(c.get_value()) == calls * (1 + 10 + 1 + 10)


def test_several_updates_are_seen_together(fast_switching):
    # a and b move in opposite directions, so a + b is invariant; a function with updates
    # reads both under the same locks, so it never sees one updated without the other
    a = shared(np.int64(0), name="a")
    b = shared(np.int64(1000), name="b")
    k_calls = shared(np.int64(0), name="k_calls")
    move = function([], updates=[(a, yield_(a) + 1), (b, b - 1)])
    move_back = function([], updates=[(b, yield_(b) + 2), (a, a - 2)])
    observe = function([], a + yield_(b), updates=[(k_calls, k_calls + 1)])
    calls = 300
    seen: list[int] = []

    def work(k):
        for _ in range(calls):
            if k == 0:
                move()
            elif k == 1:
                move_back()
            else:
                seen.append(int(observe()))

    _run_threads(work)
    assert set(seen) == {1000}
    assert int(a.get_value()) == calls * (1 - 2)
    assert int(b.get_value()) == 1000 + calls * (2 - 1)
    assert int(k_calls.get_value()) == 2 * calls
