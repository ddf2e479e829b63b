"""`theano.gof.Op`: the core `Op` with Theano 1.0's conventions for Ops written against it.

- `make_node` defaults to the class's `itypes` / `otypes` (Theano's shortcut for Ops with
  fixed input and output types).
- `infer_shape(self, node, input_shapes)` (Theano's signature, without the function graph)
  is adapted to the core's `infer_shape(fgraph, node, input_shapes)`.
- An Op class that declares no `__props__` compares by identity, as in Theano: its instances
  may hold state the rewriter cannot see, so they are never merged.
"""

from __future__ import annotations

import inspect
from typing import Any

from theanine.graph.basic import Apply
from theanine.graph.op import Op as CoreOp


class Op(CoreOp):
    """Base class for Ops ported from Theano (see the module docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("infer_shape")
        if own is not None and len(inspect.signature(own).parameters) == 3:
            def infer_shape(self: Any, fgraph: Any, node: Apply, shapes: list) -> list:
                return own(self, node, shapes)

            infer_shape.__doc__ = own.__doc__
            cls.infer_shape = infer_shape  # type: ignore[method-assign]
        if not any("__props__" in k.__dict__ for k in cls.__mro__ if k not in _BASES):
            cls.__eq__ = object.__eq__  # type: ignore[method-assign,assignment]
            cls.__hash__ = object.__hash__  # type: ignore[method-assign,assignment]

    def make_node(self, *inputs: Any) -> Apply:
        itypes = getattr(self, "itypes", None)
        otypes = getattr(self, "otypes", None)
        if itypes is None or otypes is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither make_node nor "
                                      "itypes/otypes")
        from theanine.tensor.basic import as_tensor_variable

        if len(inputs) != len(itypes):
            raise TypeError(f"{type(self).__name__} takes {len(itypes)} input(s) (itypes="
                            f"{list(itypes)}), got {len(inputs)}")
        converted = [as_tensor_variable(x) for x in inputs]
        for k, (v, t) in enumerate(zip(converted, itypes)):
            if v.type != t:
                raise TypeError(f"{type(self).__name__}: input {k} ({v}) has type {v.type}, "
                                f"but itypes says {t}")
        return Apply(self, converted, [t() for t in otypes])


_BASES = (Op, CoreOp, object)
