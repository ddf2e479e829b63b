"""2-d convolution and its two gradients (`abstract_conv`) natively: im2col / col2im in C with
OpenMP, and the products through the CBLAS gemm of NumPy's OpenBLAS (`blas.openblas`).

The images are taken in chunks whose columns fit in the L2 cache; one gemm per chunk and
group multiplies them by the filters (the forward pass and the input gradient) or by the
output gradient (the filter gradient, accumulated over the chunks with beta = 1).  The gemm
runs on the calling thread with OpenBLAS's own pool; the column copies run on OpenMP's.
`perform` does the same algebra with NumPy views, whose copies of the strided windows and of
the transposed results are what this saves.

Shapes are checked in Python with the Op's own checks (the same messages as `perform`)
before any pointer reaches C.  3-d convolutions and dtypes other than float32/float64 stay
on `perform` (`Unsupported`).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.blas import _functions, openblas
from theanine_c.build import buffer_pointer, ffi
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer

#: bytes of columns per chunk of images: about the L2 cache of one core
CHUNK_BYTES = 1 << 21
#: at most this many chunks (the filter gradient keeps one partial sum per chunk)
MAX_CHUNKS = 64

# p[]: 0 B, 1 C, 2 H, 3 W, 4 K (filters), 5 Cg (channels per group), 6 kh, 7 kw, 8 oh, 9 ow,
#      10 sh, 11 sw, 12 dh, 13 dw, 14 ph, 15 pw, 16 G (groups), 17 nb (images per chunk)
_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
#define T %(ctype)s
typedef void (*KNAME_gemm_t)(int, int, int, int64_t, int64_t, int64_t, T, const T *, int64_t,
                             const T *, int64_t, T, T *, int64_t);
enum { KNAME_ROW = 101, KNAME_N = 111, KNAME_T = 112 };

/* the first and one-past-last output index o whose input o * s + off lies in [0, n) */
static void KNAME_span(int64_t n, int64_t out, int64_t s, int64_t off, int64_t *lo,
                       int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - off <= 0 ? 0 : (n - off - 1) / s + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? (b > *lo ? b : *lo) : out;
}

/* col[(c, u, v), j * P + (oy, ox)] =
       xpad[b0 + j, g * Cg + c, oy * sh + u * dh, ox * sw + v * dw] */
static void KNAME_im2col(const T *x, T *col, const int64_t *p, int64_t b0, int64_t nbc,
                         int64_t g) {
    const int64_t C = p[1], H = p[2], W = p[3], Cg = p[5], kh = p[6], kw = p[7], oh = p[8],
                  ow = p[9], sh = p[10], sw = p[11], dh = p[12], dw = p[13], ph = p[14],
                  pw = p[15], P = oh * ow, N = nbc * P, rows = Cg * kh * kw;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < nbc; j++) {
            const int64_t c = r / (kh * kw), u = (r / kw) %% kh, v = r %% kw;
            const T *xp = x + ((b0 + j) * C + g * Cg + c) * H * W;
            T *dst = col + r * N + j * P;
            int64_t ylo, yhi, xlo, xhi;
            KNAME_span(H, oh, sh, u * dh - ph, &ylo, &yhi);
            KNAME_span(W, ow, sw, v * dw - pw, &xlo, &xhi);
            memset(dst, 0, sizeof(T) * ylo * ow);
            for (int64_t oy = ylo; oy < yhi; oy++) {
                const T *xr = xp + (oy * sh + u * dh - ph) * W + v * dw - pw;
                T *d = dst + oy * ow;
                for (int64_t ox = 0; ox < xlo; ox++) d[ox] = 0;
                if (sw == 1) memcpy(d + xlo, xr + xlo, sizeof(T) * (xhi - xlo));
                else for (int64_t ox = xlo; ox < xhi; ox++) d[ox] = xr[ox * sw];
                for (int64_t ox = xhi; ox < ow; ox++) d[ox] = 0;
            }
            memset(dst + yhi * ow, 0, sizeof(T) * (oh - yhi) * ow);
        }
    }
}

/* gx[b0 + j, g * Cg + c, ...] += the columns of image j, added back at their windows */
static void KNAME_col2im(const T *col, T *gx, const int64_t *p, int64_t b0, int64_t nbc,
                         int64_t g) {
    const int64_t C = p[1], H = p[2], W = p[3], Cg = p[5], kh = p[6], kw = p[7], oh = p[8],
                  ow = p[9], sh = p[10], sw = p[11], dh = p[12], dw = p[13], ph = p[14],
                  pw = p[15], P = oh * ow, N = nbc * P;
    for (int64_t j = 0; j < nbc; j++) {
        for (int64_t c = 0; c < Cg; c++) {
            T *gp = gx + ((b0 + j) * C + g * Cg + c) * H * W;
            for (int64_t u = 0; u < kh; u++) {
                for (int64_t v = 0; v < kw; v++) {
                    const T *src = col + ((c * kh + u) * kw + v) * N + j * P;
                    int64_t ylo, yhi, xlo, xhi;
                    KNAME_span(H, oh, sh, u * dh - ph, &ylo, &yhi);
                    KNAME_span(W, ow, sw, v * dw - pw, &xlo, &xhi);
                    for (int64_t oy = ylo; oy < yhi; oy++) {
                        T *gr = gp + (oy * sh + u * dh - ph) * W + v * dw - pw;
                        const T *s = src + oy * ow;
                        if (sw == 1) {
                            #pragma omp simd
                            for (int64_t ox = xlo; ox < xhi; ox++) gr[ox] += s[ox];
                        } else {
                            for (int64_t ox = xlo; ox < xhi; ox++) gr[ox * sw] += s[ox];
                        }
                    }
                }
            }
        }
    }
}

/* buf[k, j * P + q] = a[b0 + j, g * Kg + k, q] (scatter = 0) or the reverse (scatter = 1) */
static void KNAME_regroup(T *a, T *buf, const int64_t *p, int64_t b0, int64_t nbc, int64_t g,
                          int scatter) {
    const int64_t K = p[4], Kg = K / p[16], P = p[8] * p[9], N = nbc * P;
    for (int64_t k = 0; k < Kg; k++) {
        for (int64_t j = 0; j < nbc; j++) {
            T *ap = a + ((b0 + j) * K + g * Kg + k) * P, *bp = buf + k * N + j * P;
            if (scatter) memcpy(ap, bp, sizeof(T) * P);
            else memcpy(bp, ap, sizeof(T) * P);
        }
    }
}

/* The drivers run one task per chunk of nb images: the chunks in parallel (`par`), each on
   one OpenMP thread with its own scratch and a gemm the caller made single-threaded, or in
   order with BLAS's own threads.  They return -1 when scratch memory cannot be had. */
#define KNAME_GEOMETRY                                                                        \
    const int64_t *p = pv;                                                                    \
    const KNAME_gemm_t gemm = (KNAME_gemm_t)gv;                                               \
    const int64_t B = p[0], K = p[4], G = p[16], nb = p[17], Kg = K / G,                      \
                  CK = p[5] * p[6] * p[7], P = p[8] * p[9], chunks = (B + nb - 1) / nb;       \
    int failed = 0;

/* out = conv(x, w) for correlation filters w: (K, Cg, kh, kw) */
int KNAME_fwd(void *xv, void *wv, void *outv, void *pv, void *gv, int64_t par) {
    const T *x = xv, *w = wv;
    T *out = outv;
    KNAME_GEOMETRY
    #pragma omp parallel if(par)
    {
        T *col = malloc(sizeof(T) * (CK + Kg) * nb * P), *res = col ? col + CK * nb * P : 0;
        if (!col) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic)
        for (int64_t ci = 0; ci < chunks; ci++) {
            const int64_t b0 = ci * nb, nbc = B - b0 < nb ? B - b0 : nb, N = nbc * P;
            for (int64_t g = 0; col && g < G; g++) {
                KNAME_im2col(x, col, p, b0, nbc, g);
                if (nbc == 1) {
                    gemm(KNAME_ROW, KNAME_N, KNAME_N, Kg, P, CK, 1, w + g * Kg * CK, CK, col,
                         N, 0, out + (b0 * K + g * Kg) * P, P);
                } else {
                    gemm(KNAME_ROW, KNAME_N, KNAME_N, Kg, N, CK, 1, w + g * Kg * CK, CK, col,
                         N, 0, res, N);
                    KNAME_regroup(out, res, p, b0, nbc, g, 1);
                }
            }
        }
        free(col);
    }
    return failed ? -1 : 0;
}

/* part[ci] (K, Cg, kh, kw) = chunk ci's share of d sum(conv(x, w) * top) / d w; the caller
   sums the chunks in order, so the result does not depend on the thread count */
int KNAME_gw(void *xv, void *topv, void *partv, void *pv, void *gv, int64_t par) {
    const T *x = xv;
    T *top = topv, *part = partv;
    KNAME_GEOMETRY
    #pragma omp parallel if(par)
    {
        T *col = malloc(sizeof(T) * (CK + Kg) * nb * P), *res = col ? col + CK * nb * P : 0;
        if (!col) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic)
        for (int64_t ci = 0; ci < chunks; ci++) {
            const int64_t b0 = ci * nb, nbc = B - b0 < nb ? B - b0 : nb, N = nbc * P;
            for (int64_t g = 0; col && g < G; g++) {
                const T *t = top + (b0 * K + g * Kg) * P;
                int64_t lt = P;
                KNAME_im2col(x, col, p, b0, nbc, g);
                if (nbc > 1) {
                    KNAME_regroup(top, res, p, b0, nbc, g, 0);
                    t = res;
                    lt = N;
                }
                gemm(KNAME_ROW, KNAME_N, KNAME_T, Kg, CK, N, 1, t, lt, col, N, 0,
                     part + ci * K * CK + g * Kg * CK, CK);
            }
        }
        free(col);
    }
    return failed ? -1 : 0;
}

/* gx (B, C, H, W), zeroed by the caller, += d sum(conv(gx, w) * top) / d gx */
int KNAME_gi(void *wv, void *topv, void *gxv, void *pv, void *gv, int64_t par) {
    const T *w = wv;
    T *top = topv, *gx = gxv;
    KNAME_GEOMETRY
    #pragma omp parallel if(par)
    {
        T *col = malloc(sizeof(T) * (CK + Kg) * nb * P), *res = col ? col + CK * nb * P : 0;
        if (!col) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic)
        for (int64_t ci = 0; ci < chunks; ci++) {
            const int64_t b0 = ci * nb, nbc = B - b0 < nb ? B - b0 : nb, N = nbc * P;
            for (int64_t g = 0; col && g < G; g++) {
                const T *t = top + (b0 * K + g * Kg) * P;
                int64_t lt = P;
                if (nbc > 1) {
                    KNAME_regroup(top, res, p, b0, nbc, g, 0);
                    t = res;
                    lt = N;
                }
                gemm(KNAME_ROW, KNAME_T, KNAME_N, CK, N, Kg, 1, w + g * Kg * CK, CK, t, lt,
                     0, col, N);
                KNAME_col2im(col, gx, p, b0, nbc, g);
            }
        }
        free(col);
    }
    return failed ? -1 : 0;
}
#undef KNAME_GEOMETRY
#undef T
"""

_ENTRIES = ("fwd", "gw", "gi")


class _SingleThreadedBlas:
    """While any native convolution runs its chunks in parallel, OpenBLAS runs each gemm on
    the calling thread (its own pool would compete with OpenMP's for the same cores); the
    setting is global, so concurrent calls count and the last one restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 0

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                lib = openblas()
                self._saved = lib.scipy_openblas_get_num_threads64_()
                if self._saved > 1:
                    lib.scipy_openblas_set_num_threads64_(1)
            self._depth += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._saved > 1:
                openblas().scipy_openblas_set_num_threads64_(self._saved)


_SINGLE_THREADED_BLAS = _SingleThreadedBlas()


def _gemm_pointer(dtype: str) -> Any:
    """The address of OpenBLAS's CBLAS gemm for `dtype` (Unsupported when there is none)."""
    gemm, _ = _functions(dtype)
    return ffi().cast("void *", gemm)


def _source(dtype: str, renderer: CRenderer) -> tuple[Any, str]:
    unit = Unit(renderer)
    unit.kernels.append(_SOURCE % {"ctype": renderer.ctype(dtype)})
    unit.declarations.extend(f"int KNAME_{e}(void *, void *, void *, void *, void *, int64_t);"
                             for e in _ENTRIES)
    return named_source(unit.source(), unit.declarations)


def _supported(node: Apply) -> str:
    """The dtype of a node the native code covers; Unsupported otherwise."""
    op = node.op
    if op.convdim != 2:
        raise Unsupported(f"conv{op.convdim}d has no C implementation (2-d only)")
    dtype = node.outputs[0].type.dtype
    if dtype not in ("float32", "float64") or any(
            i.type.dtype != dtype for i in node.inputs[:2]):
        raise Unsupported(f"convolution of {dtype} has no C implementation")
    return dtype


def _params(op: Any, img: tuple, kern: tuple, out: tuple, itemsize: int) -> np.ndarray:
    """The geometry the kernels read (see the table above `_SOURCE`)."""
    pads = op._pads(kern[2:])
    per_image = kern[1] * kern[2] * kern[3] * out[2] * out[3] * itemsize
    nb = max(1, min(img[0], CHUNK_BYTES // max(1, per_image)), -(-img[0] // MAX_CHUNKS))
    return np.array([*img, kern[0], kern[1], kern[2], kern[3], out[2], out[3],
                     *op.subsample, *op.filter_dilation, *pads, op.num_groups, nb], np.int64)


def _run(kernel: Any, fb: Any, gemm: Any, p: np.ndarray, *arrays: np.ndarray) -> None:
    """Call an entry point: its chunks in parallel when there are several."""
    chunks = -(-int(p[0]) // int(p[17]))
    pointers = [fb(a) for a in arrays]
    if chunks > 1:
        with _SINGLE_THREADED_BLAS:
            failed = kernel(*pointers, fb(p), gemm, 1)
    else:
        failed = kernel(*pointers, fb(p), gemm, 0)
    if failed:
        raise MemoryError("conv2d: no memory for the im2col columns of a chunk of images")


def _unflip(op: Any, w: np.ndarray) -> np.ndarray:
    """The correlation filters: the kernels correlate, so a convolution flips first."""
    return np.ascontiguousarray(op._flip(w))


def _check_rank(op: Any, values: tuple, node: Apply) -> None:
    """4-d operands, before any shape arithmetic reads them."""
    for value, var in zip(values, node.inputs):
        if value.ndim != 4:
            raise ValueError(f"{op.what}: {var} must be 4-d (NCHW), got shape {value.shape}")


def _conv_plan(node: Apply, renderer: CRenderer, entry: str, build: Any) -> NativePlan:
    """The plan of one of the three convolution Ops: the unit of the node's dtype, and a thunk
    made by `build(kernel, fb, gemm, dtype)` once the kernel `<name>_<entry>` is loaded."""
    dtype = _supported(node)
    gemm = _gemm_pointer(dtype)
    source, name = _source(dtype, renderer)

    def make_thunk(libs: Any) -> Any:
        return build(libs[0].function(f"{name}_{entry}"), buffer_pointer(), gemm,
                     np.dtype(dtype))

    return NativePlan((source,), make_thunk)


def conv_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """AbstractConv (2-d): the forward convolution."""
    from theanine.tensor.nnet.abstract_conv import get_conv_output_shape

    op = node.op

    def build(kernel: Any, fb: Any, gemm: Any, d: np.dtype) -> Any:
        def thunk(img: Any, kern: Any) -> tuple:
            img = np.ascontiguousarray(img, dtype=d)
            kern = np.asarray(kern, dtype=d)
            _check_rank(op, (img, kern), node)
            op.check_operands(node, img, kern)
            shape = tuple(get_conv_output_shape(img.shape, kern.shape, op.border_mode,
                                                op.subsample, op.filter_dilation))
            if 0 in shape or 0 in kern.shape[1:]:
                return (np.zeros(shape, d),)
            out = np.empty(shape, d)
            p = _params(op, img.shape, kern.shape, shape, d.itemsize)
            _run(kernel, fb, gemm, p, img, _unflip(op, kern), out)
            return (out,)

        return thunk

    return _conv_plan(node, renderer, "fwd", build)


def conv_grad_weights_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """AbstractConv_gradWeights (2-d): the gradient with respect to the filters."""
    op = node.op

    def build(kernel: Any, fb: Any, gemm: Any, d: np.dtype) -> Any:
        def thunk(img: Any, top: Any, shape: Any) -> tuple:
            img = np.ascontiguousarray(img, dtype=d)
            top = np.ascontiguousarray(top, dtype=d)
            shape = np.asarray(shape)
            _check_rank(op, (img, top), node)
            kshape = op.filter_shape(node, img, top, shape)
            if 0 in kshape or top.size == 0:
                return (np.zeros(kshape, d),)
            p = _params(op, img.shape, kshape, top.shape, d.itemsize)
            parts = np.empty((-(-img.shape[0] // int(p[17])), *kshape), d)
            _run(kernel, fb, gemm, p, img, top, parts)
            gw = parts[0] if len(parts) == 1 else np.add.reduce(parts, axis=0)
            return (_unflip(op, gw),)

        return thunk

    return _conv_plan(node, renderer, "gw", build)


def conv_grad_inputs_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """AbstractConv_gradInputs (2-d): the gradient with respect to the input."""
    op = node.op

    def build(kernel: Any, fb: Any, gemm: Any, d: np.dtype) -> Any:
        def thunk(kern: Any, top: Any, shape: Any) -> tuple:
            kern = np.asarray(kern, dtype=d)
            top = np.ascontiguousarray(top, dtype=d)
            shape = np.asarray(shape)
            _check_rank(op, (kern, top), node)
            ishape = op.input_shape(node, kern, top, shape)
            gx = np.zeros(ishape, d)
            if 0 in kern.shape or top.size == 0:
                return (gx,)
            p = _params(op, ishape, kern.shape, top.shape, d.itemsize)
            _run(kernel, fb, gemm, p, _unflip(op, kern), top, gx)
            return (gx,)

        return thunk

    return _conv_plan(node, renderer, "gi", build)
