"""dot and Gemm on backend c (NumPy's OpenBLAS through cffi) against NumPy: every operand
layout, vector/matrix combinations, empty dimensions, dtypes, and the graphs the specialize
rewrite turns into Gemm."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from c_checks import compile_both, hows, report, require_c

import theanine.tensor as T
from theanine.tensor.blas import Gemm
from theanine.tensor.math import Dot

require_c()

TOL = {"float32": 2e-5, "float64": 1e-12}


def _views(rng, shape, dtype):
    """The same kind of matrix in many layouts: C, Fortran, transposed view, row-strided,
    column-strided and doubly strided slices, both axes reversed (negative strides)."""
    def fresh():
        return rng.standard_normal(shape).astype(dtype)

    m, n = shape
    rows = np.zeros((2 * m, n), dtype)
    rows[::2] = fresh()
    cols = np.zeros((m, 3 * n), dtype, order="F")
    cols[:, ::3] = fresh()
    both = np.zeros((2 * m, 3 * n), dtype)
    both[::2, ::3] = fresh()
    return {"C": fresh(), "F": np.asfortranarray(fresh()),
            "T": np.ascontiguousarray(fresh().T).T, "rows": rows[::2], "cols": cols[:, ::3],
            "both": both[::2, ::3], "reversed": fresh()[::-1, ::-1]}


def _close(got, want, dtype, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale,
                               err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matrix_products_in_every_layout(dtype, rng):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = compile_both([x, y], T.dot(x, y))[1]
    assert hows(f, Dot) == ["native"], report(f).summary()
    for m, k, n in [(5, 4, 3), (1, 7, 1), (6, 1, 5), (9, 13, 1)]:
        xs, ys = _views(rng, (m, k), dtype), _views(rng, (k, n), dtype)
        for (nx, xv) in xs.items():
            for (ny, yv) in ys.items():
                _close(f(xv, yv), xv @ yv, dtype, f"{nx}·{ny} {m}x{k}x{n}")
        # genuinely negative strides: reversed views, not copies
        xr = rng.standard_normal((m, k)).astype(dtype)[::-1]
        yr = rng.standard_normal((k, n)).astype(dtype)[:, ::-1]
        _close(f(xr, yr), xr @ yr, dtype, "negative strides")
        _close(f(xr.T.T[:, ::-1], yr[::-1]), xr[:, ::-1] @ yr[::-1], dtype, "negative strides")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_products(dtype, rng):
    m, v, w = T.matrix("m", dtype=dtype), T.vector("v", dtype=dtype), T.vector("w", dtype=dtype)
    f = compile_both([m, v, w], [T.dot(m, v), T.dot(w, m), T.dot(v, v)])[1]
    assert hows(f, Dot) == ["native"] * 3
    mv = rng.standard_normal((6, 6)).astype(dtype)
    for name, mi in _views(rng, (6, 6), dtype).items():
        for vi in (mv[0], mv[:, 1], mv[::-1, 2], rng.standard_normal(12).astype(dtype)[::2]):
            got = f(mi, vi, vi)
            _close(got[0], mi @ vi, dtype, f"{name} matrix·vector")
            _close(got[1], vi @ mi, dtype, f"{name} vector·matrix")
            _close(got[2], np.asarray(vi @ vi), dtype, "vector·vector")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_empty_dimensions(dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    v = T.vector("v", dtype=dtype)
    f = compile_both([x, y, v], [T.dot(x, y), T.dot(x, v)])[1]
    for m, k, n in [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)]:
        xv, yv, vv = np.ones((m, k), dtype), np.ones((k, n), dtype), np.ones(k, dtype)
        got = f(xv, yv, vv)
        _close(got[0], xv @ yv, dtype, f"{m}x{k}x{n}")
        _close(got[1], xv @ vv, dtype, f"{m}x{k} · {k}")


def test_mixed_dtypes_are_promoted_like_numpy(rng):
    for dx, dy in [("float32", "float64"), ("int32", "float32"), ("int64", "int64"),
                   ("float64", "int8")]:
        x, y = T.matrix("x", dtype=dx), T.matrix("y", dtype=dy)
        fp, fc = compile_both([x, y], T.dot(x, y))
        xv = rng.integers(-5, 5, (4, 3)).astype(dx)
        yv = rng.integers(-5, 5, (3, 2)).astype(dy)
        want = xv @ yv
        got = fc(xv, yv)
        assert got.dtype == fp(xv, yv).dtype == want.dtype, (dx, dy)
        np.testing.assert_array_equal(got, want)   # small integers: exact in every dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_from_the_specialize_rewrite(dtype, rng):
    x, y, z = (T.matrix(n, dtype=dtype) for n in "xyz")
    a = T.scalar("a", dtype=dtype)
    exprs = [T.dot(x, y) + z, 2 * z - a * T.dot(x, y), z * a + T.dot(x, y), z - T.dot(x, y)]
    for expr in exprs:
        fp, fc = compile_both([x, y, z, a], expr)
        assert any(isinstance(n.op, Gemm) for n in fc.maker.fgraph.toposort()), \
            fc.maker.fgraph.toposort()
        assert set(hows(fc, Gemm)) == {"native"}, report(fc).summary()
        for (nx, xv), (ny, yv) in zip(_views(rng, (5, 4), dtype).items(),
                                      _views(rng, (4, 3), dtype).items()):
            zv = rng.standard_normal((5, 3)).astype(dtype)[::-1]
            av = np.asarray(0.75, dtype)
            keep = zv.copy()
            _close(fc(xv, yv, zv, av), fp(xv, yv, zv, av), dtype, f"{expr} {nx} {ny}")
            assert np.array_equal(zv, keep), "Gemm overwrote the user's z"


def test_literal_alpha_becomes_gemm():
    x, y, z = T.dmatrices("x", "y", "z")
    fc = compile_both([x, y, z], z + 0.5 * T.dot(x, y))[1]
    assert any(isinstance(n.op, Gemm) for n in fc.maker.fgraph.toposort())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_matrix_vector_products_split_over_threads(dtype, rng, monkeypatch):
    """Products between SPLIT_MIN and OpenBLAS's own threading threshold run one gemv per
    OpenMP thread (when the runtime has several, which spin when idle): every layout, both
    orientations, Gemm's alpha and beta, against NumPy."""
    import theanine_c.gemv as gemv
    from theanine_c import build

    calls = []  # (the runtime's thread count, whether the product was split)
    original = gemv.SplitGemv.__call__

    def recorded(self, *args):
        calls.append((self._threads(), original(self, *args)))
        return calls[-1][1]

    monkeypatch.setattr(gemv.SplitGemv, "__call__", recorded)
    a, v, u = T.matrix("a", dtype=dtype), T.vector("v", dtype=dtype), T.vector("u", dtype=dtype)
    s = T.scalar("s", dtype=dtype)
    outputs = [T.dot(a, v), T.dot(u, a), T.dot(a.T, u), s * u + 2 * T.dot(a, v)]
    f = compile_both([a, v, u, s], outputs)[1]
    assert hows(f, Dot) == ["native"] * 3, report(f).summary()
    for m, n in [(400, 784), (333, 517), (64, 1024)]:
        assert gemv.SplitGemv.covers(m * n)
        x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(m).astype(dtype)
        for name, av in _views(rng, (m, n), dtype).items():
            got = f(av, x, y, np.asarray(0.5, dtype))
            want = [av @ x, y @ av, av.T @ y, 0.5 * y + 2 * (av @ x)]
            for k, (g, w) in enumerate(zip(got, want)):
                _close(g, w.astype(dtype), dtype, f"output {k}, {name} {m}x{n}")
    # the split exists where idle OpenMP threads spin, and splits where there are several
    assert bool(calls) == build.threads_spin(), calls
    assert all(split == (threads > 1) for threads, split in calls)


_SPIN_PROBE = """
import numpy as np, theanine, theanine.tensor as T
from theanine_c import build
from theanine_c.toolchain import toolchain
a, v = T.dmatrix("a"), T.dvector("v")
theanine.function([a, v], T.dot(a, v), backend="c")(np.ones((2, 2)), np.ones(2))
print(toolchain().openmp, build.threads_spin())
"""


@pytest.mark.parametrize("env, spins", [({}, True), ({"OMP_WAIT_POLICY": "PASSIVE"}, False),
                                        ({"GOMP_SPINCOUNT": "0"}, False),
                                        ({"OMP_WAIT_POLICY": "ACTIVE"}, True)])
def test_idle_openmp_threads_spin_unless_the_user_says_otherwise(env, spins):
    """By default the backend's OpenMP threads spin briefly when idle (what the split gemv
    needs); the user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run([sys.executable, "-c", _SPIN_PROBE], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    openmp, spinning = done.stdout.split()
    if openmp != "True":
        pytest.skip("this compiler has no OpenMP: kernels run on one thread")
    assert spinning == str(spins)
