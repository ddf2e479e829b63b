"""The entry point (group `theanine`, name `sparse`): the native sparse-by-dense product for
backend "c", the rewrite that uses it, and `shared()` of scipy.sparse matrices.

Hooks import what they register when called, so loading the plugin stays cheap.
"""

from __future__ import annotations

from typing import Any

from theanine.hookspecs import hookimpl


@hookimpl
def theanine_register_op_impls(register: Any) -> None:
    from theanine_sparse.basic import CSM, CSMProperties
    from theanine_sparse.native import host_view, sparse_dense_product_c
    from theanine_sparse.products import SparseDenseProduct

    register(SparseDenseProduct, "c", sparse_dense_product_c)
    # a matrix's arrays handed out, or wrapped into a matrix: no arithmetic to compile
    register(CSMProperties, "c", host_view)
    register(CSM, "c", host_view)


@hookimpl
def theanine_register_rewrites(register: Any) -> None:
    from theanine_sparse.products import local_sparse_dense_product

    register(local_sparse_dense_product, stage="specialize", tags=("fast_run", "sparse"),
             name="sparse_dense_product")


@hookimpl
def theanine_register_shared_constructors(register: Any) -> None:
    import scipy.sparse as sp

    from theanine_sparse.type import shared_constructor

    register(sp.spmatrix, shared_constructor)
    register(sp.sparray, shared_constructor)
