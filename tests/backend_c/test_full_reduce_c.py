"""Reductions to one long output (`T.sum(x)`, `max(abs(x))`) split its elements into chunks
of `CHUNK` that the threads reduce, combined in chunk order (`RowLoops.chunk_loop`), plain
and fused with their producer; reductions to few long outputs (`x.sum(axis=1)` of 2 x
500000) split their outputs: against NumPy at and around the threshold and the chunk
boundaries, a NaN in any chunk of a max/min, an all/any decided in a late chunk (of one
output, not of another), strided, transposed and reversed inputs, integer and bool inputs,
more elements than `MAX_PARTS` chunks hold; the same bits on 1 and 2 threads; and no OpenMP
region below the threshold."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from c_checks import require_c

import theanine
import theanine.tensor as T
from theanine.tensor.type import TensorType

require_c()

from theanine.codegen.cstyle import Unit  # noqa: E402
from theanine.codegen.kernels import ReduceKernel, ScalarProgram  # noqa: E402
from theanine_c.fused_reduce import _render  # noqa: E402
from theanine_c.loops import CHUNK, MAX_PARTS, PARALLEL_THRESHOLD  # noqa: E402
from theanine_c.renderer import CRenderer  # noqa: E402

KINDS = ("sum", "prod", "max", "min", "all", "any")
DTYPES = ("float32", "float64", "int32", "int8", "bool")
#: lengths of one output's elements: the threshold itself (serial) and one past it (split),
#: and each side of a whole number of chunks
LENGTHS = (PARALLEL_THRESHOLD, PARALLEL_THRESHOLD + 1, 13 * CHUNK - 1, 13 * CHUNK,
           13 * CHUNK + 1)
#: a length of 14 chunks, the last one 5 elements long
LONG = 13 * CHUNK + 5
#: where one special element goes in a vector of `LONG`: first and last element, both sides
#: of the first chunk boundary, a middle chunk, the start of the last chunk
SPOTS = (0, CHUNK - 1, CHUNK, 6 * CHUNK + 7, 13 * CHUNK, LONG - 1)


def _values(rng: np.random.Generator, kind: str, dtype: str, shape) -> np.ndarray:
    """Values whose reduction NumPy computes exactly or nearly: products of factors near 1
    (or of 1s and a few -1s), truths mostly true for all and prod and mostly false for any."""
    d = np.dtype(dtype)
    if d.kind == "b":
        return rng.random(shape) < (0.99999 if kind in ("all", "prod") else 0.00001)
    if kind == "prod":
        if d.kind == "f":
            return (1 + (rng.random(shape) - 0.5) * 1e-3).astype(d)
        v = np.ones(shape, d)
        v.flat[rng.integers(0, v.size, 7)] = -1
        return v
    if d.kind in "iu":
        return rng.integers(-100 if d.kind == "i" else 0, 100, shape).astype(d)
    v = (rng.standard_normal(shape) * 3).astype(d)
    if kind == "any":
        v[rng.random(shape) < 0.99999] = 0
    return v


def _expected(kind: str, v: np.ndarray, axis, out_dtype: str) -> np.ndarray:
    """NumPy's answer; float sums and products in float64 (or exactly, for float64 sums)."""
    if kind in ("sum", "prod") and np.dtype(out_dtype).kind == "f":
        if kind == "sum" and out_dtype == "float64":
            import math

            moved = np.moveaxis(v, axis, -1) if axis is not None else v.reshape(-1)
            flat = moved.reshape(-1, moved.shape[-1])
            exact = np.array([math.fsum(r) for r in flat]).reshape(moved.shape[:-1])
            return exact.astype(out_dtype)
        fn = np.sum if kind == "sum" else np.prod
        return np.asarray(fn(v, axis=axis, dtype=np.float64)).astype(out_dtype)
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all,
          "any": np.any}[kind]
    kwargs = {"dtype": out_dtype} if kind in ("sum", "prod") else {}
    return np.asarray(fn(v, axis=axis, **kwargs)).astype(out_dtype)


def _assert_reduced(kind: str, got, want, what: str) -> None:
    """Float sums and products within a few ulps of the float64 (or exact) answer; the
    others, and integers, equal."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, what
    if want.dtype.kind == "f" and kind in ("sum", "prod"):
        rtol = {"float32": 3e-7, "float64": 1e-12}[want.dtype.name]
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_lengths_at_and_around_the_threshold_and_the_chunks(kind, dtype):
    """A vector of each length, a matrix of 1000-element rows (chunks cross rows) over the
    whole and, strided, with rows not merged, and two long rows by row."""
    rng = np.random.default_rng(1)
    x, m = TensorType(dtype, (False,))("x"), TensorType(dtype, (False, False))("m")
    red = getattr(T, kind)
    outs = [red(x), red(m), red(m, axis=1)]
    f = theanine.function([x, m], outs, backend="c")
    rows = PARALLEL_THRESHOLD // 1000 + 1
    matrices = [_values(rng, kind, dtype, (rows, 1000)),
                _values(rng, kind, dtype, (2 * rows, 1000))[::2],
                _values(rng, kind, dtype, (2, PARALLEL_THRESHOLD // 2 + 1)),
                _values(rng, kind, dtype, (2, CHUNK + 1))]
    for n, mv in zip(LENGTHS, matrices + [matrices[0]]):
        v = _values(rng, kind, dtype, n)
        got = f(v, mv)
        what = f"{kind} of {dtype}, vector of {n}, matrix {mv.shape} {mv.strides}"
        _assert_reduced(kind, got[0], _expected(kind, v, None, outs[0].dtype), what)
        _assert_reduced(kind, got[1], _expected(kind, mv, None, outs[1].dtype), what)
        _assert_reduced(kind, got[2], _expected(kind, mv, 1, outs[2].dtype), what + " axis 1")


@pytest.mark.parametrize("fused", [False, True], ids=["plain", "fused"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["max", "min"])
def test_a_nan_in_any_chunk_propagates(kind, dtype, fused):
    """One NaN anywhere makes the max/min NaN, whichever chunk holds it; the extremum in
    any chunk wins."""
    x = TensorType(dtype, (False,))("x")
    f = theanine.function([x], getattr(T, kind)(x * 2 if fused else x), backend="c")
    rng = np.random.default_rng(2)
    base = (rng.random(LONG) + 1).astype(dtype)
    for at in SPOTS:
        v = base.copy()
        v[at] = np.nan
        assert np.isnan(f(v)), f"NaN at {at}"
        v[at] = 1000 if kind == "max" else -1000
        assert f(v) == getattr(np, kind)(v * 2 if fused else v), f"extremum at {at}"


@pytest.mark.parametrize("fused", [False, True], ids=["plain", "fused"])
@pytest.mark.parametrize("kind", ["all", "any"])
def test_all_any_decided_in_a_late_chunk_and_per_output(kind, fused):
    """The one element deciding an all/any in each spot of a long vector; by rows, one row
    decided in its first chunk and the other late or never (a decided output stops its own
    later chunks, not another output's)."""
    x, y = T.fvector("x"), T.fmatrix("y")
    op = getattr(T, kind)
    f = theanine.function([x, y], [op(T.neq(x, 0) if fused else x),
                                   op(T.neq(y, 0) if fused else y, axis=1)], backend="c")
    deciding, other = (0.0, 1.5) if kind == "all" else (-2.0, 0.0)
    for at in SPOTS:
        v = np.full(LONG, other, np.float32)
        v[at] = deciding
        rows = np.full((2, LONG), other, np.float32)
        rows[0, 0] = deciding
        rows[1, at] = deciding
        got_v, got_rows = f(v, rows)
        assert got_v == (kind == "any"), f"deciding element at {at}"
        np.testing.assert_array_equal(got_rows, [kind == "any"] * 2, err_msg=f"at {at}")
        rows[1, at] = other
        np.testing.assert_array_equal(f(v, rows)[1], [kind == "any", kind == "all"])


@pytest.mark.parametrize("kind", KINDS)
def test_strided_transposed_and_reversed_inputs(kind):
    """Views of a float64 matrix and a 3-d array reduced over its outer and inner axes, the
    kept one in the middle (three long outputs)."""
    rng = np.random.default_rng(4)
    m = T.dmatrix("m")
    t = T.dtensor3("t")
    red = getattr(T, kind)
    f = theanine.function([m, t], [red(m), red(m, axis=0), red(t, axis=(0, 2))], backend="c")
    base = _values(rng, kind, "float64", (700, 600))
    cube = _values(rng, kind, "float64", (40, 3, 5000))
    views = [(base.T, cube), (base[::-1], cube[::-1, :, ::-1]), (base[:, ::-1].T,
             cube.transpose(2, 1, 0).copy().transpose(2, 1, 0)), (base[::2], cube[:, ::-1])]
    out = "bool" if kind in ("all", "any") else "float64"
    for mv, tv in views:
        got = f(mv, tv)
        what = f"{kind}: {mv.strides}, {tv.strides}"
        _assert_reduced(kind, got[0], _expected(kind, mv, None, out), what)
        _assert_reduced(kind, got[1], _expected(kind, mv, 0, out), what + " axis 0")
        want = _expected(kind, np.moveaxis(tv, 1, 0).reshape(3, -1), 1, out)
        if kind == "sum":
            np.testing.assert_allclose(got[2], want, rtol=1e-12)
        else:
            _assert_reduced(kind, got[2], want, what + " axes (0, 2)")


@pytest.mark.parametrize("case", ["sum(x * y)", "max(abs(x))", "sum(x ** 2)",
                                  "any(eq(x, y))", "all(x < y + 5)", "(x * row).sum(axis=1)",
                                  "(x * col).sum(axis=1)", "max(x - col, axis=1)"])
def test_fused_producers(case):
    """Reductions fused with their elementwise producer, with operands broadcast along the
    reduced and the kept dimension."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    row, col = T.frow("row"), T.fcol("col")
    graph, reference = {
        "sum(x * y)": (lambda: T.sum(x * y), lambda a, b, r, c: np.sum(a * b, dtype="f8")),
        "max(abs(x))": (lambda: T.max(abs(x)), lambda a, b, r, c: np.max(abs(a))),
        "sum(x ** 2)": (lambda: T.sum(x ** 2), lambda a, b, r, c: np.sum(a ** 2, dtype="f8")),
        "any(eq(x, y))": (lambda: T.any(T.eq(x, y)), lambda a, b, r, c: np.any(a == b)),
        "all(x < y + 5)": (lambda: T.all(x < y + 5), lambda a, b, r, c: np.all(a < b + 5)),
        "(x * row).sum(axis=1)": (lambda: (x * row).sum(axis=1),
                                  lambda a, b, r, c: (a * r).sum(axis=1, dtype="f8")),
        "(x * col).sum(axis=1)": (lambda: (x * col).sum(axis=1),
                                  lambda a, b, r, c: (a * c).sum(axis=1, dtype="f8")),
        "max(x - col, axis=1)": (lambda: T.max(x - col, axis=1),
                                 lambda a, b, r, c: np.max(a - c, axis=1)),
    }[case]
    out = graph()
    f = theanine.function([x, y, row, col], out, backend="c", on_unused_input="ignore")
    assert any("fused" in n.why for n in f.maker.program.report.nodes), f.report()
    rng = np.random.default_rng(5)
    for shape in ((1000, 1000), (2, LONG), (3, 70000)):
        a, b = (rng.standard_normal(shape).astype("f4") for _ in range(2))
        b[-1, -1] = a[-1, -1]  # the one equal pair, in the last chunk
        r = rng.standard_normal((1, shape[1])).astype("f4")
        c = rng.standard_normal((shape[0], 1)).astype("f4")
        for va in (a, a[::-1, ::-1]):
            got, want = f(va, b, r, c), reference(va, b, r, c)
            np.testing.assert_allclose(got, np.asarray(want).astype(out.dtype), rtol=3e-7,
                                       err_msg=f"{case} of {shape}")


def test_integer_and_bool_sums_are_exact():
    """Integer sums accumulate in int64 (large int32s, uint8s, bools counted); an int64
    product wraps as NumPy's does, in any order."""
    rng = np.random.default_rng(6)
    i32, u8, i64 = T.ivector("i"), T.vector("u", dtype="uint8"), T.lvector("l")
    b = T.vector("b", dtype="bool")
    f = theanine.function([i32, u8, b, i64], [T.sum(i32), T.sum(u8), T.sum(b), T.prod(i64),
                                              T.max(i32), T.min(u8)], backend="c")
    for n in (PARALLEL_THRESHOLD + 1, LONG, 1 << 20):
        vi = rng.integers(2**31 - 1000, 2**31 - 1, n).astype("int32")
        vu = rng.integers(0, 256, n).astype("uint8")
        vb = rng.random(n) < 0.3
        vl = rng.integers(-3, 4, n).astype("int64")
        got = f(vi, vu, vb, vl)
        want = [vi.sum(dtype="int64"), vu.sum(dtype="uint64"), vb.sum(), np.prod(vl),
                vi.max(), vu.min()]
        for g, w in zip(got, want):
            assert g == w, f"{n}: {got} != {want}"


def test_more_elements_than_the_partials_hold_in_chunks():
    """Over `CHUNK * MAX_PARTS` elements the chunks grow so that `MAX_PARTS` of them hold
    every element (the split still fixed by the shape): sums exact, a max and an any
    decided in the last chunk, plain and fused."""
    n = CHUNK * MAX_PARTS + 2 * MAX_PARTS + 3  # the last chunk shorter than the others
    rng = np.random.default_rng(7)
    x = T.vector("x", dtype="int8")
    f = theanine.function([x], [T.sum(x), T.max(x), T.any(x), T.sum(x * 2), T.any(T.eq(x, 9))],
                          backend="c")
    v = rng.integers(-5, 6, n).astype("int8")
    v[:-1][v[:-1] == 0] = 1
    v[-1] = 0
    v[-2] = 9
    got = f(v)
    want = [v.sum(dtype="int64"), v.max(), v.any(), (v * 2).sum(dtype="int64"), (v == 9).any()]
    for g, w in zip(got, want):
        assert g == w, f"{got} != {want}"
    v[:] = 0
    got = f(v)
    assert not got[2] and not got[4] and got[1] == 0
    v[-2] = 9
    got = f(v)
    assert got[2] and got[4] and got[1] == 9 and got[0] == 9


_BITS_SCRIPT = """
import json, sys
import numpy as np
import theanine
import theanine.tensor as T
from theanine.config import config
config.tiered = False
x, m, d = T.fvector("x"), T.fmatrix("m"), T.dvector("d")
f = theanine.function([x, m, d], [T.sum(x), T.sum(x, acc_dtype="float32"), T.sum(m ** 2),
                                  m.sum(axis=1, acc_dtype="float32"), T.sum(d)], backend="c")
rng = np.random.default_rng(8)
v = (rng.standard_normal(1 << 20) * 1e3).astype("float32")
mv = (rng.standard_normal((2, 500000)) * 1e3).astype("float32")
dv = rng.standard_normal(1 << 20) * 1e3
print(json.dumps([np.asarray(r).tobytes().hex() for r in f(v, mv, dv)]))
"""


def test_the_same_bits_on_one_and_two_threads():
    """Chunks are fixed by the shape, not the number of threads: float sums (with a float64
    or a float32 accumulator, plain and fused) give the same bits with OMP_NUM_THREADS 1 and
    2 (so on any machine running the same compiled kernel)."""
    results = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", _BITS_SCRIPT], env=env, check=True,
                             capture_output=True, text=True, timeout=300)
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert results[0] == results[1]


def _enclosing(lines: list[str], at: int) -> list[str]:
    """The lines opening the blocks that enclose line `at` (by their braces)."""
    opened: list[str] = []
    for line in lines[:at]:
        for ch in line:
            if ch == "{":
                opened.append(line.strip())
            elif ch == "}":
                opened.pop()
    return opened


@pytest.mark.parametrize("kind", KINDS)
def test_no_region_is_entered_below_the_threshold(kind):
    """Every OpenMP region of the plain and the fused reduction kernels (full and by rows)
    sits inside a test that the work is above `PARALLEL_THRESHOLD` (entering one costs
    0.3-0.5 us, however small the work); the chunked one exists in the kernels that keep no
    dimension, and only there (it nearly doubles gcc's time on a kernel)."""
    r = CRenderer()
    in_dtype = "float32"
    acc = {"sum": "float64", "prod": "float64", "all": "uint32", "any": "uint32"}.get(
        kind, in_dtype)
    out = "bool" if kind in ("all", "any") else in_dtype
    sources = []
    for n_keep, n_red in ((0, 1), (0, 2), (1, 1), (1, 2)):
        kernel = ReduceKernel(kind, in_dtype, acc, out, n_keep, n_red)
        unit = Unit(r)
        r.reduce(unit, kernel, "k")
        sources.append((n_keep, unit.source()))
        fused = Unit(r)
        program = ScalarProgram.of(T.abs(T.fscalar()).owner.op.scalar_op, (in_dtype,),
                                   in_dtype)
        _render(r, fused, kernel, program, (False,), (False,))
        sources.append((n_keep, fused.source()))
    for n_keep, source in sources:
        lines = source.splitlines()
        regions = [k for k, line in enumerate(lines) if "#pragma omp parallel" in line]
        assert len(regions) >= (1 if n_keep else 2), source
        chunked = any("n_chunks" in lines[k + 1] for k in regions)
        assert chunked == (n_keep == 0), source
        for k in regions:
            assert any(f"> {PARALLEL_THRESHOLD}" in e for e in _enclosing(lines, k)), \
                f"region at line {k} outside a threshold test:\n{source}"
