"""`Elemwise` (and the fused `Composite`s inside it) as native loops.

The thunk is generated Python, specialized to the node: it checks dtypes and shapes (Theano's
broadcasting rule: only broadcastable dimensions stretch), allocates the output (or takes the
in-place input), then calls the flat kernel when every full-size operand is C-contiguous and
the strided one otherwise.  Nothing reaches the kernel before the shapes are checked, so a
mismatch is a Python error, never an out-of-bounds access.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, elemwise_node_kernel
from theanine.graph.basic import Apply
from theanine.scalar.composite import Composite
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.plan import NativePlan, named_source
from theanine_c.recycle import REUSE_BYTES
from theanine_c.renderer import CRenderer


def _coerce(value: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


def _broadcast_error(node: Apply, values: Any, shape: tuple) -> ValueError:
    from theanine.tensor.elemwise import _runtime_broadcast_error

    return _runtime_broadcast_error(node, values, shape)


def elemwise_plan(node: Apply, renderer: CRenderer) -> NativePlan | Any:
    """The node's native loop; one scalar operation on 0-d operands runs NumPy's ufunc instead
    (its C loop costs 0.3 us a call where the kernel's cffi call with its buffer pointers
    costs 0.7; a fused Composite still gains from one call for all its operations)."""
    op = node.op
    if node.outputs[0].ndim == 0 and not isinstance(op.scalar_op, Composite):
        return op.python_thunk(node)
    target = op.inplace_pattern[0][1] if op.inplace_pattern else None
    kernel = elemwise_node_kernel(node, inplace=target is not None)
    scalar = kernel.scalar_inputs
    unit = Unit(renderer)
    renderer.elemwise(unit, kernel, "KNAME")
    source, name = named_source(unit.source(), unit.declarations)

    def make_thunk(libs: Any) -> Any:
        return _generate_thunk(node, libs[0], name, scalar, target)

    return NativePlan((source,), make_thunk)


def _generate_thunk(node: Apply, lib: Any, name: str, scalar: tuple[bool, ...],
                    target: int | None) -> Any:
    out_var = node.outputs[0]
    nd = out_var.type.ndim
    bcast = [i.type.broadcastable for i in node.inputs]
    out_bcast = out_var.type.broadcastable
    nin = len(node.inputs)
    args = [f"i{k}" for k in range(nin)]
    env: dict[str, Any] = {
        "ndarray": np.ndarray, "empty": np.empty, "coerce": _coerce, "fb": buffer_pointer(),
        "ptr": array_pointer(), "arrays": int64_arrays(), "contig": lib.function(f"{name}_contig"),
        "dout": np.dtype(out_var.type.dtype), "node": node, "bad": _broadcast_error,
    }
    lines = [f"def thunk({', '.join(args)}):"]
    for k, var in enumerate(node.inputs):
        env[f"d{k}"] = np.dtype(var.type.dtype)
        lines.append(f"    if type(i{k}) is not ndarray or i{k}.dtype is not d{k}: "
                     f"i{k} = coerce(i{k}, d{k})")
    # the result's shape: each dimension from the first input not broadcastable there
    dims = []
    for d in range(nd):
        src = next((k for k in range(nin) if not bcast[k][d]), None)
        dims.append("1" if src is None else f"i{src}.shape[{d}]")
    lines.append(f"    shp = ({', '.join(dims)}{',' if nd == 1 else ''})")
    checks = []
    for k in range(nin):
        # the shape in full: each dimension the result's, or 1 where broadcastable (a
        # broadcast operand is read with stride 0, so its size must really be 1)
        want = [f"shp[{d}]" if not bcast[k][d] else "1" for d in range(nd)]
        if nd:
            checks.append(f"i{k}.shape != ({', '.join(want)},)")
    if checks:
        lines.append(f"    if {' or '.join(checks)}: raise bad(node, ({', '.join(args)},), shp)")
    if target is not None:
        lines.append(f"    out = i{target}")
        lines.append("    if out.shape != shp or not out.flags.writeable: out = empty(shp, dout)")
    else:
        # `recycle.Recycler`'s steps, inline: the previous call's large buffer when nothing
        # else holds it any more
        env["cell"], env["refs"] = [], sys.getrefcount
        lines += ["    out = cell.pop() if cell else None",
                  "    if out is None or out.shape != shp or refs(out) != 2: "
                  "out = empty(shp, dout)"]
    full = [k for k in range(nin) if not scalar[k] and tuple(bcast[k]) == tuple(out_bcast)]
    partial = [k for k in range(nin) if not scalar[k] and k not in full]
    contig_ok = " and ".join([f"i{k}.flags.c_contiguous" for k in full]
                             + ["out.flags.c_contiguous"])
    call_contig = f"contig(out.size, {', '.join(f'fb(i{k})' for k in range(nin))}, fb(out))"
    if nd == 0:
        lines.append(f"    {call_contig}")
    else:
        env["strided"] = lib.function(f"{name}_strided")
        strides = []
        for k in range(nin):
            strides += ["0" if bcast[k][d] else f"i{k}.strides[{d}]" for d in range(nd)]
        strides += [f"out.strides[{d}]" for d in range(nd)]
        call_strided = (f"strided(arrays(shp), arrays(({', '.join(strides)},)),"
                        f" {', '.join(f'ptr(i{k})' for k in range(nin))}, ptr(out))")
        if partial:
            lines.append(f"    {call_strided}")
        else:
            lines += [f"    if {contig_ok}: {call_contig}", f"    else: {call_strided}"]
    if target is None:
        lines.append(f"    if out.nbytes >= {REUSE_BYTES} and not cell: cell.append(out)")
    lines.append("    return (out,)")
    code = compile("\n".join(lines), f"<theanine-c elemwise {node.op}>", "exec")
    exec(code, env)
    return env["thunk"]
