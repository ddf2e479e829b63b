"""The `Op` contract.

An Op is an immutable description of a computation.  Its identity is its class plus the values
named in `__props__`: two Ops with equal props are interchangeable, which merging and cache keys
rely on.  `perform` is the NumPy reference that every backend is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from theanine.graph.basic import Apply, Variable
from theanine.graph.testvalues import attach_test_values, compute_test_value_mode


@dataclass(frozen=True)
class Branches:
    """How a linker runs a lazy node (`ifelse`): evaluate input `condition` first, then only the
    inputs of the branch it selects; output k is then `inputs[then[k]]` when the condition's
    value is true, else `inputs[else_[k]]`.  Nothing else of the node runs."""

    condition: int
    then: tuple[int, ...]
    else_: tuple[int, ...]


class Op:
    """Base class of every operation.

    Subclasses implement `make_node(*inputs) -> Apply` and `perform(node, inputs, output_storage)`
    (set `output_storage[i][0]`), and optionally `grad(inputs, output_grads)`,
    `infer_shape(fgraph, node, input_shapes)`, `view_map` / `destroy_map`.  Ops override
    `python_thunk` when a direct NumPy call beats going through output cells.
    """

    __props__: tuple[str, ...] = ()
    default_output: int | None = None
    view_map: dict[int, list[int]] = {}
    destroy_map: dict[int, list[int]] = {}
    #: False for Ops whose result is not a function of their inputs alone (random draws) or
    #: that must run at call time: constant folding leaves them alone
    foldable: bool = True
    #: True for Ops whose forward is the identity of their one input and that exist only to
    #: change gradients (zero_grad, grad_clip, ...): canonicalization removes them
    gradient_only: bool = False

    # Identity -----------------------------------------------------------------------------
    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return type(self) is type(other) and self._props() == other._props()  # type: ignore

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        if self.__props__:
            return f"{type(self).__name__}{{{', '.join(map(str, self._props()))}}}"
        return type(self).__name__

    __repr__ = __str__

    # Building -----------------------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def __call__(self, *inputs: Any, **kwargs: Any) -> Variable | list[Variable]:
        node = self.make_node(*inputs, **kwargs)
        mode = compute_test_value_mode()
        if mode != "off":
            attach_test_values(node, mode)
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def lazy_branches(self, node: Apply) -> Branches | None:
        """For a lazy Op, which inputs its condition and branches are (see `Branches`): a
        linker then computes only the taken branch's inputs.  None (the default): every input
        is computed before the node runs."""
        return None

    # Meaning ------------------------------------------------------------------------------
    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def grad(self, inputs: Sequence[Variable], output_grads: Sequence[Variable]
             ) -> list[Variable | None]:
        """Symbolic gradients of a scalar cost w.r.t. each input; None where none flows."""
        raise NotImplementedError(f"{type(self).__name__} has no gradient")

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        """Like `grad`, with the node's outputs available (e.g. exp reuses its output).
        `gradient.grad` calls this; the default defers to `grad`."""
        return self.grad(inputs, output_grads)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    def python_thunk(self, node: Apply) -> Callable[..., Sequence[Any]]:
        """A callable `f(*input_values) -> output_values` for the Python backend.

        The default wraps `perform` with output cells made afresh at every call: a compiled
        function may run on several threads at once, and cells shared between calls would hand
        one thread's result to another.  Ops override it when a direct NumPy call is cheaper.
        """
        perform = self.perform
        n_out = len(node.outputs)

        def missing(i: int) -> RuntimeError:
            return RuntimeError(f"{self}.perform did not set output {i} of {node}")

        if n_out == 1:
            def thunk(*values: Any) -> tuple[Any]:
                cell: list[Any] = [None]
                perform(node, values, [cell])
                result = cell[0]
                if result is None:
                    raise missing(0)
                return (result,)

            return thunk

        def thunk_n(*values: Any) -> list[Any]:
            storage: list[list[Any]] = [[None] for _ in range(n_out)]
            perform(node, values, storage)
            results = [cell[0] for cell in storage]
            for i, r in enumerate(results):
                if r is None:
                    raise missing(i)
            return results

        return thunk_n


def cached_thunk(node: Any, make: Callable[[Any], Any]) -> Any:
    """`make(node)`, built once per node and kept on the node itself, for `perform`s that run a
    generated thunk (a weak-keyed table would never free the node: the thunk refers to it)."""
    thunk = node.__dict__.get("_perform_thunk")
    if thunk is None:
        thunk = node.__dict__["_perform_thunk"] = make(node)
    return thunk
