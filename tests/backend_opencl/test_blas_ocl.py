"""dot and Gemm as OpenCL kernels, against NumPy: every rank pair, sizes that are not tile
multiples, transposed and strided operands read in place, empty operands, alpha/beta from the
device and from the host, and misaligned shapes refused with the variables named."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function, on_device, transposed_on_device

import theanine as th
import theanine.tensor as T
from theanine.tensor.blas import Gemm
from theanine.tensor.math import Dot
from theanine.tensor.type import TensorType


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == "float32" else {"rtol": 1e-12,
                                                                     "atol": 1e-12}


@pytest.mark.parametrize("xs,ys", [((3, 4), (4, 5)), ((33, 70), (70, 41)), ((3, 4), (4,)),
                                   ((4,), (4, 5)), ((5,), (5,)), ((2, 1000), (1000,)),
                                   ((1000,), (1000, 3)), ((3, 0), (0, 2)), ((0, 3), (3, 2)),
                                   ((0,), (0,))])
def test_dot_matches_numpy(xs, ys, dtype, rng):
    x = TensorType(dtype, (False,) * len(xs))("x")
    y = TensorType(dtype, (False,) * len(ys))("y")
    f = native_function([x, y], T.dot(x, y), Dot)
    xv, yv = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ys).astype(dtype)
    got = f(xv, yv)
    assert got.shape == np.dot(xv, yv).shape
    np.testing.assert_allclose(got, np.dot(xv, yv), **_tol(dtype))


def test_transposed_and_strided_operands_are_read_in_place(dtype, rng):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    xv = rng.standard_normal((37, 50)).astype(dtype)
    yv = rng.standard_normal((50, 45)).astype(dtype)
    f = native_function([x, y], T.dot(x, y), Dot)
    np.testing.assert_allclose(f(transposed_on_device(xv), transposed_on_device(yv)),
                               xv @ yv, **_tol(dtype))
    g = native_function([x, y], T.dot(x[::2, ::-1], y.T[:, ::3]), Dot)
    zv = rng.standard_normal((26, 50)).astype(dtype)
    np.testing.assert_allclose(g(xv, zv), xv[::2, ::-1] @ zv.T[:, ::3], **_tol(dtype))
    v = T.vector("v", dtype=dtype)
    h = native_function([x, v], T.dot(x.T, v[::-2]), Dot)
    vv = rng.standard_normal(74).astype(dtype)
    np.testing.assert_allclose(h(xv, vv), xv.T @ vv[::-2], **_tol(dtype))


def test_gemm_with_alpha_and_beta_from_the_device_and_from_the_host(dtype, rng):
    z, x, y = (T.matrix(n, dtype=dtype) for n in "zxy")
    a = T.scalar("a", dtype=dtype)
    zv = rng.standard_normal((30, 20)).astype(dtype)
    xv = rng.standard_normal((30, 50)).astype(dtype)
    yv = rng.standard_normal((50, 20)).astype(dtype)
    f = native_function([z, x, y, a], z * 2 + a * T.dot(x, y), Gemm)
    np.testing.assert_allclose(f(zv, xv, yv, 0.5), zv * 2 + 0.5 * (xv @ yv), **_tol(dtype))
    np.testing.assert_allclose(f(zv, xv, yv, on_device(np.asarray(0.25, dtype))),
                               zv * 2 + 0.25 * (xv @ yv), **_tol(dtype))
    lr = th.shared(np.asarray(0.1, dtype), name="lr")  # lives on the device
    w = th.shared(yv, name="w")
    g = native_function([z, x], z - lr * T.dot(x, w), Gemm)
    np.testing.assert_allclose(g(zv, xv), zv - 0.1 * (xv @ yv), **_tol(dtype))


def test_gemm_matches_perform_on_vectors(dtype, rng):
    from theanine.tensor.blas import gemm

    z, x, y = T.vector("z", dtype=dtype), T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    a, b = T.scalar("a", dtype=dtype), T.scalar("b", dtype=dtype)
    f = native_function([z, a, x, y, b], gemm(z, a, x, y, b), Gemm)
    zv = np.full(6, np.nan, dtype)  # beta == 0 ignores z, as BLAS and perform do
    xv = rng.standard_normal((6, 700)).astype(dtype)
    yv = rng.standard_normal(700).astype(dtype)
    np.testing.assert_allclose(f(zv, 2.0, xv, yv, 0.0), 2 * (xv @ yv), **_tol(dtype))
    zv = rng.standard_normal(6).astype(dtype)
    np.testing.assert_allclose(f(zv, 1.0, xv, yv, -1.0), xv @ yv - zv, **_tol(dtype))


def test_misaligned_shapes_are_refused_with_the_variables_named():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = native_function([x, y], T.dot(x, y), Dot)
    with pytest.raises(ValueError, match=r"\(3, 4\) \(x\) and \(5, 2\) \(y\) are not aligned"):
        f(np.zeros((3, 4)), np.zeros((5, 2)))
    from theanine.tensor.blas import gemm

    z = T.dmatrix("z")
    g = native_function([z, x, y], gemm(z, 1.0, x, y, 1.0), Gemm)
    with pytest.raises(ValueError, match="z has shape"):
        g(np.zeros((2, 2)), np.zeros((3, 4)), np.zeros((4, 2)))
