"""Data-parallel training across processes and machines on MPI (`mpi4py`, imported lazily).

    import theanine.distributed as dist
    dist.broadcast_shared(params)                       # same starting weights everywhere
    x_local = dist.shard(x_train)                       # this rank's part of the data
    updates = [(p, p - lr * dist.allreduce(g, "mean")) for p, g in zip(params, grads)]

Run with `mpiexec -n N python train.py`; without mpiexec (or mpi4py) `size()` is 1 and every
collective is the identity.  See docs/distributed.md.
"""

from theanine.distributed.handshake import CollectiveMismatch
from theanine.distributed.host import broadcast_shared, shard
from theanine.distributed.ops import (
    Allgather,
    Allreduce,
    AllreduceGemm,
    Broadcast,
    Collective,
    Reduce,
    ReduceScatter,
    allgather,
    allreduce,
    broadcast,
)
from theanine.distributed.runtime import (
    CollectiveTimeout,
    DistributedError,
    barrier,
    comm,
    init,
    launched_by_mpiexec,
    rank,
    set_timeout,
    size,
    timeout,
)

__all__ = ["Allgather", "Allreduce", "AllreduceGemm", "Broadcast", "Collective",
           "CollectiveMismatch", "CollectiveTimeout", "DistributedError", "Reduce",
           "ReduceScatter", "allgather", "allreduce", "barrier", "broadcast",
           "broadcast_shared", "comm", "init", "launched_by_mpiexec", "rank", "set_timeout",
           "shard", "size", "timeout"]
