"""`dot` and `Gemm` through the OpenBLAS that NumPy's wheel ships (no link step, nothing to
install).  Gemm calls its CBLAS entry points, loaded with cffi from `numpy.libs/`, with the
operands' own memory layout (a transposed or row-strided matrix is passed with the transpose
flag and its leading dimension, not copied) and alpha/beta applied in the same call; a plain
dot goes through NumPy's own call into the same library.  One thread pool with NumPy.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import Symbols, buffer_pointer, ffi
from theanine_c.gemv import SplitGemv
from theanine_c.gemv import source as split_source
from theanine_c.plan import NativePlan
from theanine_c.recycle import Recycler
from theanine_c.renderer import CRenderer

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_CDEF = """
void scipy_cblas_{p}gemm64_(int, int, int, int64_t, int64_t, int64_t, {t}, void *, int64_t,
                           void *, int64_t, {t}, void *, int64_t);
void scipy_cblas_{p}gemv64_(int, int, int64_t, int64_t, {t}, void *, int64_t, void *, int64_t,
                           {t}, void *, int64_t);
"""
_THREADS_CDEF = """
int scipy_openblas_get_num_threads64_(void);
void scipy_openblas_set_num_threads64_(int);
"""


@lru_cache(maxsize=1)
def openblas() -> Any:
    """NumPy's bundled OpenBLAS (ILP64 CBLAS, `Symbols`), or None when this NumPy has none."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    found = sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.so")))
    if not found:
        return None
    return Symbols(found[0], [_CDEF.format(p=p, t=t) for p, t in (("s", "float"),
                                                                   ("d", "double"))]
                   + [_THREADS_CDEF])


def _layout(a: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(array, transpose flag, leading dimension) for a row-major BLAS call."""
    item = a.itemsize
    rows, cols = a.shape
    s0, s1 = a.strides
    if (s1 == item or cols <= 1) and s0 % item == 0 and s0 // item >= max(1, cols):
        return a, NO_TRANS, s0 // item
    if (s0 == item or rows <= 1) and s1 % item == 0 and s1 // item >= max(1, rows):
        return a, TRANS, s1 // item
    if a.flags.c_contiguous:
        return a, NO_TRANS, max(1, cols)
    a = np.ascontiguousarray(a)
    return a, NO_TRANS, max(1, cols)


def _ptr(a: np.ndarray) -> Any:
    """A pointer to a's first element: from the buffer when a (or its transpose) is
    contiguous (0.1 us), else from its array interface (~2 us)."""
    if a.flags.c_contiguous:
        return _from_buffer()(a)
    if a.flags.f_contiguous:
        return _from_buffer()(a.T)
    return ffi().cast("char *", a.__array_interface__["data"][0])


@lru_cache(maxsize=1)
def _from_buffer() -> Any:
    return buffer_pointer()


def _functions(dtype: str) -> tuple[Any, Any]:
    lib = openblas()
    if lib is None:
        raise Unsupported("NumPy ships no OpenBLAS here")
    if dtype not in ("float32", "float64"):
        raise Unsupported(f"BLAS has no {dtype} product")
    p = "s" if dtype == "float32" else "d"
    return getattr(lib, f"scipy_cblas_{p}gemm64_"), getattr(lib, f"scipy_cblas_{p}gemv64_")


def _product(gemm: Any, gemv: Any, x: np.ndarray, y: np.ndarray, out: np.ndarray,
             alpha: float, beta: float, split: SplitGemv | None = None) -> None:
    """out = alpha * dot(x, y) + beta * out, for matrix/vector operands (out C-contiguous);
    `split`, when given, runs a large matrix-vector product on every OpenMP thread."""
    if out.size == 0:
        return
    if x.ndim == 2 and y.ndim == 2:
        m, k = x.shape
        n = y.shape[1]
        if k == 0:
            _scale(out, beta)
            return
        (xa, tx, lx), (ya, ty, ly) = _layout(x), _layout(y)
        gemm(ROW_MAJOR, tx, ty, m, n, k, alpha, _ptr(xa), lx, _ptr(ya), ly, beta, _ptr(out),
             max(1, n))
    elif x.ndim == 2:  # matrix · vector
        xa, tx, lx = _layout(x)
        rows, cols = (x.shape if tx == NO_TRANS else x.shape[::-1])
        if x.shape[1] == 0:
            _scale(out, beta)
            return
        ys = y.strides[0] // y.itemsize if y.strides[0] % y.itemsize == 0 else 0
        if ys <= 0:  # BLAS reads a negative increment from the other end: copy instead
            y, ys = np.ascontiguousarray(y), 1
        args = (rows, cols, alpha, _ptr(xa), lx, _ptr(y), ys, beta, _ptr(out))
        if split is None or not split(tx == TRANS, *args):
            gemv(ROW_MAJOR, tx, *args, 1)
    else:  # vector · matrix = matrixᵀ · vector
        _product(gemm, gemv, y.T, x, out, alpha, beta, split)


def _scale(out: np.ndarray, beta: float) -> None:
    """out = beta * out, where beta == 0 ignores out's contents (as BLAS does)."""
    if beta:
        out *= beta
    else:
        out.fill(0)


def _check(node: Apply, x: np.ndarray, y: np.ndarray, nds: tuple[int, int]) -> None:
    if (x.ndim, y.ndim) != nds:
        raise ValueError(f"{node.op}: expected operands of ranks {nds}, got shapes {x.shape} "
                         f"({node.inputs[0]}) and {y.shape} ({node.inputs[1]})")
    if x.shape[-1] != y.shape[0]:
        raise ValueError(f"dot: shapes {x.shape} ({node.inputs[0]}) and {y.shape} "
                         f"({node.inputs[1]}) are not aligned: {x.shape[-1]} != {y.shape[0]}")


def dot_impl(node: Apply, renderer: CRenderer) -> Any:
    """A plain product is NumPy's call into the same OpenBLAS: its C dispatch costs ~1 us where
    preparing the CBLAS arguments in Python costs ~5 (what Gemm's fused scaling repays); a
    matrix-vector product large enough to split pays them (`theanine_c.gemv`)."""
    x_var, y_var = node.inputs
    dtype = node.outputs[0].type.dtype
    gemm, gemv = _functions(dtype)  # float32/float64 only: other dtypes fall back
    d = np.dtype(dtype)
    nds = (x_var.type.ndim, y_var.type.ndim)
    dot = np.dot

    def make(split: SplitGemv | None) -> Any:
        results = Recycler()

        def thunk(x: Any, y: Any) -> tuple:
            if type(x) is not np.ndarray or x.dtype != d:
                x = np.asarray(x, dtype=d)
            if type(y) is not np.ndarray or y.dtype != d:
                y = np.asarray(y, dtype=d)
            if (x.ndim, y.ndim) != nds or x.shape[-1] != y.shape[0]:
                _check(node, x, y, nds)
            if nds == (1, 1):
                return (np.asarray(dot(x, y), dtype=d),)
            out = results.empty(x.shape[:-1] + y.shape[1:], d)
            if split is not None and split.covers(x.size if x.ndim == 2 else y.size):
                _product(gemm, gemv, x, y, out, 1.0, 0.0, split)
            else:
                dot(x, y, out=out)
            return (results.keep(out),)

        return thunk

    return _with_split(node, renderer, gemv, nds, make)


def gemm_impl(node: Apply, renderer: CRenderer) -> Any:
    dtype = node.outputs[0].type.dtype
    gemm, gemv = _functions(dtype)
    d = np.dtype(dtype)
    z_var, _, x_var, y_var, _ = node.inputs
    nds = (x_var.type.ndim, y_var.type.ndim)
    inplace = node.op.inplace

    def make(split: SplitGemv | None) -> Any:
        def thunk(z: Any, alpha: Any, x: Any, y: Any, beta: Any) -> tuple:
            x = np.asarray(x, dtype=d)
            y = np.asarray(y, dtype=d)
            _check(node, x, y, nds)
            expected = x.shape[:-1] + y.shape[1:]
            z = np.asarray(z)
            if z.shape != expected:
                raise ValueError(f"gemm: {z_var} has shape {z.shape}, the product {expected}")
            b = float(beta)
            if inplace and b and z.dtype == d and z.flags.c_contiguous and z.flags.writeable:
                out = z  # the node may destroy z: no copy of it first
            else:
                out = np.array(z, dtype=d, order="C") if b else np.empty(expected, d)
            _product(gemm, gemv, x, y, out, float(alpha), b, split)
            return (out,)

        return thunk

    return _with_split(node, renderer, gemv, nds, make)


def _with_split(node: Apply, renderer: CRenderer, gemv: Any, nds: tuple[int, int],
                make: Callable[[SplitGemv | None], Any]) -> Any:
    """The thunk `make(split)`: a matrix-vector node's compiles the split gemv first (a
    `NativePlan`), any other's is ready now."""
    dtype = node.outputs[0].type.dtype
    if sorted(nds) != [1, 2]:
        return make(None)
    source, name = split_source(dtype, renderer)
    return NativePlan((source,), lambda libs: make(SplitGemv.loaded(libs[0], name, gemv)))
