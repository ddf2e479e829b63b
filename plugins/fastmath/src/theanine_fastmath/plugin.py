"""The entry point (group `theanine`, name `fastmath`): registers the opt-in substitutions.

They go into the `fusion` stage before fusion (position < 0), after canonicalization,
stabilization and specialization have seen the exact ops, and none carries the `fast_run` tag:
they run only when included by name or by the tag `fastmath`
(`THEANINE_FLAGS=optimizer_including=fastmath`, or `Mode(including=("fastmath",))`).
"""

from __future__ import annotations

from collections.abc import Callable

from theanine.hookspecs import hookimpl
from theanine_fastmath.rewrites import REWRITES


@hookimpl
def theanine_register_rewrites(register: Callable[..., None]) -> None:
    for rewriter, tags, position in REWRITES:
        register(rewriter, stage="fusion", tags=tags, position=position, name=rewriter.name,
                 opt_in=True)
