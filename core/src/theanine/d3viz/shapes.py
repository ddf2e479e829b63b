"""Static shapes for the HTML view: what a person can know about each variable's shape without
running the function, from test values, shared values, constants, broadcastable dimensions,
and the Ops' `infer_shape` folded to integers where every extent it uses is known."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from theanine.graph.basic import Apply, Constant, Variable, io_toposort
from theanine.graph.testvalues import _MISSING, get_test_value

Shape = tuple[int | None, ...]


def static_shapes(nodes: Iterable[Apply], leaves: Iterable[Variable]) -> dict[Variable, Shape]:
    """A shape for every variable of `nodes` (in topological order) and `leaves` whose rank is
    known; an extent is None where it cannot be known before a call."""
    from theanine.config import config

    shapes: dict[Variable, Shape] = {}
    for v in leaves:
        _from_value_or_type(v, shapes)
    # infer_shape builds small symbolic graphs; they need no test values of their own
    with config.change_flags(compute_test_value="off"):
        for node in nodes:
            for v in node.inputs:
                if v not in shapes:
                    _from_value_or_type(v, shapes)
            inferred = _inferred(node, shapes)
            for k, out in enumerate(node.outputs):
                if _from_value_or_type(out, shapes) and inferred is not None:
                    shapes[out] = _merge(shapes[out], inferred[k])
    return shapes


def describe_shape(shape: Shape | None) -> str | None:
    """`(5, 10)`, `(?, 10)` with an unknown extent, `()` for a scalar; None when unknown."""
    if shape is None:
        return None
    if len(shape) == 1:
        return f"({'?' if shape[0] is None else shape[0]},)"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _from_value_or_type(v: Variable, shapes: dict[Variable, Shape]) -> bool:
    """Record v's shape from its value (test value, constant, shared value) or, failing that,
    its broadcastable dimensions; False when v is not an array-like variable."""
    broadcastable = getattr(v.type, "broadcastable", None)
    if broadcastable is None:
        return False
    value = get_test_value(v)
    value_shape = getattr(value, "shape", None) if value is not _MISSING else None
    if value_shape is not None and len(value_shape) == len(broadcastable):
        shapes[v] = tuple(int(d) for d in value_shape)
    else:
        shapes[v] = tuple(1 if b else None for b in broadcastable)
    return True


def _merge(a: Shape, b: Shape | None) -> Shape:
    if b is None or len(a) != len(b):
        return a
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _inferred(node: Apply, shapes: dict[Variable, Shape]) -> list[Shape | None] | None:
    """The outputs' shapes by the Op's infer_shape, each extent folded to an int or None."""
    from theanine.tensor import lscalar
    from theanine.tensor.basic import constant

    input_shapes = []
    for v in node.inputs:
        shape = shapes.get(v)
        if shape is None:
            input_shapes.append(None)
            continue
        input_shapes.append(tuple(lscalar() if d is None else constant(d, dtype="int64")
                                  for d in shape))
    try:
        out_shapes = node.op.infer_shape(None, node, input_shapes)
    except Exception:  # an Op without infer_shape, or one needing what is unknown here
        return None
    result: list[Shape | None] = []
    for entries in out_shapes:
        if entries is None:
            result.append(None)
            continue
        result.append(tuple(_fold(e) for e in entries))
    return result


def _fold(entry: Any) -> int | None:
    """An extent as an int when it is one or a graph of constants; else None."""
    if isinstance(entry, int | float) and not isinstance(entry, bool):
        return int(entry)
    if not isinstance(entry, Variable):
        return _as_int(entry)
    if isinstance(entry, Constant):
        return _as_int(entry.data)
    values: dict[Variable, Any] = {}
    try:
        for node in io_toposort([], [entry]):
            args = []
            for i in node.inputs:
                if isinstance(i, Constant):
                    args.append(i.data)
                elif i in values:
                    args.append(values[i])
                else:
                    return None  # depends on an extent nobody knows
            storage: list[list[Any]] = [[None] for _ in node.outputs]
            node.op.perform(node, args, storage)
            values.update((o, cell[0]) for o, cell in zip(node.outputs, storage))
    except Exception:  # a shape graph that cannot run on these constants: unknown
        return None
    return _as_int(values.get(entry))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
