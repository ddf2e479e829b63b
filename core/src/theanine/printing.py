"""Human-readable graphs: `pp` (infix expression) and `debugprint` (indented tree).

Both follow Theano's formats so that tutorial output reads the same: `pp` parenthesizes every
binary operation (`((x + y) * 2.0)`) and prints scalar constants as their value;
`debugprint` prints one node per line as `Op [id A] 'name'`, inputs indented with ` |`, and
a node it has already shown by its id only.  Both walk the graph iteratively, so deep graphs
do not hit Python's recursion limit.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from theanine.graph.basic import Apply, Constant, Variable

_ATOM = 100  # precedence of names, constants, calls and parenthesized binary operations


def _pp_inputs(v: Variable) -> list[Variable]:
    """The variables whose text the text of `v` is built from."""
    if v.name is not None or v.owner is None:
        return []
    return list(v.owner.inputs)


def _is_broadcast(op: Any) -> bool:
    """A DimShuffle that only inserts broadcastable dimensions: invisible in math notation."""
    return op.shuffle == tuple(range(len(op.shuffle))) and not op.drop


def _format(v: Variable, memo: dict[Variable, tuple[str, int]]) -> tuple[str, int]:
    """(text, precedence) of `v`, given those of its inputs in `memo`."""
    from theanine.tensor.elemwise import DimShuffle, Elemwise

    if v.name is not None:
        return v.name, _ATOM
    if isinstance(v, Constant):
        data = getattr(v, "data", None)
        if getattr(data, "ndim", None) == 0:
            return str(data[()]), _ATOM  # NumPy scalar str: float32 0.1 prints as 0.1
        return str(v), _ATOM
    node = v.owner
    if node is None:
        return str(v), _ATOM
    op = node.op
    parts = [memo[i] for i in node.inputs]
    if isinstance(op, Elemwise) and op.scalar_op.symbol is not None:
        sym, prec = op.scalar_op.symbol, op.scalar_op.precedence
        if len(parts) == 1:
            text, p = parts[0]
            return f"{sym}{text if p > prec else '(' + text + ')'}", prec
        texts = [t if p >= prec else f"({t})" for t, p in parts]
        return "(" + f" {sym} ".join(texts) + ")", _ATOM
    if isinstance(op, DimShuffle):
        if _is_broadcast(op):
            return parts[0]
        if op.new_order == (1, 0):
            text, p = parts[0]
            return f"{text if p >= _ATOM else '(' + text + ')'}.T", _ATOM
    name = op.scalar_op.name if isinstance(op, Elemwise) else str(op)
    text = f"{name}({', '.join(t for t, _ in parts)})"
    if len(node.outputs) > 1:
        text += f".{v.index}"
    return text, _ATOM


def pp(var: Any) -> str:
    """The expression computing `var` in infix notation, e.g. `((x * 2.0) + y)`.

    A compiled function prints each output of its optimized graph on its own line.
    """
    from theanine.compile.function import Function

    if isinstance(var, Function):
        return "\n".join(pp(o) for o in var.maker.fgraph.outputs)
    if not isinstance(var, Variable):
        raise TypeError(f"pp expects a symbolic variable or a compiled function, got "
                        f"{type(var).__name__} {var!r}"[:200])
    memo: dict[Variable, tuple[str, int]] = {}
    stack = [var]
    while stack:
        v = stack[-1]
        if v in memo:
            stack.pop()
            continue
        missing = [i for i in _pp_inputs(v) if i not in memo]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        memo[v] = _format(v, memo)
    return memo[var][0]


def _label(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ... (like spreadsheet columns)."""
    label = ""
    while True:
        label = chr(ord("A") + n % 26) + label
        n = n // 26 - 1
        if n < 0:
            return label


def debugprint(obj: Any, file: TextIO | str | None = None, print_type: bool = False) -> str:
    """Print and return the graph of a variable, a list of them, an Apply node, a
    FunctionGraph or a compiled function.

    Each line is `Op [id A] 'output name'` (a variable without owner: `x [id B]`), inputs
    indented below with ` |`; a node shown before is printed again by id only.  For a compiled
    function each node line ends with the node's position in the execution order.
    `file='str'` returns the text without printing it (as in Theano).
    """
    from theanine.compile.function import Function
    from theanine.graph.fg import FunctionGraph

    order: dict[Apply, int] | None = None
    if isinstance(obj, Function):
        obj = obj.maker.fgraph
        order = {node: k for k, node in enumerate(obj.toposort())}
    if isinstance(obj, FunctionGraph):
        roots = list(obj.outputs)
    elif isinstance(obj, Apply):
        roots = list(obj.outputs)
    elif isinstance(obj, list | tuple):
        roots = list(obj)
    else:
        roots = [obj]
    for r in roots:
        if not isinstance(r, Variable):
            raise TypeError(f"debugprint expects symbolic variables, an Apply node, a "
                            f"FunctionGraph or a compiled function, got {type(r).__name__}")
    ids: dict[Any, str] = {}
    shown: set[Apply] = set()
    lines: list[str] = []
    stack: list[tuple[Variable, int]] = [(r, 0) for r in reversed(roots)]
    while stack:
        v, depth = stack.pop()
        prefix = " |" * depth
        typ = f" <{v.type}>" if print_type else ""
        node = v.owner
        key = v if node is None else node
        if key not in ids:
            ids[key] = _label(len(ids))
        if node is None:
            lines.append(f"{prefix}{v} [id {ids[key]}]{typ}")
            continue
        out_sel = f".{v.index}" if len(node.outputs) > 1 else ""
        pos = f"   {order[node]}" if order is not None and node in order else ""
        lines.append(f"{prefix}{node.op}{out_sel} [id {ids[key]}]{typ} '{v.name or ''}'{pos}")
        if node not in shown:
            shown.add(node)
            stack.extend((i, depth + 1) for i in reversed(node.inputs))
    text = "\n".join(lines)
    if file != "str":
        print(text, file=file or sys.stdout)  # type: ignore[arg-type]
    return text
