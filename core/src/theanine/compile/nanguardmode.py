"""`NanGuardMode` (also `mode='NanGuardMode'`): Theano's mode that stops at the first node
producing NaN, Inf or a huge value, so the user learns where a model blew up rather than
finding NaN in the cost a hundred steps later.

It checks, after every node, that node's float outputs, and the function's inputs where a node
reads them; the error names the node as other run-time errors do (a fused node by the user's
expression), which output, and what it held.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.compile.mode import Mode
from theanine.config import config
from theanine.graph.basic import Apply, Constant, Variable

#: Theano's threshold for `big_is_error`
BIG = 1e10


class NanGuardError(AssertionError):
    """Raised by NanGuardMode (an AssertionError, as in Theano); `node` is the guilty node."""

    def __init__(self, message: str, node: Apply):
        super().__init__(message)
        self.node = node


def is_float(var: Variable) -> bool:
    """Whether `var` holds floating-point (or complex) values, the only ones checked."""
    return str(getattr(var.type, "dtype", "")).startswith(("float", "complex"))


def bad_value(value: Any, nan: bool = True, inf: bool = True, big: bool = False) -> str | None:
    """What is wrong with a float array (NaN, Inf, a value above `BIG` in magnitude, in that
    order of checks), or None."""
    arr = np.asarray(value)
    if arr.size == 0 or arr.dtype.kind not in "fc":
        return None
    finite = np.isfinite(arr)
    if finite.all():
        if big:
            largest = float(np.abs(arr).max())
            if largest > BIG:
                return f"a value of magnitude {largest:.4g} > {BIG:g}"
        return None
    n_nan = int(np.isnan(arr).sum())
    if nan and n_nan:
        return f"NaN ({n_nan} of {arr.size} values)"
    n_inf = arr.size - int(finite.sum()) - n_nan
    if inf and n_inf:
        return f"Inf ({n_inf} of {arr.size} values)"
    return None


class NanGuardMode(Mode):
    """Theano's constructor: `nan_is_error`, `inf_is_error`, `big_is_error` (None: the
    `NanGuardMode.*` config flag of that name, True unless set) choose what is an error;
    `optimizer`, `linker` as for `Mode`."""

    def __init__(self, nan_is_error: bool | None = None, inf_is_error: bool | None = None,
                 big_is_error: bool | None = None, optimizer: str | None = "default",
                 linker: str | None = None, **kwargs: Any):
        flags = {"nan_is_error": nan_is_error, "inf_is_error": inf_is_error,
                 "big_is_error": big_is_error}
        for name, flag in flags.items():  # None: Theano's config flag (True by default)
            setattr(self, name, bool(getattr(config.NanGuardMode, name) if flag is None
                                     else flag))
        if not (self.nan_is_error or self.inf_is_error or self.big_is_error):
            raise ValueError("NanGuardMode: nan_is_error, inf_is_error and big_is_error are all "
                             "False, so nothing would be checked")
        super().__init__(linker, optimizer, **kwargs)

    def node_hook(self, i: int, node: Apply, thunk: Any) -> Any:
        """`thunk`, followed by the checks of its float outputs (and of the function inputs
        it reads); the thunk itself when there is nothing to check."""
        inputs = [(k, var) for k, var in enumerate(node.inputs)
                  if var.owner is None and not isinstance(var, Constant) and is_float(var)]
        outputs = [(j, var) for j, var in enumerate(node.outputs) if is_float(var)]
        if not inputs and not outputs:
            return thunk
        flags = self.nan_is_error, self.inf_is_error, self.big_is_error

        def guarded(*values: Any) -> Any:
            for k, var in inputs:
                found = bad_value(values[k], *flags)
                if found is not None:
                    self._raise(node, values, f"function input {var} (input {k})", found)
            results = thunk(*values)
            for j, var in outputs:
                found = bad_value(results[j], *flags)
                if found is not None:
                    self._raise(node, values, f"output {j} ({var.type})", found)
            return results

        return guarded

    @staticmethod
    def _raise(node: Apply, values: Any, where: str, found: str) -> None:
        from theanine.link.python import describe_node, node_context

        lines = [f"NanGuardMode: {found} in {where} of {describe_node(node)}",
                 *node_context(node, list(values))[1:]]
        raise NanGuardError("\n".join(lines), node)
