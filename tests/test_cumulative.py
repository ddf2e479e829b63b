"""cumsum / cumprod against NumPy: every axis form, 0-size and non-contiguous inputs, dtypes,
gradients (verify_grad) and infer_shape."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad
from theanine.tensor import extra_ops
from theanine.tensor.type import ALL_DTYPES

OPS = {"cumsum": (extra_ops.cumsum, np.cumsum), "cumprod": (extra_ops.cumprod, np.cumprod)}
AXES = [None, 0, 1, 2, -1, -3]


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_values(name, axis, rng):
    fn, ref = OPS[name]
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4), low=0.5, high=1.5)
    out = fn(x, axis=axis)
    expected = ref(xv, axis=axis)
    f = compile_py([x], out)
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-13)
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)], ids=str)
def test_empty(name, axis, shape, rng):
    fn, ref = OPS[name]
    x = T.dmatrix("x")
    xv = np.zeros(shape)
    out = fn(x, axis=axis)
    got = compile_py([x], out)(xv)
    assert got.shape == ref(xv, axis=axis).shape
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("axis", [None, 0, -1], ids=str)
def test_scalar_input_gives_a_vector(name, axis):
    fn, ref = OPS[name]
    s = T.dscalar("s")
    got = compile_py([s], fn(s, axis=axis))(2.5)
    np.testing.assert_array_equal(got, ref(np.float64(2.5), axis=axis))


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
def test_grad(name, axis, rng):
    fn = OPS[name][0]
    xv = rand(rng, (3, 4), low=0.5, high=1.5) * rng.choice([-1, 1], size=(3, 4))
    check_grad(lambda v: fn(v, axis=axis), [xv])


def test_cumsum_grad_is_a_reversed_running_sum(rng):
    x = T.dvector("x")
    w = rand(rng, (5,))
    g = compile_py([x], grad((extra_ops.cumsum(x) * w).sum(), x))(rand(rng, (5,)))
    np.testing.assert_allclose(g, np.cumsum(w[::-1])[::-1], rtol=1e-14)


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_dtype_as_numpy(name, rng):
    fn, ref = OPS[name]
    failures = []
    for dtype in ALL_DTYPES:
        x = T.tensor(dtype, (False, False), name="x")
        xv = rand(rng, (3, 4), "float64" if dtype[0] == "c" else dtype, 0, 3).astype(dtype)
        expected = ref(xv, axis=1)
        out = fn(x, axis=1)
        got = compile_py([x], out)(xv)
        if out.dtype != str(expected.dtype) or got.dtype != expected.dtype \
                or not np.allclose(got, expected, rtol=1e-3):
            failures.append(f"{dtype}: {out.dtype} {got!r}, NumPy {expected!r}")
    assert not failures, "; ".join(failures)


@pytest.mark.parametrize("axis", [2, -3, (0, 1)], ids=str)
def test_bad_axis_is_a_clear_error(axis):
    with pytest.raises((ValueError, TypeError), match="axis"):
        extra_ops.cumsum(T.dmatrix("x"), axis=axis)


def test_symbolic_axis_is_refused():
    with pytest.raises(TypeError, match="axis"):
        extra_ops.cumprod(T.dmatrix("x"), axis=T.iscalar("a"))
