"""Run under `mpiexec -n 2`: the failures a data-parallel job must name instead of hanging.

`timeout`: rank 1 never calls the collective; rank 0 must raise CollectiveTimeout.
`shape`: the ranks allreduce arrays of different shapes.
`graph`: the ranks compiled different graphs (rank 1 has an extra collective).
`shape_later`: after one good allreduce (the shared window exists), rank 1's operand no longer
fits the window while rank 0's does: the handshake must still name the shapes before either
rank reads the other's memory.
`product_shape`: the same for an `AllreduceGemm` weight update: rank 1's weight is wider (a
batch of another size is no mismatch: the reduced product has the weight's shape).
The error is left uncaught, as in a user's script: it is printed and aborts the job.
"""

import sys
import time

import numpy as np

import theanine
import theanine.distributed as dist
import theanine.tensor as T
from theanine.distributed import gemm


def main(case: str) -> None:
    r = dist.rank()
    if case == "product_shape":
        return product_shape(r)
    x = T.dvector("x")
    outputs = [dist.allreduce(x, "sum")]
    if case == "graph" and r == 1:
        outputs.append(dist.allreduce(2 * x, "max"))
    f = theanine.function([x], outputs)
    value = np.ones(4 if case == "shape" and r == 1 else 3)
    if case == "shape_later":
        f(value)
        value = np.ones(300_000 if r == 1 else 3)  # 2.4 MB: over the first 1 MiB window
    if case == "timeout" and r == 1:
        time.sleep(30)  # a hung rank: the job is aborted long before this ends
        return
    f(value)
    print(f"rank {r}: no error", flush=True)


def product_shape(r: int) -> None:
    gemm.MIN_BYTES = 0
    cols = 3 if r == 1 else 2
    W = theanine.shared(np.zeros((6, cols)), name="W")
    x, d = T.dmatrix("xb"), T.dmatrix("d")
    step = theanine.function([x, d], [], updates=[(W, W - dist.allreduce(T.dot(x.T, d)))])
    step(np.ones((5 + r, 6)), np.ones((5 + r, cols)))
    print(f"rank {r}: no error", flush=True)

if __name__ == "__main__":
    main(sys.argv[1])
