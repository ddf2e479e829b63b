"""The rewrite phase of compilation: copy a graph into a FunctionGraph and run the fast_run
rewrites on it (no linking, no execution).

Cases: seed 004's logistic-regression training graph, seed 003's MLP training graph (two ReLU
layers, softmax, RMSprop updates) and random elementwise graphs of about 100, 1,000 and 10,000
nodes.  Engines: theanine and PyTensor (the fast_run rewriter of its C backend's mode); there
is no NumPy equivalent, so no ratio.  The note gives the node counts before and after and the
time per node, which should stay roughly flat as graphs grow (rewriting is linear in the graph).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import PYTENSOR_MODE, Context, Measurement, time_call

NAME = "rewrite_phase"
DESCRIPTION = "fast_run rewrites of training graphs and random graphs (theanine, PyTensor)"


def logistic(T: Any, shared: Callable) -> tuple[list, list]:
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = shared(rng.normal(size=784), name="w"), shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    return [x, y], [p_1 > 0.5, xent, w - 0.1 * gw, b - 0.1 * gb]


def mlp(T: Any, shared: Callable) -> tuple[list, list]:
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    sizes = [(784, 625), (625, 625), (625, 10)]
    ws = [shared(rng.normal(0, 0.01, s), name=f"w{k}") for k, s in enumerate(sizes)]
    h = T.maximum(T.dot(x, ws[0]), 0)
    h = T.maximum(T.dot(h, ws[1]), 0)
    softmax = T.nnet.softmax if hasattr(T, "nnet") else T.special.softmax  # PyTensor's home
    p = softmax(T.dot(h, ws[2]))
    cost = -T.mean(T.sum(y * T.log(p), axis=1))
    outs = []
    for w, g in zip(ws, T.grad(cost, ws)):
        acc = shared(np.zeros(w.get_value().shape), name="acc")
        acc_new = 0.9 * acc + 0.1 * g**2
        outs += [acc_new, w - 0.001 * g / T.sqrt(acc_new + 1e-6)]
    return [x, y], [cost, *outs]


def rnn(T: Any, shared: Callable, scan: Callable) -> tuple[list, list]:
    """Seed 003's RNN step under scan (the rnn workload's sizes), cost on the last state,
    gradients of every weight and SGD updates."""
    rng = np.random.default_rng(0)
    x = T.dtensor3("x")
    h0 = T.dmatrix("h0")
    w_xh = shared(rng.normal(0, 0.1, (64, 128)), name="w_xh")
    w_hh = shared(rng.normal(0, 0.1, (128, 128)), name="w_hh")
    b = shared(np.zeros(128), name="b")
    h, _ = scan(lambda x_t, h_prev, w_xh, w_hh, b: T.tanh(T.dot(x_t, w_xh)
                                                          + T.dot(h_prev, w_hh) + b),
                sequences=[x], outputs_info=[h0], non_sequences=[w_xh, w_hh, b])
    cost = T.sum(h[-1] ** 2)
    grads = T.grad(cost, [w_xh, w_hh, b])
    return [x, h0], [cost] + [w - 0.01 * g for w, g in zip([w_xh, w_hh, b], grads)]


def random_graph(T: Any, n_nodes: int, seed: int = 0) -> tuple[list, list]:
    """A random DAG of elementwise ops over two matrices, about `n_nodes` nodes."""
    rng = np.random.default_rng(seed)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    pool = [x, y]
    ops = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: T.exp(a) - b,
           lambda a, b: a * 1 + b**2, lambda a, b: T.log(1 + a * a) * b]
    while len(pool) < n_nodes // 2:
        a = pool[rng.integers(max(0, len(pool) - 20), len(pool))]
        b = pool[rng.integers(len(pool))]
        pool.append(ops[rng.integers(len(ops))](a, b))
    return [x, y], [pool[-1], pool[-2]]


def _scan_of(T: Any) -> Callable:
    """The scan function of the library `T` belongs to."""
    if T.__name__.startswith("theanine"):
        import theanine

        return theanine.scan
    import pytensor

    return pytensor.scan


def _theanine_case(build: Callable) -> tuple[Callable[[], Any], int]:
    import theanine
    import theanine.tensor as T
    from theanine.graph.basic import Constant, graph_inputs
    from theanine.graph.fg import FunctionGraph
    from theanine.rewriting import rewrite_graph

    _, outputs = build(T, theanine.shared)
    inputs = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]

    def rewrite() -> FunctionGraph:
        fg = FunctionGraph(inputs, outputs, clone=True)
        return rewrite_graph(fg, "fast_run")

    return rewrite, len(FunctionGraph(inputs, outputs).apply_nodes)


def _pytensor_case(pytensor: Any, build: Callable) -> Callable[[], Any]:
    import pytensor.tensor as pt
    from pytensor.compile.aliasing import add_supervisor_to_fgraph
    from pytensor.compile.io import In
    from pytensor.compile.mode import get_mode
    from pytensor.graph.basic import Constant
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.traversal import graph_inputs

    _, outputs = build(pt, pytensor.shared)
    inputs = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    rewriter = get_mode(PYTENSOR_MODE).optimizer  # the rewrites pytensor[cvm] runs

    def rewrite() -> Any:
        fg = FunctionGraph(inputs, outputs, clone=True)
        add_supervisor_to_fgraph(fg, [In(v) for v in fg.inputs])  # as pytensor.function does
        rewriter.rewrite(fg)
        return fg

    return rewrite


CASES: dict[str, Callable] = {
    "logistic training graph": logistic,
    "MLP training graph": mlp,
    "RNN training graph (scan)": lambda T, shared: rnn(T, shared, _scan_of(T)),
    "random graph ~100 nodes": lambda T, shared: random_graph(T, 100),
    "random graph ~1,000 nodes": lambda T, shared: random_graph(T, 1000),
    "random graph ~10,000 nodes": lambda T, shared: random_graph(T, 10000),
}


def run(ctx: Context) -> list[Measurement]:
    rows = []
    for case, build in CASES.items():
        big = "10,000" in case
        repeat = 3 if big else ctx.repeat
        if ctx.wants("theanine"):
            rewrite, n_before = _theanine_case(build)
            n_after = len(rewrite().apply_nodes)
            median, best, number = time_call(rewrite, repeat, ctx.min_time)
            rows.append(Measurement(NAME, case, "theanine", median, best, number,
                                    note=f"{n_before} -> {n_after} nodes, "
                                         f"{median / n_before * 1e6:.0f} us/node"))
        if ctx.wants("pytensor"):
            pytensor = ctx.optional("pytensor")
            if pytensor is None:
                rows.append(Measurement(NAME, case, "pytensor", note="not installed"))
                continue
            rewrite = _pytensor_case(pytensor, build)
            n_after = len(rewrite().apply_nodes)
            median, best, number = time_call(rewrite, repeat, ctx.min_time)
            rows.append(Measurement(NAME, case, "pytensor", median, best, number,
                                    note=f"-> {n_after} nodes"))
    return rows
