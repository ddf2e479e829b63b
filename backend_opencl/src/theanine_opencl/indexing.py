"""Indexing kernels: the gather `x[i0, i1, ...]` by integer vectors on the leading axes, and
`inc_subtensor` / `set_subtensor` with such vectors (advanced) or with scalars and slices
(basic).

Repeated advanced indices are handled deterministically, in `np.add.at`'s order, without
atomics on floats: a first pass turns each index entry into a destination row, a second links
each entry to the next one with the same row (and marks the first of each), and the third
gives each (first entry, element) pair one work item that adds the chain in index order, so
`inc` is bit-equal to `perform`; for `set`, the last entry of each chain writes (NumPy's last
write wins).  The linking pass compares all pairs: O(n^2) in the number of index entries,
independent of the row size.

Index values live on the device, so a bad one cannot be refused before the launch: kernels
skip out-of-bounds entries (nothing is read or written there) and record the first one in a
status word, read back without waiting and checked at the end of the call (`Runtime.settle`);
the error then names the entry, the axis and the variable, as NumPy's would.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, named_program, work_size
from theanine_opencl.reduce import base_offset
from theanine_opencl.runtime import Runtime

LOCAL_SIZE = 64
_NONE_BAD = np.int32(2**31 - 1)
_SCATTER_DTYPES = ("float32", "float64", "int32", "int64")


def _pattern(node: Apply, n_fixed: int) -> int:
    """k, when the index is k integer vectors on the leading axes (and nothing else)."""
    idx_list = node.op.idx_list
    indices = node.inputs[n_fixed:]
    if (not idx_list or any(e != "input" for e in idx_list) or len(indices) != len(idx_list)
            or any(i.type.ndim != 1 or i.type.dtype[0] not in "iu" for i in indices)):
        raise Unsupported("only integer vectors on the leading axes are indexed by a kernel")
    if len(idx_list) > node.inputs[0].type.ndim:
        raise Unsupported("more index vectors than dimensions")
    return len(idx_list)


def _rows_source(r: OpenCLRenderer, node: Apply, n_fixed: int, k: int) -> tuple[str, str]:
    """(parameters, lines) computing `row`, the destination row of entry `i` (flat over the
    k leading axes), or recording entry i in `bad` and setting row = -1."""
    params, lines = [], ["    long row = 0;"]
    for j, v in enumerate(node.inputs[n_fixed:]):
        params.append(f"__global const {r.ctype(v.type.dtype)} *i{j}, const long i{j}o, "
                      f"const long i{j}s, const long d{j}")
        lines += [f"    long v{j} = (long)i{j}[i{j}o + i * i{j}s];",
                  f"    if (v{j} < 0) v{j} += d{j};",
                  f"    if (v{j} < 0 || v{j} >= d{j}) {{ atomic_min(bad, (int)i); row = -1; }}",
                  f"    else if (row >= 0) row = row * d{j} + v{j};"]
    return ", ".join(params), "\n".join(lines)


def _gather_source(r: OpenCLRenderer, node: Apply, k: int) -> str:
    x_var = node.inputs[0]
    t = r.ctype(x_var.type.dtype)
    tn = x_var.type.ndim - k
    params, rows = _rows_source(r, node, 1, k)
    unit = Unit(r)
    lead = [f"const long ls{j}" for j in range(k)]
    trail = [f"const long td{j}, const long ts{j}" for j in range(tn)]
    unit.kernels.append("\n".join([
        f"__kernel void KNAME(const long n, const long m, {params}, {', '.join(lead)}, "
        f"{''.join(p + ', ' for p in trail)}__global const {t} *x, const long xo, "
        f"__global {t} *out, __global int *bad) {{",
        "    const long w = get_global_id(0), mm = m > 0 ? m : 1;",
        "    if (w >= n * mm) return;",
        "    const long i = w / mm, e = w % mm;",
        rows,
        "    if (row < 0 || e >= m) return;",
        "    long at = xo;",
        *[f"    at += v{j} * ls{j};" for j in range(k)],
        *base_offset(tn, "e", "tr", "0", "td", "ts"),
        "    out[w] = x[at + tr];",
        "}"]))
    return named_program(unit)


def _bad_index(node: Apply, n_fixed: int, shape: tuple, bad: int, idx: tuple) -> IndexError:
    """The IndexError NumPy would give for entry `bad` of the index vectors."""
    for j, v in enumerate(idx):
        value = int(v.get()[bad if v.shape[0] > 1 else 0])
        if not -shape[j] <= value < shape[j]:
            return IndexError(f"index {value} is out of bounds for axis {j} with size "
                              f"{shape[j]} (entry {bad} of {node.inputs[n_fixed + j]}, "
                              f"indexing {node.inputs[0]})")
    return IndexError(f"an index out of bounds in entry {bad}, indexing {node.inputs[0]}")


def _index_args(node: Apply, n_fixed: int, shape: tuple, idx: tuple) -> tuple[int, list]:
    """(number of entries, kernel arguments of the index vectors), with NumPy's broadcasting
    of index vectors (equal lengths, or 1)."""
    lengths = {v.shape[0] for v in idx}
    n = max(lengths)
    if lengths - {1, n}:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         f"shapes {' '.join(str(v.shape) for v in idx)} (indexing "
                         f"{node.inputs[0]})")
    args: list[Any] = []
    for j, v in enumerate(idx):
        if v.ndim != 1 or v.dtype != np.dtype(node.inputs[n_fixed + j].type.dtype):
            raise ValueError(f"{node.op}: index {node.inputs[n_fixed + j]} should be a "
                             f"{node.inputs[n_fixed + j].type.dtype} vector, got {v.dtype} "
                             f"of shape {v.shape}")
        size = v.dtype.itemsize
        step = v.strides[0] // size if v.shape[0] > 1 else 0
        args += [v.base_data, v.offset // size, step, shape[j]]
    if n >= 2**31 - 1:
        raise ValueError(f"{node.op}: {n} index entries; at most 2**31 - 2 are supported")
    return n, args


class Status:
    """The status word of a launch: the first bad index entry, or none."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        # filled when created: an enqueued fill would be one more command for the queue
        flags = rt.cl.mem_flags
        word = rt.cl.Buffer(rt.context, flags.READ_WRITE | flags.COPY_HOST_PTR,
                            hostbuf=np.array([_NONE_BAD], np.int32))
        self.buf = rt.empty((1,), np.int32, word)

    def check_later(self, error: Any) -> None:
        """`error(first_bad_entry)` is raised at the end of the call if a kernel reported one
        (the read back does not wait: see `Runtime.check_later`)."""
        self.rt.check_later(self.buf, _NONE_BAD, error)


def gather_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    k = _pattern(node, 1)
    x_var = node.inputs[0]
    source, name = _gather_source(renderer, node, k)
    tn = x_var.type.ndim - k
    d = np.dtype(x_var.type.dtype)

    def make_thunk(rt: Runtime) -> Any:
        i64 = np.int64
        knl = rt.kernel(source, name, [i64, i64, *[None, i64, i64, i64] * k, *[i64] * k,
                                        *[i64, i64] * tn, None, i64, None, None],
                     f"opencl {node.op}")

        def thunk(x: Any, *idx: Any) -> list[Any]:
            if x.ndim != x_var.type.ndim or x.dtype != d:
                raise ValueError(f"{node.op}: {x_var} should be a {x_var.type.ndim}-d {d} "
                                 f"array, got {x.dtype} of shape {x.shape}")
            n, args = _index_args(node, 1, x.shape, idx)
            trailing = x.shape[k:]
            out = rt.empty((n, *trailing), d)
            if n == 0:
                return [out]
            m = int(np.prod(trailing, dtype=np.int64))
            status = Status(rt)
            es = [s // d.itemsize for s in x.strides]
            data = x.base_data if x.base_data is not None else status.buf.base_data
            g, lo = work_size(n * max(m, 1), LOCAL_SIZE)
            knl(rt.queue, g, lo, n, m, *args, *es[:k],
                *[a for j in range(tn) for a in (trailing[j], es[k + j])], data,
                x.offset // d.itemsize, out.base_data if out.size else data,
                status.buf.base_data)
            shape = x.shape
            status.check_later(lambda bad: _bad_index(node, 1, shape, bad, idx))
            return [out]

        return thunk

    return DevicePlan(make_thunk)


def scatter_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    """inc_subtensor / set_subtensor: advanced (integer vectors on the leading axes) or
    basic (scalars and slices); other indices run on the host."""
    if node.inputs[0].type.dtype not in _SCATTER_DTYPES:
        raise Unsupported(f"inc_subtensor of {node.inputs[0].type.dtype} has no OpenCL kernel")
    if all(i.type.ndim == 0 for i in node.inputs[2:]):
        return _basic_update_plan(node, renderer)
    return _advanced_scatter_plan(node, renderer, _pattern(node, 2))


def _scatter_source(r: OpenCLRenderer, node: Apply, k: int) -> tuple[str, str]:
    t = r.ctype(node.inputs[0].type.dtype)
    params, rows = _rows_source(r, node, 2, k)
    unit = Unit(r)
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_rows(const long n, {params}, __global long *rows, "
        "__global int *bad) {",
        "    const long i = get_global_id(0);",
        "    if (i >= n) return;",
        rows,
        "    rows[i] = row;",
        "}"]))
    unit.kernels.append("\n".join([
        "__kernel void KNAME_link(const long n, __global const long *rows, "
        "__global long *next, __global uchar *first) {",
        "    const long i = get_global_id(0);",
        "    if (i >= n) return;",
        "    const long row = rows[i];",
        "    long after = -1;",
        "    for (long j = i + 1; j < n; j++) if (rows[j] == row) { after = j; break; }",
        "    uchar lead = 1;",
        "    for (long j = 0; j < i; j++) if (rows[j] == row) { lead = 0; break; }",
        "    next[i] = after; first[i] = lead;",
        "}"]))
    if node.op.set_instead_of_inc:
        body = ["    if (n > 1 && next[i] >= 0) return;",
                "    out[row * m + e] = y[w];"]
    else:
        body = ["    if (n > 1 && !first[i]) return;",
                f"    {t} acc = out[row * m + e];",
                "    for (long c = i; c >= 0; c = n > 1 ? next[c] : -1) acc = acc + y[c * m + e];",
                "    out[row * m + e] = acc;"]
    unit.kernels.append("\n".join([
        "__kernel void KNAME_put(const long n, const long m, __global const long *rows, "
        f"__global const long *next, __global const uchar *first, __global const {t} *y, "
        f"__global {t} *out) {{",
        "    const long w = get_global_id(0);",
        "    if (w >= n * m) return;",
        "    const long i = w / m, e = w % m, row = rows[i];",
        "    if (row < 0) return;",
        *body,
        "}"]))
    return named_program(unit)


def check_update_shape(node: Apply, y: Any, want: tuple[int, ...]) -> None:
    """`y` must fit the selection of shape `want`: NumPy's broadcasting, where only the
    dimensions y's type marks broadcastable may stretch (as `perform` checks)."""
    y_var, x_var = node.inputs[1], node.inputs[0]
    lead = len(want) - y.ndim
    bcast = y_var.type.broadcastable
    if lead < 0 or any(s != w and not (s == 1 and bcast[d])
                       for d, (s, w) in enumerate(zip(y.shape, want[lead:]))):
        raise ValueError(f"{node.op}: cannot write {y_var} of shape {y.shape} into the "
                         f"selection of shape {want} of {x_var} (only dimensions of {y_var} "
                         f"typed broadcastable may stretch: {y_var.type})")


def _advanced_scatter_plan(node: Apply, renderer: OpenCLRenderer, k: int) -> DevicePlan:
    source, name = _scatter_source(renderer, node, k)
    x_var, y_var = node.inputs[:2]
    d = np.dtype(x_var.type.dtype)

    def make_thunk(rt: Runtime) -> Any:
        from theanine_opencl.layout import broadcast_copy

        i64 = np.int64
        label = f"opencl {node.op}"
        knl_rows = rt.kernel(source, name + "_rows", [i64, *[None, i64, i64, i64] * k, None,
                                                       None], label)
        knl_link = rt.kernel(source, name + "_link", [i64, None, None, None], label)
        knl_put = rt.kernel(source, name + "_put", [i64, i64, None, None, None, None, None],
                         label)
        queue = rt.queue

        def thunk(x: Any, y: Any, *idx: Any) -> list[Any]:
            for v, a in ((x_var, x), (y_var, y)):
                if a.ndim != v.type.ndim or a.dtype != d:
                    raise ValueError(f"{node.op}: {v} should be a {v.type.ndim}-d {d} array, "
                                     f"got {a.dtype} of shape {a.shape}")
            n, args = _index_args(node, 2, x.shape, idx)
            want = (n, *x.shape[k:])
            check_update_shape(node, y, want)
            out = broadcast_copy(x, x.shape)
            if n == 0:
                return [out]
            m = int(np.prod(x.shape[k:], dtype=np.int64))
            status = Status(rt)
            rows = rt.empty((n,), np.int64)
            knl_rows(queue, *work_size(n, LOCAL_SIZE), n, *args, rows.base_data,
                     status.buf.base_data)
            if m:
                if not (y.flags.c_contiguous and y.shape == want):
                    y = broadcast_copy(y, want)
                links = [rows.base_data, rows.base_data]
                if n > 1:
                    nxt = rt.empty((n,), np.int64)
                    first = rt.empty((n,), np.uint8)
                    knl_link(queue, *work_size(n, LOCAL_SIZE), n, rows.base_data,
                             nxt.base_data, first.base_data)
                    links = [nxt.base_data, first.base_data]
                knl_put(queue, *work_size(n * m, LOCAL_SIZE), n, m, rows.base_data, *links,
                        y.base_data, out.base_data)
            shape = x.shape
            status.check_later(lambda bad: _bad_index(node, 2, shape, bad, idx))
            return [out]

        return thunk

    return DevicePlan(make_thunk)


def _basic_update_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    """A copy of x, then one work item per element of the (strided) selection: basic
    indexing selects each element once, so there is nothing to order."""
    from theanine.tensor.subtensor import ELLIPSIS, _build_index, _output_type

    op = node.op
    x_var, y_var = node.inputs[:2]
    t = renderer.ctype(x_var.type.dtype)
    sn = _output_type(x_var, op.idx_list, node.inputs[2:]).ndim
    unravel = ["    long r = w, at = oo, yat = yo;"]
    for j in reversed(range(sn)):
        unravel.append(f"    at += (r % d{j}) * s{j}; yat += (r % d{j}) * ys{j}; r /= d{j};")
    value = "y[yat]" if op.set_instead_of_inc else "out[at] + y[yat]"
    unit = Unit(renderer)
    unit.kernels.append("\n".join([
        f"__kernel void KNAME(const long n, {''.join(f'const long d{j}, ' for j in range(sn))}"
        f"__global {t} *out, const long oo, {''.join(f'const long s{j}, ' for j in range(sn))}"
        f"__global const {t} *y, const long yo"
        f"{''.join(f', const long ys{j}' for j in range(sn))}) {{",
        "    const long w = get_global_id(0);",
        "    if (w >= n) return;",
        *unravel,
        f"    out[at] = {value};",
        "}"]))
    source, name = named_program(unit)
    d = np.dtype(x_var.type.dtype)
    tail = () if ELLIPSIS in op.idx_list else (Ellipsis,)

    def make_thunk(rt: Runtime) -> Any:
        from theanine_opencl.layout import broadcast_copy

        i64 = np.int64
        knl = rt.kernel(source, name, [i64, *[i64] * sn, None, i64, *[i64] * sn, None, i64,
                                        *[i64] * sn], f"opencl {op}")

        def thunk(x: Any, y: Any, *idx: Any) -> list[Any]:
            for v, a in ((x_var, x), (y_var, y)):
                if a.ndim != v.type.ndim or a.dtype != d:
                    raise ValueError(f"{op}: {v} should be a {v.type.ndim}-d {d} array, got "
                                     f"{a.dtype} of shape {a.shape}")
            index = _build_index(op.idx_list, [np.asarray(i) for i in idx]) + tail
            stand_in = np.lib.stride_tricks.as_strided(
                np.zeros(1, d), x.shape, [s * d.itemsize for s in _c_strides(x.shape)])
            try:
                sel = stand_in[index]
            except IndexError as exc:
                raise IndexError(f"{exc}: writing {y_var} (shape {y.shape}) into {x_var} of "
                                 f"shape {x.shape}") from None
            check_update_shape(node, y, sel.shape)
            out = broadcast_copy(x, x.shape)
            if sel.size == 0:
                return [out]
            offset = (sel.__array_interface__["data"][0]
                      - stand_in.__array_interface__["data"][0]) // d.itemsize
            lead = sn - y.ndim
            ys = [0] * lead + [0 if s == 1 and w != 1 else st // d.itemsize for s, w, st in
                               zip(y.shape, sel.shape[lead:], y.strides)]
            knl(rt.queue, *work_size(sel.size, LOCAL_SIZE), sel.size, *sel.shape,
                out.base_data, offset, *[s // d.itemsize for s in sel.strides], y.base_data,
                y.offset // d.itemsize, *ys)
            return [out]

        return thunk

    return DevicePlan(make_thunk, frozenset(range(2, len(node.inputs))))


def _c_strides(shape: tuple[int, ...]) -> list[int]:
    """Element strides of a C-ordered array of `shape` (what `broadcast_copy` makes)."""
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return strides[::-1]
