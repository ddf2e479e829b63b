"""Allreduce through memory that the ranks of one machine share (MPI-3 shared windows).

Between processes of one machine, MPI moves a large allreduce through its shared-memory
transport, message by message through fixed-size cells: for the 1.6 MB of an MLP's gradients
between two processes that takes about twice as long as reducing where every rank can read
every other rank's data.  So the ranks of a machine reduce in a window that MPI allocates and
maps into each of them (`Win.Allocate_shared`); MPI still orders the memory (`Win.Sync` and a
message) and still moves data between machines.

The algorithm is a reduce-scatter then an allgather, in place: rank r owns chunk r of the
(virtually concatenated) arrays; every rank copies the chunks it does not own into its slot,
the ranks agree (the handshake doubles as the barrier), rank r reduces chunk r of its own
arrays and of every other slot into its slot, and after a barrier every rank copies every
rank's chunk out.  Each rank moves about three times the bytes, however many ranks share the
machine.  On several machines with the same number of ranks each, chunk r is then allreduced
by MPI among the ranks of node-rank r (one per machine) before the barrier: the hierarchical
allreduce that NCCL and Horovod use.  Two halves of the window alternate between calls, so a
rank that finished call k may write call k+1 while the others still read call k.  The window
is at most `PIECE_BYTES` a half: larger allreduces go through it in pieces, a barrier each.

`AllreduceGemm` (a weight update `W - lr * allreduce(dot(x.T, d))`) skips both copies: BLAS
writes each rank's product straight into its slot, and every rank adds the reduced chunks
into W, times the learning rate, from the slots that hold them (`reduce_products`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from theanine.distributed.runtime import DistributedError, _state, in_place, mpi_op, wait

#: ranks of one machine that reduce in one shared window at most (tests split a machine into
#: several "machines" with it); 1 turns shared memory off: MPI's own allreduce then
GROUP_VAR = "THEANINE_MPI_SHM_GROUP"

_ALIGN = 16  # chunk bounds in elements: whole cache lines for float32 and wider
MIN_BYTES = 256 << 10  # the smallest window half: small allreduces never regrow it
#: the largest window half (each rank maps two per rank of its machine: 8 ranks, 64 MiB of
#: /dev/shm); larger allreduces go through it in pieces
PIECE_BYTES = 4 << 20


class SharedArena:
    """The shared window of this process's group, created at the first allreduce."""

    def __init__(self) -> None:
        self.mode: str | None = None  # "shm" or "mpi", decided by every rank together
        self.node: Any = None  # the ranks sharing the window
        self.across: Any = None  # the ranks of this node-rank on the other machines, or None
        self.window: Any = None
        self.capacity = 0  # bytes per half of each rank's slot
        self.slots: list[np.ndarray] = []  # every rank's slot, as bytes
        self._views: dict[tuple, list[np.ndarray]] = {}  # of the slots, per dtype and half
        self.parity = 0

    def plan(self) -> str:
        """Decide, on every rank at once (a collective: call it where all ranks agree to be),
        whether allreduces go through shared memory."""
        if self.mode is not None:
            return self.mode
        from mpi4py import MPI

        world = _state.comm
        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        group = _group_limit()
        if group is not None and group < node.Get_size():
            part = node.Split(node.Get_rank() // group, key=node.Get_rank())
            node.Free()
            node = part
        sizes = world.allgather(node.Get_size())
        if node.Get_size() < 2 or len(set(sizes)) > 1:
            node.Free()  # single-rank machines, or machines with unequal counts: MPI's way
            self.mode = "mpi"
            return self.mode
        self.node = node
        if sizes[0] < world.Get_size():  # several machines
            self.across = world.Split(node.Get_rank(), key=world.Get_rank())
        self.mode = "shm"
        return self.mode

    def fits(self, nbytes: int) -> bool:
        return self.window is not None and nbytes <= self.capacity

    def room(self, nbytes: int, agree: Any) -> bool:
        """Whether a half already holds `nbytes` (or `PIECE_BYTES`, for more); if not, the
        ranks agree (the collective's handshake is then spent) and the window grows."""
        if self.fits(min(nbytes, PIECE_BYTES)):
            return True
        agree()
        self.grow(nbytes)
        return False

    def grow(self, nbytes: int) -> None:
        """A window of `nbytes` per half, rounded up to a power of two within
        [`MIN_BYTES`, `PIECE_BYTES`] (a collective of the node's ranks)."""
        from mpi4py import MPI

        if self.window is not None:
            self.window.Unlock_all()
            self.window.Free()
            self.window = None
        self.capacity = min(PIECE_BYTES, max(MIN_BYTES, 1 << max(nbytes - 1, 1).bit_length()))
        try:
            self.window = MPI.Win.Allocate_shared(2 * self.capacity, 1, comm=self.node)
        except MPI.Exception as exc:
            raise DistributedError(
                f"theanine.distributed: could not allocate {2 * self.capacity} bytes of "
                f"shared memory per rank for allreduce ({exc}); is /dev/shm full? "
                f"{GROUP_VAR}=1 makes allreduce use MPI's own instead") from None
        self.window.Lock_all(MPI.MODE_NOCHECK)
        self._views = {}
        self.slots = [np.frombuffer(self.window.Shared_query(k)[0], np.uint8,
                                    count=2 * self.capacity)
                      for k in range(self.node.Get_size())]

    def views(self, dtype: np.dtype) -> list[np.ndarray]:
        """Every rank's slot in the current half, as elements of `dtype`."""
        key = (dtype, self.parity)
        if key not in self._views:
            start = self.parity * self.capacity
            self._views[key] = [s[start:start + self.capacity].view(dtype)
                                for s in self.slots]
        return self._views[key]

    def written(self, agree: Any, what: str) -> None:
        """Return once every rank of the machine has written its slot: by `agree()` (the
        handshake, which also checks the layouts) or, when it is None, by a barrier."""
        self.window.Sync()
        if agree is None:
            self.node_barrier(what)
        else:
            agree()
            self.window.Sync()

    def reduced(self, chunk: np.ndarray, op: str, what: str) -> None:
        """Return once every rank's chunk is final: this rank's `chunk` (reduced over the
        machine) allreduced with its peers on the other machines, then a barrier."""
        if self.across is not None and chunk.size:
            wait(self.across.Iallreduce(in_place(), chunk, mpi_op(op)), what)
        self.node_barrier(what)

    def node_barrier(self, what: str) -> None:
        self.window.Sync()
        wait(self.node.Ibarrier(), what)
        self.window.Sync()


ARENA = SharedArena()


def _group_limit() -> int | None:
    raw = os.environ.get(GROUP_VAR)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{GROUP_VAR} must be a number of ranks >= 1, got {raw!r}")
    return value


def bounds(total: int, parts: int) -> list[int]:
    """Chunk edges of `total` elements in `parts` near-equal chunks, on `_ALIGN` edges."""
    edges = [min(total, -(-(k * total // parts) // _ALIGN) * _ALIGN) for k in range(parts)]
    return [*edges, total]


def segments(offsets: Sequence[int], lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
    """The pieces of the flat range [lo, hi) of arrays laid end to end at `offsets` (with
    `offsets[-1]` the total): (array index, start in that array, stop in that array)."""
    for i in range(len(offsets) - 1):
        start, stop = max(lo, offsets[i]), min(hi, offsets[i + 1])
        if start < stop:
            yield i, start - offsets[i], stop - offsets[i]


def allreduce(arena: SharedArena, flats: Sequence[np.ndarray], results: Sequence[np.ndarray],
              op: str, agree: Any, what: str) -> None:
    """Reduce the flat arrays `flats` across ranks into the flat `results` (`op`: sum or max).

    `agree()` runs the handshake: it returns once every rank has posted it, and raises when
    they differ, before any other rank's data is read.  More than a window's half is reduced
    in pieces of a half each.
    """
    sizes = tuple(f.size for f in flats)
    total, itemsize = sum(sizes), flats[0].dtype.itemsize
    ready = arena.room(total * itemsize, agree)
    step = arena.capacity // itemsize
    me, n = arena.node.Get_rank(), arena.node.Get_size()
    for start in range(0, max(total, 1), step):
        moves = _moves(sizes, start, min(total, start + step), n, me)
        _piece(arena, flats, results, moves, op, agree if ready and start == 0 else None, what)


class _Moves(NamedTuple):
    """What one rank copies and reduces for one piece: (array, slice of it, slice of a slot)."""

    writes: tuple[tuple[int, slice, slice], ...]  # into this rank's slot, for the others
    own: tuple[tuple[int, slice, slice], ...]  # this rank's chunk, reduced into its slot
    gathers: tuple[tuple[int, int, slice, slice], ...]  # (rank, ...): every chunk, out
    chunk: slice  # this rank's chunk in its slot


@functools.lru_cache(maxsize=256)
def _moves(sizes: tuple[int, ...], start: int, stop: int, n: int, me: int) -> _Moves:
    offsets = np.cumsum([0, *sizes]).tolist()
    edges = [start + e for e in bounds(stop - start, n)]

    def pieces(lo: int, hi: int) -> list[tuple[int, slice, slice]]:
        return [(i, slice(x, y), slice(offsets[i] - start + x, offsets[i] - start + y))
                for i, x, y in segments(offsets, lo, hi)]

    lo, hi = edges[me], edges[me + 1]
    return _Moves(tuple(pieces(start, lo) + pieces(hi, stop)), tuple(pieces(lo, hi)),
                  tuple((k, *p) for k in range(n) for p in pieces(edges[k], edges[k + 1])),
                  slice(lo - start, hi - start))


def _piece(arena: SharedArena, flats: Sequence[np.ndarray], results: Sequence[np.ndarray],
           moves: _Moves, op: str, agree: Any, what: str) -> None:
    """Reduce one piece of the arrays, which fits in a window's half; the ranks synchronize
    by `agree()` after writing (or by a barrier when it is None)."""
    combine = np.maximum if op == "max" else np.add
    slots = arena.views(flats[0].dtype)
    me = arena.node.Get_rank()
    mine = slots[me]
    for i, src, dst in moves.writes:  # what the other ranks reduce: theirs to read
        mine[dst] = flats[i][src]
    arena.written(agree, what)
    others = slots[:me] + slots[me + 1:]
    for i, src, dst in moves.own:  # this rank's chunk, from every rank
        out = mine[dst]
        combine(flats[i][src], others[0][dst], out=out)
        for slot in others[1:]:
            combine(out, slot[dst], out=out)
    arena.reduced(mine[moves.chunk], op, what)
    for k, i, dst, src in moves.gathers:  # every rank's reduced chunk
        results[i][dst] = slots[k][src]
    arena.parity ^= 1


def rows_fit(row_bytes: int) -> bool:
    """Whether a product with rows of `row_bytes` can go through the window a block of whole
    rows at a time."""
    return row_bytes <= PIECE_BYTES


def reduce_products(arena: SharedArena, outs: Sequence[np.ndarray], alphas: Sequence[Any],
                    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
                    extras: Sequence[np.ndarray], results: Sequence[np.ndarray], agree: Any,
                    what: str) -> None:
    """outs[i] += alphas[i] * the sum over ranks of dot(xs[i], ys[i]) for C-contiguous
    matrices `outs`, and results[j] = the sum over ranks of the flat extras[j].

    BLAS writes each product straight into this rank's slot (no copy in), rank r reduces
    chunk r of every slot, and after a barrier every rank adds every chunk, times alpha, into
    `outs` from the slot that holds it (`add_scaled`: no copy out, no update pass of its
    own); the extras are copied in and out as `allreduce` does.  All of it in one piece when
    it fits a window's half (one handshake and one barrier), else one after the other, the
    products in blocks of whole rows (`rows_fit`).
    """
    itemsize = outs[0].itemsize
    total = (sum(o.size for o in outs) + sum(e.size for e in extras)) * itemsize
    if total <= PIECE_BYTES:
        ready = arena.room(total, agree)
        _piece_of_products(arena, [o.reshape(-1) for o in outs], alphas, xs, ys, extras,
                           results, agree if ready else None, what)
        return
    sync = _first_then_barrier(arena, agree, what)
    for out, alpha, x, y in zip(outs, alphas, xs, ys):
        if rows_fit(out.shape[1] * itemsize):
            _add_product_in_blocks(arena, out, alpha, x, y, sync, what)
        else:
            flat = np.dot(x, y).reshape(-1)
            allreduce(arena, [flat], [flat], "sum", sync, what)
            add_scaled(out.reshape(-1), alpha, flat)
    if extras:
        allreduce(arena, extras, results, "sum", sync, what)


def add_scaled(out: np.ndarray, alpha: Any, x: np.ndarray) -> None:
    """out += alpha * x for flat float32 or float64 arrays of out's dtype, in one pass (BLAS
    axpy): the update of a weight from its reduced gradient, with no temporary."""
    if alpha == 1:
        np.add(out, x, out=out)
        return
    result = _axpy(out.dtype)(x, out, a=alpha)
    if result is not out:  # BLAS wanted a copy (unaligned memory): keep the result
        out[...] = result


@functools.cache
def _axpy(dtype: np.dtype) -> Any:
    from scipy.linalg.blas import get_blas_funcs

    return get_blas_funcs("axpy", dtype=dtype)


def _first_then_barrier(arena: SharedArena, agree: Any, what: str) -> Any:
    """`agree` the first time it is called (the collective's one handshake), a barrier of
    the machine's ranks every later time."""
    calls = []

    def sync() -> None:
        if calls:
            arena.node_barrier(what)
        else:
            calls.append(None)
            agree()

    return sync


def _add_product_in_blocks(arena: SharedArena, out: np.ndarray, alpha: Any, x: np.ndarray,
                           y: np.ndarray, agree: Any, what: str) -> None:
    rows, cols = out.shape
    ready = arena.room(out.nbytes, agree)
    step = max(1, arena.capacity // max(cols * out.itemsize, 1))
    flat = out.reshape(-1)
    for start in range(0, max(rows, 1), step):
        stop = min(rows, start + step)
        _piece_of_products(arena, [flat[start * cols:stop * cols]], [alpha], [x[start:stop]],
                           [y], [], [], agree if ready and start == 0 else None, what)


def _piece_of_products(arena: SharedArena, outs: Sequence[np.ndarray], alphas: Sequence[Any],
                       xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
                       extras: Sequence[np.ndarray], results: Sequence[np.ndarray],
                       agree: Any, what: str) -> None:
    """One window's half of products (flat `outs`) and extras; the ranks synchronize by
    `agree()` after writing (or by a barrier when it is None)."""
    me, n = arena.node.Get_rank(), arena.node.Get_size()
    plan = _product_plan(tuple(a.size for a in (*outs, *extras)), n, me)
    slots = arena.views(outs[0].dtype)
    mine = slots[me]
    for (lo, hi), x, y in zip(plan.places, xs, ys):
        np.dot(x, y, out=mine[lo:hi].reshape(x.shape[0], y.shape[1]))
    for (lo, hi), extra in zip(plan.places[len(outs):], extras):
        mine[lo:hi] = extra
    arena.written(agree, what)
    own = mine[plan.chunk]
    for k, slot in enumerate(slots):
        if k != me:
            np.add(own, slot[plan.chunk], out=own)
    arena.reduced(own, "sum", what)
    for k, i, dst, src in plan.gathers:
        if i < len(outs):
            add_scaled(outs[i][dst], alphas[i], slots[k][src])
        else:
            results[i - len(outs)][dst] = slots[k][src]
    arena.parity ^= 1


class _ProductPlan(NamedTuple):
    """Where one piece of products and extras lies in a slot, and what this rank does."""

    places: tuple[tuple[int, int], ...]  # each array's [start, stop) in a slot
    chunk: slice  # this rank's chunk of a slot
    gathers: tuple[tuple[int, int, slice, slice], ...]  # (rank, array, in the array, in a slot)


@functools.lru_cache(maxsize=256)
def _product_plan(sizes: tuple[int, ...], n: int, me: int) -> _ProductPlan:
    offsets = np.cumsum([0, *sizes]).tolist()
    edges = bounds(offsets[-1], n)
    gathers = tuple((k, i, slice(lo, hi), slice(offsets[i] + lo, offsets[i] + hi))
                    for k in range(n) for i, lo, hi in segments(offsets, edges[k], edges[k + 1]))
    return _ProductPlan(tuple(zip(offsets, offsets[1:])), slice(edges[me], edges[me + 1]),
                        gathers)
