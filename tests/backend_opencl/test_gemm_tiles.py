"""The matrix · matrix kernels (the CPU one of `gemm_cpu` and the tiled GPU one, both run on
this device) against NumPy in float64: sizes around every tile edge and across several
panels of the shared dimension, operands read in place through any strides, alpha/beta by
value and from the device, beta == 0 ignoring z.  The tolerance is the rounding bound of a
sum of K products, K * eps * (|A| @ |B|), not a fixed figure."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function, on_device, transposed_on_device

import theanine.tensor as T
from theanine.tensor.blas import Gemm, gemm
from theanine.tensor.math import Dot


@pytest.fixture(params=["cpu", "tiled"])
def kernel(request, monkeypatch):
    """Which matrix kernel the functions compiled in the test get; checks it was asked."""
    from theanine_opencl import gemm_cpu

    asked = []

    def usable(rt):
        asked.append(rt)
        return request.param == "cpu"

    monkeypatch.setattr(gemm_cpu, "usable", usable)
    yield request.param
    assert asked, "the product never chose its kernel"


def _assert_close(got, want64, bound_scale, k, dtype):
    """|got - want| within the rounding of k products and a scaling, elementwise."""
    eps = np.finfo(dtype).eps
    bound = 2 * (k + 2) * eps * bound_scale + np.finfo(dtype).tiny
    err = np.abs(np.asarray(got, np.float64) - want64)
    assert got.shape == want64.shape
    assert got.dtype == np.dtype(dtype)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert (err <= bound).all(), f"error {err[worst]} > bound {bound[worst]} at {worst}"


def _product_bound(a, b):
    return np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))


# M, N, K: one tile; an edge in each dimension; several panels of the shared dimension
# (a panel is 256 rows of float32 and 128 of float64); K == 0; a single row and column
SHAPES = [(4, 32, 16), (64, 32, 256), (65, 33, 257), (63, 31, 129), (130, 70, 300),
          (1, 1, 300), (1, 97, 5), (97, 1, 5), (7, 40, 0), (200, 3, 600)]


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_dot_around_tile_edges(m, n, k, dtype, kernel, rng):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = native_function([x, y], T.dot(x, y), Dot)
    xv = rng.standard_normal((m, k)).astype(dtype)
    yv = rng.standard_normal((k, n)).astype(dtype)
    want = xv.astype(np.float64) @ yv.astype(np.float64)
    _assert_close(f(xv, yv), want, _product_bound(xv, yv), k, dtype)


def _operand(layout, name, shape, dtype, rng):
    """(input variable, the operand built from it, the value to pass, the operand's value):
    contiguous, transposed on the device, transposed in the graph, or a view stepping
    backwards over rows and every third column of a larger matrix."""
    r, c = shape
    if layout == "c":
        v = T.matrix(name, dtype=dtype)
        val = rng.standard_normal(shape).astype(dtype)
        return v, v, val, val
    if layout == "f":
        v = T.matrix(name, dtype=dtype)
        val = rng.standard_normal(shape).astype(dtype)
        return v, v, transposed_on_device(val), val
    if layout == "t":
        v = T.matrix(name, dtype=dtype)
        val = rng.standard_normal((c, r)).astype(dtype)
        return v, v.T, val, val.T
    v = T.matrix(name, dtype=dtype)
    big = rng.standard_normal((r + 1, 3 * c)).astype(dtype)
    return v, v[:0:-1, ::3], big, big[:0:-1, ::3]


@pytest.mark.parametrize("a_layout", ["c", "f", "t", "view"])
@pytest.mark.parametrize("b_layout", ["c", "f", "t", "view"])
def test_operands_read_in_place_through_their_strides(a_layout, b_layout, dtype, kernel, rng):
    m, n, k = 70, 45, 300
    xv_, x, xin, xv = _operand(a_layout, "x", (m, k), dtype, rng)
    yv_, y, yin, yv = _operand(b_layout, "y", (k, n), dtype, rng)
    f = native_function([xv_, yv_], T.dot(x, y), Dot)
    want = xv.astype(np.float64) @ yv.astype(np.float64)
    _assert_close(f(xin, yin), want, _product_bound(xv, yv), k, dtype)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-0.5, 2.0), (2.0, 0.0), (0.0, -1.0)])
@pytest.mark.parametrize("z_layout", ["c", "f", "view"])
def test_gemm_scales_every_block(alpha, beta, z_layout, dtype, kernel, rng):
    m, n, k = 130, 70, 300  # blocks in every direction, and several panels
    zin_, z, zin, zv = _operand(z_layout, "z", (m, n), dtype, rng)
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    a, b = T.scalar("a", dtype=dtype), T.scalar("b", dtype=dtype)
    xv = rng.standard_normal((m, k)).astype(dtype)
    yv = rng.standard_normal((k, n)).astype(dtype)
    want = alpha * (xv.astype(np.float64) @ yv.astype(np.float64)) + beta * zv
    scale = abs(alpha) * _product_bound(xv, yv) + abs(beta) * np.abs(zv)
    consts = native_function([zin_, x, y], gemm(z, alpha, x, y, beta), Gemm)  # by value
    _assert_close(consts(zin, xv, yv), want, scale, k, dtype)
    inputs = native_function([zin_, a, x, y, b], gemm(z, a, x, y, b), Gemm)
    got = inputs(zin, on_device(np.asarray(alpha, dtype)), xv, yv,
                 on_device(np.asarray(beta, dtype)))
    _assert_close(got, want, scale, k, dtype)


@pytest.mark.parametrize("k", [0, 300])
def test_gemm_with_beta_zero_ignores_nan_in_z(k, dtype, kernel, rng):
    z, x, y = (T.matrix(v, dtype=dtype) for v in "zxy")
    f = native_function([z, x, y], gemm(z, 1.5, x, y, 0.0), Gemm)
    xv = rng.standard_normal((100, k)).astype(dtype)
    yv = rng.standard_normal((k, 50)).astype(dtype)
    got = f(np.full((100, 50), np.nan, dtype), xv, yv)
    want = 1.5 * (xv.astype(np.float64) @ yv.astype(np.float64))
    _assert_close(got, want, 1.5 * _product_bound(xv, yv), k, dtype)


def test_the_cpu_kernel_is_for_cpu_devices_whose_local_memory_holds_a_panel():
    from types import SimpleNamespace

    from theanine_opencl import gemm_cpu
    from theanine_opencl.runtime import runtime

    rt = runtime()
    assert gemm_cpu.usable(rt) == bool(rt.is_cpu)  # PoCL: 1 MiB of local memory
    big, small = (SimpleNamespace(local_mem_size=n) for n in (1 << 20, gemm_cpu.PANEL_BYTES - 1))
    assert gemm_cpu.usable(SimpleNamespace(is_cpu=True, device=big))
    assert not gemm_cpu.usable(SimpleNamespace(is_cpu=False, device=big))
    assert not gemm_cpu.usable(SimpleNamespace(is_cpu=True, device=small))
