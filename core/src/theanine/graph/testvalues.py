"""Theano's test values: with `config.compute_test_value` on, every node built computes its
outputs' `tag.test_value` from its inputs' (by `perform`), so a shape or dtype error is raised
by the line of user code that built the bad node, not later when a compiled function runs."""

from __future__ import annotations

import warnings
from typing import Any

from theanine.graph.basic import Apply, Constant, Variable

_MISSING = object()


def compute_test_value_mode() -> str:
    from theanine.config import config  # a leaf module: no layer above graph is loaded

    return config.compute_test_value


def get_test_value(v: Variable) -> Any:
    """v's test value: its `tag.test_value`, a constant's data or a shared variable's value;
    `_MISSING` when it has none."""
    if "test_value" in v.tag:
        return v.tag.test_value
    if isinstance(v, Constant):
        return v.data
    get_value = getattr(v, "get_value", None)
    return get_value(borrow=True) if callable(get_value) else _MISSING


def attach_test_values(node: Apply, mode: str) -> None:
    """Compute `node`'s outputs' test values (mode is 'ignore', 'warn', 'raise' or 'pdb': what
    to do about an input without one)."""
    values = []
    for v in node.inputs:
        value = get_test_value(v)
        if value is _MISSING:
            message = (f"{v} (an input of {node.op}) has no test value; set "
                       f"{v.name or 'the variable'}.tag.test_value, or compute_test_value='off'")
            if mode in ("raise", "pdb"):
                raise ValueError(message)
            if mode == "warn":
                warnings.warn(message, stacklevel=4)
            return
        values.append(_filtered(v, value))
    storage: list[list[Any]] = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, values, storage)
    except NotImplementedError:
        return
    for out, (value,) in zip(node.outputs, storage):
        out.tag.test_value = value


def _filtered(v: Variable, value: Any) -> Any:
    """The value as v's type holds it (a user's list becomes an array of v's dtype)."""
    try:
        return v.type.filter(value, allow_downcast=True)
    except (TypeError, ValueError, AttributeError):
        return value
