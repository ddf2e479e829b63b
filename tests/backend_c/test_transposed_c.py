"""Elementwise kernels over operands read across their rows (`x.T + y`, dimshuffled images):
the strided kernels walk them in tiles (`theanine_c.tiles`), which only reorders the
element computations, so every result equals NumPy's (the vector-math kernels' equals their
own result on C-contiguous copies, bit for bit).  Shapes straddle the tile edges (tiles of
16 or 32 rows by 64 columns, 8 x 8 or 4 x 4 register transposes inside), dtypes every
element size, layouts every stride the tile's copies take apart."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import assert_ulp_close, compile_both, hows, report, require_c

import theanine
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.type import TensorType

require_c()

from theanine.codegen.cstyle import Unit  # noqa: E402
from theanine_c.renderer import CRenderer  # noqa: E402

#: extents around the tile edges: 16/32 rows, 64 columns, 4/8/16-element transposes
EDGES = [1, 15, 16, 17, 31, 33, 63, 65, 1000, 1001]


def _c(inputs, output):
    return theanine.function(list(inputs), output, mode=Mode("c", "fast_run"))


def _native(f) -> None:
    assert set(hows(f, Elemwise)) == {"native"}, report(f).summary()


def _values(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100), shape).astype(dtype)
    return (rng.standard_normal(shape) * 4).astype(dtype)


def test_a_transposed_operand_at_every_tile_edge(rng):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = _c([x, y], x.T + y)
    _native(f)
    for rows in EDGES:
        for cols in EDGES:
            xv = _values(rng, (cols, rows), "float32")
            yv = _values(rng, (rows, cols), "float32")
            np.testing.assert_array_equal(f(xv, yv), xv.T + yv, err_msg=f"{rows} x {cols}")


def test_degenerate_shapes(rng):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = _c([x, y], x.T * y - 1)
    for rows, cols in [(1, 700), (700, 1), (0, 70), (70, 0), (0, 0), (2, 2), (1, 1)]:
        xv = _values(rng, (cols, rows), "float32")
        yv = _values(rng, (rows, cols), "float32")
        got = f(xv, yv)
        assert got.shape == (rows, cols)
        np.testing.assert_array_equal(got, xv.T * yv - 1)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "uint16", "int64",
                                   "bool"])
def test_every_element_size(dtype, rng):
    x = TensorType(dtype, (False, False))("x")
    y = TensorType(dtype, (False, False))("y")
    if dtype == "bool":
        exprs = [x.T ^ y, T.switch(x.T, y, ~y)]
    else:
        exprs = [x.T + y, x.T * 3 - y, T.lt(x.T, y), T.maximum(x.T, y.T[::-1].T)]
    for expr in exprs:
        fp, fc = compile_both([x, y], expr)
        _native(fc)
        for rows, cols in [(64, 64), (16, 64), (33, 70), (130, 100), (1001, 257)]:
            xv = _values(rng, (cols, rows), dtype)
            yv = _values(rng, (rows, cols), dtype)
            with np.errstate(all="ignore"):
                assert_ulp_close(fp(xv, yv), fc(xv, yv), 0, f"{expr} {rows} x {cols}")


def test_mixed_element_sizes(rng):
    """A tile whose operands have different sizes (rows fixed by the widest), a bool result."""
    a = TensorType("int8", (False, False))("a")
    b = TensorType("float64", (False, False))("b")
    c = TensorType("float32", (False, False))("c")
    for expr in [a.T + b, T.lt(a.T, c), a.T * c - b]:
        fp, fc = compile_both([a, b, c], expr)
        _native(fc)
        for n, m in [(64, 64), (40, 100), (1000, 300)]:
            av = _values(rng, (m, n), "int8")
            bv = _values(rng, (n, m), "float64")
            cv = _values(rng, (n, m), "float32")
            assert_ulp_close(fp(av, bv, cv), fc(av, bv, cv), 0, f"{expr} {n} x {m}")


def _layouts(rng):
    """(name, x value, y value) for `x + y` with (70, 90) results: x read across its rows."""
    def m(*shape):
        return _values(rng, shape, "float32")

    record = np.zeros((90, 70), dtype=[("a", "f4"), ("b", "i1")])
    record["a"] = m(90, 70)
    return [
        ("transposed", m(90, 70).T, m(70, 90)),
        ("both transposed", m(90, 70).T, m(90, 70).T),
        ("transposed, strided", m(180, 210)[::2, ::3].T, m(70, 90)),
        ("transposed, reversed rows", m(90, 70)[::-1].T, m(70, 90)),
        ("transposed, reversed columns", m(90, 70).T[::-1], m(70, 90)[:, ::-1]),
        ("transposed, reversed both", m(90, 70)[::-1, ::-1].T, m(70, 90)),
        ("stride 0 along the row", m(90, 70).T, np.broadcast_to(m(70, 1), (70, 90))),
        ("stride 0 across the rows", m(90, 70).T, np.broadcast_to(m(1, 90), (70, 90))),
        ("odd byte strides", record["a"].T, m(70, 90)),
        ("a window of a larger array", m(200, 300)[7:97, 11:81].T, m(70, 90)),
    ]


def test_every_layout(rng):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    fp, fc = compile_both([x, y], x + y * 2)
    for name, xv, yv in _layouts(rng):
        np.testing.assert_array_equal(fc(xv, yv), fp(xv, yv), err_msg=name)
        np.testing.assert_array_equal(fc(xv, yv), xv + yv * 2, err_msg=name)


def test_broadcast_operands(rng):
    x = T.fmatrix("x")
    row = TensorType("float32", (True, False))("row")
    col = TensorType("float32", (False, True))("col")
    s = T.fscalar("s")
    f = _c([x, row, col, s], x.T * row + col - s)
    _native(f)
    for rows, cols in [(70, 90), (64, 64), (1001, 65), (1, 5), (5, 1)]:
        xv = _values(rng, (cols, rows), "float32")
        rv, cv = _values(rng, (1, cols), "float32"), _values(rng, (rows, 1), "float32")
        sv = np.float32(1.5)
        np.testing.assert_array_equal(f(xv, rv, cv, sv), xv.T * rv + cv - sv)


@pytest.mark.parametrize("pattern", [(0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 2, 3),
                                     (0, 1, 3, 2), (2, 3, 0, 1)])
def test_four_d_dimshuffles(pattern, rng):
    x, y = T.ftensor4("x"), T.ftensor4("y")
    f = _c([x, y], x.dimshuffle(*pattern) + y)
    g = _c([x], x.dimshuffle(*pattern) * 2)
    for shape in [(2, 3, 5, 7), (4, 64, 7, 9), (3, 17, 16, 65), (8, 33, 28, 28)]:
        xv = _values(rng, shape, "float32")
        want = xv.transpose(pattern)
        yv = _values(rng, want.shape, "float32")
        np.testing.assert_array_equal(f(xv, yv), want + yv, err_msg=str(shape))
        np.testing.assert_array_equal(g(xv), want * 2, err_msg=str(shape))


@pytest.mark.parametrize("pattern", [(2, 0, 1), (1, 2, 0), (0, 2, 1), (2, 1, 0)])
def test_three_d_dimshuffles(pattern, rng):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = _c([x, y], x.dimshuffle(*pattern) - y)
    for shape in [(3, 17, 65), (64, 100, 150), (5, 1, 70), (70, 1, 5)]:
        xv = _values(rng, shape, "float64")
        want = xv.transpose(pattern)
        yv = _values(rng, want.shape, "float64")
        np.testing.assert_array_equal(f(xv, yv), want - yv, err_msg=str(shape))
        np.testing.assert_array_equal(f(xv, yv[::-1]), want - yv[::-1], err_msg=str(shape))


def _inplace(f) -> list:
    return [n for n in f.maker.fgraph.toposort()
            if isinstance(n.op, Elemwise) and n.op.inplace_pattern]


def test_in_place_into_an_intermediate_with_a_transposed_operand(rng):
    """The fused node overwrites the dot's (C-ordered) result while reading x across its
    rows."""
    a, b, x = T.dmatrix("a"), T.dmatrix("b"), T.dmatrix("x")
    f = _c([a, b, x], abs(T.dot(a, b)) * 2 + x.T)
    assert _inplace(f), f.maker.fgraph.toposort()
    _native(f)
    for n, k, m in [(70, 5, 90), (64, 3, 64), (300, 4, 1001)]:
        # small integers: the product is exact whatever order BLAS adds in
        av = rng.integers(-5, 5, (n, k)).astype("float64")
        bv = rng.integers(-5, 5, (k, m)).astype("float64")
        xv = _values(rng, (m, n), "float64")
        np.testing.assert_array_equal(f(av, bv, xv), abs(av @ bv) * 2 + xv.T)


@pytest.mark.parametrize("expr_of", [lambda x, y: x + y.T, lambda x, y: x * 2 - y.T * x,
                                     lambda x, y: T.exp(x) * y.T])
def test_in_place_into_a_mutable_input(expr_of, rng):
    """The node overwrites x (same layout as its result) while reading y across its rows; x
    given C-ordered (the tiled walk), transposed (the row walk: its result is not unit-stride
    along the row) or y given transposed (no operand is read across its rows)."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = theanine.function([theanine.In(x, mutable=True), y], expr_of(x, y),
                          mode=Mode("c", "fast_run"))
    plain = _c([x, y], expr_of(x, y))
    assert _inplace(f), f.maker.fgraph.toposort()
    assert not _inplace(plain)
    for rows, cols in [(70, 90), (64, 64), (1000, 1001)]:
        xv = _values(rng, (rows, cols), "float32")
        yv = _values(rng, (cols, rows), "float32")
        want = plain(xv, yv)
        for name, xi, yi in [("C-ordered x", xv.copy(), yv),
                             ("transposed x", np.asfortranarray(xv), yv),
                             ("transposed y", xv.copy(), np.asfortranarray(yv.T).T)]:
            got = f(xi, yi)
            np.testing.assert_array_equal(got, want, err_msg=f"{name} {rows} x {cols}")
        with np.errstate(all="ignore"):
            fp = theanine.function([x, y], expr_of(x, y), mode=Mode("python", "fast_run"))
            assert_ulp_close(fp(xv, yv), want, 8)


@pytest.mark.parametrize("shape", [(70, 90), (64, 64), (33, 65), (1000, 1001), (5, 3), (1, 9)])
def test_vector_math_programs(shape, rng):
    """exp/tanh run through the block function (`CRenderer._elemwise_blocked`): a tile's row
    of 64 elements is one block, a shorter one is gathered; every element equals what the
    contiguous path computes for it."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    v = TensorType("float32", (False, True))("v")
    cases = [([x], T.exp(x.T)), ([x, v], T.tanh(x.T + v)), ([x, y], T.exp(x.T) * y)]
    rows, cols = shape
    xv = _values(rng, (cols, rows), "float32") / 4
    args = {x: xv, y: _values(rng, (rows, cols), "float32"), v: _values(rng, (rows, 1),
                                                                         "float32")}
    for ins, expr in cases:
        fp, fc = compile_both(ins, expr)
        _native(fc)
        values = [args[i] for i in ins]
        got = fc(*values)
        contiguous = fc(*[np.asfortranarray(xv) if i is x else args[i] for i in ins])
        np.testing.assert_array_equal(got, contiguous, err_msg=str(expr))
        with np.errstate(all="ignore"):
            assert_ulp_close(fp(*values), got, 8, str(expr))


def test_only_kernels_reading_a_reordered_view_carry_the_tiles():
    """The tiled walk costs compile time, so a kernel carries it only when the graph hands it
    a view that reorders dimensions (through indexing and broadcast changes)."""
    from theanine.codegen.cstyle import elemwise_node_kernel, reorders_dimensions

    x, y = T.fmatrix("x"), T.fmatrix("y")
    t3 = T.ftensor3("t3")
    col = T.TensorType("float32", (False, True))("col")
    for var, reorders in [(x, False), (x.T, True), (x.T[1:, ::2], True), (x[::-1], False),
                          (col.dimshuffle(1, 0), False), (t3.dimshuffle(0, 2, 1), True),
                          (t3.dimshuffle(0, 1, "x", 2), False), (x.T[[0, 1]], False),
                          (T.exp(x.T), False)]:
        assert reorders_dimensions(var) is reorders, var
    for expr, tiled in [(x + y, False), (x.T + y, True), (T.exp(x) * y[::-1], False)]:
        node = expr.owner
        kernel = elemwise_node_kernel(node)
        assert kernel.across_rows is tiled
        unit = Unit(CRenderer())
        CRenderer().elemwise(unit, kernel, "k")
        assert ("k_tile" in unit.source()) is tiled
