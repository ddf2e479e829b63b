"""The entry point (group `theanine`, name `cuda`): registers the backend and its impls.
Registering imports no kernel module and touches no driver."""

from __future__ import annotations

from typing import Any

from theanine.hookspecs import hookimpl
from theanine_cuda.backend import BACKEND


@hookimpl
def theanine_register_backends(register: Any) -> None:
    register(BACKEND)


def _elemwise(node: Any) -> Any:
    from theanine_cuda.elemwise import elemwise_plan

    return elemwise_plan(node, BACKEND.renderer)


@hookimpl
def theanine_register_op_impls(register: Any) -> None:
    from theanine.tensor.elemwise import Elemwise

    register(Elemwise, "cuda", _elemwise)
