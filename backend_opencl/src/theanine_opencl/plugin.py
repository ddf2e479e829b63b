"""The entry point (group `theanine`, name `opencl`): registers the backend, its flag and its
impls.  Impls for backend "opencl" return a `DevicePlan` or raise `Unsupported` (the node then
runs its `perform` on the host); registering them imports no kernel module and touches no
driver."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from theanine.hookspecs import hookimpl
from theanine_opencl.backend import BACKEND


@hookimpl
def theanine_register_backends(register: Any) -> None:
    register(BACKEND)


@hookimpl
def theanine_register_config(add: Any) -> None:
    add("device", "the OpenCL device: 'platform:device' indices (e.g. '0:0') or a "
        "substring of the device or platform name; empty: the first device that builds a "
        "kernel", "", aliases=("opencl_device",))


def _impl(module: str, plan: str, rendered: bool = False) -> Callable[[Any], Any]:
    """`theanine_opencl.<module>.<plan>(node[, renderer])`, imported on first use."""

    def impl(node: Any) -> Any:
        fn = getattr(import_module(f"theanine_opencl.{module}"), plan)
        return fn(node, BACKEND.renderer) if rendered else fn(node)

    impl.__name__ = impl.__qualname__ = plan
    return impl


def _host(node: Any) -> Any:
    """Shape arithmetic: computed on the host, where shapes are."""
    return node.op.python_thunk(node)


@hookimpl
def theanine_register_op_impls(register: Any) -> None:
    from theanine.tensor.basic import (
        Alloc,
        ARange,
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
    from theanine.tensor.math import Argmax, Dot, Reduce
    from theanine.tensor.nnet import LogSoftmax, Softmax, SoftmaxGrad
    from theanine.tensor.random.mrg_ops import MRGUniform
    from theanine.tensor.subtensor import (
        AdvancedSubtensor,
        IncSubtensor,
        IndexedShape,
        Subtensor,
    )

    register(Elemwise, "opencl", _impl("elemwise", "elemwise_plan", rendered=True))
    register(DimShuffle, "opencl", _impl("views", "dimshuffle_plan"))
    register(Reshape, "opencl", _impl("views", "reshape_plan"))
    register(Rebroadcast, "opencl", _impl("views", "rebroadcast_plan"))
    register(Shape, "opencl", _impl("views", "shape_plan"))
    register(ExtentOf, "opencl", _impl("views", "extent_plan"))
    register(Contiguous, "opencl", _impl("views", "contiguous_plan"))
    register(Alloc, "opencl", _impl("views", "alloc_plan"))
    register(Subtensor, "opencl", _impl("views", "subtensor_view_plan"))
    # integer vectors on the leading axes: a kernel; other advanced indices: the host
    register(AdvancedSubtensor, "opencl", _impl("indexing", "gather_plan", rendered=True))
    register(ARange, "opencl", _impl("construct", "arange_plan", rendered=True))
    register(Reduce, "opencl", _impl("reduce", "reduce_plan", rendered=True))
    register(Argmax, "opencl", _impl("argmax", "argmax_plan", rendered=True))
    register(Dot, "opencl", _impl("blas", "dot_plan", rendered=True))
    register(Gemm, "opencl", _impl("blas", "gemm_plan", rendered=True))
    register(Softmax, "opencl", _impl("nnet", "softmax_plan", rendered=True))
    register(SoftmaxGrad, "opencl", _impl("nnet", "softmax_grad_plan", rendered=True))
    register(LogSoftmax, "opencl", _impl("nnet", "log_softmax_plan", rendered=True))
    register(IncSubtensor, "opencl", _impl("indexing", "scatter_plan", rendered=True))
    register(MRGUniform, "opencl", _impl("random", "uniform_plan", rendered=True))
    register(IndexedShape, "opencl", _impl("views", "indexed_shape_plan"))
    for op_type in (SameExtent, MakeVector):
        register(op_type, "opencl", _host)
