"""The core's own rewrites, registered through the plugin hook like any plugin's."""

from __future__ import annotations

from theanine.hookspecs import hookimpl
from theanine.rewriting.canonicalize import (
    CANONICALIZE,
    alloc_of_scalar_in_elemwise,
    collect_constants,
    constant_folding,
    neg_of_sub_of_neg,
)
from theanine.rewriting.extents import same_extent_of_shapes, shape_entry_to_extent
from theanine.rewriting.fusion import FusionRewriter
from theanine.rewriting.inplace import InplaceElemwise, InplaceGemm
from theanine.rewriting.merge import MergeRewriter
from theanine.rewriting.specialize import SPECIALIZE
from theanine.rewriting.stabilize import STABILIZE

_BOTH = ("fast_run", "fast_compile")


@hookimpl
def theanine_register_rewrites(register) -> None:
    register(MergeRewriter(), stage="merge", tags=(*_BOTH, "merge"))
    for rw in CANONICALIZE:
        register(rw, stage="canonicalize", tags=("fast_run", "canonicalize"))
    for rw in STABILIZE:
        register(rw, stage="stabilize", tags=("fast_run", "stabilize"))
    for rw in SPECIALIZE:
        register(rw, stage="specialize", tags=("fast_run", "specialize"))
    # specialization makes new constant factors (x / 2 -> x * 0.5, 2 * x ** 1 -> 2 * x)
    register(collect_constants, stage="specialize", tags=("fast_run", "specialize"),
             name="collect_constants_after_specialize")
    # stabilization writes sigmoid(-u) and -softplus(-u) for a u that may be -a - b
    register(neg_of_sub_of_neg, stage="specialize", tags=("fast_run", "specialize"),
             name="neg_of_sub_of_neg_after_stabilize")
    # what rewrites of the fusion stage put in before fusion (a plugin's substitutions build
    # their constants as broadcast DimShuffles of scalars) is folded before it is fused
    register(constant_folding, stage="fusion", tags=("fast_run", "fusion"), position=-1,
             name="constant_folding_before_fusion")
    register(FusionRewriter(), stage="fusion",
             tags=("fast_run", "fusion", "local_elemwise_fusion"))  # Theano's name too
    register(alloc_of_scalar_in_elemwise, stage="fusion", tags=("fast_run", "fusion"),
             position=1, name="alloc_into_fused")
    # shape reads as one node each, after every rewrite that reasons about shape(x)[d]
    for rw in (shape_entry_to_extent, same_extent_of_shapes):
        register(rw, stage="inplace", tags=("fast_run", "extents"), position=-2)
    # merge what the stages since `merge` duplicated before any node overwrites its input
    # (see rewriting.merge: merging respects in-place nodes, so it must come first to count)
    register(MergeRewriter("merge_before_inplace"), stage="inplace",
             tags=("fast_run", "merge"), position=-1, name="merge_before_inplace")
    register(InplaceElemwise(), stage="inplace", tags=("fast_run", "inplace"))
    register(InplaceGemm(), stage="inplace", tags=("fast_run", "inplace"))
    register(MergeRewriter("final_merge"), stage="final_merge", tags=("fast_run", "merge"),
             name="final_merge")
