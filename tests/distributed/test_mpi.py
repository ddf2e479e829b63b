"""The distributed package under `mpiexec -n 2` and `-n 4`: collectives and gradients against
NumPy, N-process training equal to 1-process training, the fused allreduce, and the failures
(dead rank timeout, shape and graph mismatch) named instead of hanging.

Each test launches a small script of this folder; the scripts save what they computed and the
checks happen here, against references computed independently with NumPy.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) \
    or shutil.which("mpiexec")

if importlib.util.find_spec("mpi4py") is None:
    pytestmark = pytest.mark.skip(reason="mpi4py is not installed (pip install theanine[mpi])")
elif MPIEXEC is None:
    pytestmark = pytest.mark.skip(reason="no mpiexec on PATH or next to the Python "
                                         "interpreter (pip install mpich)")

sys.path.insert(0, str(HERE))
from mpi_collectives import inputs, weights  # noqa: E402
from mpi_train import BATCH  # noqa: E402


def run(script: str, *args: str, n: int | None, timeout_env: float = 30,
        limit: float = 120, group: int | None = None) -> subprocess.CompletedProcess:
    """`script` under `mpiexec -n n` (n None: a plain process), one thread per process;
    `group`: at most that many ranks share a window (THEANINE_MPI_SHM_GROUP)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PMI_SIZE", "PMI_RANK", "THEANINE_MPI_SHM_GROUP")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               THEANINE_MPI_TIMEOUT=str(timeout_env))
    if group is not None:
        env["THEANINE_MPI_SHM_GROUP"] = str(group)
    cmd = [sys.executable, str(HERE / script), *args]
    if n is not None:
        cmd = [MPIEXEC, "-n", str(n), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=limit)


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


# (ranks, ranks per shared window, small window, the allreduce path: shared memory?, across
# machines?)
PATHS = [(2, None, False, True, False),  # one machine: every rank reduces in one shared window
         (4, None, False, True, False),
         (4, 2, False, True, True),  # two "machines" of two: shared memory, then MPI across
         (4, 2, True, True, True),  # ... through a 1 KiB window, in pieces
         (2, None, True, True, False),
         (2, 1, False, False, False),  # shared memory off: MPI's allreduce
         (4, 3, False, False, False)]  # machines of unequal size (3 + 1): MPI's allreduce


@pytest.mark.parametrize("n,group,pieces,shm,across", PATHS)
def test_collectives_and_gradients_match_numpy(n, group, pieces, shm, across, tmp_path):
    _ok(run("mpi_collectives.py", str(tmp_path), *(["pieces"] if pieces else []), n=n,
            group=group))
    ins = [inputs(r, n) for r in range(n)]
    a = np.stack([d["a"] for d in ins])
    w_sum = sum(d["w"] for d in ins)
    root = n - 1
    for r in range(n):
        got = np.load(tmp_path / f"rank{r}.npz")
        np.testing.assert_allclose(got["sum"], a.sum(0), rtol=1e-12)
        np.testing.assert_allclose(got["mean"], a.mean(0), rtol=1e-12)
        np.testing.assert_array_equal(got["max"], a.max(0))
        np.testing.assert_array_equal(got["bcast"], ins[root]["a"])
        np.testing.assert_array_equal(got["gather"], np.stack([d["v"] for d in ins]))
        np.testing.assert_array_equal(got["isum"], sum(d["k"] for d in ins))
        assert got["isum"].dtype == np.int32
        # gradients of the sum over ranks of every rank's cost, with respect to this rank's a
        np.testing.assert_allclose(got["g_sum"], w_sum, rtol=1e-12)
        np.testing.assert_allclose(got["g_mean"], w_sum / n, rtol=1e-12)
        np.testing.assert_allclose(got["g_max"], w_sum * (ins[r]["a"] == a.max(0)),
                                   rtol=1e-12)
        np.testing.assert_allclose(got["g_bcast"], w_sum if r == root else 0 * w_sum)
        np.testing.assert_allclose(got["g_gather"], sum(d["W"][r] for d in ins),
                                   rtol=1e-5, atol=1e-6)
        assert tuple(got["gather_shape"]) == (n, 5)
        # one fused node: two small arrays packed in one buffer, a large one reduced in place
        assert list(got["fused_inputs"]) == [3]
        np.testing.assert_allclose(got["fused_mean"], a.mean(0), rtol=1e-12)
        np.testing.assert_allclose(got["fused_2a"], 2 * a.mean(0), rtol=1e-12)
        np.testing.assert_allclose(got["fused_big"], np.mean([d["big"] for d in ins], 0),
                                   rtol=1e-12)
        for i in range(len(ins[0]["parts"])):
            stacked = np.stack([d["parts"][i] for d in ins])
            np.testing.assert_allclose(got[f"parts{2 * i}"], stacked.sum(0), rtol=1e-12)
            np.testing.assert_array_equal(got[f"parts{2 * i + 1}"], stacked.max(0))
        # two data-parallel updates W - 0.5 * mean over ranks of x.T @ d and a bias's
        # allreduce: one collective
        assert list(got["gemm_nodes"]) == ["AllreduceGemm{2 products,inplace}"]
        for i, w in enumerate(weights()):
            grad = np.mean([x.T @ g for x, g in (p["products"][i] for p in ins)], axis=0)
            np.testing.assert_allclose(got[f"gemm{i}"], w - 2 * 0.5 * grad, rtol=1e-12,
                                       atol=1e-12)
        np.testing.assert_allclose(got["gemm_bias"],
                                   -2 * sum(p["products"][0][1].sum(0) for p in ins),
                                   rtol=1e-12, atol=1e-12)
        assert list(got["path"]) == [shm, across]
        assert got["scalar_sum"].shape == () and got["scalar_sum"] == sum(range(n))
        np.testing.assert_array_equal(got["scalar_gather"], np.arange(n, dtype=float))


def _weights(path: Path) -> list[np.ndarray]:
    got = np.load(path)
    return [got[k] for k in got.files if k.startswith("arr_")]


@pytest.mark.parametrize("n,products", [(2, False), (4, False), (2, True), (4, True)])
def test_data_parallel_training_equals_one_process_full_batch(n, products, tmp_path):
    """`products`: the weight matrices' updates run as AllreduceGemm nodes."""
    assert BATCH % n == 0  # equal shards: the mean of per-rank means is the full-batch mean
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir()
    many.mkdir()
    _ok(run("mpi_train.py", str(one), n=None))
    _ok(run("mpi_train.py", str(many), *(["products"] if products else []), n=n))
    assert int(np.load(many / "rank0.npz")["products"]) == (2 if products else 0)
    reference = _weights(one / "rank0.npz")
    start = np.random.default_rng(1000).standard_normal((6, 8))
    assert np.abs(reference[0] - start).max() > 1e-3  # it did train
    for r in range(n):
        for w, ref in zip(_weights(many / f"rank{r}.npz"), reference):
            np.testing.assert_allclose(w, ref, rtol=1e-10, atol=1e-12)


def test_gradient_allreduces_are_fused_into_one(tmp_path):
    fused, unfused = tmp_path / "fused", tmp_path / "unfused"
    fused.mkdir()
    unfused.mkdir()
    _ok(run("mpi_train.py", str(fused), n=2))
    _ok(run("mpi_train.py", str(unfused), "distributed_fusion", n=2))
    assert list(np.load(fused / "rank0.npz")["allreduce_inputs"]) == [4]
    assert list(np.load(unfused / "rank0.npz")["allreduce_inputs"]) == [1, 1, 1, 1]
    for w, ref in zip(_weights(fused / "rank1.npz"), _weights(unfused / "rank1.npz")):
        np.testing.assert_allclose(w, ref, rtol=1e-12, atol=1e-15)


def test_dead_rank_fails_the_others_within_the_timeout():
    start = time.monotonic()
    proc = run("mpi_faults.py", "timeout", n=2, timeout_env=1.5, limit=60)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "CollectiveTimeout" in out and "did not complete within 1.5 s" in out, out[-3000:]
    assert "rank 0 of 2" in out
    assert elapsed < 20  # the hung rank sleeps 30 s: the job was aborted, not waited for


# the first allreduce (before any shared window), and a later one that fits rank 0's window
# but not rank 1's: the handshake names the shapes before either rank reads the other's data
@pytest.mark.parametrize("case,seq,shape1", [("shape", 0, 4), ("shape_later", 1, 300000)])
def test_shape_mismatch_across_ranks_is_named(case, seq, shape1):
    proc = run("mpi_faults.py", case, n=2)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "CollectiveMismatch" in out and "shapes or dtypes differ" in out, out[-3000:]
    assert f"rank 0: collective #{seq} allreduce(sum) of 1 array(s) of x: float64 (3,)" in out
    assert (f"rank 1: collective #{seq} allreduce(sum) of 1 array(s) of x: float64 "
            f"({shape1},)") in out


def test_product_shape_mismatch_across_ranks_is_named():
    proc = run("mpi_faults.py", "product_shape", n=2)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "CollectiveMismatch" in out and "shapes or dtypes differ" in out, out[-3000:]
    for r, cols in [(0, 2), (1, 3)]:
        assert (f"rank {r}: collective #0 allreduce_gemm(sum) of 1 product(s) and 0 array(s) "
                f"of W: float64 (6, {cols})") in out
    assert "no error" not in out


def test_graph_mismatch_is_named_at_the_first_call():
    proc = run("mpi_faults.py", "graph", n=2)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "the compiled graphs differ across ranks" in out, out[-3000:]
    assert "Allreduce{max,inplace}" in out  # rank 1's extra collective is named
    assert "no error" not in out


def test_example_prints_the_same_losses_at_one_and_two_processes():
    example = HERE.parent.parent / "examples" / "mlp_data_parallel.py"
    outputs = []
    for n in (None, 2):
        proc = run(str(example), n=n)
        _ok(proc)
        outputs.append([line.split(" (")[0] for line in proc.stdout.splitlines()])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 6, outputs
    losses = [float(line.split("loss ")[1].split(",")[0]) for line in outputs[0]]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]
