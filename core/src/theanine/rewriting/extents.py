"""Shape reads as one node each: `shape(x)[d]` (a `Shape` and a `Subtensor` node) becomes
`ExtentOf((d,))(x)`, and a `SameExtent` check whose operands are all such reads becomes one
`ExtentOf` over their arrays (one node instead of 2k + 1 for k operands).

Every node costs about a microsecond a call, and a classifier's gradient reads the batch
size through such a chain (the mean's 1/n): the logistic-regression step's five shape nodes
become one.  This runs as the first rewrite of the in-place stage, after every rewrite that
reasons about `shape(x)[d]` patterns (`canonicalize.shape_entry_of`: allocs implied by their
readers, nested checks); before in-place decisions, which see the node that reads x.
"""

from __future__ import annotations

from typing import Any

from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.canonicalize import shape_entry_of
from theanine.tensor.basic import ExtentOf, SameExtent
from theanine.tensor.subtensor import Subtensor
from theanine.tensor.type import TensorType


def _entry(e: Any) -> tuple[Any, int] | None:
    """(x, d) when `e` reads `x.shape[d]` (as `shape(x)[d]` or a one-array `ExtentOf`) of a
    tensor x, else None."""
    node = e.owner
    if node is not None and isinstance(node.op, ExtentOf) and len(node.inputs) == 1:
        return node.inputs[0], node.op.dims[0]
    entry = shape_entry_of(e)
    if entry is None or not isinstance(entry[0].type, TensorType):
        return None
    return entry


@node_rewriter([Subtensor])
def shape_entry_to_extent(fgraph, node):
    """shape(x)[d] → ExtentOf((d,))(x)."""
    entry = _entry(node.outputs[0])
    if entry is None:
        return None
    x, d = entry
    return [ExtentOf((d,))(x)]


@node_rewriter([SameExtent])
def same_extent_of_shapes(fgraph, node):
    """SameExtent(shape(x)[i], shape(y)[j], ...) → ExtentOf((i, j, ...))(x, y, ...): the
    same check, and its message, in one node."""
    entries = [_entry(e) for e in node.inputs]
    if any(e is None for e in entries):
        return None
    return [ExtentOf(tuple(d for _, d in entries), node.op.what)(*(x for x, _ in entries))]
