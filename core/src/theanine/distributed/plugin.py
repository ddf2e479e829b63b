"""The distributed rewrites, registered through the plugin hook like any plugin's (a built-in
plugin: `theanine.plugins.BUILTIN_PLUGINS`)."""

from __future__ import annotations

from theanine.hookspecs import hookimpl


@hookimpl
def theanine_register_rewrites(register) -> None:
    from theanine.distributed.fusion import AllreduceFusion
    from theanine.distributed.gemm import allreduce_of_dot_to_gemm
    from theanine.distributed.inplace import InplaceAllreduce
    from theanine.distributed.order import StampCollectiveOrder

    register(allreduce_of_dot_to_gemm, stage="specialize",
             tags=("fast_run", "specialize", "distributed_gemm"))
    register(AllreduceFusion(), stage="fusion", tags=("fast_run", "distributed_fusion"),
             position=-1)
    register(InplaceAllreduce(), stage="inplace",
             tags=("fast_run", "inplace", "distributed_inplace"))
    # after final_merge: the order the backend runs is the one the ranks compare
    register(StampCollectiveOrder(), stage="final_merge",
             tags=("fast_run", "fast_compile", "distributed_order"), position=100)
