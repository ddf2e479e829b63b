"""The process group: MPI through `mpi4py`, started lazily, or a group of one without it.

`import theanine` never imports `mpi4py`.  The first query (`rank()`, `size()`, a collective)
decides: a process launched by `mpiexec` (the launcher's `PMI_*`/`OMPI_*` variables are set) with
`mpi4py` installed joins the MPI job; anything else is a group of one, where every collective is
the identity, so a data-parallel script runs unchanged on a laptop.

mpi4py's blocking calls cannot be interrupted, so every collective is issued nonblocking and
polled against a deadline (`timeout()`: `init(timeout=)`, else `$THEANINE_MPI_TIMEOUT`, else
60 s).  A rank that died or stopped calling collectives then fails the others with
`CollectiveTimeout` instead of hanging them; an uncaught exception on any rank aborts the
whole job (the launcher would otherwise wait for the ranks that hang).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from typing import Any

#: environment variables a launcher sets in every process it starts (MPICH/Hydra, PMIx, Open
#: MPI, MVAPICH): without one, the process was not started by `mpiexec`
LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                 "MV2_COMM_WORLD_SIZE")

DEFAULT_TIMEOUT = 60.0


class DistributedError(RuntimeError):
    """A collective failed across the process group."""


class CollectiveTimeout(DistributedError):
    """A collective did not complete on every rank within the timeout."""


class _State:
    """What `init` decided: the communicators theanine uses (private duplicates of COMM_WORLD,
    so the user's own mpi4py traffic never matches ours: one for data, one for the handshake)
    or None for one process."""

    def __init__(self) -> None:
        self.ready = False
        self.comm: Any = None
        self.check_comm: Any = None
        self.broken: str | None = None  # why the group refuses collectives (after a mismatch)
        self.stranded: list[Any] = []  # requests that failed, with buffers MPI may still write
        self.rank = 0
        self.size = 1
        self.timeout: float | None = None
        self.sequence = 0  # collectives this process has issued: ranks must agree on it
        self.lock = threading.RLock()  # one collective at a time per process, in call order


_state = _State()


def launched_by_mpiexec() -> bool:
    """True when a launcher started this process (one of `LAUNCHER_VARS` is set)."""
    return any(v in os.environ for v in LAUNCHER_VARS)


def init(timeout: float | None = None) -> None:
    """Join the MPI job if this process was launched by `mpiexec` and mpi4py is installed.

    Idempotent; every other function calls it on first use.  `timeout` (seconds) bounds how
    long a collective may wait for the other ranks.
    """
    if timeout is not None:
        set_timeout(timeout)
    if _state.ready:
        return
    with _state.lock:
        if _state.ready:
            return
        if launched_by_mpiexec():
            try:
                from mpi4py import MPI
            except ImportError:
                warnings.warn("this process was launched by mpiexec but mpi4py is not "
                              "installed: running as a group of one process (every rank "
                              "trains alone); install it with `pip install theanine[mpi]`",
                              RuntimeWarning, stacklevel=2)
            else:
                _state.comm = MPI.COMM_WORLD.Dup()
                _state.check_comm = MPI.COMM_WORLD.Dup()
                _state.rank = _state.comm.Get_rank()
                _state.size = _state.comm.Get_size()
                if _state.size > 1:
                    _abort_job_on_uncaught_error(MPI.COMM_WORLD)
        _state.ready = True


def _abort_job_on_uncaught_error(world: Any) -> None:
    """Make an uncaught exception on one rank end the whole job (after printing it), as
    `python -m mpi4py` does: otherwise the others wait for it until their timeout, and the
    launcher then waits for ranks that hang."""
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        previous(kind, value, tb)
        sys.stderr.flush()
        sys.stdout.flush()
        # mpiexec forwards output asynchronously, and an abort tears the job down at once:
        # give the launcher a moment to pass this rank's message on (else it may be lost)
        time.sleep(0.5)
        world.Abort(1)

    sys.excepthook = hook


def rank() -> int:
    """This process's index in the group (0 without MPI)."""
    init()
    return _state.rank


def size() -> int:
    """The number of processes in the group (1 without MPI)."""
    init()
    return _state.size


def comm() -> Any:
    """The mpi4py communicator theanine's collectives use, or None for a group of one."""
    init()
    return _state.comm


def timeout() -> float:
    """Seconds a collective waits for the other ranks before raising `CollectiveTimeout`."""
    if _state.timeout is not None:
        return _state.timeout
    raw = os.environ.get("THEANINE_MPI_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"THEANINE_MPI_TIMEOUT must be a number of seconds, got {raw!r}"
                         ) from None
    if value <= 0:
        raise ValueError(f"THEANINE_MPI_TIMEOUT must be positive, got {raw!r}")
    return value


def set_timeout(seconds: float) -> None:
    """Set the collective timeout for this process (overrides $THEANINE_MPI_TIMEOUT)."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    _state.timeout = float(seconds)


def wait(request: Any, what: str, patient: bool = False) -> None:
    """Complete a nonblocking MPI request (or a list of them), or raise `CollectiveTimeout`
    naming `what`.

    MPI progresses only while we poll, so a transfer (the other ranks are known to be there)
    is polled without pause, as MPI's own blocking calls do: yielding the core to another
    process would stall the transfer for a time slice.  A `patient` wait (the handshake, which
    waits for the other ranks to arrive, possibly for a whole step's compute) yields the core
    every 64 polls, and sleeps 0.1 ms between polls once it has waited 10 ms, so that waiting
    ranks leave the cores to those still computing (oversubscribed jobs, busy machines).
    """
    if isinstance(request, list):
        from mpi4py import MPI

        requests = request

        def done() -> bool:
            return MPI.Request.Testall(requests)
    else:
        done = request.Test
    if done():
        return
    limit = timeout()
    start = time.monotonic()
    polls = 0
    while not done():
        polls += 1
        if polls % 64 == 0:
            waited = time.monotonic() - start
            if waited > limit:
                raise CollectiveTimeout(
                    f"theanine.distributed: {what} on rank {_state.rank} of {_state.size} did "
                    f"not complete within {limit:g} s: another rank died, hangs, or stopped "
                    "calling collectives (set the limit with THEANINE_MPI_TIMEOUT or "
                    "init(timeout=))")
            if patient:
                if waited > 0.01:
                    time.sleep(1e-4)
                else:
                    os.sched_yield()


def mpi_op(op: str) -> Any:
    """MPI's reduction for `op` ("max"; "sum" and "mean", which divides afterwards)."""
    from mpi4py import MPI

    return MPI.MAX if op == "max" else MPI.SUM


def in_place() -> Any:
    """MPI's IN_PLACE: the receive buffer is also the send buffer."""
    from mpi4py import MPI

    return MPI.IN_PLACE


def barrier() -> None:
    """Wait until every rank reaches this point (bounded by the timeout)."""
    from theanine.distributed.handshake import Agreement

    c = comm()
    if c is None:
        return
    with _state.lock:
        agreement = Agreement("barrier", (), ())
        request = c.Ibarrier()
        agreement.finish()
        wait(request, "barrier", patient=True)  # no buffers: nothing to keep on failure
