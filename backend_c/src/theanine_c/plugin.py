"""The entry point (group `theanine`, name `c`): registers the backend, its flag and its impls.

Impls for backend "c" return a `NativePlan` (units to compile, then a thunk), a ready thunk
(BLAS calls, Scan's loop over a C-linked inner graph), `HOST` (a NumPy view or shape
computation: nothing to compile), or raise `Unsupported` to fall back to `perform`.
"""

from __future__ import annotations

from typing import Any

from theanine.hookspecs import hookimpl
from theanine_c.backend import BACKEND, HOST


@hookimpl
def theanine_register_backends(register: Any) -> None:
    register(BACKEND)


def _elemwise(node: Any) -> Any:
    from theanine_c.elemwise import elemwise_plan

    return elemwise_plan(node, BACKEND.renderer)


def _reduce(node: Any) -> Any:
    from theanine_c.reduce import reduce_plan

    return reduce_plan(node, BACKEND.renderer)


def _argmax(node: Any) -> Any:
    from theanine_c.argmax import argmax_plan

    return argmax_plan(node, BACKEND.renderer)


def _dot(node: Any) -> Any:
    from theanine_c.blas import dot_impl

    return dot_impl(node)


def _gemm(node: Any) -> Any:
    from theanine_c.blas import gemm_impl

    return gemm_impl(node)


def _softmax(node: Any) -> Any:
    from theanine_c.nnet import softmax_plan

    return softmax_plan(node, BACKEND.renderer)


def _softmax_grad(node: Any) -> Any:
    from theanine_c.nnet import softmax_grad_plan

    return softmax_grad_plan(node, BACKEND.renderer)


def _alloc(node: Any) -> Any:
    from theanine_c.alloc import alloc_plan

    return alloc_plan(node, BACKEND.renderer)


def _conv(node: Any) -> Any:
    from theanine_c.conv import conv_plan

    return conv_plan(node, BACKEND.renderer)


def _conv_grad_weights(node: Any) -> Any:
    from theanine_c.conv import conv_grad_weights_plan

    return conv_grad_weights_plan(node, BACKEND.renderer)


def _conv_grad_inputs(node: Any) -> Any:
    from theanine_c.conv import conv_grad_inputs_plan

    return conv_grad_inputs_plan(node, BACKEND.renderer)


def _pool(node: Any) -> Any:
    from theanine_c.pool import pool_plan

    return pool_plan(node, BACKEND.renderer)


def _pool_grad(node: Any) -> Any:
    from theanine_c.pool import pool_grad_plan

    return pool_grad_plan(node, BACKEND.renderer)


def _scan(node: Any) -> Any:
    return node.op.make_thunk(node, BACKEND)


def _host(node: Any) -> Any:
    return HOST


def _subtensor(node: Any) -> Any:
    """Basic indexing is a view; integer vectors on the leading axes gather natively; other
    advanced indices run with NumPy (fallback)."""
    if all(getattr(i.type, "ndim", 1) == 0 for i in node.inputs[1:]):
        return HOST
    from theanine_c.indexing import gather_plan

    return gather_plan(node, BACKEND.renderer)


def _inc_subtensor(node: Any) -> Any:
    """Integer-vector indices: a native scatter (accumulating, or last write wins for set);
    other indices: NumPy (fallback)."""
    from theanine_c.indexing import scatter_plan

    return scatter_plan(node, BACKEND.renderer)


@hookimpl
def theanine_register_op_impls(register: Any) -> None:
    from theanine.scan_module.op import Scan
    from theanine.tensor.basic import (
        Alloc,
        Contiguous,
        MakeVector,
        Rebroadcast,
        Reshape,
        SameExtent,
        Shape,
    )
    from theanine.tensor.blas import Gemm
    from theanine.tensor.elemwise import DimShuffle, Elemwise
    from theanine.tensor.math import Argmax, Dot, Reduce
    from theanine.tensor.nnet import Softmax, SoftmaxGrad
    from theanine.tensor.nnet.abstract_conv import (
        AbstractConv,
        AbstractConv_gradInputs,
        AbstractConv_gradWeights,
    )
    from theanine.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, Pool
    from theanine.tensor.subtensor import IncSubtensor, IndexedShape, Subtensor

    register(Elemwise, "c", _elemwise)
    register(Reduce, "c", _reduce)
    register(Argmax, "c", _argmax)
    register(Dot, "c", _dot)
    register(Gemm, "c", _gemm)
    register(Alloc, "c", _alloc)
    register(Softmax, "c", _softmax)
    register(SoftmaxGrad, "c", _softmax_grad)
    register(Scan, "c", _scan)
    register(AbstractConv, "c", _conv)
    register(AbstractConv_gradWeights, "c", _conv_grad_weights)
    register(AbstractConv_gradInputs, "c", _conv_grad_inputs)
    register(Pool, "c", _pool)
    register(MaxPoolGrad, "c", _pool_grad)
    register(AveragePoolGrad, "c", _pool_grad)
    register(Subtensor, "c", _subtensor)
    register(IncSubtensor, "c", _inc_subtensor)
    # views, layout copies and shape arithmetic: NumPy does the pointer arithmetic or memcpy C
    # would do
    for op_type in (DimShuffle, Reshape, Rebroadcast, Shape, SameExtent, MakeVector,
                    IndexedShape, Contiguous):
        register(op_type, "c", _host)
