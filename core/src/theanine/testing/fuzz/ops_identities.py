"""Ops that are identities when the fuzzer runs them: the collectives of
`theanine.distributed` in a group of one process, and a `PdbBreakpoint` whose condition never
holds.  They still go through every rewrite (fusion and in-place allreduce, merging, the
breakpoint's views), every backend's host fallback and gradients, which is what can break."""

from __future__ import annotations

from typing import Any

from theanine.testing.fuzz.domains import ALL, COMPLEX, FLOATS, INTS, OpSpec

_DIST = ("import theanine.distributed as dist",)


def _allreduce_sample(ctx: Any) -> tuple[list[int], dict[str, Any]]:
    op = ctx.choice(("sum", "max", "mean"))
    dtypes = FLOATS if op == "mean" else INTS + FLOATS + (COMPLEX if op == "sum" else ())
    return [ctx.pick(dtypes)], {"op": op}


def identity_specs() -> list[OpSpec]:
    return [
        OpSpec("allreduce", "dist.allreduce({0}, {op})", sample=_allreduce_sample,
               numpy="{0}", imports=_DIST, strict=True),
        OpSpec("broadcast", "dist.broadcast({0})", dtypes=ALL, numpy="{0}", imports=_DIST,
               strict=True, weight=0.5),
        OpSpec("allgather", "dist.allgather({0})", dtypes=ALL, ndim=(0, 2),
               numpy="{0}[None]", imports=_DIST, strict=True, weight=0.5),
        # the condition is never true (no sum is below -inf), yet it is computed every call
        OpSpec("pdb_breakpoint", "PdbBreakpoint('fuzz')(T.lt(T.sum({0}), -np.inf), {0})",
               dtypes=INTS + FLOATS, numpy="{0}",
               imports=("from theanine.breakpoint import PdbBreakpoint",), strict=True,
               weight=0.5),
    ]
