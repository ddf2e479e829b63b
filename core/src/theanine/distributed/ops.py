"""The collectives as graph Ops, with gradients and shape inference.

Gradients follow the data-parallel convention: the cost being differentiated is the sum of
every rank's cost, so the gradient of a sum-allreduce is a sum-allreduce of the gradient, of a
broadcast a reduction to its root, and of an allgather a reduce-scatter (and back).

The Ops run on the host (their `perform` calls MPI); backends without an implementation run
them by host fallback.  They are never constant-folded (`foldable = False`): a collective must
run on every rank at call time, in the same order, which the handshake checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.distributed import collectives
from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.type import TensorType


def _label(var: Variable) -> str:
    """How a message names an operand: the user's name, else the printed expression."""
    if var.name:
        return var.name
    text = str(var)
    return text if len(text) <= 60 else text[:57] + "..."


def _labels(node: Apply, operands: Any) -> list[str]:
    """The labels of a node's `operands`, made at its first call (printing an unnamed
    expression costs microseconds a call)."""
    labels = node.tag.get("collective_labels")
    if labels is None:
        labels = node.tag["collective_labels"] = [_label(v) for v in operands]
    return labels


#: whether this process ever made a collective Op (built or unpickled): until then the
#: distributed rewrites skip every graph without looking at it
_made = False


def any_made() -> bool:
    return _made


class Collective(Op):
    """Base class: not foldable, and knows its place among its graph's collectives."""

    foldable = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Collective:
        global _made
        _made = True
        return super().__new__(cls)

    @staticmethod
    def order(node: Apply) -> Any:
        """The `GraphOrder` stamped by the `distributed_order` rewrite (None without it)."""
        return node.tag.get("collective_order")


class Allreduce(Collective):
    """Elementwise `op` (sum, mean, max) of each input across ranks.  Several inputs of one
    dtype are reduced in one buffer: the fused allreduce of a training step.  The inputs
    listed in `inplace` receive their results (set by the `distributed_inplace` rewrite where
    nothing else reads them): no result buffer to allocate, and the copy out of the reduction
    lands in memory that is already in cache."""

    __props__ = ("op", "inplace")

    def __init__(self, op: str = "sum", inplace: tuple[int, ...] = ()):
        if op not in collectives.REDUCE_OPS:
            raise ValueError(f"Allreduce op must be one of {collectives.REDUCE_OPS}, "
                             f"got {op!r}")
        self.op = op
        self.inplace = tuple(inplace)
        self.destroy_map = {i: [i] for i in self.inplace}

    def __str__(self) -> str:
        return f"Allreduce{{{self.op}{',inplace' if self.inplace else ''}}}"

    def input_of(self, out: int) -> int:
        """The input that output `out` may be written into."""
        return out

    def with_inplace(self, inplace: tuple[int, ...]) -> Allreduce:
        """This Op, writing the outputs `inplace` into their inputs."""
        return Allreduce(self.op, inplace)

    def make_node(self, *inputs: Any) -> Apply:
        if not inputs:
            raise ValueError("Allreduce needs at least one input")
        xs = [as_tensor_variable(x) for x in inputs]
        dtypes = {x.dtype for x in xs}
        if len(dtypes) > 1:
            raise TypeError(f"{self}: all inputs must share one dtype, got "
                            f"{', '.join(f'{_label(x)}: {x.dtype}' for x in xs)}")
        if xs[0].dtype == "bool":
            raise TypeError(f"allreduce of the boolean {_label(xs[0])}: MPI does not add or "
                            "compare booleans; cast it to int8 first")
        if self.op == "mean" and xs[0].dtype[0] not in "fc":
            raise TypeError(f"allreduce(x, 'mean') needs a float or complex tensor; "
                            f"{_label(xs[0])} is {xs[0].dtype} (cast it, or use 'sum')")
        if self.op == "max" and xs[0].dtype[0] == "c":
            raise TypeError(f"allreduce(x, 'max') is undefined for complex {_label(xs[0])}")
        return Apply(self, xs, [x.type() for x in xs])

    def perform(self, node, inputs, output_storage):
        results = collectives.allreduce(inputs, self.op, _labels(node, node.inputs),
                                        self.order(node), self.inplace)
        for cell, r in zip(output_storage, results):
            cell[0] = r

    def L_op(self, inputs, outputs, output_grads):
        from theanine.tensor.math import cast, eq

        if self.op in ("sum", "mean"):
            grads = Allreduce(self.op)(*output_grads)
            return list(grads) if isinstance(grads, list) else [grads]
        summed = Allreduce("sum")(*output_grads)
        summed = summed if isinstance(summed, list) else [summed]
        # the ranks holding the maximum receive the summed gradient (each one, on ties)
        return [g * cast(eq(x, y), g.dtype) for g, x, y in zip(summed, inputs, outputs)]

    def infer_shape(self, fgraph, node, input_shapes):
        return list(input_shapes)


class AllreduceGemm(Collective):
    """For each of `products` quadruples (z, alpha, x, y) of inputs: z + alpha * (the sum
    over ranks of dot(x, y)), for matrices; then the sum over ranks of each further input.

    The data-parallel weight update `W - lr * allreduce(dot(x.T, d))` as one node, as `Gemm`
    is one process's.  Nobody writes it by hand: the `distributed_gemm` rewrite finds the
    update of a large shared weight, and `allreduce_fusion` joins the step's other sum
    allreduces to it (one collective per step).  Each rank's product is written straight into
    shared memory, reduced there and added into z from there.  `inplace`: the outputs written
    into their input (a z, or a further input nobody else reads).
    """

    __props__ = ("products", "inplace")

    def __init__(self, products: int = 1, inplace: tuple[int, ...] = ()):
        if products < 1:
            raise ValueError(f"AllreduceGemm needs at least one product, got {products}")
        self.products = products
        self.inplace = tuple(inplace)
        self.destroy_map = {j: [self.input_of(j)] for j in self.inplace}

    def input_of(self, out: int) -> int:
        """The input that output `out` may be written into."""
        return 4 * out if out < self.products else 3 * self.products + out

    def with_inplace(self, inplace: tuple[int, ...]) -> AllreduceGemm:
        """This Op, writing the outputs `inplace` into their inputs."""
        return AllreduceGemm(self.products, inplace)

    def __str__(self) -> str:
        parts = [f"{self.products} products"] if self.products > 1 else []
        parts += ["inplace"] if self.inplace else []
        return f"AllreduceGemm{{{','.join(parts)}}}" if parts else "AllreduceGemm"

    def make_node(self, *inputs: Any) -> Apply:
        xs = [as_tensor_variable(v) for v in inputs]
        p = self.products
        if len(xs) < 4 * p:
            raise TypeError(f"AllreduceGemm of {p} product(s) needs {4 * p} inputs (z, alpha, "
                            f"x, y each), got {len(xs)}")
        for i in range(p):
            z, alpha, x, y = xs[4 * i:4 * i + 4]
            if (z.ndim, x.ndim, y.ndim, alpha.ndim) != (2, 2, 2, 0):
                raise TypeError(f"AllreduceGemm needs matrices z, x, y and a scalar alpha, "
                                f"got ranks {z.ndim}, {x.ndim}, {y.ndim} and {alpha.ndim}")
        dtypes = {v.dtype for i, v in enumerate(xs) if i >= 4 * p or i % 4 != 1}
        if len(dtypes) != 1 or xs[0].dtype not in ("float32", "float64"):
            raise TypeError(f"AllreduceGemm: z, x, y (and the further inputs) must share a "
                            f"float dtype, got {', '.join(sorted(dtypes))}")
        outs = [xs[4 * i].type() for i in range(p)] + [v.type() for v in xs[4 * p:]]
        return Apply(self, xs, outs)

    def perform(self, node, inputs, output_storage):
        p = self.products
        products = [tuple(inputs[4 * i:4 * i + 4]) for i in range(p)]
        names = _labels(node, [v for i, v in enumerate(node.inputs)
                               if i >= 4 * p or i % 4 != 1])
        results = collectives.allreduce_gemm(products, inputs[4 * p:], names,
                                             self.order(node), self.inplace)
        for cell, r in zip(output_storage, results):
            cell[0] = r

    def infer_shape(self, fgraph, node, input_shapes):
        p = self.products
        return [input_shapes[4 * i] for i in range(p)] + list(input_shapes[4 * p:])


class _RootedCollective(Collective):
    """A collective of one array with a `root` rank, whose result has the input's type."""

    __props__ = ("root",)

    def __init__(self, root: int = 0):
        self.root = root

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph, node, input_shapes):
        return list(input_shapes)


class Broadcast(_RootedCollective):
    """Every rank receives `root`'s value."""

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = collectives.broadcast(inputs[0], self.root,
                                                     _label(node.inputs[0]), self.order(node))

    def grad(self, inputs, output_grads):
        return [Reduce(self.root)(output_grads[0])]


class Reduce(_RootedCollective):
    """The sum across ranks on `root`, zeros on the others (the gradient of `Broadcast`)."""

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = collectives.reduce_to_root(inputs[0], self.root,
                                                          _label(node.inputs[0]),
                                                          self.order(node))

    def grad(self, inputs, output_grads):
        return [Broadcast(self.root)(output_grads[0])]


class Allgather(Collective):
    """Every rank's value stacked along a new leading axis of length `size()`."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (False, *x.broadcastable))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = collectives.allgather(inputs[0], _label(node.inputs[0]),
                                                     self.order(node))

    def grad(self, inputs, output_grads):
        return [ReduceScatter()(output_grads[0])]

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.distributed.runtime import size

        return [(size(), *input_shapes[0])]


class ReduceScatter(Collective):
    """Row `rank()` of the sum across ranks of a `(size(), ...)` tensor (the gradient of
    `Allgather`)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"reduce_scatter needs a leading rank axis; {_label(x)} is a "
                            "scalar")
        return Apply(self, [x], [TensorType(x.dtype, x.broadcastable[1:])()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = collectives.reduce_scatter(inputs[0], _label(node.inputs[0]),
                                                          self.order(node))

    def grad(self, inputs, output_grads):
        return [Allgather()(output_grads[0])]

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0][1:])]


def _checked(x: Any, fn: str) -> Variable:
    try:
        return as_tensor_variable(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{fn}: x must be a tensor variable or array, got "
                        f"{type(x).__name__}: {exc}") from None


def allreduce(x: Any, op: str = "sum") -> Variable:
    """`x` reduced elementwise across ranks: "sum", "mean" or "max" (identity on one rank).

    "mean" is built as the sum divided by `size()` in the graph, so that the division fuses
    with whatever consumes the result (the SGD update) instead of costing a pass of its own;
    the graph is then specific to this job's process count, as every compiled graph is.
    """
    from theanine.distributed.runtime import size

    if op not in collectives.REDUCE_OPS:
        raise ValueError(f"allreduce: op must be one of {collectives.REDUCE_OPS}, got {op!r}")
    x = _checked(x, "allreduce")
    if op != "mean":
        return Allreduce(op)(x)
    Allreduce(op).make_node(x)  # the checks of a mean (a float tensor)
    n = size()
    summed = Allreduce("sum")(x)
    return summed if n == 1 else summed / np.asarray(n, dtype=x.dtype)


def broadcast(x: Any, root: int = 0) -> Variable:
    """`root`'s value of `x` on every rank."""
    if not isinstance(root, int) or isinstance(root, bool) or root < 0:
        raise ValueError(f"broadcast: root must be a rank (an int >= 0), got {root!r}")
    return Broadcast(root)(_checked(x, "broadcast"))


def allgather(x: Any) -> Variable:
    """Every rank's `x` stacked along a new leading axis of length `size()`."""
    return Allgather()(_checked(x, "allgather"))
