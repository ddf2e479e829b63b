"""`as_op`: turn a Python function on NumPy arrays into an Op (Theano's
`theano.compile.ops.as_op`), for quick custom Ops without writing a class."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op


class FromFunctionOp(Op):
    """An Op whose `perform` calls `fn(*input_arrays)`; its inputs and outputs have the fixed
    types `itypes` / `otypes`.  It has no gradient.  `infer_shape(node, input_shapes)`
    (Theano's signature) is optional."""

    __props__ = ("fn", "itypes", "otypes", "infer_shape_fn")

    def __init__(self, fn: Callable[..., Any], itypes: Sequence[Any], otypes: Sequence[Any],
                 infer_shape: Callable[..., Any] | None = None):
        self.fn = fn
        self.itypes = tuple(itypes)
        self.otypes = tuple(otypes)
        self.infer_shape_fn = infer_shape
        self.__name__ = getattr(fn, "__name__", type(self).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)

    def __str__(self) -> str:
        return f"FromFunctionOp{{{self.__name__}}}"

    __repr__ = __str__

    def make_node(self, *inputs: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        if len(inputs) != len(self.itypes):
            raise TypeError(f"{self.__name__} takes {len(self.itypes)} input(s) (itypes="
                            f"{list(self.itypes)}), got {len(inputs)}")
        converted = []
        for k, (x, t) in enumerate(zip(inputs, self.itypes)):
            v = as_tensor_variable(x)
            if v.type != t:
                raise TypeError(f"{self.__name__}: input {k} ({v}) has type {v.type}, but the "
                                f"op's itypes say {t}")
            converted.append(v)
        return Apply(self, converted, [t() for t in self.otypes])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]
                ) -> None:
        outs = self.fn(*inputs)
        if not isinstance(outs, list | tuple):  # Theano's rule: a list or tuple holds outputs
            outs = (outs,)
        if len(outs) != len(self.otypes):
            raise ValueError(f"{self.__name__} must return {len(self.otypes)} values (one per "
                             f"otype), got {type(outs).__name__}")
        for k, (value, t, cell) in enumerate(zip(outs, self.otypes, output_storage)):
            arr = np.asarray(value, dtype=t.dtype)
            if arr.ndim != t.ndim:
                raise ValueError(f"{self.__name__} returned output {k} with {arr.ndim} "
                                 f"dimension(s), but its otype {t} has {t.ndim}")
            cell[0] = arr

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        if self.infer_shape_fn is None:
            raise NotImplementedError(f"{self.__name__} was made by as_op without "
                                      "infer_shape")
        return self.infer_shape_fn(node, input_shapes)

    def __reduce__(self) -> tuple:
        """Pickled by reference to the module-level name the decorated function had."""
        module, name = self.fn.__module__, self.fn.__qualname__
        if "<locals>" in name:
            raise TypeError(f"cannot pickle the as_op Op {self.__name__}: it wraps a function "
                            "defined inside another function; define it at module level")
        if _resolve(module, name) is self:  # the decorator's result: found by its name
            return _load_by_name, (module, name)
        return _load_by_name, (module, name, self.itypes, self.otypes, self.infer_shape_fn)


def _resolve(module: str, name: str) -> Any:
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found


def _load_by_name(module: str, name: str, *types: Any) -> Any:
    """The Op the decorator left at `module.name`, or a new one around the function there."""
    found = _resolve(module, name)
    if found is None:
        raise ImportError(f"cannot unpickle the as_op Op {module}.{name}: no such name")
    return found if isinstance(found, FromFunctionOp) else FromFunctionOp(found, *types)


def as_op(itypes: Sequence[Any], otypes: Sequence[Any],
          infer_shape: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Op]:
    """Decorator: `@as_op(itypes=[T.dmatrix], otypes=[T.dvector])` makes the decorated
    function an Op with those input and output types."""
    itypes, otypes = _types("itypes", itypes), _types("otypes", otypes)
    if infer_shape is not None and not callable(infer_shape):
        raise TypeError(f"as_op: infer_shape must be callable, got {infer_shape!r}")

    def make(fn: Callable[..., Any]) -> Op:
        return FromFunctionOp(fn, itypes, otypes, infer_shape)

    return make


def _types(what: str, types: Any) -> list[Any]:
    """Types from a list of types or of type constructors (`T.dmatrix`)."""
    from theanine.graph.basic import Variable
    from theanine.graph.type import Type

    if not isinstance(types, list | tuple):
        raise TypeError(f"as_op: {what} must be a list of types (e.g. [T.dmatrix]), got "
                        f"{types!r}")
    out = []
    for t in types:
        if not isinstance(t, Type) and callable(t):
            made = t()
            t = made.type if isinstance(made, Variable) else t
        if not isinstance(t, Type):
            raise TypeError(f"as_op: {what} must be a list of types (e.g. [T.dmatrix]), got "
                            f"the item {t!r}")
        out.append(t)
    return out
