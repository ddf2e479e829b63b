"""2-d pooling (`signal.pool`) natively: `Pool` (max, sum, average_inc_pad, average_exc_pad)
and its gradients `MaxPoolGrad` and `AveragePoolGrad`, one OpenMP task per image plane.

The gradients gather rather than scatter: each input element sums over the windows that
contain it, so threads never write the same element and no buffer is zeroed first.  The
windows are visited in the order `perform` adds them (window offsets in row-major order, i.e.
windows in decreasing position), so sums round as `perform`'s do: max pooling and its
gradient give the same bits, and averages are divided in double precision as NumPy divides
by the int64 counts.  Only float32/float64 pooling over the last two dimensions is native;
other dtypes and `pool_3d` run `perform` (`Unsupported`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import buffer_pointer
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer

MODE_CODES = {"max": 0, "sum": 1, "average_inc_pad": 2, "average_exc_pad": 3}

# q[]: 0 planes, 1 H, 2 W, 3 oh, 4 ow, 5 mode, 6 whether every input element lies in at most
#      one window; t[]: the window tables of `_tables`
_SOURCE = r"""
#include <string.h>
#define T %(ctype)s
void KNAME_pool(void *xv, void *outv, void *qv, void *tv) {
    const T *x = xv;
    T *out = outv;
    const int64_t *q = qv, *t = tv;
    const int64_t n = q[0], H = q[1], W = q[2], oh = q[3], ow = q[4], mode = q[5];
    const int64_t *y0 = t, *y1 = t + oh, *x0 = t + 2 * oh, *x1 = x0 + ow, *cy = x1 + ow,
                  *cx = cy + oh;
    #pragma omp parallel for schedule(static) if(n * H * W > %(par)d && n > 1)
    for (int64_t k = 0; k < n; k++) {
        const T *xp = x + k * H * W;
        T *op = out + k * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                T m;
                if (mode == 0) {
                    int nan = 0;
                    m = -INFINITY;
                    for (int64_t y = y0[oy]; y < y1[oy]; y++)
                        for (int64_t i = x0[ox]; i < x1[ox]; i++) {
                            const T v = xp[y * W + i];
                            m = v > m ? v : m;
                            nan |= v != v;
                        }
                    m = nan ? (T)NAN : m;  /* NaN wins, as in np.maximum */
                } else {
                    m = 0;
                    for (int64_t y = y0[oy]; y < y1[oy]; y++)
                        for (int64_t i = x0[ox]; i < x1[ox]; i++) m += xp[y * W + i];
                    if (mode > 1) m = (T)((double)m / (double)(cy[oy] * cx[ox]));
                }
                op[oy * ow + ox] = m;
            }
        }
    }
}

/* The gradient where windows do not overlap (stride >= window, the usual 2x2 pooling): each
   element takes the one window containing it, if any.  Per row, the window's maximum and
   gradient are first spread to the row's elements (NaN and 0 where no window covers one),
   so the loop over the row is one compare-and-select that vectorizes: as a branch, a max
   pooling's unpredictable "is this the maximum" cost three times the time.  That one term
   is added to 0, as the general loop adds it, so -0 becomes +0 alike. */
#define KNAME_SPREAD 512
static void KNAME_grad_single(const T *x, const T *mx, const T *gz, T *gx, const int64_t *q,
                              const int64_t *t) {
    const int64_t n = q[0], H = q[1], W = q[2], oh = q[3], ow = q[4], mode = q[5];
    const int64_t *cy = t + 2 * oh + 2 * ow, *cx = cy + oh, *ylo = cx + ow, *yhi = ylo + H,
                  *xlo = yhi + H, *xhi = xlo + W;
    #pragma omp parallel for schedule(static) if(n * H * W > %(par)d && n > 1)
    for (int64_t k = 0; k < n; k++) {
        T me[KNAME_SPREAD], ge[KNAME_SPREAD];
        int64_t spread = -1;  /* the window row whose values me/ge hold (whole rows only) */
        for (int64_t y = 0; y < H; y++) {
            const int64_t oy = yhi[y];
            const T *xr = x + (k * H + y) * W;
            T *out = gx + (k * H + y) * W;
            if (ylo[y] > oy) {
                memset(out, 0, (size_t)W * sizeof(T));
                continue;
            }
            const T *mr = mx + (k * oh + oy) * ow, *gr = gz + (k * oh + oy) * ow;
            for (int64_t c = 0; c < W; c += KNAME_SPREAD) {
                const int64_t w = W - c < KNAME_SPREAD ? W - c : KNAME_SPREAD;
                if (!(W <= KNAME_SPREAD && spread == oy)) {
                    for (int64_t j = 0; j < w; j++) {
                        const int64_t ox = xhi[c + j];
                        const int in = xlo[c + j] <= ox;
                        me[j] = in ? mr[ox] : (T)NAN;
                        ge[j] = !in ? (T)0 : mode < 2 ? gr[ox]
                                : (T)(0.0 + (double)gr[ox] / (double)(cy[oy] * cx[ox]));
                    }
                    spread = oy;
                }
                T *o = out + c;
                const T *xc = xr + c;
                if (mode == 0) {
                    for (int64_t j = 0; j < w; j++) o[j] = (T)0 + (xc[j] == me[j] ? ge[j] : (T)0);
                } else {
                    for (int64_t j = 0; j < w; j++) o[j] = (T)0 + ge[j];
                }
            }
        }
    }
}
#undef KNAME_SPREAD

/* gx[e] = sum of gz over the windows containing e (whose maximum x[e] equals, for max), the
   windows visited in decreasing position: the order of perform's sums */
void KNAME_grad(void *xv, void *mv, void *gzv, void *gxv, void *qv, void *tv) {
    const T *x = xv, *mx = mv, *gz = gzv;
    T *gx = gxv;
    const int64_t *q = qv, *t = tv;
    const int64_t n = q[0], H = q[1], W = q[2], oh = q[3], ow = q[4], mode = q[5];
    const int64_t *cy = t + 2 * oh + 2 * ow, *cx = cy + oh, *ylo = cx + ow, *yhi = ylo + H,
                  *xlo = yhi + H, *xhi = xlo + W;
    if (q[6]) {
        KNAME_grad_single(x, mx, gz, gx, q, t);
        return;
    }
    #pragma omp parallel for schedule(static) if(n * H * W > %(par)d && n > 1)
    for (int64_t k = 0; k < n; k++) {
        const T *gp = gz + k * oh * ow, *mp = mx + k * oh * ow;
        for (int64_t y = 0; y < H; y++) {
            for (int64_t i = 0; i < W; i++) {
                const int64_t e = k * H * W + y * W + i;
                if (mode == 0) {
                    const T v = x[e];
                    T acc = 0;
                    for (int64_t oy = yhi[y]; oy >= ylo[y]; oy--)
                        for (int64_t ox = xhi[i]; ox >= xlo[i]; ox--)
                            acc += mp[oy * ow + ox] == v ? gp[oy * ow + ox] : 0;
                    gx[e] = acc;
                } else if (mode == 1) {
                    T acc = 0;
                    for (int64_t oy = yhi[y]; oy >= ylo[y]; oy--)
                        for (int64_t ox = xhi[i]; ox >= xlo[i]; ox--) acc += gp[oy * ow + ox];
                    gx[e] = acc;
                } else {
                    double acc = 0;
                    for (int64_t oy = yhi[y]; oy >= ylo[y]; oy--)
                        for (int64_t ox = xhi[i]; ox >= xlo[i]; ox--)
                            acc += (double)gp[oy * ow + ox] / (double)(cy[oy] * cx[ox]);
                    gx[e] = (T)acc;
                }
            }
        }
    }
}
#undef T
"""


def _tables(op: Any, img: tuple, out: tuple) -> np.ndarray:
    """Per axis: each window's first and last-plus-one input index (clipped to the input),
    the count an average divides by (`perform`'s `_counts`), and for each input index the
    first and last window containing it (lo > hi: none)."""
    bounds, counts, members = [], [], []
    for v, w, s, p, o in zip(img, op.ws, op.stride, op.pad, out):
        start = np.arange(o) * s  # in the coordinates of the padded input
        bounds += [np.clip(start - p, 0, v), np.clip(start - p + w, 0, v)]
        end = np.minimum(start + w, v + 2 * p)
        if op.mode == "average_exc_pad":
            start, end = np.maximum(start, p), np.minimum(end, v + p)
        counts.append(end - start)
        e = np.arange(v) + p
        members += [np.maximum(0, -(-(e - w + 1) // s)), np.minimum(e // s, o - 1)]
    return np.concatenate(bounds[:2] + bounds[2:] + counts + members).astype(np.int64)


def _source(dtype: str, renderer: CRenderer) -> tuple[Any, str]:
    from theanine_c.loops import PARALLEL_THRESHOLD

    unit = Unit(renderer)
    unit.kernels.append(_SOURCE % {"ctype": renderer.ctype(dtype), "par": PARALLEL_THRESHOLD})
    unit.declarations += ["void KNAME_pool(void *, void *, void *, void *);",
                          "void KNAME_grad(void *, void *, void *, void *, void *, void *);"]
    return named_source(unit.source(), unit.declarations)


def _supported(node: Apply) -> np.dtype:
    op = node.op
    if op.ndim != 2:
        raise Unsupported(f"pooling over {op.ndim} dimensions has no C implementation (2 only)")
    dtype = node.inputs[0].type.dtype
    if dtype not in ("float32", "float64") or any(i.type.dtype != dtype for i in node.inputs):
        raise Unsupported(f"pooling of {dtype} has no C implementation")
    return np.dtype(dtype)


def _geometry(op: Any, x: np.ndarray, node: Apply) -> tuple[tuple, np.ndarray, np.ndarray]:
    """(pooled shape, the parameters and the window tables the kernels read) for input x."""
    if x.ndim != node.inputs[0].type.ndim:
        raise ValueError(f"pool: {node.inputs[0]} should have {node.inputs[0].type.ndim} "
                         f"dimension(s), got shape {x.shape}")
    img = x.shape[-2:]
    out, _ = op._geometry(img)
    planes = int(np.prod(x.shape[:-2], dtype=np.int64))
    tables = _tables(op, img, out)
    q = np.array([planes, *img, *out, MODE_CODES[op.mode], _single(tables, img, out)],
                 np.int64)
    return x.shape[:-2] + tuple(out), q, tables


def _single(tables: np.ndarray, img: tuple, out: tuple) -> bool:
    """Whether every input element lies in at most one window (the members' ranges at the
    tables' end: per row, then per column, the first and last window containing it)."""
    h, w = img
    ylo, yhi, xlo, xhi = np.split(tables[len(tables) - 2 * (h + w):],
                                  np.cumsum([h, h, w]))
    return bool(np.all(yhi - ylo <= 0) and np.all(xhi - xlo <= 0))


def pool_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """Pool: max, sum or average over windows of the last two dimensions."""
    d = _supported(node)
    source, name = _source(d.name, renderer)
    op = node.op

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(f"{name}_pool")
        fb = buffer_pointer()

        def thunk(x: Any) -> tuple:
            x = np.ascontiguousarray(x, dtype=d)
            shape, q, t = _geometry(op, x, node)
            out = np.empty(shape, d)
            if out.size == 0:
                return (np.zeros(shape, d),)
            kernel(fb(x), fb(out), fb(q), fb(t))
            return (out,)

        return thunk

    return NativePlan((source,), make_thunk)


def pool_grad_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """MaxPoolGrad (x, maxout, gz) and AveragePoolGrad (x, gz)."""
    d = _supported(node)
    source, name = _source(d.name, renderer)
    op = node.op

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(f"{name}_grad")
        fb = buffer_pointer()

        def thunk(x: Any, *rest: Any) -> tuple:
            x = np.ascontiguousarray(x, dtype=d)
            shape, q, t = _geometry(op, x, node)
            values = [np.ascontiguousarray(v, dtype=d) for v in rest]
            what = ["the pooled output", "the output gradient"][-len(values):]
            for v, var, role in zip(values, node.inputs[1:], what):
                op._check_out(v, shape, var, role)
            gx = np.empty(x.shape, d)
            if x.size == 0:
                return (gx,)
            if 0 in shape:
                return (np.zeros(x.shape, d),)
            # the average modes never read the maxima: gz stands in for them
            kernel(fb(x), fb(values[0]), fb(values[-1]), fb(gx), fb(q), fb(t))
            return (gx,)

        return thunk

    return NativePlan((source,), make_thunk)
