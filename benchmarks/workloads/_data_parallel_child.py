"""One data-parallel timing in a process of an MPI job (run by `data_parallel`, not imported).

    [mpiexec -n N] python _data_parallel_child.py BACKEND MODE REPEAT MIN_TIME [BATCH]

MODE `step`: the `mlp_step` model's SGD step on this rank's batch (BATCH, default 128) with updates
`p - lr * allreduce(g, "mean")` on every rank, alternating with the plain step (no allreduce)
on rank 0 alone while the others wait: the 1-process baseline.
MODE `allreduce`: the fused allreduce of that model's four gradients (one compiled function),
mpi4py's raw `Allreduce` of one buffer of the same bytes (results checked equal), and one raw
`Allreduce` per gradient array (what fusion saves).

The cases of a mode alternate within every repeat (see `timed`).  Rank 0 prints the figures
as JSON.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import theanine  # noqa: E402
import theanine.distributed as dist  # noqa: E402
import theanine.tensor as T  # noqa: E402
from theanine.config import config  # noqa: E402
from workloads import mlp_step  # noqa: E402


def timed(cases: dict[str, Callable[[], Any]], repeat: int, min_time: float,
          solo: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """Median and min seconds per call of each case over `repeat` repeats.

    The cases alternate inside every repeat, so load drifting on a shared machine hits them
    alike and their ratio stays meaningful.  Every rank runs the same number of calls (rank 0
    decides); a repeat's time is the slowest rank's.  A `solo` case runs on rank 0 alone while
    the others wait in a barrier (which sleeps between polls).
    """
    world = dist.comm()
    me = dist.rank()
    numbers = {}
    for name, fn in cases.items():
        if name in solo and me != 0:
            continue
        for _ in range(3):
            fn()
        start = time.perf_counter()
        fn()
        numbers[name] = max(1, math.ceil(min_time / max(time.perf_counter() - start, 1e-7)))
    if world is not None:
        numbers = world.bcast(numbers, root=0)
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            dist.barrier()
            if name in solo and me != 0:
                continue
            start = time.perf_counter()
            for _ in range(numbers[name]):
                fn()
            per_call = (time.perf_counter() - start) / numbers[name]
            if world is not None and name not in solo:
                per_call = world.allreduce(per_call, op=_max())
            runs[name].append(per_call)
    return {name: {"median": statistics.median(r), "min": min(r), "number": numbers[name]}
            for name, r in runs.items() if r}


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def _gradient_shapes() -> list[tuple[int, ...]]:
    d = mlp_step.make_data()
    return [d[k].shape for k in mlp_step.PARAMS]


def _train_step(d: dict[str, np.ndarray], backend: str, reduce: bool) -> Callable[[], Any]:
    """The `mlp_step` model's SGD step, its gradients averaged over ranks if `reduce`."""
    params = [theanine.shared(d[k].copy(), name=k) for k in mlp_step.PARAMS]
    dist.broadcast_shared(params)
    W1, b1, W2, b2 = params
    x, y = T.fmatrix("x"), T.fmatrix("y")
    p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
    cost = -T.mean(T.sum(y * T.log(p), axis=1))
    grads = T.grad(cost, params)
    lr = np.float32(mlp_step.LEARNING_RATE)
    train = theanine.function([x, y], cost, backend=backend, updates=[
        (v, v - lr * (dist.allreduce(g, "mean") if reduce else g))
        for v, g in zip(params, grads)])
    return lambda: train(d["x"], d["y"])


def step(repeat: int, min_time: float, backend: str, batch: int) -> dict[str, Any]:
    """The plain step on rank 0 alone ("one"), on every rank at once without communicating
    ("plain_all": what sharing the machine costs), and the data-parallel step ("all")."""
    d = mlp_step.make_data(seed=dist.rank(), batch=batch)
    plain = _train_step(d, backend, reduce=False)
    return timed({"one": plain, "plain_all": plain, "all": _train_step(d, backend, reduce=True)},
                 repeat, min_time, solo=("one",))


def allreduce(repeat: int, min_time: float, backend: str, batch: int) -> dict[str, Any]:
    rng = np.random.default_rng(dist.rank())
    grads = [rng.standard_normal(s).astype(np.float32) for s in _gradient_shapes()]
    symbols = [T.TensorType("float32", (False,) * len(g.shape))(f"g{i}")
               for i, g in enumerate(grads)]
    fused = theanine.function(symbols, [dist.allreduce(s, "sum") for s in symbols],
                              backend=backend)
    nodes = [n for n in fused.maker.fgraph.toposort() if isinstance(n.op, dist.Allreduce)]
    assert [len(n.inputs) for n in nodes] == [len(grads)], "the allreduces were not fused"
    send = np.concatenate([g.ravel() for g in grads])
    recv = np.empty_like(send)
    world = dist.comm()
    world.Allreduce(send, recv)
    got = np.concatenate([r.ravel() for r in fused(*grads)])
    np.testing.assert_allclose(got, recv, rtol=1e-6, atol=1e-6)
    outs = [np.empty_like(g) for g in grads]

    def per_array() -> None:
        for g, out in zip(grads, outs):
            world.Allreduce(g, out)

    return {**timed({"fused": lambda: fused(*grads), "raw": lambda: world.Allreduce(send, recv),
                     "per_array": per_array}, repeat, min_time),
            "bytes": int(send.nbytes)}


def main() -> None:
    backend, mode, repeat, min_time = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        float(sys.argv[4])
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else mlp_step.BATCH
    config.tiered = False
    result = {"step": step, "allreduce": allreduce}[mode](repeat, min_time, backend, batch)
    if dist.rank() == 0:
        print(json.dumps({"size": dist.size(), **result}))


if __name__ == "__main__":
    main()
