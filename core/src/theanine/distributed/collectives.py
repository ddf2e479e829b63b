"""The collectives on NumPy arrays: what the graph Ops' `perform` calls.

Each one posts its handshake (`handshake.Agreement`) and its data as nonblocking MPI calls,
polled against the timeout, and checks the handshake before any result is used.  In a group
of one each is the identity (a copy, so results never alias inputs).  Calls are serialized per
process, so collectives issued from several threads still reach MPI in one order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theanine.distributed import shared_memory
from theanine.distributed.handshake import Agreement, GraphOrder
from theanine.distributed.runtime import (
    DistributedError,
    _state,
    comm,
    in_place,
    mpi_op,
    wait,
)

REDUCE_OPS = ("sum", "mean", "max")

#: arrays smaller than this travel packed in one buffer (one message instead of many tiny
#: ones); larger ones are reduced where they lie (a copy would cost more than a message)
PACK_BYTES = 64 * 1024


def allreduce(arrays: Sequence[np.ndarray], op: str, names: Sequence[str],
              order: GraphOrder | None = None, inplace: Sequence[int] = ()
              ) -> list[np.ndarray]:
    """Reduce each array elementwise across ranks (`op`: sum, mean or max); the arrays
    listed in `inplace` may receive their own results.

    Several arrays (the fused allreduce of a training step) share one handshake.  Ranks of one
    machine reduce them in shared memory (`shared_memory`); otherwise all are in flight at
    once on MPI: the small ones packed into one buffer, whose results are views of it, the
    large ones each reduced straight from the input into its result, with no extra copy.
    """
    c = comm()
    arrays = [np.asarray(a, order="C") for a in arrays]
    if c is None:
        return [a if i in inplace else a.copy() for i, a in enumerate(arrays)]
    what = f"allreduce({op}) of {len(arrays)} array(s)"
    arena = shared_memory.ARENA
    with _state.lock:
        handshake = _Handshake(what, names, _layout(arrays), order, arena)
        if arena.mode == "shm":
            results = [a if i in inplace else np.empty_like(a) for i, a in enumerate(arrays)]
            shared_memory.allreduce(
                arena, [a.reshape(-1) for a in arrays], [r.reshape(-1) for r in results],
                op, handshake.agree, what)
            reduced = results
        else:
            results, reduced = _mpi_allreduce(c, arrays, op, what, handshake.posted(), inplace)
    if op == "mean":
        for out in reduced:
            np.divide(out, _state.size, out=out, casting="unsafe")
    return results


def allreduce_gemm(products: Sequence[tuple], extras: Sequence[np.ndarray],
                   names: Sequence[str], order: GraphOrder | None = None,
                   inplace: Sequence[int] = ()) -> list[np.ndarray]:
    """For each (z, alpha, x, y) of `products`: z + alpha * (the sum over ranks of dot(x,
    y)); then the sum over ranks of each of `extras`.  The data-parallel weight updates
    `W - lr * allreduce(dot(x.T, d))` of a step, and its other gradients, in one collective.
    Outputs listed in `inplace` may be written into their input (a z, an extra); `names`:
    z, x, y of each product, then the extras.

    Ranks of one machine reduce the products where BLAS wrote them, in shared memory, and add
    the reduced chunks, times alpha, into each z from there (`shared_memory.reduce_products`);
    otherwise the products are computed, allreduced with the extras as `allreduce` does, and
    added.  The ranks agree on the shapes of the z's and the extras, the arrays reduced:
    x and y may differ across ranks (batches of unequal size), as for the graph's own
    `allreduce(dot(x, y))`.
    """
    p = len(products)
    outs, alphas, xs, ys = [], [], [], []
    for i, (z, alpha, x, y) in enumerate(products):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0] \
                or np.shape(z) != (x.shape[0], y.shape[1]):
            zn, xn, yn = names[3 * i:3 * i + 3]
            raise ValueError(f"allreduce_gemm: {xn} {x.shape} times {yn} {y.shape} does not "
                             f"give the shape of {zn}, {np.shape(z)}")
        if i in inplace and type(z) is np.ndarray and z.flags.c_contiguous \
                and z.flags.writeable:
            outs.append(z)
        else:
            outs.append(np.array(z, order="C"))
        alphas.append(outs[-1].dtype.type(alpha))
        xs.append(x)
        ys.append(y)
    extras = [np.asarray(e, order="C") for e in extras]
    kept = [p + j in inplace for j in range(len(extras))]
    c = comm()
    if c is None:
        for out, alpha, x, y in zip(outs, alphas, xs, ys):
            shared_memory.add_scaled(out.reshape(-1), alpha, np.dot(x, y).reshape(-1))
        return outs + [e if k else e.copy() for e, k in zip(extras, kept)]
    what = f"allreduce_gemm(sum) of {p} product(s) and {len(extras)} array(s)"
    reduced_names = [names[3 * i] for i in range(p)] + list(names[3 * p:])
    arena = shared_memory.ARENA
    with _state.lock:
        handshake = _Handshake(what, reduced_names, _layout(outs + extras), order, arena)
        if arena.mode == "shm":
            results = [e if k else np.empty_like(e) for e, k in zip(extras, kept)]
            shared_memory.reduce_products(
                arena, outs, alphas, xs, ys, [e.reshape(-1) for e in extras],
                [r.reshape(-1) for r in results], handshake.agree, what)
            return outs + results
        reduced, _ = _mpi_allreduce(
            c, [np.dot(x, y) for x, y in zip(xs, ys)] + extras, "sum", what,
            handshake.posted(), [i for i in range(p + len(extras)) if i < p or kept[i - p]])
    for out, alpha, product in zip(outs, alphas, reduced):
        shared_memory.add_scaled(out.reshape(-1), alpha, product.reshape(-1))
    return outs + reduced[p:]


class _Handshake:
    """The agreement of one reduction (`handshake.Agreement`), made under the process lock.

    The process group's first reduction spends it at once: the ranks then decide together
    whether reductions go through shared memory (`SharedArena.plan`), and `agree` is a no-op
    (the first call also grows the window, a collective that synchronizes the ranks).  Else
    the shared-memory path calls `agree` when its slot is written, and MPI's path posts the
    agreement with its data and checks it before any result is used (`posted`).
    """

    def __init__(self, what: str, names: Sequence[str],
                 layout: tuple[tuple[np.dtype, tuple[int, ...]], ...],
                 order: GraphOrder | None, arena: shared_memory.SharedArena):
        self.what, self.names, self.layout, self.order = what, names, layout, order
        self.spent = arena.mode is None
        if self.spent:
            self._agreement().finish()
            arena.plan()

    def _agreement(self) -> Agreement:
        return Agreement(self.what, self.names, self.layout, self.order)

    def agree(self) -> None:
        if not self.spent:
            self._agreement().finish()

    def posted(self) -> Agreement | None:
        return None if self.spent else self._agreement()


def _mpi_allreduce(c, arrays: list[np.ndarray], op: str, what: str,
                   agreement: Agreement | None, inplace: Sequence[int]
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """MPI's allreduce of every array at once; the results, and the buffers they view."""
    reduction = mpi_op(op)
    small = [i for i, a in enumerate(arrays) if a.nbytes < PACK_BYTES]
    if len(small) < 2:
        small = []
    direct = [i for i in range(len(arrays)) if i not in small]
    results: list[np.ndarray] = [None] * len(arrays)  # type: ignore[list-item]
    for i in direct:
        results[i] = arrays[i] if i in inplace else np.empty_like(arrays[i])
    requests = []
    packed = None
    if small:  # first: it completes while the large ones are still moving
        packed = _pack([arrays[i] for i in small])
        requests.append(c.Iallreduce(in_place(), packed, reduction))
    requests += [c.Iallreduce(in_place() if i in inplace else arrays[i], results[i], reduction)
                 for i in direct]
    _complete(agreement, requests, what, arrays, results, packed)
    reduced = [results[i] for i in direct]
    if packed is not None:
        reduced.append(packed)
        start = 0
        for i in small:
            results[i] = packed[start:start + arrays[i].size].reshape(arrays[i].shape)
            start += arrays[i].size
    return results, reduced


def _complete(agreement: Agreement | None, requests: list, what: str, *buffers: object
              ) -> None:
    """Check the handshake, then wait for the data.  On failure the requests may still be
    progressed by a later MPI call, writing into their buffers: those are kept alive for the
    rest of the process instead of being freed under MPI."""
    try:
        if agreement is not None:
            agreement.finish()
        wait(requests, what)
    except DistributedError:
        _state.stranded.append((requests, buffers))
        raise


def _layout(arrays: Sequence[np.ndarray]) -> tuple[tuple[np.dtype, tuple[int, ...]], ...]:
    return tuple((a.dtype, a.shape) for a in arrays)


def _pack(arrays: list[np.ndarray]) -> np.ndarray:
    buf = np.empty(sum(a.size for a in arrays), arrays[0].dtype)
    start = 0
    for a in arrays:
        buf[start:start + a.size] = a.reshape(-1)
        start += a.size
    return buf


def broadcast(array: np.ndarray, root: int, name: str, order: GraphOrder | None = None
              ) -> np.ndarray:
    """Every rank gets `root`'s array."""
    c = comm()
    buf = np.array(array, copy=True, order="C")
    if c is None:
        return buf
    _check_root(root, name)
    what = f"broadcast(root={root})"
    with _state.lock:
        agreement = Agreement(what, (name,), _layout([buf]), order)
        _complete(agreement, [c.Ibcast(buf, root)], what, buf)
    return buf


def reduce_to_root(array: np.ndarray, root: int, name: str, order: GraphOrder | None = None
                   ) -> np.ndarray:
    """The sum over ranks on `root`, zeros elsewhere (the gradient of `broadcast`)."""
    c = comm()
    send = np.asarray(array, order="C")
    if c is None:
        return send.copy()
    _check_root(root, name)
    what = f"reduce(sum, root={root})"
    out = np.zeros(send.shape, send.dtype)
    with _state.lock:
        agreement = Agreement(what, (name,), _layout([send]), order)
        request = c.Ireduce(send, out if _state.rank == root else None, mpi_op("sum"), root)
        _complete(agreement, [request], what, send, out)
    return out


def allgather(array: np.ndarray, name: str, order: GraphOrder | None = None) -> np.ndarray:
    """Every rank's array stacked along a new leading axis of length `size()`."""
    c = comm()
    send = np.asarray(array, order="C")
    if c is None:
        return send[None].copy()
    what = "allgather"
    out = np.empty((_state.size, *send.shape), send.dtype)
    with _state.lock:
        agreement = Agreement(what, (name,), _layout([send]), order)
        _complete(agreement, [c.Iallgather(send, out)], what, send, out)
    return out


def reduce_scatter(array: np.ndarray, name: str, order: GraphOrder | None = None
                   ) -> np.ndarray:
    """Row `rank()` of the sum over ranks of an array of shape `(size(), ...)` (the gradient
    of `allgather`)."""
    send = np.asarray(array, order="C")
    n = _state.size if comm() is not None else 1
    if send.ndim == 0 or send.shape[0] != n:
        raise ValueError(f"reduce_scatter of {name}: expected a leading axis of length "
                         f"{n} (the number of ranks), got shape {send.shape}")
    c = comm()
    if c is None:
        return np.array(send[0], copy=True)  # send[0] of a vector is a NumPy scalar
    what = "reduce_scatter(sum)"
    out = np.empty(send.shape[1:], send.dtype)
    with _state.lock:
        agreement = Agreement(what, (name,), _layout([send]), order)
        _complete(agreement, [c.Ireduce_scatter_block(send, out, mpi_op("sum"))], what, send,
                  out)
    return out


def _check_root(root: int, name: str) -> None:
    if not 0 <= root < _state.size:
        raise ValueError(f"collective on {name}: root {root} is not a rank of this group of "
                         f"{_state.size} process(es)")
