"""Advanced indexing by integer vectors on the leading axes, natively: `x[i]`, `x[i, j]`
(embedding lookups, `log(p)[arange(n), y]`) and their `set_subtensor` / `inc_subtensor`,
where repeated indices accumulate (`np.add.at`) or the last write wins (`set`).

Index vectors are checked against the axis lengths inside the kernel (negative ones wrap as in
NumPy); an index out of bounds stops the kernel before it reads or writes there and comes back
as an IndexError naming the variable.  Other index patterns fall back to NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import buffer_pointer, ffi, int64_arrays
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer

_OFFSETS = """
    int64_t off = 0;
    for (int j = 0; j < k; j++) {
        int64_t v = idx[j][i];
        if (v < 0) v += dims[j];
        if (v < 0 || v >= dims[j]) { bad[0] = i; bad[1] = j; bad[2] = idx[j][i]; return 1; }
        off += v * strides[j];
    }"""

_GATHER = """
int KNAME(int64_t n, int k, const int64_t *dims, const int64_t *strides, int64_t *const *idx,
          const char *x, char *out, int64_t block, int64_t *bad) {
    for (int64_t i = 0; i < n; i++) {%s
        memcpy(out + i * block, x + off, block);
    }
    return 0;
}
"""

_SCATTER = """
int KNAME(int64_t n, int k, const int64_t *dims, const int64_t *strides, int64_t *const *idx,
          char *out, const char *y, int64_t block, int64_t *bad) {
    const int64_t m = block / sizeof(T);
    for (int64_t i = 0; i < n; i++) {%s
        T *dst = (T *)(out + off);
        const T *src = (const T *)(y + i * block);
        #pragma omp simd
        for (int64_t e = 0; e < m; e++) dst[e] = OP;
    }
    return 0;
}
"""


def _pattern(node: Apply, n_fixed: int) -> int:
    """k, when the index is k integer vectors on the leading axes (and nothing else)."""
    idx_list = node.op.idx_list
    indices = node.inputs[n_fixed:]
    if not idx_list or any(e != "input" for e in idx_list) or len(indices) != len(idx_list):
        raise Unsupported("only integer vectors on the leading axes are indexed natively")
    if any(i.type.ndim != 1 or i.type.dtype[0] not in "iu" for i in indices):
        raise Unsupported("only integer vectors on the leading axes are indexed natively")
    return len(idx_list)


def _source(template: str, renderer: CRenderer, dtype: str | None, op: str = "") -> tuple:
    unit = Unit(renderer)
    body = template % _OFFSETS
    if dtype is not None:
        body = f"#define T {renderer.ctype(dtype)}\n" + body.replace("OP", op) + "#undef T\n"
    unit.kernels.append("#include <string.h>\n" + body)
    unit.declarations.append("int KNAME(int64_t, int, void *, void *, void *, void *, void *, "
                             "int64_t, void *);")
    return named_source(unit.source(), unit.declarations)


def _prepare(node: Apply, idx: tuple, f: Any) -> tuple:
    """(index vectors as int64 arrays, their cdata, shared length) with NumPy's checks."""
    if len(idx) == 1:  # one vector (an embedding lookup): nothing to broadcast
        v = idx[0]
        if type(v) is not np.ndarray or v.dtype != np.int64 or not v.flags.c_contiguous:
            v = np.ascontiguousarray(v, dtype=np.int64)
        return (v,), f.new("int64_t *[]", [f.from_buffer("int64_t[]", v)]), len(v)
    arrays = [np.asarray(i) for i in idx]
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         f"shapes {' '.join(str(a.shape) for a in arrays)} "
                         f"(indexing {node.inputs[0]})") from None
    vecs = [np.ascontiguousarray(a, dtype=np.int64) for a in arrays]
    n = len(vecs[0])
    ptrs = f.new("int64_t *[]", [f.from_buffer("int64_t[]", v) for v in vecs])
    return vecs, ptrs, n


def _raise_bad(node: Apply, x_shape: tuple, bad: Any) -> None:
    i, j, v = int(bad[0]), int(bad[1]), int(bad[2])
    raise IndexError(f"index {v} is out of bounds for axis {j} with size {x_shape[j]} "
                     f"(entry {i} of {node.inputs[len(node.inputs) - len(node.op.idx_list) + j]},"
                     f" indexing {node.inputs[0]})")


def gather_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    k = _pattern(node, 1)
    x_var = node.inputs[0]
    if k > x_var.type.ndim:
        raise Unsupported("more index vectors than dimensions")
    source, name = _source(_GATHER, renderer, None)
    d = np.dtype(x_var.type.dtype)

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(name)
        f = ffi()
        fb, arrays = buffer_pointer(), int64_arrays()

        def thunk(x: Any, *idx: Any) -> tuple:
            if type(x) is not np.ndarray or x.dtype is not d or not x.flags.c_contiguous:
                x = np.ascontiguousarray(x, dtype=d)
            vecs, ptrs, n = _prepare(node, idx, f)
            trailing = x.shape[k:]
            out = np.empty((n, *trailing), d)
            block = out.itemsize * (out.size // n if n else 0)
            bad = f.new("int64_t[3]")
            if n and kernel(n, k, arrays(x.shape[:k]), arrays(x.strides[:k]), ptrs, fb(x),
                            fb(out), block, bad):
                _raise_bad(node, x.shape, bad)
            return (out,)

        return thunk

    return NativePlan((source,), make_thunk)


def scatter_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    k = _pattern(node, 2)
    x_var, y_var = node.inputs[:2]
    dtype = x_var.type.dtype
    if dtype not in ("float32", "float64", "int32", "int64"):
        raise Unsupported(f"inc_subtensor of {dtype} is not native")
    op = "src[e]" if node.op.set_instead_of_inc else "dst[e] + src[e]"
    source, name = _source(_SCATTER, renderer, dtype, op)
    d = np.dtype(dtype)

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(name)
        f = ffi()

        def thunk(x: Any, y: Any, *idx: Any) -> tuple:
            out = np.array(x, dtype=d, order="C")
            vecs, ptrs, n = _prepare(node, idx, f)
            trailing = out.shape[k:]
            y = np.asarray(y)
            want = (n, *trailing)
            y_shape = (1,) * (len(want) - y.ndim) + y.shape
            if y.ndim > len(want) or any(
                    s != w and not (s == 1 and b) for s, w, b in
                    zip(y_shape, want, (True,) * (len(want) - y.ndim) + y_var.broadcastable)):
                raise ValueError(f"{node.op}: cannot write {y_var} of shape {y.shape} into the "
                                 f"selection of shape {want} of {x_var}")
            y = np.ascontiguousarray(np.broadcast_to(y.astype(d, copy=False), want))
            block = out.itemsize * int(np.prod(trailing, dtype=np.int64))
            bad = f.new("int64_t[3]")
            if n and kernel(n, k, f.new("int64_t[]", out.shape[:k]),
                            f.new("int64_t[]", out.strides[:k]), ptrs, f.from_buffer(out),
                            f.from_buffer(y), block, bad):
                _raise_bad(node, out.shape, bad)
            return (out,)

        return thunk

    return NativePlan((source,), make_thunk)
