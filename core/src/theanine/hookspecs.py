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
    """Contribute graph rewrites: `register(rewriter, stage=..., tags=(...), position=None,
    name=None)`."""


@hookspec
def theanine_register_config(add: Callable[..., None]) -> None:
    """Declare config flags: `add(name, doc, default, convert=str, choices=None)`."""
