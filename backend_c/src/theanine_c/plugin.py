"""The entry point (group `theanine`, name `c`): registers the backend and its impls.

Impls for backend "c" return a `NativePlan` (units to compile, then a thunk), a ready thunk
(BLAS calls, Scan's loop over a C-linked inner graph), `HOST` (a NumPy view or shape
computation: nothing to compile), or raise `Unsupported` to fall back to `perform`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from theanine.hookspecs import hookimpl
from theanine_c.backend import BACKEND, HOST


@hookimpl
def theanine_register_backends(register: Any) -> None:
    register(BACKEND)


def _rendered(module: str, plan: str) -> Callable[[Any], Any]:
    """The impl `theanine_c.<module>.<plan>(node, renderer)`, its module imported on first
    use (so that registering impls loads no code generator)."""

    def impl(node: Any) -> Any:
        return getattr(import_module(f"theanine_c.{module}"), plan)(node, BACKEND.renderer)

    impl.__name__ = impl.__qualname__ = plan
    return impl


_dot = _rendered("blas", "dot_impl")
_gemm = _rendered("blas", "gemm_impl")


def _scan(node: Any) -> Any:
    return node.op.make_thunk(node, BACKEND)


def _host(node: Any) -> Any:
    return HOST


# module-level: the backend recognizes its own impls to fuse reductions with their producers
_elemwise = _rendered("elemwise", "elemwise_plan")
_reduce = _rendered("reduce", "reduce_plan")


@hookimpl
def theanine_register_op_impls(register: Any) -> None:
    from theanine.scan_module.op import Scan
    from theanine.tensor.basic import (
        Alloc,
        Contiguous,
        ExtentOf,
        MakeVector,
        Rebroadcast,
        Reshape,
        SameExtent,
        Shape,
    )
    from theanine.tensor.blas import Gemm
    from theanine.tensor.elemwise import DimShuffle, Elemwise
    from theanine.tensor.extra_ops import CumOp
    from theanine.tensor.math import Argmax, Dot, Reduce
    from theanine.tensor.nnet import LogSoftmax, Softmax, SoftmaxGrad
    from theanine.tensor.nnet.abstract_conv import (
        AbstractConv,
        AbstractConv_gradInputs,
        AbstractConv_gradWeights,
    )
    from theanine.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, Pool
    from theanine.tensor.subtensor import (
        AdvancedSubtensor,
        IncSubtensor,
        IndexedShape,
        Subtensor,
    )

    register(Elemwise, "c", _elemwise)
    register(Reduce, "c", _reduce)
    register(Argmax, "c", _rendered("argmax", "argmax_plan"))
    register(CumOp, "c", _rendered("cumulative", "cumulative_plan"))
    register(Dot, "c", _dot)
    register(Gemm, "c", _gemm)
    register(Alloc, "c", _rendered("alloc", "alloc_plan"))
    register(Softmax, "c", _rendered("nnet", "softmax_plan"))
    register(SoftmaxGrad, "c", _rendered("nnet", "softmax_grad_plan"))
    register(LogSoftmax, "c", _rendered("nnet", "log_softmax_plan"))
    register(Scan, "c", _scan)
    register(AbstractConv, "c", _rendered("conv", "conv_plan"))
    register(AbstractConv_gradWeights, "c", _rendered("conv", "conv_grad_weights_plan"))
    register(AbstractConv_gradInputs, "c", _rendered("conv", "conv_grad_inputs_plan"))
    register(Pool, "c", _rendered("pool", "pool_plan"))
    pool_grad = _rendered("pool", "pool_grad_plan")
    register(MaxPoolGrad, "c", pool_grad)
    register(AveragePoolGrad, "c", pool_grad)
    # basic indexing is a view (NumPy does the pointer arithmetic); integer vectors on the
    # leading axes gather natively, other advanced indices run with NumPy (fallback)
    register(Subtensor, "c", _host)
    register(AdvancedSubtensor, "c", _rendered("indexing", "gather_plan"))
    # integer-vector indices: a native scatter (accumulating, or last write wins for set);
    # other indices: NumPy (fallback)
    register(IncSubtensor, "c", _rendered("indexing", "scatter_plan"))
    # views, layout copies and shape arithmetic: NumPy does the pointer arithmetic or memcpy C
    # would do
    for op_type in (DimShuffle, Reshape, Rebroadcast, Shape, SameExtent, ExtentOf, MakeVector,
                    IndexedShape, Contiguous):
        register(op_type, "c", _host)
