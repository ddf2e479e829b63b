"""Run with or without `mpiexec -n N`: the data-parallel recipe on a small MLP.

Every rank starts from rank 0's weights (`broadcast_shared`), trains on its `shard` of a fixed
full batch with updates `p - lr * allreduce(g, "mean")`, and saves its final weights and the
compiled step's allreduce nodes to OUTDIR/rank<r>.npz.  `products` makes every weight update an
`AllreduceGemm` (whatever its size).  Without mpiexec this is one process
training on the full batch: test_mpi.py compares the two.
"""

import sys

import numpy as np

import theanine
import theanine.distributed as dist
import theanine.tensor as T
from theanine.distributed import gemm
from theanine.distributed.ops import Allreduce, AllreduceGemm
from theanine.gradient import grad

BATCH, N_IN, N_HIDDEN, N_OUT, STEPS, LR = 24, 6, 8, 3, 15, 0.5


def main(outdir: str, excluding: str, products: bool) -> None:
    r = dist.rank()
    if products:  # the weight updates become AllreduceGemm nodes, however small
        gemm.MIN_BYTES = 0
    data = np.random.default_rng(7)
    x_all = data.standard_normal((BATCH, N_IN))
    y_all = data.standard_normal((BATCH, N_OUT))
    init = np.random.default_rng(1000 + r)  # differs per rank until broadcast_shared
    params = [theanine.shared(init.standard_normal((N_IN, N_HIDDEN)), name="W1"),
              theanine.shared(np.zeros(N_HIDDEN) + r, name="b1"),
              theanine.shared(init.standard_normal((N_HIDDEN, N_OUT)), name="W2"),
              theanine.shared(np.zeros(N_OUT) - r, name="b2")]
    dist.broadcast_shared(params)
    W1, b1, W2, b2 = params
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2
    cost = ((out - y) ** 2).mean()
    grads = grad(cost, params)
    mode = theanine.compile.mode.get_default_mode()
    if excluding:
        mode = mode.excluding(excluding)
    step = theanine.function([x, y], cost, mode=mode,
                             updates=[(p, p - LR * dist.allreduce(g, "mean"))
                                      for p, g in zip(params, grads)])
    part = dist.shard(BATCH)
    for _ in range(STEPS):
        step(x_all[part], y_all[part])
    nodes = [nd for nd in step.maker.fgraph.toposort() if isinstance(nd.op, Allreduce)]
    products = [nd for nd in step.maker.fgraph.toposort() if isinstance(nd.op, AllreduceGemm)]
    np.savez(f"{outdir}/rank{r}.npz", *[p.get_value() for p in params],
             allreduce_inputs=np.array([len(nd.inputs) for nd in nodes]),
             products=np.array(sum(nd.op.products for nd in products)))


if __name__ == "__main__":
    options = sys.argv[2:]
    main(sys.argv[1], next((o for o in options if o != "products"), ""), "products" in options)
