"""Normalizing `function()`'s arguments: updates, givens, `In(update=)` states, and which
inputs the compiled graph may overwrite; each with an error that names the user's variable."""

from __future__ import annotations

from typing import Any

from theanine.compile.io import In
from theanine.graph.basic import Variable, io_toposort
from theanine.tensor.sharedvar import SharedVariable
from theanine.tensor.type import TensorType


def label(v: Any) -> str:
    if not isinstance(v, Variable):
        return f"{type(v).__name__} {v!r}"[:100]
    return v.name if v.name is not None else str(v)


def normalize_updates(updates: Any) -> list[tuple[Variable, Variable]]:
    if updates is None:
        return []
    if isinstance(updates, dict):
        pairs = list(updates.items())
    else:
        pairs = list(updates)
    out = []
    seen = set()
    for item in pairs:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError("updates must be a list (or dict) of (shared variable, new "
                            f"expression) pairs, like [(s, s + 1)]; got the item {item!r}")
        var, expr = item
        if not isinstance(var, SharedVariable):
            raise TypeError(f"update target {label(var)} is not a shared variable; only shared "
                            "variables can be updated")
        if var in seen:
            raise ValueError(f"shared variable {label(var)} is updated more than once")
        seen.add(var)
        expr = update_expression(var, expr)
        if expr.type != var.type:
            if not var.type.is_compatible(expr.type) and not (
                    expr.dtype == var.dtype and expr.ndim == var.ndim):
                raise TypeError(
                    f"update of shared variable {label(var)} has the wrong type: expected "
                    f"{var.type}, got {expr.type} ({expr}); cast the expression (e.g. "
                    f"T.cast(expr, '{var.dtype}')) so that it matches")
            from theanine.tensor.basic import Rebroadcast

            expr = Rebroadcast(var.type.broadcastable)(expr)
        out.append((var, expr))
    return out


def update_expression(var: SharedVariable, expr: Any) -> Variable:
    """The update as a tensor variable; a plain value becomes a constant of `var`'s type."""
    from theanine.tensor.basic import as_tensor_variable, constant

    if not isinstance(var.type, TensorType):  # e.g. a RandomState: only its own type fits
        if isinstance(expr, Variable) and expr.type == var.type:
            return expr
        raise TypeError(f"update of shared variable {label(var)} ({var.type}) must be a "
                        f"symbolic variable of type {var.type}, got {label(expr)}")
    try:
        if isinstance(expr, Variable):
            return as_tensor_variable(expr)
        return constant(var.type.filter(expr))
    except TypeError as exc:
        raise TypeError(f"update of shared variable {label(var)} ({var.type}): {exc}") from None


def normalize_givens(givens: Any, strict: bool = True) -> dict[Variable, Variable]:
    out: dict[Variable, Variable] = {}
    for old, new in replacement_pairs(givens, "givens"):
        if strict and new.type != old.type and not old.type.is_compatible(new.type):
            raise TypeError(f"givens replacement for {label(old)} has the wrong type: expected "
                            f"{old.type}, got {new.type} ({new})")
        out[old] = new
    return out


def replacement_pairs(items: Any, what: str) -> list[tuple[Variable, Variable]]:
    """A dict or sequence of (variable, replacement) pairs (`givens`, `clone(replace=)`) as
    pairs of variables, the replacements made symbolic; TypeErrors name `what`."""
    from theanine.tensor.basic import as_tensor_variable

    if items is None:
        return []
    out = []
    for item in list(items.items()) if isinstance(items, dict) else list(items):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError(f"{what} must be a dict or (variable, replacement) pairs, got the "
                            f"item {item!r}")
        old, new = item
        if not isinstance(old, Variable):
            raise TypeError(f"{what} key {old!r} is not a symbolic variable")
        if not isinstance(new, Variable):
            try:
                new = as_tensor_variable(new)
            except TypeError as exc:
                raise TypeError(f"{what} replacement for {label(old)}: {exc}") from None
        out.append((old, new))
    return out


def input_update(spec: In) -> Variable:
    """`In(update=)` as a variable of the input's type."""
    from theanine.tensor.basic import as_tensor_variable

    expr = as_tensor_variable(spec.update)
    if expr.type != spec.variable.type and not spec.variable.type.is_compatible(expr.type):
        raise TypeError(f"update of input {label(spec.variable)} has the wrong type: expected "
                        f"{spec.variable.type}, got {expr.type} ({expr})")
    return expr


def refuse_inplace(targets: list[Variable], in_vars: list[Variable]) -> None:
    """Theano's rule: a user graph may not hold Ops that overwrite their inputs unless
    `accept_inplace=True` (rewrites add in-place Ops only where that is safe)."""
    for node in io_toposort(in_vars, targets):
        if getattr(node.op, "destroy_map", None):
            raise TypeError(f"the graph holds {node}, which overwrites its input(s) in place; "
                            "pass accept_inplace=True to function() to allow it")


def owned_mutable(specs: list[In], state_inputs: list[int],
                  shared_vars: list[SharedVariable], updated: list[SharedVariable]) -> list[int]:
    """Positions (explicit inputs, then shared variables) of the inputs a function lets its
    compiled graph overwrite: the shared values it updates (their old values are replaced after
    the call), the `In(update=)` states it keeps, and `In(mutable=True)` arguments without a
    default (a default that no update replaces would be read overwritten by the next call)."""
    states = set(state_inputs)
    explicit = [k for k, s in enumerate(specs) if s.mutable and (
        k in states if s.update is not None else not s.has_default)]
    return explicit + [len(specs) + shared_vars.index(v) for v in updated]
