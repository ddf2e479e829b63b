"""Human-readable graphs: `pp` (infix expression) and `debugprint` (indented tree)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from theanine.graph.basic import Constant, Variable


def _pp(v: Variable, memo: dict[Variable, str]) -> tuple[str, int]:
    """(text, precedence) of `v`; higher precedence binds tighter."""
    from theanine.tensor.elemwise import DimShuffle, Elemwise

    if v in memo:
        return memo[v], 100
    if v.name is not None:
        return v.name, 100
    if isinstance(v, Constant):
        data = getattr(v, "data", None)
        if data is not None and getattr(data, "ndim", 1) == 0:
            return str(data.item()), 100
        return str(v), 100
    node = v.owner
    if node is None:
        return str(v), 100
    op = node.op
    if isinstance(op, Elemwise) and op.scalar_op.symbol is not None:
        sym, prec = op.scalar_op.symbol, op.scalar_op.precedence
        parts = [_pp(i, memo) for i in node.inputs]
        if len(parts) == 1:
            text, p = parts[0]
            return f"{sym}{text if p > prec else '(' + text + ')'}", prec
        return "(" + f" {sym} ".join(t for t, _ in parts) + ")", 100
    if isinstance(op, DimShuffle) and all(d == "x" or d == i for i, d in enumerate(
            [d for d in op.new_order if d != "x"])) and not op.drop:
        return _pp(node.inputs[0], memo)  # pure broadcasting: invisible in math notation
    name = op.scalar_op.name if isinstance(op, Elemwise) else str(op)
    args = ", ".join(_pp(i, memo)[0] for i in node.inputs)
    out = f"{name}({args})"
    if len(node.outputs) > 1:
        out += f".{v.index}"
    return out, 100


def pp(var: Any) -> str:
    """The expression computing `var`, in infix notation: `pp(x * 2 + y)` → `((x * 2) + y)`."""
    from theanine.compile.function import Function

    if isinstance(var, Function):
        return "\n".join(pp(o) for o in var.maker.fgraph.outputs)
    return _pp(var, {})[0]


def debugprint(obj: Any, file: TextIO | None = None, print_type: bool = False) -> str:
    """Print (and return) the graph of a variable, a list of them, or a compiled function,
    one node per line, inputs indented below, repeated nodes shown once and then by id."""
    from theanine.compile.function import Function

    if isinstance(obj, Function):
        roots = list(obj.maker.fgraph.outputs)
    elif isinstance(obj, list | tuple):
        roots = list(obj)
    else:
        roots = [obj]
    ids: dict[Any, str] = {}
    lines: list[str] = []

    def ident(key: Any) -> str:
        if key not in ids:
            n = len(ids)
            label = ""
            while True:
                label = chr(ord("A") + n % 26) + label
                n = n // 26 - 1
                if n < 0:
                    break
            ids[key] = label
        return ids[key]

    def walk(v: Variable, depth: int, done: set) -> None:
        prefix = " |" * depth
        typ = f" <{v.type}>" if print_type else ""
        node = v.owner
        if node is None:
            lines.append(f"{prefix}{v} [id {ident(v)}]{typ}")
            return
        out_sel = f".{v.index}" if len(node.outputs) > 1 else ""
        name = f" '{v.name}'" if v.name else ""
        lines.append(f"{prefix}{node.op}{out_sel} [id {ident(node)}]{name}{typ}")
        if node in done:
            return
        done.add(node)
        for i in node.inputs:
            walk(i, depth + 1, done)

    done: set = set()
    for r in roots:
        walk(r, 0, done)
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text
