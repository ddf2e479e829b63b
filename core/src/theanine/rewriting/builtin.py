"""The core's own rewrites, registered through the plugin hook like any plugin's."""

from __future__ import annotations

from theanine.hookspecs import hookimpl
from theanine.rewriting.merge import MergeRewriter


@hookimpl
def theanine_register_rewrites(register) -> None:
    register(MergeRewriter(), stage="merge", tags=("fast_run", "fast_compile", "merge"))
    register(MergeRewriter(), stage="final_merge", tags=("fast_run", "merge"),
             name="final_merge")
