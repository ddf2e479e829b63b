"""all/any on backend c against NumPy, plain (`T.all(b)`) and fused with the elementwise
node that produces their input (`T.all(T.eq(x, y))`): they accumulate in unsigned integer
lanes combined with `&`/`|` (vectorized; a `_Bool` under `&&`/`||` is not), in blocks that
stop at the first block deciding the result, over the reduced dimensions merged into one row
where they are contiguous.  The values put the deciding element first, last, in the
vectorized loop's scalar tail and on each side of a block boundary; NaN is true (`x != 0`)
but never equal; all of nothing is true, any of nothing false."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from c_checks import require_c

import theanine
import theanine.tensor as T
from theanine.tensor.type import TensorType

require_c()

from theanine.codegen.cstyle import Unit  # noqa: E402
from theanine.codegen.kernels import ReduceKernel  # noqa: E402
from theanine_c.loops import DECIDE_BYTES, PARALLEL_THRESHOLD  # noqa: E402
from theanine_c.renderer import CRenderer  # noqa: E402

#: 1-D lengths: empty, one element, odd lengths around a vector (whose tails the vectorized
#: loop finishes one at a time), and past the decision blocks of every element width
SIZES = (0, 1, 2, 15, 17, 31, 33, 63, 65, 1000, 1001, 2049, 4097, 8193, 16385)
DTYPES = ("bool", "int8", "int32", "uint16", "float16", "float32", "float64")


def _positions(n: int) -> list[int]:
    """Where a single deciding element goes: first, second, last, the tail of the vector
    loop, and both sides of every decision block boundary that fits."""
    spots = {0, 1, n - 1, n - 2, n - 3, n // 2}
    for width in (1, 2, 4, 8):
        block = DECIDE_BYTES // width
        spots |= {block - 1, block, block + 1, 2 * block}
    return sorted(p for p in spots if 0 <= p < n)


def _truth_values(dtype: str, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Vectors of `dtype` and length `n`: all true, all false, one of either among the
    other, random, and for floats NaN (true) alone and among zeros, and -0.0 (false)."""
    d = np.dtype(dtype)
    true = np.ones(n, d) if d.kind != "f" else np.full(n, -2.5, d)
    false = np.zeros(n, d)
    values = [true, false]
    for p in _positions(n):
        one_false, one_true = true.copy(), false.copy()
        one_false[p] = 0
        one_true[p] = True if d.kind == "b" else (-1 if d.kind in "if" else 7)
        values += [one_false, one_true]
        if d.kind == "f":
            nan = false.copy()
            nan[p] = np.nan
            neg_zero = true.copy()
            neg_zero[p] = -0.0
            values += [nan, neg_zero]
    if d.kind == "f":
        values.append(np.full(n, np.nan, d))
    values.append((rng.random(n) < 0.5).astype(d))
    return values


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_and_any_of_vectors(dtype, rng):
    x = TensorType(dtype, (False,))("x")
    f = theanine.function([x], [T.all(x), T.any(x)], backend="c")
    for n in SIZES:
        for v in _truth_values(dtype, n, rng):
            for view in (v, v[::-1], np.repeat(v, 2)[::2]):
                got_all, got_any = f(view)
                assert got_all.dtype == bool and got_any.dtype == bool
                assert got_all == np.all(view), (dtype, n, np.flatnonzero(view == 0)[:4])
                assert got_any == np.any(view), (dtype, n, np.flatnonzero(view != 0)[:4])


def _is_fused(f) -> bool:
    return any("fused" in n.why for n in f.maker.program.report.nodes)


def _each_fused(inputs: list, outs: list):
    """One function per output (outputs of one graph would share their comparison, which
    then is not fused), each checked to be fused; called with the inputs, the list of their
    results."""
    fs = [theanine.function(inputs, out, backend="c", on_unused_input="ignore")
          for out in outs]
    for f in fs:
        assert _is_fused(f), f.report()
    return lambda *values: [f(*values) for f in fs]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
def test_fused_comparisons_of_vectors(dtype, rng):
    x, y = TensorType(dtype, (False,))("x"), TensorType(dtype, (False,))("y")
    exprs = {"all eq": (T.all(T.eq(x, y)), lambda a, b: np.all(a == b)),
             "any neq": (T.any(T.neq(x, y)), lambda a, b: np.any(a != b)),
             "any gt": (T.any(T.gt(x, 0)), lambda a, b: np.any(a > 0)),
             "all le": (T.all(T.le(x, y)), lambda a, b: np.all(a <= b))}
    fs = {}
    for name, (out, _) in exprs.items():
        fs[name] = theanine.function([x, y], out, backend="c", on_unused_input="ignore")
        assert _is_fused(fs[name]), (name, fs[name].report())
    floats = np.dtype(dtype).kind == "f"
    for n in SIZES:
        a = (rng.standard_normal(n) * 3).astype(dtype)
        a = np.where(a > 0, -a, a) if n else a   # nothing > 0 unless planted
        pairs = [(a, a.copy()), (a, a + 1)]
        for p in _positions(n):
            b = a.copy()
            b[p] += 1                       # one pair differs (and a[p] < b[p])
            c = a.copy()
            c[p] = 5                        # one element > 0
            pairs += [(a, b), (b, a), (c, a)]
            if floats:
                d = a.copy()
                d[p] = np.nan               # NaN == NaN is false, NaN != NaN true
                pairs += [(d, d.copy())]
        for u, v in pairs:
            for view_u, view_v in ((u, v), (u[::-1], v[::-1]), (np.repeat(u, 2)[::2], v)):
                for name, (_, ref) in exprs.items():
                    got = fs[name](view_u, view_v)
                    assert got.dtype == bool and got == ref(view_u, view_v), (name, dtype, n)


def _axes(ndim: int) -> list:
    combos = [None]
    for r in range(1, ndim + 1):
        combos += list(itertools.combinations(range(ndim), r))
    return combos


def _matrix_values(shape: tuple[int, ...], dtype: str, rng: np.random.Generator
                   ) -> list[np.ndarray]:
    """Arrays of `shape`: all true, all false, a deciding element first / last in each
    row, random, and (floats) NaN."""
    d = np.dtype(dtype)
    true, false = np.ones(shape, d), np.zeros(shape, d)
    values = [true, false, (rng.random(shape) < 0.5).astype(d),
              (rng.random(shape) < 0.999).astype(d), (rng.random(shape) < 0.001).astype(d)]
    if true.size:
        for spot in (0, -1):
            a, b = true.copy(), false.copy()
            a[..., spot] = 0
            b[..., spot] = 1
            c, e = true.copy(), false.copy()
            c.flat[spot] = 0
            e.flat[spot] = 1
            values += [a, b, c, e]
        if d.kind == "f":
            nan = false.copy()
            nan[..., -1] = np.nan
            values.append(nan)
    return values


def _layouts(v: np.ndarray) -> list[np.ndarray]:
    """The array itself, transposed (the same values read across rows), strided, reversed
    and Fortran-ordered."""
    wide = np.zeros(tuple(2 * s for s in v.shape), v.dtype)
    wide[tuple(slice(None, None, 2) for _ in v.shape)] = v
    return [v, v.T.copy().T, wide[tuple(slice(None, None, 2) for _ in v.shape)],
            v[tuple(slice(None, None, -1) for _ in v.shape)], np.asfortranarray(v)]


#: shapes: single elements, odd rows, long rows, many short rows, and one past the OpenMP
#: threshold both ways (the parallel paths)
SHAPES_2D = [(1, 1), (1, 17), (17, 1), (3, 15), (15, 17), (5, 1001), (1001, 3), (2, 8193),
             (700, 300), (300, 700)]


@pytest.mark.parametrize("dtype", ["bool", "float32", "int32"])
def test_every_axis_of_matrices_and_their_layouts(dtype, rng):
    assert 700 * 300 > PARALLEL_THRESHOLD
    x = TensorType(dtype, (False, False))("x")
    axes = _axes(2)
    f = theanine.function([x], [g(x, axis=a) for g in (T.all, T.any) for a in axes],
                          backend="c")
    for shape in SHAPES_2D:
        for base in _matrix_values(shape, dtype, rng):
            for v in _layouts(base):
                got = f(v)
                want = [g(v, axis=a) for g in (np.all, np.any) for a in axes]
                for w, gv, (kind, a) in zip(want, got, itertools.product("all any".split(),
                                                                        axes)):
                    assert gv.dtype == bool and gv.shape == np.shape(w), (kind, a, shape)
                    assert np.array_equal(gv, w), (kind, a, shape, v.strides)


def _all_and_any_by_axes(x, y, compare, axes, fused: bool):
    """One function of [all(eq(x, y)), any(compare(x, y))] (fused), or of [all(x), any(x)],
    over each of `axes` in turn."""
    outs = []
    for a in axes:
        outs += [T.all(T.eq(x, y) if fused else x, axis=a),
                 T.any(compare(x, y) if fused else x, axis=a)]
    return _each_fused([x, y], outs) if fused else \
        theanine.function([x, y], outs, backend="c", on_unused_input="ignore")


@pytest.mark.parametrize("fused", [False, True])
def test_every_axis_combination_of_3d_arrays(fused, rng):
    """Three dimensions: the contiguous reduced ones merge into one row, the others (a
    strided middle, a transposed layout) keep theirs."""
    axes = _axes(3)
    f = _all_and_any_by_axes(T.ftensor3("x"), T.ftensor3("y"), T.gt, axes, fused)
    for shape in [(1, 1, 1), (2, 3, 17), (3, 5, 1001), (4, 1, 33), (64, 60, 70)]:
        base = rng.standard_normal(shape).astype("float32")
        yv = base.copy() if fused else np.zeros(shape, "float32")
        cases = [base, np.zeros(shape, "float32")]
        planted = base.copy()
        planted.flat[-1] = np.nan
        cases.append(planted)
        for xv in cases:
            for view in _layouts(xv):
                yy = np.broadcast_to(yv, shape)
                got = f(view, yy)
                for k, a in enumerate(axes):
                    if fused:
                        want = [np.all(view == yy, axis=a), np.any(view > yy, axis=a)]
                    else:
                        want = [np.all(view, axis=a), np.any(view, axis=a)]
                    for w, gv in zip(want, got[2 * k:2 * k + 2]):
                        assert gv.shape == np.shape(w) and np.array_equal(gv, w), \
                            (fused, a, shape, view.strides)


@pytest.mark.parametrize("fused", [False, True])
def test_empty_reductions(fused):
    """all of nothing is true, any of nothing false, for every axis of empty arrays."""
    axes = _axes(3)
    f = _all_and_any_by_axes(T.dtensor3("x"), T.dtensor3("y"), T.neq, axes, fused)
    for shape in [(0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 0, 0), (3, 0, 0)]:
        v = np.zeros(shape)
        got = f(v, v + 1)
        for k, a in enumerate(axes):
            for w, gv in zip([np.all(v == v + 1 if fused else v, axis=a),
                              np.any(v != v + 1 if fused else v, axis=a)], got[2 * k:2 * k + 2]):
                assert gv.shape == np.shape(w) and np.array_equal(gv, w), (a, shape)


def test_broadcast_operands_of_a_fused_comparison(rng):
    """eq(x, row) and eq(x, column): an operand constant along the reduced or the kept
    dimension (stride 0 there), over every axis, past the OpenMP threshold too."""
    x = T.fmatrix("x")
    row = TensorType("float32", (True, False))("row")
    col = TensorType("float32", (False, True))("col")
    outs = [T.all(T.eq(x, row), axis=a) for a in _axes(2)] + \
        [T.any(T.lt(x, col), axis=a) for a in _axes(2)]
    f = _each_fused([x, row, col], outs)
    for shape in [(3, 17), (700, 300), (17, 1001)]:
        r = rng.standard_normal((1, shape[1])).astype("float32")
        c = rng.standard_normal((shape[0], 1)).astype("float32")
        v = np.repeat(r, shape[0], axis=0)
        v[-1, -1] += 1
        v[0, 0] = np.nan
        xs = [v, np.abs(v) + np.abs(c).max() + 1, np.asfortranarray(v)]
        for xv in xs:
            got = f(xv, r, c)
            want = [np.all(xv == r, axis=a) for a in _axes(2)] + \
                [np.any(xv < c, axis=a) for a in _axes(2)]
            for w, gv in zip(want, got):
                assert np.array_equal(gv, w), shape


def _source(kind: str, in_dtype: str, acc_dtype: str) -> str:
    unit = Unit(CRenderer())
    CRenderer().reduce(unit, ReduceKernel(kind, in_dtype, acc_dtype, "bool", 1, 1), "k")
    return unit.source()


@pytest.mark.parametrize("kind, op", [("all", "&"), ("any", "|")])
def test_the_rows_accumulate_in_vectorizable_integer_lanes(kind, op):
    """The generated loop: an unsigned accumulator as wide as the elements, an OpenMP simd
    reduction with `&`/`|` and no `_Bool` accumulator under `&&`/`||` (which GCC leaves
    scalar: 20x slower than NumPy on a bool matrix)."""
    from theanine_c.reduce import reduce_acc_dtype

    node_op = SimpleNamespace(kind=kind)
    assert reduce_acc_dtype(node_op, "bool", "bool") == "uint8"
    assert reduce_acc_dtype(node_op, "float32", "bool") == "uint32"
    assert reduce_acc_dtype(node_op, "bool", "bool", ("float64", "float32")) == "uint64"
    text = _source(kind, "float32", "uint32")
    assert f"#pragma omp simd reduction({op}:acc)" in text
    assert "uint32_t acc" in text and "_Bool acc" not in text
    assert "&&" not in text.split("acc =", 1)[1].split(";", 1)[0]
    assert ("if (!acc) break;" if kind == "all" else "if (acc) break;") in text
    with pytest.raises(ValueError, match="unsigned integer"):
        _source(kind, "float32", "bool")


def test_bool_views_of_other_bytes_are_true_where_nonzero():
    """A bool view of bytes other than 0 and 1 (`u8.view(bool)`): NumPy takes every nonzero
    byte as true; a `_Bool` load is assumed to be 0 or 1 and ANDed as it is (2 & 1 == 0)."""
    b = T.vector("b", dtype="bool")
    m = T.matrix("m", dtype="bool")
    f = theanine.function([b], [T.all(b), T.any(b)], backend="c")
    g = theanine.function([m], [T.all(m, axis=a) for a in _axes(2)] +
                          [T.any(m, axis=a) for a in _axes(2)], backend="c")
    for n in (1, 17, 1001, 8193):
        raw = np.full(n, 2, np.uint8)
        raw[n // 2] = 0
        for v in (np.full(n, 2, np.uint8).view(bool), raw.view(bool),
                  np.where(np.arange(n) == n - 1, 4, 0).astype(np.uint8).view(bool)):
            assert [bool(r) for r in f(v)] == [np.all(v), np.any(v)], n
    raw = np.full((37, 700), 2, np.uint8)
    raw[5, 3] = 0
    v = raw.view(bool)
    for got, want in zip(g(v), [np.all(v, axis=a) for a in _axes(2)] +
                         [np.any(v, axis=a) for a in _axes(2)]):
        assert np.array_equal(got, want)
