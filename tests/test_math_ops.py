"""The elementwise math library beyond the arithmetic basics (test_elemwise.py): trigonometric,
hyperbolic, exponential/logarithmic, special functions (against SciPy), rounding, reciprocal,
NaN/Inf tests, complex parts, n-ary add/mul and the NumPy spellings.  Values are compared with
NumPy/SciPy on random inputs (broadcasting, 0-size, non-contiguous), gradients with
verify_grad, shapes with infer_shape; every op is also run on every dtype against NumPy."""

from __future__ import annotations

import builtins
import decimal
import warnings

import numpy as np
import pytest
import scipy.special as sp
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad
from theanine.tensor import math as M
from theanine.tensor.type import ALL_DTYPES


def _round_half_away_reference(x):
    """Ties away from zero, computed exactly with decimal (independent of the op's formula)."""
    flat = [float(decimal.Decimal(float(v)).quantize(decimal.Decimal(1),
                                                     rounding=decimal.ROUND_HALF_UP))
            for v in np.asarray(x, dtype="float64").reshape(-1)]
    return np.array(flat).reshape(np.shape(x))


# name: (theanine function, reference, (low, high) of the test domain, differentiable)
UNARY = {
    "exp2": (M.exp2, np.exp2, (-2, 2), True),
    "log2": (M.log2, np.log2, (0.1, 3), True),
    "log10": (M.log10, np.log10, (0.1, 3), True),
    "tan": (M.tan, np.tan, (-1.2, 1.2), True),
    "arcsin": (M.arcsin, np.arcsin, (-0.9, 0.9), True),
    "arccos": (M.arccos, np.arccos, (-0.9, 0.9), True),
    "arctan": (M.arctan, np.arctan, (-3, 3), True),
    "sinh": (M.sinh, np.sinh, (-2, 2), True),
    "cosh": (M.cosh, np.cosh, (-2, 2), True),
    "arcsinh": (M.arcsinh, np.arcsinh, (-3, 3), True),
    "arccosh": (M.arccosh, np.arccosh, (1.1, 3), True),
    "arctanh": (M.arctanh, np.arctanh, (-0.9, 0.9), True),
    "erf": (M.erf, sp.erf, (-2, 2), True),
    "erfc": (M.erfc, sp.erfc, (-2, 2), True),
    "erfinv": (M.erfinv, sp.erfinv, (-0.9, 0.9), True),
    "gamma": (M.gamma, sp.gamma, (0.2, 4), True),
    "gammaln": (M.gammaln, sp.gammaln, (0.2, 4), True),
    "psi": (M.psi, sp.psi, (0.2, 4), True),
    "tri_gamma": (M.tri_gamma, lambda x: sp.polygamma(1, x), (0.2, 4), False),
    "inv": (M.inv, lambda x: 1 / x, (0.5, 2), True),
    "trunc": (M.trunc, np.trunc, (-3, 3), False),
    "round_half_to_even": (M.round_half_to_even, np.round, (-3, 3), False),
    "round_half_away_from_zero": (M.round_half_away_from_zero, _round_half_away_reference,
                                  (-3, 3), False),
}

# the test domain of each op for other dtypes (integers are drawn in [low, high])
ALL_UNARY = {
    **{name: (spec[0], spec[1]) for name, spec in UNARY.items()},
    "neg": (M.neg, np.negative), "abs": (M.abs, np.abs), "sgn": (M.sgn, np.sign),
    "exp": (M.exp, np.exp), "log": (M.log, np.log), "log1p": (M.log1p, np.log1p),
    "expm1": (M.expm1, np.expm1), "sqrt": (M.sqrt, np.sqrt), "sqr": (M.sqr, np.square),
    "tanh": (M.tanh, np.tanh), "sin": (M.sin, np.sin), "cos": (M.cos, np.cos),
    "floor": (M.floor, np.floor), "ceil": (M.ceil, np.ceil),
    "isnan": (M.isnan, np.isnan), "isinf": (M.isinf, np.isinf),
    "real": (M.real, np.real), "imag": (M.imag, np.imag), "conj": (M.conj, np.conjugate),
    "angle": (M.angle, np.angle), "invert": (M.invert, np.invert),
}


def _var(pattern, dtype="float64", name=None):
    return T.tensor(dtype, pattern, name=name)


def _domain_values(rng, name, shape, dtype="float64"):
    lo, hi = UNARY[name][2]
    v = rand(rng, shape, dtype, lo, hi)
    if name.startswith("round") and v.size:  # exact ties and the classic trap
        v.reshape(-1)[: 4] = np.array([0.5, -2.5, 1.5, 0.49999999999999994][: v.size])
    return v


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("layout", ["contiguous", "strided", "fortran"])
def test_unary_values(name, layout, rng):
    fn, ref, _, _ = UNARY[name]
    x = T.dmatrix("x")
    xv = _domain_values(rng, name, (3, 5))
    arg = {"contiguous": xv, "strided": noncontig(xv), "fortran": fortran(xv)}[layout]
    out = compile_py([x], fn(x))(arg)
    np.testing.assert_allclose(out, ref(xv), rtol=1e-12, atol=1e-14)
    assert out.dtype == np.float64


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3)])
def test_unary_scalar_and_empty(name, shape, rng):
    fn, ref, _, _ = UNARY[name]
    x = _var((False,) * len(shape))
    xv = _domain_values(rng, name, shape)
    out = compile_py([x], fn(x))(xv)
    assert out.shape == shape
    np.testing.assert_allclose(out, ref(xv), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_stays_float32(name, rng):
    fn, ref, _, _ = UNARY[name]
    x = T.fvector("x")
    xv = _domain_values(rng, name, (6,), "float32")
    out = compile_py([x], fn(x))(xv)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref(xv.astype("float64")), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n, spec in UNARY.items() if spec[3]))
def test_unary_grad(name, rng):
    fn = UNARY[name][0]
    check_grad(fn, [_domain_values(rng, name, (2, 3))])


@pytest.mark.parametrize("name", ["trunc", "round_half_to_even", "round_half_away_from_zero"])
def test_rounding_has_zero_gradient(name, rng):
    x = T.dvector("x")
    g = grad(UNARY[name][0](x).sum(), x)
    np.testing.assert_array_equal(compile_py([x], g)(rand(rng, (5,), low=-3, high=3)), 0)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_infer_shape(name, rng):
    fn = UNARY[name][0]
    x = T.dtensor3("x")
    for shape in [(2, 0, 3), (2, 1, 3)]:
        check_infer_shape([x], fn(x), [_domain_values(rng, name, shape)])


def test_special_functions_at_known_points():
    x = T.dvector("x")
    f = compile_py([x], [M.gamma(x), M.gammaln(x), M.psi(x), M.erf(x), M.erfinv(M.erf(x))])
    gam, lgam, dig, erf, back = f(np.array([0.5, 1.0, 5.0]))
    np.testing.assert_allclose(gam, [np.sqrt(np.pi), 1.0, 24.0], rtol=1e-14)
    np.testing.assert_allclose(lgam, np.log([np.sqrt(np.pi), 1.0, 24.0]), atol=1e-14)
    np.testing.assert_allclose(dig[1], -np.euler_gamma, rtol=1e-14)
    np.testing.assert_allclose(erf[0], 0.5204998778130465, rtol=1e-14)
    np.testing.assert_allclose(back[:2], [0.5, 1.0], rtol=1e-12)


def test_psi_grad_is_trigamma_and_gammaln_second_derivative(rng):
    x = T.dvector("x")
    xv = rand(rng, (4,), low=0.3, high=3)
    g1 = grad(M.gammaln(x).sum(), x)
    g2 = grad(g1.sum(), x)
    got1, got2 = compile_py([x], [g1, g2])(xv)
    np.testing.assert_allclose(got1, sp.psi(xv), rtol=1e-12)
    np.testing.assert_allclose(got2, sp.polygamma(1, xv), rtol=1e-12)


def test_round_modes():
    x = T.dvector("x")
    xv = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.6, -2.6])
    away, even, default = compile_py([x], [M.round(x, "half_away_from_zero"),
                                           M.round(x, "half_to_even"), M.round(x)])(xv)
    np.testing.assert_array_equal(away, [1, 2, 3, -1, -2, -3, 0, 3, -3])
    np.testing.assert_array_equal(even, np.round(xv))
    np.testing.assert_array_equal(default, away)  # Theano's default mode
    with pytest.raises(ValueError, match="mode"):
        M.round(x, "up")


def test_inv_is_the_elementwise_reciprocal(rng):
    x, i = T.dmatrix("x"), T.ivector("i")
    xv = rand(rng, (3, 4), low=0.5, high=2)
    iv = np.array([1, 2, -4, 8], dtype="int32")
    got, got_int = compile_py([x, i], [M.inv(x), M.inv(i)])(xv, iv)
    np.testing.assert_allclose(got, 1 / xv, rtol=1e-15)
    assert got.shape == (3, 4)
    assert got_int.dtype == (1 / iv).dtype  # integers give floats, as `1 / x`
    np.testing.assert_array_equal(got_int, 1 / iv)


# Binary ------------------------------------------------------------------------------------
BROADCAST_CASES = [
    ((3, 4), (False, False), (3, 4), (False, False)),
    ((3, 4), (False, False), (4,), (False,)),
    ((3, 1), (False, True), (1, 4), (True, False)),
    ((), (), (2, 3), (False, False)),
    ((0, 4), (False, False), (1, 4), (True, False)),
]


@pytest.mark.parametrize("case", BROADCAST_CASES, ids=str)
def test_arctan2_values_broadcasting(case, rng):
    ys, yb, xs, xb = case
    y, x = _var(yb, name="y"), _var(xb, name="x")
    yv, xv = rand(rng, ys), rand(rng, xs)
    out = M.arctan2(y, x)
    got = compile_py([y, x], out)(yv, xv)
    np.testing.assert_allclose(got, np.arctan2(yv, xv), rtol=1e-14)
    assert got.shape == np.arctan2(yv, xv).shape
    check_infer_shape([y, x], out, [yv, xv])
    got = compile_py([y, x], out)(noncontig(yv), fortran(xv))
    np.testing.assert_allclose(got, np.arctan2(yv, xv), rtol=1e-14)


def test_arctan2_quadrants_and_grad(rng):
    y, x = T.dvectors("y", "x")
    yv = np.array([1.0, 1.0, -1.0, -1.0, 0.0])
    xv = np.array([1.0, -1.0, -1.0, 1.0, -2.0])
    np.testing.assert_allclose(compile_py([y, x], M.arctan2(y, x))(yv, xv),
                               np.arctan2(yv, xv), rtol=1e-15)
    check_grad(M.arctan2, [rand(rng, (3, 4), low=0.5, high=2) * rng.choice([-1, 1], (3, 4)),
                           rand(rng, (3, 4), low=0.5, high=2)])


# n-ary add and mul -----------------------------------------------------------------------------
def test_add_and_mul_take_many_inputs(rng):
    a, b, c, d = T.dvector("a"), T.dmatrix("b"), T.dscalar("c"), T.drow("d")
    av, bv, dv = rand(rng, (4,)), rand(rng, (3, 4)), rand(rng, (1, 4))
    s, p = T.add(a, b, c, d), T.mul(a, b, c, d)
    got_s, got_p = compile_py([a, b, c, d], [s, p])(av, bv, 1.5, dv)
    np.testing.assert_allclose(got_s, av + bv + 1.5 + dv, rtol=1e-14)
    np.testing.assert_allclose(got_p, av * bv * 1.5 * dv, rtol=1e-14)
    check_infer_shape([a, b, c, d], s, [av, bv, 1.5, dv])
    check_grad(lambda u, v, w: T.mul(u, v, w, 2.0), [av, bv, rand(rng, (4,))])
    check_grad(lambda u, v, w: T.add(u, v, w), [av, bv, rand(rng, (4,))])


def test_nary_literals_take_the_dtype_of_all_tensors():
    x = T.fvector("x")
    assert T.add(1, 2, x).dtype == "float32"
    assert T.mul(x, 2, 3).dtype == "float32"
    assert T.add(1, 2, T.ivector("i"), 0.5).dtype == "float64"
    got = compile_py([x], T.add(1, 2, x))(np.array([0.5], dtype="float32"))
    assert got.dtype == np.float32 and got[0] == 3.5


def test_nary_add_is_a_chain_of_binary_nodes():
    a, b, c = T.dvectors("a", "b", "c")
    out = T.add(a, b, c)
    assert out.owner.op.scalar_op.nin == 2
    inner = out.owner.inputs[0].owner
    assert inner.op == out.owner.op and inner.inputs == [a, b]


@pytest.mark.parametrize("fn", [T.add, T.mul])
def test_nary_needs_two_inputs(fn):
    with pytest.raises(TypeError, match="at least 2 inputs, got 0"):
        fn()


# Complex -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_parts(dtype, rng):
    z = T.tensor(dtype, (False, False), name="z")
    zv = (rand(rng, (3, 4)) + 1j * rand(rng, (3, 4))).astype(dtype)
    zv[0, 0] = -1.5  # on the negative real axis: angle pi
    outs = [M.real(z), M.imag(z), M.conj(z), M.angle(z), M.abs(z)]
    got = compile_py([z], outs)(noncontig(zv))
    refs = [np.real(zv), np.imag(zv), np.conj(zv), np.angle(zv), np.abs(zv)]
    for out, g, r in zip(outs, got, refs):
        assert out.dtype == str(r.dtype) == str(g.dtype)
        np.testing.assert_allclose(g, r, rtol=1e-6)
        check_infer_shape([z], out, [zv])


def test_complex_from_parts(rng):
    a, b = T.dmatrix("a"), T.dvector("b")
    av, bv = rand(rng, (3, 4)), rand(rng, (4,))
    bv[0] = np.inf
    out = M.complex(a, b)
    assert out.dtype == "complex128"
    got = compile_py([a, b], out)(av, bv)
    expected = np.array([[builtins.complex(x, y) for x, y in zip(row, bv)] for row in av])
    np.testing.assert_array_equal(got, expected)  # an infinite imaginary part stays finite-real
    check_infer_shape([a, b], out, [av, bv])
    f32 = M.complex(T.fvector("x"), T.fvector("y"))
    assert f32.dtype == "complex64"
    with pytest.raises(TypeError, match="complex"):
        M.complex(T.cvector("c"), T.fvector("y"))


def _z(a, b):
    return M.complex(a, b)


# Functions of real inputs through complex intermediates: the cost stays real, so verify_grad
# checks the complex gradients (Theano's convention, dC/dRe + i dC/dIm) numerically.
COMPLEX_GRAD_CASES = {
    "real": lambda a, b: M.real(_z(a, b)),
    "imag": lambda a, b: M.imag(_z(a, b)),
    "conj": lambda a, b: M.imag(M.conj(_z(a, b)) * _z(b, a)),
    "angle": lambda a, b: M.angle(_z(a, b)),
    "abs": lambda a, b: M.abs(_z(a, b)),
    "mul": lambda a, b: M.real(_z(a, b) * _z(b, a + 1.0)),
    "true_div": lambda a, b: M.imag(_z(a, b) / _z(b + 3.0, a)),
    "exp": lambda a, b: M.real(M.exp(_z(a, b))),
    "log": lambda a, b: M.imag(M.log(_z(a + 3.0, b))),
    "sqrt": lambda a, b: M.abs(M.sqrt(_z(a + 3.0, b)) + 1.0),
    "sqr": lambda a, b: M.real(M.sqr(_z(a, b))),
    "sin": lambda a, b: M.imag(M.sin(_z(a, b))),
    "cos": lambda a, b: M.real(M.cos(_z(a, b))),
    "tanh": lambda a, b: M.imag(M.tanh(_z(a, b))),
    "sinh": lambda a, b: M.real(M.sinh(_z(a, b))),
    "arctan": lambda a, b: M.real(M.arctan(_z(a, b) * 0.3)),
    "erf": lambda a, b: M.imag(M.erf(_z(a, b))),
    "inv": lambda a, b: M.real(M.inv(_z(a + 3.0, b))),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_GRAD_CASES))
def test_complex_gradients(name, rng):
    av = rand(rng, (2, 3), low=-1, high=1)
    bv = rand(rng, (2, 3), low=0.3, high=1)  # off the real axis (angle's branch cut)
    check_grad(COMPLEX_GRAD_CASES[name], [av, bv])


def test_real_input_of_a_complex_product_gets_a_real_gradient_silently(rng):
    x, z = T.dvector("x"), T.zvector("z")
    g = grad(M.real(x * z).sum(), x)
    zv = np.array([1 + 2j, 3 - 1j])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compile_py([x, z], g)(np.ones(2), zv)
    np.testing.assert_array_equal(got, zv.real)


def test_parts_of_real_tensors(rng):
    x = T.dvector("x")
    xv = rand(rng, (5,))
    re, im, cj, ang = compile_py([x], [M.real(x), M.imag(x), M.conj(x), M.angle(x)])(xv)
    np.testing.assert_array_equal(re, xv)
    np.testing.assert_array_equal(im, np.zeros(5))
    np.testing.assert_array_equal(cj, xv)
    np.testing.assert_array_equal(ang, np.angle(xv))
    check_grad(lambda v: M.real(v) + M.imag(v) + M.conj(v) * M.angle(v), [xv])


# NaN / Inf -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex128"])
def test_isnan_isinf(dtype):
    x = T.tensor(dtype, (False,), name="x")
    xv = np.array([0.0, np.nan, np.inf, -np.inf, 1.0], dtype=dtype)
    if dtype == "complex128":
        xv[0] = complex(0, np.inf)
    out_nan, out_inf = M.isnan(x), M.isinf(x)
    assert out_nan.dtype == out_inf.dtype == "bool"
    got_nan, got_inf = compile_py([x], [out_nan, out_inf])(noncontig(xv))
    np.testing.assert_array_equal(got_nan, np.isnan(xv))
    np.testing.assert_array_equal(got_inf, np.isinf(xv))
    check_infer_shape([x], out_nan, [xv])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("bounds", [(1, 2), (0.5, 2.5)], ids=str)
def test_clip_every_dtype_as_numpy(dtype, bounds):
    x = T.tensor(dtype, (False,), name="x")
    xv = np.array([0, 1, 2, 3, 1]).astype(dtype)
    expected, numpy_error = _numpy_result(lambda v: np.clip(v, *bounds), xv)
    if numpy_error is not None:
        with pytest.raises(TypeError):
            T.clip(x, *bounds)
        return
    out = T.clip(x, *bounds)
    got = compile_py([x], out)(xv)
    assert out.dtype == str(expected.dtype) == str(got.dtype)
    np.testing.assert_array_equal(got, expected)


# Every op on every dtype --------------------------------------------------------------------
def _dtype_values(rng, dtype, shape=(5,)):
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rand(rng, shape, low=1, high=3) + 1j * rand(rng, shape, low=-1,
                                                              high=1)).astype(dt)
    return rand(rng, shape, dtype, 1, 3)


def _numpy_result(ref, *values):
    """NumPy's answer, or the TypeError NumPy raises for a dtype it has no loop for."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(ref(*values)), None
        except TypeError as exc:
            return None, exc


@pytest.mark.parametrize("name", sorted(ALL_UNARY))
def test_unary_every_dtype_as_numpy(name, rng):
    fn, ref = ALL_UNARY[name]
    if name == "tri_gamma":  # polygamma computes in float64; the op keeps gammaln's dtype
        def ref(v):
            return sp.polygamma(1, v).astype(sp.gammaln(v).dtype)
    if name == "round_half_away_from_zero":
        def ref(v):
            out = np.trunc(v)  # NumPy's dtype rule for rounding to integral values
            return _round_half_away_reference(v).astype(out.dtype) if v.dtype.kind == "f" \
                else out
    failures = []
    for dtype in ALL_DTYPES:
        x = T.tensor(dtype, (False,), name="x")
        xv = _dtype_values(rng, dtype)
        expected, numpy_error = _numpy_result(ref, xv)
        if numpy_error is not None:
            with pytest.raises(TypeError, match=name.split("_")[0]):
                fn(x)
            continue
        out = fn(x)
        if out.dtype != str(expected.dtype):
            failures.append(f"{dtype}: dtype {out.dtype}, NumPy {expected.dtype}")
            continue
        with np.errstate(all="ignore"):
            got = compile_py([x], out)(xv)
        tol = 1e-3 if expected.dtype in (np.float16,) else 1e-6
        if got.dtype != expected.dtype or not np.allclose(got, expected, rtol=tol, atol=tol,
                                                          equal_nan=True):
            failures.append(f"{dtype}: got {got!r}, NumPy {expected!r}")
    assert not failures, f"{name}: " + "; ".join(failures)


BINARY_ALL = {
    "add": (T.add, np.add), "sub": (T.sub, np.subtract), "mul": (T.mul, np.multiply),
    "true_div": (T.true_div, np.true_divide), "int_div": (T.int_div, np.floor_divide),
    "mod": (T.mod, np.remainder), "pow": (T.pow, np.power),
    "maximum": (T.maximum, np.maximum), "minimum": (T.minimum, np.minimum),
    "arctan2": (M.arctan2, np.arctan2), "lt": (T.lt, np.less), "ge": (T.ge, np.greater_equal),
    "eq": (T.eq, np.equal), "neq": (T.neq, np.not_equal), "and_": (T.and_, np.bitwise_and),
    "or_": (T.or_, np.bitwise_or), "xor": (T.xor, np.bitwise_xor),
}


@pytest.mark.parametrize("name", sorted(BINARY_ALL))
def test_binary_every_dtype_pair_as_numpy(name, rng):
    """Result dtype and values for all 14 x 14 dtype pairs, including NumPy's refusals
    (bitwise ops of floats, arctan2 of complex, ...)."""
    fn, ref = BINARY_ALL[name]
    failures = []
    for a in ALL_DTYPES:
        for b in ALL_DTYPES:
            x, y = T.tensor(a, (False,), name="x"), T.tensor(b, (False,), name="y")
            xv, yv = _dtype_values(rng, a), _dtype_values(rng, b)
            expected, numpy_error = _numpy_result(ref, xv, yv)
            if numpy_error is not None:
                with pytest.raises(TypeError):
                    fn(x, y)
                continue
            out = fn(x, y)
            if out.dtype != str(expected.dtype):
                failures.append(f"{a},{b}: dtype {out.dtype}, NumPy {expected.dtype}")
                continue
            with np.errstate(all="ignore"):
                got = compile_py([x, y], out)(xv, yv)
            tol = 1e-3 if expected.dtype in (np.float16, np.complex64, np.float32) else 1e-12
            if got.dtype != expected.dtype or not np.allclose(got, expected, rtol=tol,
                                                              equal_nan=True):
                failures.append(f"{a},{b}: got {got!r}, NumPy {expected!r}")
    assert not failures, f"{name}: " + "; ".join(failures[:10])


@pytest.mark.parametrize("a", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                               "uint64"])
def test_integer_division_by_zero_and_negative_as_numpy(a):
    x, y = T.tensor(a, (False,), name="x"), T.tensor(a, (False,), name="y")
    signed = np.dtype(a).kind == "i"
    xv = np.array([7, -7, 7, -7, 5, 0] if signed else [7, 200 % 256, 0, 5, 9, 1], dtype=a)
    yv = np.array([2, 2, -2, -2, 0, 0] if signed else [2, 3, 5, 0, 4, 0], dtype=a)
    with np.errstate(all="ignore"):
        got_q, got_r = compile_py([x, y], [x // y, x % y])(xv, yv)
        np.testing.assert_array_equal(got_q, xv // yv)
        np.testing.assert_array_equal(got_r, xv % yv)
    assert got_q.dtype == got_r.dtype == np.dtype(a)


# NumPy spellings -------------------------------------------------------------------------------
FLOAT_ALIASES = ["true_divide", "floor_divide", "subtract", "multiply", "power", "remainder",
                 "less", "greater", "less_equal", "greater_equal", "equal", "not_equal"]
UNARY_ALIASES = ["negative", "absolute", "reciprocal", "conjugate"]
INT_ALIASES = ["bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("name", FLOAT_ALIASES + INT_ALIASES)
def test_numpy_spelled_binary_aliases(name, rng):
    dtype = "int32" if name in INT_ALIASES else "float64"
    x, y = T.tensor(dtype, (False, False), name="x"), T.tensor(dtype, (False,), name="y")
    xv, yv = rand(rng, (3, 4), dtype, 1, 9), rand(rng, (4,), dtype, 1, 9)
    yv[:2] = xv[0, :2]  # some ties for the comparisons
    got = compile_py([x, y], getattr(M, name)(x, y))(xv, yv)
    np.testing.assert_allclose(got, getattr(np, name)(xv, yv), rtol=1e-14)


@pytest.mark.parametrize("name", UNARY_ALIASES + ["bitwise_not", "digamma"])
def test_numpy_spelled_unary_aliases(name, rng):
    dtype = "int16" if name == "bitwise_not" else "float64"
    x = T.tensor(dtype, (False,), name="x")
    xv = rand(rng, (6,), dtype, 1, 5)
    ref = sp.digamma if name == "digamma" else getattr(np, name)
    np.testing.assert_allclose(compile_py([x], getattr(M, name)(x))(xv), ref(xv), rtol=1e-14)


# What `theanine.tensor` exports from these modules.
EXPORTS = {
    "theanine.tensor.math": [
        "trunc", "round", "round_half_to_even", "round_half_away_from_zero", "inv",
        "reciprocal", "exp2", "log2", "log10", "tan", "arcsin", "arccos", "arctan", "arctan2",
        "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv", "gamma",
        "gammaln", "psi", "digamma", "tri_gamma", "isnan", "isinf", "real", "imag", "conj",
        "conjugate", "angle", "complex", "var", "std", "logsumexp", "LogSumExp", "tensordot",
        "TensorDot", "matmul", "MatMul", "true_divide", "floor_divide", "subtract", "multiply",
        "negative", "power", "remainder", "absolute", "less", "greater", "less_equal",
        "greater_equal", "equal", "not_equal", "bitwise_and", "bitwise_or", "bitwise_xor",
        "bitwise_not", "add", "mul"],
    "theanine.tensor.nlinalg": ["diag", "trace"],
    "theanine.tensor.extra_ops": ["cumsum", "cumprod", "CumOp"],
}


def test_new_names_are_exported_by_theanine_tensor():
    import importlib

    missing = [f"{mod}.{name}" for mod, names in EXPORTS.items() for name in names
               if getattr(T, name, None) is not getattr(importlib.import_module(mod), name)]
    assert not missing, f"not exported: {missing}"
    assert T.nlinalg.matrix_inverse is not None and T.extra_ops.cumsum is not None
