"""A reduction fused with the elementwise node that produces its input, against the Python
backend: every kind, several axes, broadcast and non-contiguous operands, several dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import require_c

import theanine
import theanine.tensor as T

require_c()

KINDS = ("sum", "prod", "max", "min", "any", "all", "mean")
AXES = (None, 0, 1, 2, (0, 2), (1, 2))


def _functions(out, inputs):
    fc = theanine.function(inputs, out, backend="c")
    fp = theanine.function(inputs, out, backend="python")
    return fc, fp


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint16", "bool"])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_reduction_matches_the_python_backend(dtype, kind):
    if kind == "mean" and dtype == "bool":
        pytest.skip("mean of bool is not defined here")
    rng = np.random.default_rng(3)
    x = T.tensor3("x", dtype=dtype)
    r = T.TensorType(dtype, (True, False, False))("r")
    product = (x & r) if dtype == "bool" else (x * r)
    xv = (rng.normal(size=(3, 4, 5)) * 3).astype(dtype)
    rv = (rng.normal(size=(1, 4, 5)) * 2).astype(dtype)
    strided = np.ascontiguousarray(xv.transpose(0, 2, 1)).transpose(0, 2, 1)
    for axis in AXES:
        fc, fp = _functions(getattr(T, kind)(product, axis=axis), [x, r])
        if kind != "mean":  # mean of integers reduces a cast the product also feeds
            assert any("fused" in n.why for n in fc.maker.program.report.nodes), fc.report()
        for value in (xv, strided, xv[:, ::-1]):
            got, want = fc(value, rv), fp(value, rv)
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_nan_propagates_and_empty_max_is_refused():
    x = T.dvector("x")
    f = theanine.function([x], T.max(T.exp(x) * x), backend="c")
    assert np.isnan(f(np.array([1.0, np.nan, 2.0])))
    with pytest.raises(ValueError, match="empty array"):
        f(np.zeros(0))
    assert theanine.function([x], T.sum(T.exp(x)), backend="c")(np.zeros(0)) == 0


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_long_rows_of_a_fused_max_or_min(kind, dtype):
    """Unit-stride rows of a fused max/min run lanes starting from the identity: the
    extremum or the only NaN in the lanes' part or the tail of rows of every length around
    the lanes' width, by rows and over the whole (contiguous rows merged into one)."""
    from theanine_c.loops import LANES

    rng = np.random.default_rng(11)
    x = T.matrix("x", dtype=dtype)
    product = abs(x) * 2 if kind == "max" else x * 2 - 1
    for cols in (LANES - 1, LANES, LANES + 1, 2 * LANES + 3, 100, 1000):
        spots = sorted(s for s in {0, LANES - 1, LANES, cols - 1, cols // 2} if s < cols)
        v = (rng.normal(size=(2 * len(spots) + 1, cols)) * 3).astype(dtype)
        for r, at in enumerate(spots):
            v[r, at] = 1000 if kind == "max" else -1000
            if dtype.startswith("float"):
                v[len(spots) + r, at] = np.nan
        for axis in (None, 1, 0):
            fc, fp = _functions(getattr(T, kind)(product, axis=axis), [x])
            assert any("fused" in n.why for n in fc.maker.program.report.nodes), fc.report()
            np.testing.assert_array_equal(fc(v), fp(v), err_msg=f"{cols} columns, {axis}")


def test_a_producer_read_elsewhere_is_not_fused():
    x = T.dvector("x")
    e = T.exp(x)
    f = theanine.function([x], [T.sum(e), e], backend="c")
    assert not any("fused" in n.why for n in f.maker.program.report.nodes)
    v = np.linspace(-1, 1, 7)
    total, values = f(v)
    np.testing.assert_allclose(values, np.exp(v))
    np.testing.assert_allclose(total, np.exp(v).sum())


def test_a_broadcast_mismatch_is_refused_before_the_kernel():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = theanine.function([x, y], T.sum(x * y), backend="c")
    with pytest.raises(ValueError, match="not broadcastable|broadcast"):
        f(np.ones((3, 4)), np.ones((3, 1)))


@pytest.mark.parametrize("fused", [False, True])
def test_max_over_an_empty_axis_raises_even_when_the_result_is_empty(fused):
    """Found by the fuzzer (seed 2026, graph 22848): max over axis 1 of a (0, 0) array."""
    x = T.dmatrix("x")
    out = T.max(T.exp(x) if fused else x, axis=1)
    fc, fp = _functions(out, [x])
    for f in (fc, fp):
        with pytest.raises(ValueError, match="empty array"):
            f(np.zeros((0, 0)))
    np.testing.assert_array_equal(fc(np.zeros((0, 3))), fp(np.zeros((0, 3))))


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_batch_axis_reductions_of_large_products(kind):
    """Reducing the leading axis walks whole rows (blocks of outputs past ROW_BLOCK, operands
    broadcast along either axis), the trailing one vectorizes each row: both against a
    sequential accumulation in float64 (sum) and against the Python backend."""
    rng = np.random.default_rng(5)
    x = T.fmatrix("x")
    r = T.TensorType("float32", (True, False))("r")
    c = T.TensorType("float32", (False, True))("c")
    xv = rng.normal(size=(50, 600)).astype("float32")
    rv = rng.normal(size=(1, 600)).astype("float32")
    cv = rng.normal(size=(50, 1)).astype("float32")
    product = xv * rv + cv
    for axis in (0, 1):
        fc, fp = _functions(getattr(T, kind)(x * r + c, axis=axis), [x, r, c])
        assert any("fused" in n.why for n in fc.maker.program.report.nodes), fc.report()
        got = fc(xv, rv, cv)
        np.testing.assert_allclose(got, fp(xv, rv, cv), rtol=1e-5, atol=1e-5)
        if axis == 0:  # rows in order: the same sum as a sequential float64 accumulation
            acc = product[0].astype("float64")
            for row in product[1:]:
                acc = np.maximum(acc, row) if kind == "max" else acc + row.astype("float64")
            np.testing.assert_array_equal(got, acc.astype("float32"))


@pytest.mark.parametrize("kind", ["sum", "max", "all"])
def test_permuted_operands_with_partial_broadcasts(kind):
    """Reduced dimensions run in the leading operand's memory order only where no operand is
    broadcast along some of them but not all: a (n, 1) operand would otherwise be read as
    constant along a row it varies along."""
    rng = np.random.default_rng(5)
    x = T.dtensor3("x")
    c = T.TensorType("float64", (False, False, True))("c")  # constant along axis 2 only
    s = T.dscalar("s")
    xv = rng.normal(size=(6, 50, 40))
    cv = rng.normal(size=(6, 40, 1))
    permuted = xv.transpose(0, 2, 1)  # (6, 40, 50), the last axis 50 elements apart
    for product in (x * c, x * s, abs(x)):
        value = product if kind != "all" else T.gt(product, -1.5)
        for axis in ((1, 2), None):
            out = getattr(T, kind)(value, axis=axis)
            fc, fp = (theanine.function([x, c, s], out, backend=b, on_unused_input="ignore")
                      for b in ("c", "python"))
            assert any("fused" in n.why for n in fc.maker.program.report.nodes), fc.report()
            np.testing.assert_allclose(fc(permuted, cv, 0.5), fp(permuted, cv, 0.5),
                                       rtol=1e-12, err_msg=f"{kind} {axis} {product}")
