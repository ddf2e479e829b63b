"""Running an Op's own `CCode` (see `theanine.codegen.native` for the contract)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unsupported
from theanine.codegen.native import MAX_NDIM, CCode
from theanine.graph.basic import Apply
from theanine_c.build import Source, buffer_pointer, ffi
from theanine_c.plan import NativePlan, checked_input


def ccode_plan(node: Apply, code: CCode, renderer: Any) -> NativePlan:
    if ffi().sizeof("char *") != 8:
        raise Unsupported("an Op's own C code needs 8-byte pointers (a th_array's layout)")
    source = Source(code.full_source(), (f"int {code.name}(void *, void *, char *, int64_t);",),
                    batchable=False)

    def make_thunk(libs: Any) -> Any:
        return _thunk(node, code, libs[0].function(code.name))

    return NativePlan((source,), make_thunk)


#: a `th_array`'s fields, each 8 bytes on a 64-bit machine: the data pointer, ndim, size,
#: then MAX_NDIM extents and MAX_NDIM strides
_FIELDS = 3 + 2 * MAX_NDIM


def _arrays(values: list[np.ndarray]) -> np.ndarray:
    """The `th_array[]` describing `values`, as rows of int64 (no struct declared to cffi)."""
    rows = np.zeros((max(1, len(values)), _FIELDS), np.int64)
    for row, value in zip(rows, values):
        row[0] = value.__array_interface__["data"][0]
        row[1], row[2] = value.ndim, value.size
        row[3:3 + value.ndim] = value.shape
        row[3 + MAX_NDIM:3 + MAX_NDIM + value.ndim] = value.strides
    return rows


def _thunk(node: Apply, code: CCode, fn: Any) -> Any:
    f, fb = ffi(), buffer_pointer()
    in_types = [(np.dtype(v.type.dtype), v.type.ndim, v) for v in node.inputs]
    out_dtypes = [np.dtype(v.type.dtype) for v in node.outputs]
    out_ndims = [v.type.ndim for v in node.outputs]
    for _, nd, v in in_types:
        if nd > MAX_NDIM:
            raise ValueError(f"{node.op}: {v} has more than {MAX_NDIM} dimensions")

    def thunk(*values: Any) -> list:
        arrays = []
        for value, (dtype, nd, var) in zip(values, in_types):
            a = checked_input(value, dtype, nd, node.op, f"input {var}")
            if code.contiguous_inputs:
                a = np.ascontiguousarray(a)
            arrays.append(a)
        shapes = [tuple(int(s) for s in shp) for shp in code.output_shapes(*arrays)]
        if len(shapes) != len(out_dtypes) or any(len(s) != n for s, n in zip(shapes, out_ndims)):
            raise ValueError(f"{node.op}: output_shapes gave {shapes}, expected "
                             f"{len(out_dtypes)} shape(s) of rank(s) {out_ndims}")
        outs = [np.empty(s, d) for s, d in zip(shapes, out_dtypes)]
        ins_c, outs_c = _arrays(arrays), _arrays(outs)
        error = f.new("char[]", 512)
        if fn(fb(ins_c), fb(outs_c), error, 512) != 0:
            raise RuntimeError(f"{node.op} (native code {code.name}): "
                               f"{f.string(error).decode(errors='replace')}")
        return outs

    return thunk
