"""`MonitorMode`: Theano's mode that calls `pre_func(i, node, fn)` before and
`post_func(i, node, fn)` after every node, so users can print or inspect intermediate values.

As in Theano, `i` is the node's index in the compiled graph's topological order
(`f.maker.fgraph.toposort()`), and `fn` holds the node's values in storage cells:
`fn.inputs[k][0]` is input k's value, `fn.outputs[j][0]` output j's (None before the node
runs); calling `fn()` runs the node.  `detect_nan` is Theano's ready-made `post_func` that
reports where a NaN first appears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.compile.mode import Mode
from theanine.graph.basic import Apply


class NodeCall:
    """One run of one node, as Theano's callbacks see it: `inputs` and `outputs` are lists of
    one-element lists (cells); `fn()` computes the outputs from the inputs' cells."""

    def __init__(self, thunk: Any, values: tuple[Any, ...], n_outputs: int):
        self.thunk = thunk
        self.inputs: list[list[Any]] = [[v] for v in values]
        self.outputs: list[list[Any]] = [[None] for _ in range(n_outputs)]

    def __call__(self) -> None:
        results = self.thunk(*(cell[0] for cell in self.inputs))
        for cell, value in zip(self.outputs, results):
            cell[0] = value


class MonitorMode(Mode):
    """Theano's constructor: `pre_func(i, node, fn)` and `post_func(i, node, fn)` are called
    around every node (either may be None); `optimizer`, `linker` as for `Mode`."""

    def __init__(self, pre_func: Callable[[int, Apply, NodeCall], Any] | None = None,
                 post_func: Callable[[int, Apply, NodeCall], Any] | None = None,
                 optimizer: str | None = "default", linker: str | None = None, **kwargs: Any):
        for name, func in (("pre_func", pre_func), ("post_func", post_func)):
            if func is not None and not callable(func):
                raise TypeError(f"MonitorMode: {name} must be a function (i, node, fn) or "
                                f"None, got {type(func).__name__} {func!r}")
        self.pre_func, self.post_func = pre_func, post_func
        super().__init__(linker, optimizer, **kwargs)

    def node_hook(self, i: int, node: Apply, thunk: Any) -> Any:
        """`thunk` run through a fresh `NodeCall` per call, between the two callbacks."""
        pre, post, n_out = self.pre_func, self.post_func, len(node.outputs)

        def monitored(*values: Any) -> list[Any]:
            fn = NodeCall(thunk, values, n_out)
            if pre is not None:
                pre(i, node, fn)
            fn()
            if post is not None:
                post(i, node, fn)
            return [cell[0] for cell in fn.outputs]

        return monitored


def detect_nan(i: int, node: Apply, fn: NodeCall) -> None:
    """A `post_func` for MonitorMode (Theano's `monitormode.detect_nan`): when an output of
    the node holds NaN, print `*** NaN detected ***`, the node (debugprint) and its input and
    output values.  Values that are not numeric arrays (random states) are skipped."""
    from theanine.printing import debugprint

    for cell in fn.outputs:
        value = cell[0]
        if (isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "fc"
                and np.isnan(value).any()):
            print("*** NaN detected ***")
            debugprint(node)
            print(f"Inputs : {[c[0] for c in fn.inputs]}")
            print(f"Outputs: {[c[0] for c in fn.outputs]}")
            break
