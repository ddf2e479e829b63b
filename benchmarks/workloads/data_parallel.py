"""Data-parallel training on MPI (`theanine.distributed`): the `mlp_step` model's SGD step at 1
and 2 processes, and the fused allreduce of its gradients against mpi4py's raw `Allreduce`.

Weak scaling: every process trains on its own batch of 512 (the goal's case) and of 128 (the
`mlp_step` benchmark's batch, a 2 ms step bound by the memory the two vCPUs share), so 2
processes do twice the work per step; scaling efficiency = throughput at 2 / (2 x
throughput at 1) = the 1-process step's time / the 2-process step's time.  The 1-process row
is the plain step (no allreduce) on one process while the other waits; the "no allreduce" row
runs the plain step on both at once, which separates what sharing the machine costs from what
communicating costs.  The cases alternate within every repeat, so a shared machine's drifting
load hits them alike.  Every process runs one thread (OMP_NUM_THREADS=1,
OPENBLAS_NUM_THREADS=1), under `mpiexec` (`_data_parallel_child.py`); a 2-process figure is
the slowest rank's time per call.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

from harness import Context, Measurement

NAME = "data_parallel"
DESCRIPTION = ("MLP 784-500-10 SGD step (batch 128 and 512 per process, float32, 1 thread "
               "each) at 1 and 2 MPI processes; fused gradient allreduce vs mpi4py Allreduce")
STEP_CASE = "MLP step, 2 processes"
#: the same step with four times the compute per byte of gradient (weak scaling's usual
#: knob): the case the scaling goal reads (`goals.py`)
LARGE_BATCH = 512
LARGE_STEP_CASE = f"MLP step, batch {LARGE_BATCH} per process, 2 processes"
ALLREDUCE_CASE = "allreduce of the MLP's gradients, 2 processes"
RAW_ENGINE = "mpi4py Allreduce"
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data_parallel_child.py")


def one_process_engine(engine: str) -> str:
    """The engine name of the 1-process baseline row of `engine`."""
    return f"{engine}, 1 process"


def _mpiexec() -> str | None:
    return shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or \
        shutil.which("mpiexec")


def _child(ctx: Context, backend: str, mode: str, n: int, batch: int | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, CHILD, backend, mode, str(ctx.repeat), str(ctx.min_time),
           *([str(batch)] if batch else [])]
    if n > 1:
        cmd = [_mpiexec(), "-n", str(n), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"FAILED: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step_rows(case: str, engine: str, steps: dict) -> list[Measurement]:
    efficiency = steps["one"]["median"] / steps["all"]["median"]
    communication = steps["plain_all"]["median"] / steps["all"]["median"]
    return [_row(case, engine, steps["all"], f"scaling efficiency {efficiency:.2f}"),
            _row(case, one_process_engine(engine), steps["one"], "plain step, rank 0 alone"),
            _row(case, f"{engine}, no allreduce", steps["plain_all"],
                 f"plain step on both; communication keeps {communication:.2f}")]


def _row(case: str, engine: str, figures: dict, note: str = "") -> Measurement:
    return Measurement(NAME, case, engine, figures["median"], figures["min"],
                       figures["number"], note)


def run(ctx: Context) -> list[Measurement]:
    if not ctx.wants("theanine"):
        return []
    missing = ("mpi4py is not installed" if importlib.util.find_spec("mpi4py") is None
               else "no mpiexec (pip install mpich)" if _mpiexec() is None else "")
    rows = []
    raw_done = False
    for backend, reason in ctx.theanine_backends():
        engine = f"theanine[{backend}]"
        if reason or missing:
            note = f"unavailable: {reason}" if reason else missing
            rows += [Measurement(NAME, STEP_CASE, engine, note=note),
                     Measurement(NAME, ALLREDUCE_CASE, engine, note=note)]
            continue
        try:
            steps = _child(ctx, backend, "step", 2)
            large = _child(ctx, backend, "step", 2, LARGE_BATCH)
            reduced = _child(ctx, backend, "allreduce", 2)
        except RuntimeError as exc:
            rows += [Measurement(NAME, STEP_CASE, engine, note=str(exc)),
                     Measurement(NAME, ALLREDUCE_CASE, engine, note=str(exc))]
            continue
        rows += _step_rows(STEP_CASE, engine, steps) + _step_rows(LARGE_STEP_CASE, engine, large)
        ratio = reduced["fused"]["median"] / reduced["raw"]["median"]
        rows.append(_row(ALLREDUCE_CASE, engine, reduced["fused"],
                         f"{reduced['bytes'] / 1e6:.2f} MB, {ratio:.2f}x raw"))
        if not raw_done:
            rows += [_row(ALLREDUCE_CASE, RAW_ENGINE, reduced["raw"], "one buffer"),
                     _row(ALLREDUCE_CASE, f"{RAW_ENGINE} per array", reduced["per_array"],
                          "four calls")]
            raw_done = True
    return rows
