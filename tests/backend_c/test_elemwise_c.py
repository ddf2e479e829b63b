"""Elementwise kernels of backend c against the Python backend (`perform`, i.e. NumPy): every
scalar op with a C expression over every dtype it accepts, every operand layout, fused
Composites, in-place nodes; and the compile report saying what ran natively."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from c_checks import assert_ulp_close, compile_both, hows, report, require_c
from values_c import DTYPES, binary_values, unary_values

import theanine.tensor as T
from theanine.scalar import basic as ps
from theanine.scalar.composite import Composite
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.type import TensorType

require_c()

#: ops whose result NumPy and C both round correctly (IEEE arithmetic, sqrt, rounding,
#: comparisons, integer ops): bit-identical
INEXACT = {"exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "tan", "sigmoid", "softplus",
           "exp2", "log2", "log10", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
           "arcsinh", "arccosh", "arctanh", "pow"}
#: libm functions: NumPy's loops and libm/libmvec are each within 4 ulp of the true result
#: (test_vector_math_is_within_4_ulp checks ours against a more precise reference), so they
#: may be 8 apart; float16 is computed in float and rounded once by both
LIBM_ULPS = {"float16": 1, "float32": 8, "float64": 8}
#: special functions (SciPy's Cephes vs libm and our helpers): relative and absolute
#: tolerance, absolute because their zeros (psi near -1.57, lgamma near -2.457) and results
#: in the subnormal range (erfc(27)) make relative error meaningless there
SPECIAL = {"erf", "erfc", "erfinv", "gamma", "gammaln", "psi", "tri_gamma"}
SPECIAL_TOL = {"float16": (2e-3, 1e-4), "float32": (2e-6, 1e-6), "float64": (1e-13, 1e-14)}
#: a second reference where SciPy itself is off (gammaln(5e-324) is inf in SciPy, 744.44)
MATH_REF = {"erf": math.erf, "erfc": math.erfc, "gamma": math.gamma, "gammaln": math.lgamma}
#: ops without a native rendering: complex results (no complex kernels yet) and NumPy's
#: integer power (it raises on negative exponents); they run `perform`
EXPECTED_FALLBACK = {"real", "imag", "conj", "angle", "complex"}


def _ops() -> list[ps.ScalarOp]:
    return [op for op in ps._BY_NAME.values() if op.c_expr is not None]


def _accepted(op: ps.ScalarOp, inputs: list) -> object | None:
    """op applied to `inputs`, or None when the op does not accept their dtypes."""
    try:
        return Elemwise(op)(*inputs)
    except TypeError:
        return None


def _falls_back(op: ps.ScalarOp, dtype: str) -> bool:
    return op.name in EXPECTED_FALLBACK or (op.name == "pow" and np.dtype(dtype).kind in "biu")


def _math_ref(fn, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    def one(v: float) -> float:
        try:
            return fn(v)
        except (ValueError, OverflowError):
            return math.nan if fn is not math.gamma or v > 0 else math.inf
    return np.array([one(float(v)) for v in x.ravel()]).astype(dtype).reshape(x.shape)


def _compare(op_name: str, expected: np.ndarray, actual: np.ndarray, inputs: list) -> None:
    what = f"{op_name} of {[np.asarray(v).dtype.name for v in inputs]}"
    kind = expected.dtype.kind
    if op_name in SPECIAL and kind == "f":
        rtol, atol = SPECIAL_TOL[expected.dtype.name]
        close = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
        if op_name in MATH_REF:
            with np.errstate(all="ignore"):
                other = _math_ref(MATH_REF[op_name], inputs[0], expected.dtype)
            close |= np.isclose(actual, other, rtol=rtol, atol=atol, equal_nan=True)
        bad = np.flatnonzero(~close)
        assert bad.size == 0, f"{what}: " + "; ".join(
            f"{inputs[0][k]!r}: expected {expected[k]!r}, got {actual[k]!r}" for k in bad[:4])
        return
    if op_name == "sigmoid" and expected.dtype == np.float16:
        # perform computes exp in float16, which overflows for x < -11.1 and gives 0 where
        # the result (1.5e-5 at -11.1) is a normal float16; C computes in float
        with np.errstate(over="ignore"):
            expected = (1 / (1 + np.exp(-inputs[0].astype("float64")))).astype("float16")
    ulps = LIBM_ULPS[expected.dtype.name] if op_name in INEXACT and kind == "f" else 0
    assert_ulp_close(expected, actual, ulps, what, inputs)


def _run(f, values):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return f(*values)
        except Exception as exc:  # both backends must raise the same error type
            return exc


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_scalar_op_matches_numpy_for_every_dtype(dtype, rng):
    x, y, c = (TensorType(dtype, (False,))(n) for n in "xyc")
    outs, ops = [], []
    for op in _ops():
        args = [c, x, y] if op.nin == 3 else [x, y][:op.nin]
        out = _accepted(op, args)
        if out is not None:
            outs.append(out)
            ops.append(op)
    assert len(ops) >= 20
    xu = unary_values(rng, dtype)
    xb, yb = binary_values(rng, dtype, dtype)
    cb = np.resize(unary_values(rng, dtype), xb.shape)
    # all ops in one function first: its kernels compile in parallel, and the functions of
    # one op each below load them from memory
    fc_all = compile_both([c, x, y], outs, optimizer=None)[1]
    how_of = {n.outputs[0]: e.how for n, e in zip(fc_all.maker.fgraph.toposort(),
                                                   report(fc_all).nodes)}
    for op, out_c in zip(ops, fc_all.maker.fgraph.outputs):
        expected_how = "fallback" if _falls_back(op, dtype) else "native"
        assert how_of[out_c] == expected_how, (op.name, report(fc_all).summary())
    for op, out in zip(ops, outs):
        fp, fc = compile_both([c, x, y], out, optimizer=None)
        values = [cb, xb, yb] if op.nin > 1 else [cb, xu, yb]
        inputs = {1: [xu], 2: [xb, yb], 3: [cb, xb, yb]}[op.nin]
        expected, actual = _run(fp, values), _run(fc, values)
        if isinstance(expected, Exception):
            assert isinstance(actual, type(expected)), (op.name, expected, actual)
            continue
        assert not isinstance(actual, Exception), (op.name, actual)
        _compare(op.name, expected, actual, inputs)


MIXED = [("int8", "uint8"), ("int16", "float16"), ("uint64", "int64"), ("bool", "float32"),
         ("int32", "float32"), ("uint32", "int8"), ("float16", "float64"), ("bool", "int8")]


@pytest.mark.parametrize("dx, dy", MIXED)
def test_binary_ops_on_mixed_dtypes_follow_numpy_promotion(dx, dy, rng):
    x, y = TensorType(dx, (False,))("x"), TensorType(dy, (False,))("y")
    xb, yb = binary_values(rng, dx, dy)
    pairs = [(op, _accepted(op, [x, y])) for op in _ops() if op.nin == 2]
    pairs = [(op, out) for op, out in pairs if out is not None]
    compile_both([x, y], [out for _, out in pairs], optimizer=None)  # parallel build
    for op, out in pairs:
        fp, fc = compile_both([x, y], out, optimizer=None)
        expected, actual = _run(fp, [xb, yb]), _run(fc, [xb, yb])
        if isinstance(expected, Exception):
            assert isinstance(actual, type(expected)), (op.name, expected, actual)
            continue
        assert actual.dtype == expected.dtype, op.name
        _compare(op.name, expected, actual, [xb, yb])


def test_switch_with_every_condition_dtype(rng):
    for cd in ("bool", "int8", "float32", "uint64"):
        c = TensorType(cd, (False,))("c")
        x, y = T.fvector("x"), T.ivector("y")
        fp, fc = compile_both([c, x, y], T.switch(c, x, y), optimizer=None)
        assert hows(fc, Elemwise) == ["native"]
        cv = unary_values(rng, cd)
        xv = rng.standard_normal(cv.size).astype("float32")
        yv = rng.integers(-9, 9, cv.size).astype("int32")
        assert_ulp_close(fp(cv, xv, yv), fc(cv, xv, yv), 0, "switch")


# -- layouts --------------------------------------------------------------------------------

def _layouts(rng, dtype):
    """(name, x value, y value, y broadcastable) for x: a (6, 8) matrix type."""
    def m(*shape):
        return (rng.standard_normal(shape) * 4).astype(dtype)

    return [
        ("contiguous", m(6, 8), m(6, 8), (False, False)),
        ("row", m(6, 8), m(1, 8), (True, False)),
        ("col", m(6, 8), m(6, 1), (False, True)),
        ("scalar", m(6, 8), m(1, 1), (True, True)),
        ("sliced", m(6, 16)[:, ::2], m(12, 8)[::2], (False, False)),
        ("reversed", m(6, 8)[::-1], m(6, 8)[:, ::-1], (False, False)),
        ("transposed", m(8, 6).T, np.asfortranarray(m(6, 8)), (False, False)),
        ("reversed row", m(6, 8), m(1, 8)[:, ::-1], (True, False)),
        ("strided col", m(6, 8), m(6, 3)[:, 1:2], (False, True)),
        ("both strided", m(12, 24)[::2, ::3], m(6, 8)[::-1, ::-1], (False, False)),
        ("empty rows", m(0, 8), m(0, 8), (False, False)),
        ("empty with row", m(6, 0), m(1, 0), (True, False)),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
def test_every_layout_matches_numpy(dtype, rng):
    for name, xv, yv, ybcast in _layouts(rng, dtype):
        x = TensorType(dtype, (False, False))("x")
        y = TensorType(dtype, ybcast)("y")
        if dtype == "bool":
            exprs = [x ^ y, T.switch(x, y, ~y)]
        else:
            exprs = [x + y, T.maximum(x, y) * x - y, T.switch(T.lt(x, y), x, y * 2)]
        for expr in exprs:
            fp, fc = compile_both([x, y], expr)
            assert set(hows(fc, Elemwise)) == {"native"}, report(fc).summary()
            with np.errstate(all="ignore"):
                assert_ulp_close(fp(xv, yv), fc(xv, yv), 0, f"{name}: {expr}")
        if dtype[0] == "f":
            fp, fc = compile_both([x, y], T.exp(x) * T.tanh(y) - abs(x))
            np.testing.assert_allclose(fc(xv, yv), fp(xv, yv), rtol=1e-5, atol=1e-5,
                                       err_msg=name)


def test_three_d_broadcasting_and_permuted_inputs(rng):
    x = T.tensor3("x", dtype="float64")
    y = T.TensorType("float64", (True, False, False))("y")
    z = T.TensorType("float64", (False, True, False))("z")
    xv = rng.standard_normal((3, 4, 5)).transpose(2, 0, 1)[:, ::-1]   # (5, 3, 4) strided
    yv = rng.standard_normal((1, 3, 4))
    zv = rng.standard_normal((5, 1, 8))[:, :, ::2]
    fp, fc = compile_both([x, y, z], x * y + T.sin(z))
    assert set(hows(fc, Elemwise)) == {"native"}
    np.testing.assert_allclose(fc(xv, yv, zv), fp(xv, yv, zv), rtol=1e-14, atol=1e-15)


def _merge_cases(rng):
    """(name, x value, y value, y broadcastable) for 4-d x: rows the strided kernels merge
    with outer dimensions (`CRenderer._merged_rows`), and some they must not."""
    def m(*shape):
        return rng.standard_normal(shape).astype("float32")

    return [
        ("per-channel bias", m(50, 20, 12, 12), m(1, 20, 1, 1), (True, False, True, True)),
        ("bias, rows to the cap", m(3, 2, 40, 100), m(1, 2, 1, 1), (True, False, True, True)),
        ("bias, rows past the cap", m(2, 3, 70, 100), m(1, 3, 1, 1), (True, False, True, True)),
        ("transposed rows", m(4, 6, 12, 10).transpose(0, 1, 3, 2), m(1, 6, 1, 1),
         (True, False, True, True)),
        ("reversed", m(5, 3, 8, 9)[:, :, ::-1, ::-1], m(1, 3, 1, 1), (True, False, True, True)),
        ("extent-1 middle", m(30, 1, 7, 5), m(1, 1, 1, 5), (True, True, True, False)),
        ("broadcast along the row", m(50, 20, 12, 1), m(50, 20, 12, 1),
         (False, False, False, True)),
        ("gaps between rows", m(6, 4, 10, 16)[:, :, :, ::2], m(1, 4, 1, 1),
         (True, False, True, True)),
    ]


def test_short_rows_merge_with_outer_dimensions(rng):
    """Rows of a few elements (a bias over image planes) run merged into longer ones where
    every operand walks the dimensions as one; the values are NumPy's either way."""
    x = T.tensor4("x", dtype="float32")
    for name, xv, yv, ybcast in _merge_cases(rng):
        y = TensorType("float32", ybcast)("y")
        for expr, ulps in [(x * y + 1, 0), (T.tanh(x + y), None)]:
            fp, fc = compile_both([x, y], expr)
            assert set(hows(fc, Elemwise)) == {"native"}, report(fc).summary()
            want, got = fp(xv, yv), fc(xv, yv)
            if ulps is None:
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=name)
            else:
                assert_ulp_close(want, got, ulps, f"{name}: {expr}")


def test_zero_d_and_python_scalar_inputs():
    x, y = T.dscalar("x"), T.lscalar("y")
    fp, fc = compile_both([x, y], (T.exp(x) * y) // 3 + x)
    assert set(hows(fc, Elemwise)) == {"native"}
    for xv, yv in [(1.5, 7), (np.float64(-2.0), np.int64(-5)), (np.array(0.25), np.array(3))]:
        expected, actual = fp(xv, yv), fc(xv, yv)
        assert actual.shape == () and actual.dtype == expected.dtype
        assert_ulp_close(expected, actual, 0)


def test_zero_size_results_keep_shape_and_dtype():
    x, y = T.fmatrix("x"), T.frow("y")
    f = compile_both([x, y], T.exp(x) + y)[1]
    for shape in [(0, 3), (4, 0), (0, 0)]:
        out = f(np.zeros(shape, "float32"), np.zeros((1, shape[1]), "float32"))
        assert out.shape == shape and out.dtype == np.float32


# -- fusion and in-place --------------------------------------------------------------------

UNARY_CHAIN = [T.exp, T.tanh, T.sin, T.cos, T.sigmoid, T.softplus, abs, T.sqr, T.neg,
               lambda v: T.log1p(abs(v)), lambda v: T.sqrt(abs(v) + 1)]
BINARY_CHAIN = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
                T.maximum, T.minimum, lambda a, b: a / (abs(b) + 1),
                lambda a, b: T.switch(T.gt(a, b), a, b * 0.5)]


def _composites(f) -> list:
    return [n for n in f.maker.fgraph.toposort()
            if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


@pytest.mark.parametrize("seed", range(12))
def test_random_fused_chains_match_the_python_backend(seed):
    rng = np.random.default_rng(seed)
    dtype = ["float32", "float64"][seed % 2]
    x = TensorType(dtype, (False, False))("x")
    y = TensorType(dtype, (True, False))("y")
    z = TensorType(dtype, ())("z")
    terms = [x, y, z]
    expr = x
    for _ in range(rng.integers(3, 7)):
        if rng.random() < 0.5:
            expr = UNARY_CHAIN[rng.integers(len(UNARY_CHAIN))](expr)
        else:
            expr = BINARY_CHAIN[rng.integers(len(BINARY_CHAIN))](
                expr, terms[rng.integers(len(terms))])
    expr = expr + x * y
    fp, fc = compile_both([x, y, z], expr)
    assert _composites(fc), f"no Composite in {fc.maker.fgraph.toposort()}"
    assert set(hows(fc, Elemwise)) == {"native"}, report(fc).summary()
    xv = (rng.standard_normal((7, 33)) * 3).astype(dtype)
    yv = (rng.standard_normal((1, 33)) * 3).astype(dtype)
    zv = np.asarray(rng.standard_normal() * 3, dtype)
    for xi in (xv, xv[::-1, ::2].copy(), np.asfortranarray(xv), xv[:, ::-1]):
        yi = yv[:, :xi.shape[1]]
        with np.errstate(all="ignore"):
            # fused chains of transcendental functions: each step within LIBM_ULPS,
            # errors grow through the chain
            np.testing.assert_allclose(fc(xi, yi, zv), fp(xi, yi, zv),
                                       rtol=1e-4 if dtype == "float32" else 1e-12,
                                       atol=1e-5 if dtype == "float32" else 1e-13)


def test_fused_node_rounds_after_every_step_like_numpy(rng):
    """No fused multiply-add: x*y - z with z == x*y is exactly 0 in NumPy, and must stay 0
    (a contracted fma would give the rounding error of x*y)."""
    x, y, z = T.dvectors("x", "y", "z")
    fp, fc = compile_both([x, y, z], x * y - z)
    assert set(hows(fc, Elemwise)) == {"native"}
    a, b = rng.standard_normal((2, 4096))
    assert np.count_nonzero(fc(a, b, a * b)) == 0
    u, v = T.fvectors("u", "v")
    fp, fc = compile_both([u, v], u * u - v * v)
    a = rng.standard_normal(4096).astype("float32")
    assert np.count_nonzero(fc(a, a)) == 0


def test_inplace_elemwise_writes_into_an_intermediate(rng):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    b = T.dvector("b")
    expr = T.exp(T.dot(x, y)) + b      # the dot's result is overwritten by the fused node
    fp, fc = compile_both([x, y, b], expr)
    inplace = [n for n in fc.maker.fgraph.toposort()
               if isinstance(n.op, Elemwise) and n.op.inplace_pattern]
    assert inplace, fc.maker.fgraph.toposort()
    assert set(hows(fc, Elemwise)) == {"native"}
    xv, yv, bv = rng.standard_normal((5, 4)), rng.standard_normal((4, 6)), rng.standard_normal(6)
    for xi, yi in [(xv, yv), (xv[::-1], yv[:, ::-1]), (np.zeros((0, 4)), yv)]:
        assert_ulp_close(fp(xi, yi, bv), fc(xi, yi, bv), LIBM_ULPS["float64"])
    # calling again gives a fresh result; earlier results are not overwritten
    first = fc(xv, yv, bv)
    keep = first.copy()
    fc(xv * 2, yv, bv)
    assert np.array_equal(first, keep)


def test_read_only_inputs_are_read_and_never_written(rng):
    m, x = T.dmatrix("m"), T.dvector("x")
    fp, fc = compile_both([m, x], T.exp(T.sum(m, axis=0)) * x)
    mv, xv = rng.standard_normal((3, 5)), rng.standard_normal(5)
    keep = mv.copy(), xv.copy()
    mv.flags.writeable = xv.flags.writeable = False
    assert_ulp_close(fp(mv, xv), fc(mv, xv), LIBM_ULPS["float64"])
    assert np.array_equal(mv, keep[0]) and np.array_equal(xv, keep[1])


# -- special values -------------------------------------------------------------------------

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_division_and_modulo_edge_cases_match_numpy_exactly(dtype):
    info = np.iinfo(dtype)
    vals = sorted(v for v in {info.min, info.min + 1, -7, -3, -1, 0, 1, 3, 7, info.max - 1,
                              info.max} if info.min <= v <= info.max)
    a = np.repeat(np.array(vals, dtype), len(vals))
    b = np.tile(np.array(vals, dtype), len(vals))
    x, y = TensorType(dtype, (False,))("x"), TensorType(dtype, (False,))("y")
    fc = compile_both([x, y], [x // y, x % y, x * y, x - y, -x, abs(x)])[1]
    assert set(hows(fc, Elemwise)) == {"native"}
    got = fc(a, b)
    with np.errstate(all="ignore"):
        want = [a // b, a % b, a * b, a - b, -a, np.abs(a)]
    for name, w, g in zip(["//", "%", "*", "-", "neg", "abs"], want, got):
        assert g.dtype == w.dtype, name
        bad = np.flatnonzero(w != g)
        assert bad.size == 0, f"{dtype} {name}: " + ", ".join(
            f"{a[k]} {name} {b[k]}: numpy {w[k]}, c {g[k]}" for k in bad[:5])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_special_values_are_bit_identical_to_numpy(dtype):
    sp = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, 7.0, -7.0, 1e-30,
          np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal]
    a = np.repeat(np.array(sp, dtype), len(sp))
    b = np.tile(np.array(sp, dtype), len(sp))
    x, y = TensorType(dtype, (False,))("x"), TensorType(dtype, (False,))("y")
    exprs = {"//": x // y, "%": x % y, "max": T.maximum(x, y), "min": T.minimum(x, y),
             "sgn": T.sgn(x), "abs": abs(x), "floor": T.floor(x), "ceil": T.ceil(x),
             "trunc": T.trunc(x), "rint": T.round(x, "half_to_even"),
             "round away": T.round(x, "half_away_from_zero"), "/": x / y, "*": x * y,
             "neg": -x, "sqrt": T.sqrt(x), "isnan": T.isnan(x), "isinf": T.isinf(x),
             "lt": T.lt(x, y), "eq": T.eq(x, y)}
    fc = compile_both([x, y], list(exprs.values()), optimizer=None)[1]
    assert set(hows(fc, Elemwise)) == {"native"}, report(fc).summary()
    got = fc(a, b)
    refs = {"//": np.floor_divide, "%": np.remainder, "max": np.maximum, "min": np.minimum,
            "sgn": lambda u, v: np.sign(u), "abs": lambda u, v: np.abs(u),
            "floor": lambda u, v: np.floor(u), "ceil": lambda u, v: np.ceil(u),
            "trunc": lambda u, v: np.trunc(u), "rint": lambda u, v: np.round(u),
            "round away": lambda u, v: np.where(np.abs(u - np.trunc(u)) >= 0.5,
                                                np.trunc(u) + np.sign(u), np.trunc(u)),
            "/": np.true_divide, "*": np.multiply, "neg": lambda u, v: -u,
            "sqrt": lambda u, v: np.sqrt(u), "isnan": lambda u, v: np.isnan(u),
            "isinf": lambda u, v: np.isinf(u), "lt": np.less, "eq": np.equal}
    for (name, ref), g in zip(refs.items(), got):
        with np.errstate(all="ignore"):
            w = np.asarray(ref(a, b)).astype(g.dtype)
        same = (w == g) | (np.isnan(w) & np.isnan(g)) if w.dtype.kind == "f" else w == g
        if w.dtype.kind == "f":  # signed zeros too
            same &= (np.signbit(w) == np.signbit(g)) | np.isnan(w)
        bad = np.flatnonzero(~same)
        assert bad.size == 0, f"{dtype} {name}: " + ", ".join(
            f"({a[k]!r}, {b[k]!r}): numpy {w[k]!r}, c {g[k]!r}" for k in bad[:5])


# -- accuracy of the vectorized math --------------------------------------------------------

RANGES = {
    "exp": ((-745, 709), (-103, 88)), "log": ((1e-300, 1e300), (1e-37, 1e37)),
    "log1p": ((-0.999, 1e300), (-0.999, 1e37)), "expm1": ((-50, 709), (-20, 88)),
    # sigmoid: 1 / (1 + exp(-x)) on both backends, so results below the smallest normal
    # (x < -708 in float64, -87 in float32), where exp(-x) overflows, are flushed to 0
    "tanh": ((-30, 30), (-15, 15)), "sigmoid": ((-708, 745), (-87, 100)),
    "softplus": ((-745, 700), (-100, 80)), "sin": ((-1e4, 1e4), (-1e3, 1e3)),
    "cos": ((-1e4, 1e4), (-1e3, 1e3)),
}


def _precise(name: str, v: np.ndarray) -> np.ndarray:
    """`name` of v computed by NumPy in a wider type (float64 for float32, the x87 long
    double for float64), rounded to v's dtype: a reference within 1 ulp of the truth."""
    wide = v.astype(np.float64 if v.dtype == np.float32 else np.longdouble)
    with np.errstate(over="ignore"):
        if name == "sigmoid":
            r = 1 / (1 + np.exp(-wide))
        elif name == "softplus":
            r = np.maximum(wide, 0) + np.log1p(np.exp(-np.abs(wide)))
        else:
            r = getattr(np, name)(wide)
    return r.astype(v.dtype)


@pytest.mark.parametrize("name", sorted(RANGES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_math_is_within_4_ulp(name, dtype, rng):
    """Against a more precise reference (NumPy's own float32/float64 loops are themselves up
    to 4 ulp off, so the distance to them can be 8)."""
    if dtype == "float64" and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("no extended-precision long double on this platform for the reference")
    lo, hi = RANGES[name][dtype == "float32"]
    n = 50_000  # long enough for the vectorized (libmvec) loop
    if lo > 0:
        v = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    else:
        v = rng.uniform(lo, hi, n)
        v[: n // 4] = rng.uniform(-1, 1, n // 4)   # where relative accuracy is hardest
    v = v.astype(dtype)
    x = TensorType(dtype, (False,))("x")
    fp, fc = compile_both([x], getattr(T, name)(x), optimizer=None)
    assert hows(fc, Elemwise) == ["native"]
    want = _precise(name, v)
    assert_ulp_close(want, fc(v), 4, f"{name} {dtype}", [v])
    w = np.repeat(v[:2000], 2)[::2]    # the strided (non-contiguous) loop
    assert_ulp_close(want[:2000], fc(w), 4, f"{name} {dtype} strided", [w])
    assert_ulp_close(fp(v), fc(v), LIBM_ULPS[dtype], f"{name} {dtype} vs perform", [v])


@pytest.mark.parametrize("src", DTYPES)
def test_casts_between_every_pair_of_dtypes(src, rng):
    """In-range values convert exactly as NumPy's astype; out-of-range float to integer
    conversions (undefined in C and platform-specific in NumPy) only must not crash."""
    x = TensorType(src, (False,))("x")
    fc = compile_both([x], [T.cast(x, d) for d in DTYPES], optimizer=None)[1]
    assert set(hows(fc, Elemwise)) == {"native"}, report(fc).summary()
    v = unary_values(rng, src)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = fc(v)
        for dst, g in zip(DTYPES, got):
            want = v.astype(dst)
            keep = np.ones(v.shape, bool)
            if np.dtype(src).kind == "f" and np.dtype(dst).kind in "biu":
                keep = np.isfinite(v)
                if np.dtype(dst).kind != "b":
                    info = np.iinfo(dst)
                    keep &= (v > info.min - 1) & (v < info.max)
            assert g.dtype == np.dtype(dst)
            assert_ulp_close(want[keep], g[keep], 0, f"{src} -> {dst}", [v[keep]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sinh", "exp", "tanh", "log1p"])
def test_equal_inputs_give_equal_outputs_wherever_they_sit(name, dtype):
    """Vector math (libmvec) and the scalar libm differ in the last ulp: every position,
    the vectorized body's and the loop's tail alike, must use the same one (fuzz seed 2027,
    graph 31468: sinh -> sort -> argsort depended on where equal values sat)."""
    x = TensorType(dtype, (False,))("x")
    m = TensorType(dtype, (False, False))("m")
    fc = compile_both([x], getattr(T, name)(x) * 3, optimizer=None)[1]
    fs = compile_both([m], getattr(T, name)(m.T), optimizer=None)[1]
    for n in (1, 5, 63, 64, 65, 131, 250_001):
        v = np.full(n, 1.2345, dtype=dtype)
        got = fc(v)
        assert (got == got[0]).all(), (n, np.unique(got))
        assert_ulp_close(getattr(np, name)(v) * 3, got, 8, f"{name} {dtype}", [v])
    got = fs(np.full((70, 3), 0.75, dtype=dtype))   # the strided entry point
    assert got.shape == (3, 70) and (got == got[0, 0]).all(), np.unique(got)
    # the strided entry point's rows that run whole blocks in place (a row broadcast down, a
    # column constant along each row) and their gathered tails
    b = TensorType(dtype, (True, False))("b")
    c = TensorType(dtype, (False, True))("c")
    fr = compile_both([m, b, c], getattr(T, name)(m * b + c), optimizer=None)[1]
    mv, bv, cv = (np.full(shape, v, dtype) for shape, v in
                  (((5, 150), 0.5), ((1, 150), 1.5), ((5, 1), 0.375)))
    got = fr(mv, bv, cv)
    assert got.shape == (5, 150) and (got == got[0, 0]).all(), np.unique(got)
    assert_ulp_close(getattr(np, name)(mv * bv + cv), got, 8, f"{name} {dtype} rows", [mv])
