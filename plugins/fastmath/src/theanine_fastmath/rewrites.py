"""The substitutions: node rewriters that replace an exact elementwise op by its approximation.

Each one matches a single `Elemwise` node (not yet fused, not in place: they run in the
fusion stage before fusion itself) and returns the approximation's graph, which fusion then
merges with its neighbours.  Sigmoid's two substitutions are the core's own
`T.nnet.ultra_fast_sigmoid` and `T.nnet.hard_sigmoid` (any float dtype); exp, log and tanh are
replaced for float32 only, the precision their approximations are built for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import theanine.tensor as T
from theanine.rewriting import node_rewriter
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import Elemwise
from theanine_fastmath.approx import fast_exp, fast_log, fast_tanh

_FLOATS = ("float16", "float32", "float64")


def _substitution(scalar_op: Any, build: Callable[[Any], Any], dtypes: tuple[str, ...],
                  name: str) -> Any:
    def rewrite(fgraph: Any, node: Any) -> list[Any] | None:
        op = node.op
        if op.scalar_op != scalar_op or op.inplace_pattern:
            return None
        (x,), (out,) = node.inputs, node.outputs
        if x.dtype not in dtypes or out.dtype != x.dtype:
            return None
        new = build(x)
        return [new] if new.type == out.type else None

    rewrite.__name__ = name
    rewrite.__doc__ = f"{scalar_op}(x) -> {build.__name__}(x) for x of dtype {', '.join(dtypes)}"
    return node_rewriter([Elemwise], name=name)(rewrite)


local_ultra_fast_sigmoid = _substitution(ps.sigmoid, T.nnet.ultra_fast_sigmoid, _FLOATS,
                                         "local_ultra_fast_sigmoid")
local_hard_sigmoid = _substitution(ps.sigmoid, T.nnet.hard_sigmoid, _FLOATS,
                                   "local_hard_sigmoid")
local_fast_exp = _substitution(ps.exp, fast_exp, ("float32",), "local_fast_exp")
local_fast_log = _substitution(ps.log, fast_log, ("float32",), "local_fast_log")
local_fast_tanh = _substitution(ps.tanh, fast_tanh, ("float32",), "local_fast_tanh")

#: (rewriter, tags, position): the tag `fastmath` turns on all but hard_sigmoid, which is
#: coarse enough (0.076) to be asked for by name only.  Position: hard_sigmoid is tried first,
#: so naming it wins over the tag's ultra_fast_sigmoid.
REWRITES: tuple[tuple[Any, tuple[str, ...], float], ...] = (
    (local_hard_sigmoid, ("fastmath_sigmoid",), -20),
    (local_ultra_fast_sigmoid, ("fastmath", "fastmath_sigmoid"), -10),
    (local_fast_exp, ("fastmath",), -10),
    (local_fast_log, ("fastmath",), -10),
    (local_fast_tanh, ("fastmath",), -10),
)
