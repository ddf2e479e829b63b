"""The same graph as a training step: an input becomes a shared value that an output updates.

A function may overwrite the shared values it updates (`rewriting.inplace`), once every other
node reading them has run.  Random graphs read their inputs in many places, through views and
in-place ops, so the checker runs each case a second time with its first input as a shared
variable updated with the first output of the same type: the outputs must still be the
reference's (computed from the old value) and the new value that output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.compile.function import function
from theanine.compile.mode import Mode
from theanine.tensor.sharedvar import shared
from theanine.testing.fuzz.case import Built


def updated_output(built: Built) -> int | None:
    """The first output of the first input's type (the value that will update it), or None."""
    if not built.inputs:
        return None
    first = built.inputs[0]
    return next((k for k, out in enumerate(built.outputs) if out.type == first.type), None)


def check_update(built: Built, backend: str, opt: str | None, want: list[Any],
                 k: int, diff: Any) -> tuple[str, int | None, str] | None:
    """(kind, output, detail) where the update variant disagrees with the reference `want`;
    `diff(want, have, dtype)` compares one value as the main check does."""
    values = built.values()
    state = shared(np.array(values[0], copy=True), name="state",
                   broadcastable=built.inputs[0].type.broadcastable)
    try:
        f = function(built.inputs[1:], built.outputs, mode=Mode(backend=backend, optimizer=opt),
                     givens=[(built.inputs[0], state)], updates=[(state, built.outputs[k])],
                     on_unused_input="ignore")
        with np.errstate(all="ignore"):
            got = f(*values[1:])
    except Exception as exc:
        return "update-error", None, f"with input 0 as an updated shared value: " \
                                     f"{type(exc).__name__}: {exc}"
    for j, (out, w, h) in enumerate(zip(built.outputs, want, got)):
        problem = diff(w, h, out.dtype)
        if problem is not None:
            return "update", j, f"with input 0 as a shared value updated by output {k}: " \
                                f"{problem[1]}"
    problem = diff(want[k], state.get_value(), built.outputs[k].dtype)
    if problem is not None:
        return "update", k, f"the shared value after its update by output {k}: {problem[1]}"
    return None
