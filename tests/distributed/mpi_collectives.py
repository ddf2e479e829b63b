"""Run under `mpiexec -n N`: every collective and its gradient on rank-seeded inputs.

    mpiexec -n N python mpi_collectives.py OUTDIR [pieces]

`pieces` shrinks the shared-memory window so that allreduces go through it in pieces.

Each rank saves what it computed to OUTDIR/rank<r>.npz; test_mpi.py checks the files against
NumPy (it regenerates every rank's inputs from the same seeds).
"""

import sys

import numpy as np

import theanine
import theanine.distributed as dist
import theanine.tensor as T
from theanine.distributed import gemm, shared_memory
from theanine.gradient import grad


def inputs(r: int, n: int) -> dict:
    """Rank r's inputs (the test regenerates these)."""
    rng = np.random.default_rng(100 + r)
    return {"a": rng.integers(-5, 6, (3, 4)).astype("float64"),
            "v": rng.standard_normal(5).astype("float32"),
            "w": rng.standard_normal((3, 4)),
            "W": rng.standard_normal((n, 5)).astype("float32"),
            "k": rng.integers(0, 100, 6).astype("int32"),
            "big": rng.standard_normal((200, 100)),  # over PACK_BYTES: reduced where it lies
            # odd sizes: the shared-memory chunks split arrays mid-way, several per chunk
            "parts": [rng.standard_normal(s) for s in [(7,), (33, 3), (1,), (1000,), (2, 2)]],
            # AllreduceGemm's products: whole rows through a 1 KiB window in pieces, and rows
            # wider than it (reduced as a flat allreduce); batches of unequal size per rank
            "products": [(rng.standard_normal((5 + r, 40)), rng.standard_normal((5 + r, 8))),
                         (rng.standard_normal((6 + 2 * r, 3)),
                          rng.standard_normal((6 + 2 * r, 200)))]}


def weights() -> list[np.ndarray]:
    """The starting weights of the products' updates (equal on every rank)."""
    rng = np.random.default_rng(7)
    return [rng.standard_normal((40, 8)), rng.standard_normal((3, 200))]


def main(outdir: str, pieces: bool = False) -> None:
    if pieces:  # a window of 1 KiB halves: the larger allreduces go through it in pieces
        shared_memory.MIN_BYTES = shared_memory.PIECE_BYTES = 1024
    r, n = dist.rank(), dist.size()
    d = inputs(r, n)
    a, w = T.dmatrix("a"), T.dmatrix("w")
    v, W = T.fvector("v"), T.fmatrix("W")
    k = T.ivector("k")
    root = n - 1
    forward = theanine.function(
        [a, v, k], [dist.allreduce(a, "sum"), dist.allreduce(a, "mean"),
                    dist.allreduce(a, "max"), dist.broadcast(a, root=root),
                    dist.allgather(v), dist.allreduce(k, "sum")])
    costs = {"sum": (w * dist.allreduce(a, "sum")).sum(),
             "mean": (w * dist.allreduce(a, "mean")).sum(),
             "max": (w * dist.allreduce(a, "max")).sum(),
             "bcast": (w * dist.broadcast(a, root=root)).sum()}
    grads = theanine.function([a, w], [grad(c, a) for c in costs.values()])
    g_gather = theanine.function([v, W], grad((W * dist.allgather(v)).sum(), v))
    gathered_shape = theanine.function([v], dist.allgather(v).shape)
    big = T.dmatrix("big")
    fused = theanine.function([a, big], [dist.allreduce(a, "mean"), dist.allreduce(big, "mean"),
                                         dist.allreduce(2 * a, "mean")])
    results = dict(zip(["sum", "mean", "max", "bcast", "gather", "isum"],
                       forward(d["a"], d["v"], d["k"])))
    results.update({f"g_{name}": g for name, g in zip(costs, grads(d["a"], d["w"]))})
    results["g_gather"] = g_gather(d["v"], d["W"])
    results["fused_mean"], results["fused_big"], results["fused_2a"] = fused(d["a"], d["big"])
    results["fused_inputs"] = np.array([len(nd.inputs) for nd in fused.maker.fgraph.toposort()
                                        if isinstance(nd.op, dist.Allreduce)])
    results["gather_shape"] = np.asarray(gathered_shape(d["v"]))
    parts = [T.TensorType("float64", (False,) * p.ndim)(f"p{i}") for i, p in enumerate(d["parts"])]
    many = theanine.function(parts, [dist.allreduce(p, op) for p in parts for op in
                                     ("sum", "max")])
    for i, value in enumerate(many(*d["parts"])):
        results[f"parts{i}"] = value
    scalar = T.dscalar("scalar")
    results["scalar_sum"], results["scalar_gather"] = theanine.function(
        [scalar], [dist.allreduce(scalar * 1, "sum"), dist.allgather(scalar)])(float(r))
    gemm.MIN_BYTES = 0  # every product update below becomes an AllreduceGemm
    xs, ds = zip(*[(T.dmatrix(f"x{i}"), T.dmatrix(f"d{i}")) for i in range(len(d["products"]))])
    ws = [theanine.shared(w, name=f"w{i}") for i, w in enumerate(weights())]
    bias = theanine.shared(np.zeros(8), name="bias")  # its allreduce joins the products'
    update = theanine.function([*xs, *ds], [], updates=[
        (w, w - 0.5 * dist.allreduce(T.dot(x.T, g), "mean")) for w, x, g in zip(ws, xs, ds)
    ] + [(bias, bias - dist.allreduce(ds[0].sum(0), "sum"))])
    results["gemm_nodes"] = np.array([str(nd.op) for nd in update.maker.fgraph.toposort()
                                      if isinstance(nd.op, dist.Collective)])
    for _ in range(2):
        update(*[p[0] for p in d["products"]], *[p[1] for p in d["products"]])
    for i, w in enumerate(ws):
        results[f"gemm{i}"] = w.get_value()
    results["gemm_bias"] = bias.get_value()
    arena = shared_memory.ARENA
    results["path"] = np.array([arena.mode == "shm", arena.across is not None])
    dist.barrier()
    np.savez(f"{outdir}/rank{r}.npz", **results)


if __name__ == "__main__":
    main(sys.argv[1], pieces="pieces" in sys.argv[2:])
