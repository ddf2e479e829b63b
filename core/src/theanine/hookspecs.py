"""The hook specifications plugins implement (specs only; the manager is in `plugins.py`).

Every hook receives a callback: the plugin calls it once per thing it contributes, and the core
validates and collects what it is given.  Implement a hook with `@theanine.hookimpl`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("theanine")
hookimpl = pluggy.HookimplMarker("theanine")


@hookspec
def theanine_register_backends(register: Callable[[Any], None]) -> None:
    """Contribute backends: call `register(backend)` for each.

    A backend has `name`, `is_available() -> (ok, reason)`, `required_tags`,
    `incompatible_tags` and `link(fgraph) -> callable`; see `theanine.link.backend.Backend`.
    """


@hookspec
def theanine_register_op_impls(register: Callable[[type, str, Any], None]) -> None:
    """Contribute Op implementations: `register(op_type, backend_name, impl)`.

    Lookup follows the Op type's MRO, so an impl registered for a base class serves its
    subclasses.  What `impl` is depends on the backend (the Python backend takes
    `impl(node) -> thunk`, where `thunk(*input_values)` returns the output values).
    """


@hookspec
def theanine_register_fuzz_ops(register: Callable[[Any], None]) -> None:
    """Contribute Ops to the differential fuzzer: `register(spec)` for each, where `spec` is a
    `theanine.testing.fuzz.OpSpec` declaring the expression that applies the Op and its input
    domain (dtypes, value range, ranks, how to choose further arguments)."""


@hookspec
def theanine_register_rewrites(register: Callable[..., None]) -> None:
    """Contribute graph rewrites: `register(rewriter, stage="canonicalize", tags=(),
    position=None, name=None, opt_in=False)`.

    A rewrite runs under the `fast_run` optimizer unless its tags name the optimizers it runs
    under (`fast_run`, `fast_compile`); `tags` add names to include or exclude it by.  With
    `opt_in=True` it runs only when its name or a tag is included (`optimizer_including`,
    `Mode(including=...)`, a backend's `required_tags`, or its `fast_run_tags` under
    `fast_run`).
    """


@hookspec
def theanine_register_config(add: Callable[..., None]) -> None:
    """Declare config flags: `add(name, doc, default, convert=str, choices=None, aliases=())`.

    Flags are namespaced by the plugin: `add("device", ...)` from plugin `opencl` declares
    `opencl.device` (`config.opencl.device`, `THEANINE_FLAGS=opencl.device=...`, also spelled
    `opencl__device`); `aliases` are other names for it (kept when a flag is renamed).
    """


@hookspec
def theanine_register_shared_constructors(register: Callable[[type, Callable[..., Any]], None]
                                          ) -> None:
    """Let `theanine.shared(value)` take values of other classes (a plugin's own value type):
    `register(value_class, constructor)`, where `constructor(value, name=, strict=,
    allow_downcast=, borrow=, broadcastable=)` returns a `SharedVariable`.  Looked up along
    the value's class MRO, only for values that are not arrays or Python numbers."""
