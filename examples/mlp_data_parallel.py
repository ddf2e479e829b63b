"""A data-parallel MLP: the same script trains on one process or on N under MPI.

    python examples/mlp_data_parallel.py                 # one process, the full batch
    mpiexec -n 4 python examples/mlp_data_parallel.py    # four processes, a quarter each

(`pip install theanine[mpi]` provides mpi4py and MPICH's `mpiexec`.)  Every rank starts from
rank 0's weights (`broadcast_shared`), computes gradients on its `shard` of each batch, and
applies the mean over ranks of those gradients (`allreduce(g, "mean")`), which the compiled
step sends as one fused allreduce.  With equal shards the weights after each step are those
of one process trained on the whole batch, to float rounding: the losses printed match
whatever the process count.  The data are Gaussian clusters, one per class.
"""

from __future__ import annotations

import numpy as np

import theanine
import theanine.distributed as dist
import theanine.tensor as T

N_IN, N_HIDDEN, N_CLASSES, BATCH, EPOCHS, LR = 20, 64, 4, 64, 30, 0.1


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same clusters on every rank (seeded), so each rank can take its shard."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(0).standard_normal((N_CLASSES, N_IN)) * 0.3
    labels = rng.integers(0, N_CLASSES, n)
    x = centers[labels] + rng.standard_normal((n, N_IN))
    return x.astype("float32"), labels.astype("int32")


def main() -> None:
    rank, size = dist.rank(), dist.size()
    if BATCH % size:
        raise SystemExit(f"the batch of {BATCH} does not split evenly over {size} processes")
    init = np.random.default_rng(1234 + rank)  # differs per rank: broadcast_shared fixes it
    params = [theanine.shared((init.standard_normal((N_IN, N_HIDDEN)) * 0.1)
                              .astype("float32"), name="W1"),
              theanine.shared(np.zeros(N_HIDDEN, "float32"), name="b1"),
              theanine.shared((init.standard_normal((N_HIDDEN, N_CLASSES)) * 0.1)
                              .astype("float32"), name="W2"),
              theanine.shared(np.zeros(N_CLASSES, "float32"), name="b2")]
    dist.broadcast_shared(params)
    W1, b1, W2, b2 = params

    x, y = T.fmatrix("x"), T.ivector("y")
    p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
    loss = T.nnet.categorical_crossentropy(p, y).mean()  # the mean over this rank's shard
    grads = T.grad(loss, params)
    train = theanine.function([x, y], dist.allreduce(loss, "mean"), updates=[
        (v, v - np.float32(LR) * dist.allreduce(g, "mean")) for v, g in zip(params, grads)])
    accuracy = theanine.function([x, y], T.mean(T.eq(T.argmax(p, axis=1), y)))

    x_train, y_train = make_data(BATCH * 8, seed=1)
    x_test, y_test = make_data(500, seed=2)
    part = dist.shard(BATCH)
    for epoch in range(EPOCHS):
        losses = []
        for start in range(0, len(x_train), BATCH):
            xb, yb = x_train[start:start + BATCH], y_train[start:start + BATCH]
            losses.append(train(xb[part], yb[part]))
        if rank == 0 and epoch % 5 == 4:
            print(f"epoch {epoch + 1:2d}: loss {np.mean(losses):.5f}, "
                  f"test accuracy {accuracy(x_test, y_test):.3f} ({size} process(es))")


if __name__ == "__main__":
    main()
