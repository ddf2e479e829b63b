"""`theanine.distributed` in one process (no mpiexec): a group of one where every collective is
the identity, plus the parts that need no MPI at all (fusion, errors, `shard`)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import theanine
import theanine.distributed as dist
import theanine.tensor as T
from theanine.distributed.ops import Allreduce, Collective
from theanine.testing import check_infer_shape, verify_grad

pytestmark = pytest.mark.skipif(dist.launched_by_mpiexec(),
                                reason="these tests expect a process not started by mpiexec")


def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in dist.runtime.LAUNCHER_VARS}
    env.update(extra)
    return env


def test_importing_and_using_does_not_import_mpi4py():
    code = ("import sys, numpy as np, theanine, theanine.tensor as T\n"
            "import theanine.distributed as dist\n"
            "x = T.dvector('x')\n"
            "f = theanine.function([x], dist.allreduce(x, 'mean'))\n"
            "assert f(np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]\n"
            "assert (dist.rank(), dist.size()) == (0, 1)\n"
            "print('mpi4py' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_plain_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_launched_without_mpi4py_warns_and_runs_as_one_process():
    code = ("import sys, warnings\n"
            "sys.modules['mpi4py'] = None  # an interpreter without mpi4py\n"
            "import theanine.distributed as dist\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    print(dist.size(), dist.rank())\n"
            "print(w[0].message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_plain_env(PMI_SIZE="2", PMI_RANK="1"), timeout=120)
    assert out.returncode == 0, out.stderr
    first, message = out.stdout.splitlines()[:2]
    assert first == "1 0"
    assert "launched by mpiexec but mpi4py is not installed" in message


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_collectives_are_identities_in_one_process(op, rng):
    a = rng.standard_normal((3, 2))
    x = T.dmatrix("x")
    f = theanine.function([x], [dist.allreduce(x, op), dist.broadcast(x), dist.allgather(x)])
    red, bcast, gathered = f(a)
    np.testing.assert_array_equal(red, a)
    np.testing.assert_array_equal(bcast, a)
    np.testing.assert_array_equal(gathered, a[None])
    assert not np.shares_memory(red, a)


@pytest.mark.parametrize("build", [lambda a: dist.allreduce(a, "sum") ** 2,
                                   lambda a: dist.allreduce(a, "mean") * 3,
                                   lambda a: dist.allreduce(a, "max") ** 3,
                                   lambda a: dist.broadcast(a) ** 2,
                                   lambda a: dist.allgather(a) ** 2,
                                   lambda a: dist.ReduceScatter()(a) ** 2,
                                   lambda a: dist.Reduce()(a) ** 2],
                         ids=["sum", "mean", "max", "broadcast", "allgather",
                              "reduce_scatter", "reduce"])
def test_gradients_match_finite_differences(build, rng):
    verify_grad(build, [rng.standard_normal((1, 3)) + 2.0], rng=rng)


@pytest.mark.parametrize("build", [lambda a: dist.allreduce(a, "mean"), dist.broadcast,
                                   dist.allgather, lambda a: dist.ReduceScatter()(a)],
                         ids=["allreduce", "broadcast", "allgather", "reduce_scatter"])
def test_infer_shape(build, rng):
    check_infer_shape(build, [rng.standard_normal((1, 4))])


def test_collectives_are_not_constant_folded():
    f = theanine.function([], dist.allreduce(np.arange(4.0), "sum"))
    assert any(isinstance(n.op, Allreduce) for n in f.maker.fgraph.toposort())
    assert f().tolist() == [0.0, 1.0, 2.0, 3.0]


def _allreduces(f) -> list:
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Allreduce)]


def test_fusion_joins_independent_allreduces_of_one_op_and_dtype(rng):
    x, y, z = T.fvector("x"), T.fmatrix("y"), T.dvector("z")
    outs = [dist.allreduce(x * 2, "sum"), dist.allreduce(y, "sum"), dist.allreduce(z, "sum"),
            dist.allreduce(x, "max")]
    f = theanine.function([x, y, z], outs)
    groups = sorted((n.op.op, n.outputs[0].dtype, len(n.inputs)) for n in _allreduces(f))
    assert groups == [("max", "float32", 1), ("sum", "float32", 2), ("sum", "float64", 1)]
    vx, vy, vz = (rng.standard_normal(3).astype("float32"),
                  rng.standard_normal((2, 3)).astype("float32"), rng.standard_normal(4))
    for got, want in zip(f(vx, vy, vz), [vx * 2, vy, vz, vx]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got.shape == want.shape


def test_fusion_keeps_dependent_allreduces_apart(rng):
    x = T.dvector("x")
    first = dist.allreduce(x, "sum")
    f = theanine.function([x], [first, dist.allreduce(first + 1, "sum")])
    assert [len(n.inputs) for n in _allreduces(f)] == [1, 1]
    v = rng.standard_normal(3)
    a, b = f(v)
    np.testing.assert_allclose(b, v + 1)


def test_every_collective_is_stamped_with_its_graph_order():
    x = T.dvector("x")
    f = theanine.function([x], [dist.broadcast(x), dist.allreduce(x * 2, "max")])
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Collective)]
    orders = [n.tag["collective_order"] for n in nodes]
    assert [o.index for o in orders] == [0, 1]
    assert orders[0].collectives == orders[1].collectives
    assert {c.split("(")[0] for c in orders[0].collectives} == {"Broadcast{0}",
                                                                 "Allreduce{max,inplace}"}


def test_bad_arguments_are_named():
    x = T.ivector("counts")
    with pytest.raises(ValueError, match="op must be one of.*got 'prod'"):
        dist.allreduce(x, "prod")
    with pytest.raises(TypeError, match="needs a float.*counts is int32"):
        dist.allreduce(x, "mean")
    with pytest.raises(TypeError, match="boolean flags.*cast it to int8"):
        dist.allreduce(T.TensorType("bool", (False,))("flags"), "max")
    with pytest.raises(ValueError, match="root must be a rank.*got -1"):
        dist.broadcast(x, root=-1)
    with pytest.raises(TypeError, match="allgather: x must be a tensor"):
        dist.allgather(object())
    with pytest.raises(TypeError, match=r"params\[1\].*expected a shared variable"):
        dist.broadcast_shared([theanine.shared(np.zeros(2)), x])
    with pytest.raises(ValueError, match="positive number of seconds, got 0"):
        dist.set_timeout(0)


def test_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setattr(dist.runtime._state, "timeout", None)
    monkeypatch.setenv("THEANINE_MPI_TIMEOUT", "2.5")
    assert dist.timeout() == 2.5
    monkeypatch.setenv("THEANINE_MPI_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="THEANINE_MPI_TIMEOUT must be a number.*'soon'"):
        dist.timeout()
    monkeypatch.delenv("THEANINE_MPI_TIMEOUT")
    assert dist.timeout() == dist.runtime.DEFAULT_TIMEOUT


@pytest.mark.parametrize("n", [0, 1, 7, 10, 13])
@pytest.mark.parametrize("size", [1, 3, 4])
def test_shard_splits_like_numpy_array_split(n, size):
    data = np.arange(n)
    parts = [dist.shard(data, r, size) for r in range(size)]
    for part, want in zip(parts, np.array_split(data, size)):
        np.testing.assert_array_equal(part, want)
    assert [data[dist.shard(n, r, size)].tolist() for r in range(size)] == \
        [p.tolist() for p in parts]
    assert dist.shard(list(range(n))) == list(range(n))  # one process: everything


def test_shard_rejects_bad_input():
    with pytest.raises(ValueError, match="length must be >= 0, got -3"):
        dist.shard(-3)
    with pytest.raises(TypeError, match="an int length, an array or a sequence, got float"):
        dist.shard(2.5)
    with pytest.raises(ValueError, match=r"rank 4 is not in \[0, 4\)"):
        dist.shard(10, 4, 4)


def test_c_backend_runs_collectives_on_the_host():
    from theanine.plugins import get_registry

    ok = "c" in get_registry().backends and get_registry().get_backend("c").is_available()[0]
    if not ok:
        pytest.skip("the C backend is not available")
    x = T.dvector("x")
    with theanine.config.change_flags(backend="c", tiered=False):
        f = theanine.function([x], dist.allreduce(T.exp(x), "sum"))
    report = f.maker.program.report
    hows = {str(n.node).split("(")[0]: n.how for n in report.nodes}
    assert hows["Allreduce{sum,inplace}"] == "fallback", report.summary()
    assert "no C implementation of Allreduce" in report.summary()
    np.testing.assert_allclose(f(np.arange(3.0)), np.exp(np.arange(3.0)))


@pytest.mark.parametrize("total,parts", [(0, 2), (5, 2), (1000, 3), (4097, 4), (33, 8)])
def test_shared_memory_chunks_cover_the_arrays_once(total, parts):
    from theanine.distributed.shared_memory import bounds

    edges = bounds(total, parts)
    assert len(edges) == parts + 1 and edges[0] == 0 and edges[-1] == total
    assert edges == sorted(edges)
    assert all(e % 16 == 0 for e in edges if e < total)  # whole cache lines, but the end
    assert max(np.diff(edges)) <= -(-total // parts) + 16  # near-equal


def test_shared_memory_segments_map_a_flat_range_onto_the_arrays():
    from theanine.distributed.shared_memory import segments

    sizes = [3, 0, 5, 1, 4]
    offsets = np.cumsum([0, *sizes]).tolist()
    owner = [(i, j) for i, s in enumerate(sizes) for j in range(s)]  # naive element map
    for lo in range(offsets[-1] + 1):
        for hi in range(lo, offsets[-1] + 1):
            got = [(i, j) for i, a, b in segments(offsets, lo, hi) for j in range(a, b)]
            assert got == owner[lo:hi]


def test_allreduce_overwrites_only_inputs_nobody_else_reads():
    x, w = T.dvector("x"), T.dvector("w")
    temp, shared_temp = T.exp(x), 2 * w
    f = theanine.function([x, w], [dist.allreduce(temp, "sum"), dist.allreduce(x, "sum"),
                                   dist.allreduce(shared_temp, "sum") + shared_temp])
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Allreduce)]
    assert len(nodes) == 1  # fused
    node = nodes[0]
    by_input = {str(i.owner.op) if i.owner else i.name: k for k, i in enumerate(node.inputs)}
    # exp(x) is read only by the allreduce; x is a function input; 2 * w is read twice
    assert node.op.inplace == (by_input["Elemwise{exp,no_inplace}"],)
    assert node.op.destroy_map == {node.op.inplace[0]: [node.op.inplace[0]]}
    xv, wv = np.array([0.5, -1.0]), np.array([3.0, 4.0])
    kept = xv.copy()
    got = f(xv, wv)
    np.testing.assert_allclose(got[0], np.exp(kept))
    np.testing.assert_array_equal(got[1], kept)
    np.testing.assert_allclose(got[2], 4 * wv)
    np.testing.assert_array_equal(xv, kept)  # the user's array is never overwritten
    excluded = theanine.function([x], dist.allreduce(T.exp(x), "sum"),
                                 mode=theanine.compile.mode.get_default_mode().excluding(
                                     "distributed_inplace"))
    assert [n.op.inplace for n in excluded.maker.fgraph.toposort()
            if isinstance(n.op, Allreduce)] == [()]


@pytest.mark.parametrize("dtype", ["int8", "float32", "bool"])
def test_collectives_of_a_scalar_keep_its_rank(dtype):
    s = T.scalar("s", dtype=dtype)
    outs = [dist.broadcast(s), dist.allgather(s)]
    if dtype != "bool":
        outs.append(dist.allreduce(s * 2, "sum"))
    got = theanine.function([s], outs)(np.asarray(1, dtype))
    assert [np.shape(g) for g in got] == [(), (1,), ()][:len(outs)]
    assert all(g.dtype == dtype for g in got)


def test_gradient_of_allgather_of_a_scalar_is_a_0d_array():
    s = T.dscalar("s")
    g = T.grad((dist.allgather(s) * 2).sum(), s)  # a reduce-scatter of a vector of length 1
    f = theanine.function([s], g * 3 + 1)  # an in-place elementwise consumer
    np.testing.assert_allclose(f(1.5), 7.0)
    node = [n for n in f.maker.fgraph.toposort() if "ReduceScatter" in str(n.op)][0]
    out = node.op.python_thunk(node)(np.array([2.0]))[0]
    assert isinstance(out, np.ndarray) and out.shape == ()
