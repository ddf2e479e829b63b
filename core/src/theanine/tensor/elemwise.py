"""`Elemwise` lifts a scalar op to tensors with broadcasting; `DimShuffle` permutes and
adds/drops broadcastable dimensions (the building block of broadcasting and transposition)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op, cached_thunk
from theanine.scalar.basic import ScalarOp
from theanine.scalar.composite import Composite
from theanine.tensor.type import TensorType

_PY_NUMBERS = (bool, int, float, complex)
#: scalar ops whose Elemwise takes any number of inputs (Theano's n-ary add and mul)
_VARIADIC = frozenset({"add", "mul"})


def is_weak_literal(x: Any) -> bool:
    """Python numbers are weak in NumPy 2 promotion; NumPy scalars (even np.float64, a float
    subclass) are not."""
    return isinstance(x, _PY_NUMBERS) and not isinstance(x, np.generic)


def bind_weak_literals(inputs: Sequence[Any], context: str = "",
                       strong_of: Sequence[int] | None = None,
                       exact: bool = False, scalar_op: ScalarOp | None = None
                       ) -> list[Variable]:
    """Turn inputs into tensor variables; Python numbers adopt the dtype of the others.

    NumPy 2 promotion treats Python literals as weak: `float32_vector * 2` stays float32,
    `int32_vector * 2.5` becomes float64, and `int8_vector + 300` is an error (with `exact`,
    as for comparisons, 300 keeps its own dtype instead).  `strong_of` limits which inputs the
    literals take their dtype from (`switch` ignores its condition).  With `scalar_op`, a
    literal takes the dtype of the loop its NumPy ufunc picks (`int8_vector / 300` computes
    in float64, as in NumPy, where plain promotion would reject 300 as an int8).
    """
    from theanine.tensor.basic import as_tensor_variable, constant

    converted: list[Any] = [x if is_weak_literal(x) else as_tensor_variable(x) for x in inputs]
    chosen = range(len(inputs)) if strong_of is None else strong_of
    strong = [converted[k] for k in chosen if not is_weak_literal(converted[k])]
    strong_dtypes = [np.dtype(s.dtype) for s in strong]
    loop = None
    if scalar_op is not None and strong and len(strong) < len(converted):
        loop = scalar_op.loop_dtypes([type(x) if is_weak_literal(x) else np.dtype(x.dtype)
                                      for x in converted])
    out = []
    for k, x in enumerate(converted):
        if not is_weak_literal(x):
            out.append(x)
            continue
        if loop is not None:
            dtype = loop[k]
        else:
            dtype = np.result_type(*strong_dtypes, x) if strong_dtypes else np.asarray(x).dtype
        try:
            out.append(constant(x, dtype=dtype))
        except TypeError:
            if exact:
                out.append(constant(x))
                continue
            others = ", ".join(f"{s} ({s.dtype})" for s in strong)
            raise TypeError(f"{context}: Python {type(x).__name__} {x!r} is out of bounds for "
                            f"{dtype}, the dtype of {others}; cast first (e.g. "
                            "T.cast(x, 'int64'))") from None
    return out


def _broadcast_shape(values: Sequence[Any]) -> tuple | None:
    """NumPy's broadcast shape of `values`, None when they do not broadcast."""
    try:
        return np.broadcast_shapes(*[np.shape(v) for v in values])
    except ValueError:
        return None


def runtime_shape_checker(node: Apply) -> Callable[[Sequence[Any]], tuple[int, ...]]:
    """`check(values) -> shape`: the result shape of the Elemwise `node` for operand values
    of any array type with a `.shape` (device arrays too), by Theano's rule: only dimensions
    the type marks broadcastable stretch, and those must have extent 1.  Native kernels read
    a broadcast operand with stride 0, so they call this before launching anything."""
    bcast = [i.type.broadcastable for i in node.inputs]
    nd = node.outputs[0].type.ndim
    # which inputs give each dimension's extent (the non-broadcastable ones: they must agree)
    givers = [[k for k in range(len(bcast)) if not bcast[k][j]] for j in range(nd)]
    stretched = [(k, j) for k in range(len(bcast)) for j in range(nd) if bcast[k][j]]

    def check(values: Sequence[Any]) -> tuple[int, ...]:
        shape = []
        for j, ks in enumerate(givers):
            ext = values[ks[0]].shape[j] if ks else 1
            if any(values[k].shape[j] != ext for k in ks[1:]):
                raise _runtime_broadcast_error(node, values, _broadcast_shape(values))
            shape.append(ext)
        if any(values[k].shape[j] != 1 for k, j in stretched):
            raise _runtime_broadcast_error(node, values, tuple(shape))
        return tuple(shape)

    return check


def _runtime_broadcast_error(node: Apply, values: Sequence[Any],
                             out_shape: tuple | None) -> ValueError:
    """The error for operands that do not broadcast (`out_shape` None), or that would need
    a dimension stretched which their type does not mark broadcastable."""
    pairs = zip(node.inputs, values) if out_shape is not None else ()
    for var, v in pairs:
        for d, b in enumerate(var.broadcastable):
            if not b and v.shape[d] != out_shape[d]:
                return ValueError(
                    f"{node.op}: input {var} has shape {v.shape} but the result has shape "
                    f"{out_shape}: dimension {d} of {var} has length {v.shape[d]} and is not "
                    f"broadcastable ({var.type}); to broadcast it, give it a broadcastable "
                    "dimension (e.g. a row/col variable or x.dimshuffle('x', 0))")
    return ValueError(f"{node.op}: inputs of shapes {[np.shape(v) for v in values]} do not "
                      "broadcast")


class Elemwise(Op):
    """Apply `scalar_op` elementwise, broadcasting the inputs as NumPy does.

    As in Theano, only dimensions whose type is broadcastable may be stretched: a size-1 value
    in a non-broadcastable dimension is refused at run time, because the gradient sums over
    the broadcastable dimensions only and would otherwise come out with the wrong shape.
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op: ScalarOp, inplace_pattern: Sequence[tuple[int, int]] = (),
                 name: str | None = None):
        self.scalar_op = scalar_op
        #: (output index, input index) pairs: that output is written into that input's buffer
        self.inplace_pattern = tuple(tuple(p) for p in inplace_pattern)
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}
        self.name = name

    def __str__(self) -> str:
        """Theano's names: `Elemwise{add,no_inplace}`, `Elemwise{add,inplace}`, and a fused
        node's `Elemwise{Composite{...}}`."""
        if self.inplace_pattern:
            return f"Elemwise{{{self.scalar_op},inplace}}"
        if isinstance(self.scalar_op, Composite):
            return f"Elemwise{{{self.scalar_op}}}"
        return f"Elemwise{{{self.scalar_op},no_inplace}}"

    __repr__ = __str__

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        """`T.add(a, b, c)` and `T.mul(...)` take any number (>= 2) of inputs, as Theano's
        n-ary add and mul did: Python literals take their dtype from all the other terms, then
        the terms are folded left into binary nodes."""
        if self.scalar_op.name in _VARIADIC and not self.inplace_pattern and len(inputs) != 2:
            if len(inputs) < 2:
                raise TypeError(f"{self.scalar_op.name} takes at least 2 inputs, got "
                                f"{len(inputs)}")
            bound = bind_weak_literals(inputs, self.scalar_op.name)
            out = bound[0]
            for term in bound[1:]:
                out = super().__call__(out, term)
            return out
        return super().__call__(*inputs, **kwargs)

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != self.scalar_op.nin:
            raise TypeError(f"{self.scalar_op} takes {self.scalar_op.nin} input(s), "
                            f"got {len(inputs)}")
        inputs = bind_weak_literals(inputs, str(self), self.scalar_op.weak_literal_inputs,
                                    self.scalar_op.exact_literals, self.scalar_op)
        nd = max(i.ndim for i in inputs)
        padded = []
        for i in inputs:
            if i.ndim < nd:
                i = DimShuffle(i.broadcastable, ["x"] * (nd - i.ndim) + list(range(i.ndim)))(i)
            padded.append(i)
        bcast = tuple(all(i.broadcastable[d] for i in padded) for d in range(nd))
        try:
            out_dtypes = self.scalar_op.output_dtypes([i.dtype for i in padded])
        except TypeError as exc:
            names = ", ".join(f"{i} ({i.type})" for i in inputs)
            raise TypeError(f"{exc} (inputs: {names})") from None
        outputs = [TensorType(dt, bcast)() for dt in out_dtypes]
        return Apply(self, padded, outputs)

    def _shape_checks(self, node: Apply) -> list[tuple[int, tuple[int, ...] | None]]:
        """(input index, dimensions to compare with the result; None: all of them) for the
        inputs whose non-broadcastable dimensions NumPy could otherwise silently broadcast."""
        if len(node.inputs) < 2 or node.outputs[0].ndim == 0:
            return []
        checks: list[tuple[int, tuple[int, ...] | None]] = []
        for k, var in enumerate(node.inputs):
            dims = tuple(d for d, b in enumerate(var.broadcastable) if not b)
            if dims:
                checks.append((k, None if len(dims) == var.ndim else dims))
        return checks

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        # built once per node, not per call (not in node.tag: clones copy their tag)
        output_storage[0][0] = cached_thunk(node, self.python_thunk)(*inputs)[0]

    def python_thunk(self, node: Apply):
        impl = self.scalar_op.impl
        dtype = node.outputs[0].type.numpy_dtype
        ndarray = np.ndarray
        asarray = np.asarray
        checks = self._shape_checks(node)

        if self.inplace_pattern:
            ((_, target),) = self.inplace_pattern

            def inplace_thunk(*values: Any) -> tuple:
                # The result is written into values[target], so its shape is the target's:
                # check before writing that no operand is silently stretched into it.
                shp = values[target].shape
                for k, dims in checks:
                    vs = values[k].shape
                    if (vs != shp) if dims is None else any(vs[d] != shp[d] for d in dims):
                        raise _runtime_broadcast_error(node, values, _broadcast_shape(values))
                return (impl(*values, out=values[target]),)

            return inplace_thunk

        if node.outputs[0].ndim == 0:
            scalar = dtype.type

            def scalar_thunk(*values: Any) -> tuple:
                # a ufunc of 0-d operands returns a new NumPy scalar: no input's buffer
                r = impl(*values)
                if type(r) is scalar:
                    return (asarray(r),)
                r = asarray(r, dtype=dtype)
                if not r.flags.owndata or any(v is r for v in values):
                    r = r.copy()
                return (r,)

            return scalar_thunk

        def thunk(*values: Any) -> tuple:
            r = impl(*values)
            if type(r) is not ndarray or r.dtype != dtype:
                r = asarray(r, dtype=dtype)
            if not r.flags.owndata:  # np.real(x) is a view of a complex x, ...
                r = r.copy()
            else:
                for v in values:  # ... and x itself of a real x: nothing declares the output
                    if v is r:  # a view, so a later in-place node would overwrite both
                        r = r.copy()
                        break
            shp = r.shape
            for k, dims in checks:
                vs = values[k].shape
                if (vs != shp) if dims is None else any(vs[d] != shp[d] for d in dims):
                    raise _runtime_broadcast_error(node, values, shp)
            return (r,)

        return thunk

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        # the rules are tensor expressions, in the table beside the scalar ops
        from theanine.tensor.scalar_grads import elemwise_grads

        return elemwise_grads(self.scalar_op, inputs, outputs, output_grads)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        """Each dimension's length from the operands not broadcastable there; when several
        are, a `SameExtent` check keeps the run-time refusal in graphs that only read the
        shape (otherwise `grad(sum(u * y), y)` could take u's length for y's)."""
        from theanine.tensor.basic import same_extent

        out_shape = []
        for d, b in enumerate(node.outputs[0].broadcastable):
            if b:
                out_shape.append(1)
                continue
            extents = [shp[d] for inp, shp in zip(node.inputs, input_shapes)
                       if not inp.broadcastable[d]]
            out_shape.append(same_extent(extents, f"{self} dimension {d}"))
        return [tuple(out_shape)] * len(node.outputs)


class DimShuffle(Op):
    """Reorder dimensions, insert broadcastable ones ('x') and drop broadcastable ones.

    `new_order` lists input dimension indices or 'x'; input dimensions left out must be
    broadcastable.  The output is a view of the input.
    """

    __props__ = ("input_broadcastable", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_broadcastable: Sequence[bool], new_order: Sequence[int | str]):
        self.input_broadcastable = tuple(bool(b) for b in input_broadcastable)
        self.new_order = tuple(new_order)
        kept = [d for d in self.new_order if d != "x"]
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle {self.new_order} repeats a dimension")
        for d in kept:
            if not 0 <= d < len(self.input_broadcastable):
                raise ValueError(f"dimshuffle {self.new_order}: no dimension {d} in an input of "
                                 f"{len(self.input_broadcastable)} dimension(s)")
        self.drop = tuple(d for d in range(len(self.input_broadcastable)) if d not in kept)
        for d in self.drop:
            if not self.input_broadcastable[d]:
                raise ValueError(f"dimshuffle {self.new_order} drops dimension {d}, which is not "
                                 "broadcastable")
        self.shuffle = tuple(kept)
        self.augment = tuple(i for i, d in enumerate(self.new_order) if d == "x")

    def __str__(self) -> str:
        return f"DimShuffle{{{','.join(map(str, self.new_order))}}}"

    def make_node(self, x: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        if x.broadcastable != self.input_broadcastable:
            if x.ndim != len(self.input_broadcastable) or not all(
                    b or not want for b, want in zip(x.broadcastable, self.input_broadcastable)):
                raise TypeError(f"{self} expects an input with broadcastable pattern "
                                f"{self.input_broadcastable}, got {x.type} ({x})")
        bcast = tuple(True if d == "x" else x.broadcastable[d] for d in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def _apply(self, x: np.ndarray) -> np.ndarray:
        """A view: drop the size-1 dimensions by indexing them with 0, permute the kept ones,
        and add the new ones by indexing with None (all precomputed, see `_plan`)."""
        drop_index, perm, add_index = self._plan()
        if drop_index is not None:
            x = x[drop_index]
        if perm is not None:
            x = x.transpose(perm)
        if add_index is not None:
            x = x[add_index]
        return x

    def _plan(self) -> tuple[Any, Any, Any]:
        plan = self.__dict__.get("_cached_plan")
        if plan is None:
            n_in = len(self.input_broadcastable)
            # the trailing Ellipsis keeps the result an array (a view) even when it is 0-d
            drop_index = (tuple(0 if d in self.drop else slice(None) for d in range(n_in))
                          + (Ellipsis,) if self.drop else None)
            kept_order = [d - sum(1 for q in self.drop if q < d) for d in self.shuffle]
            perm = tuple(kept_order) if kept_order != sorted(kept_order) else None
            add_index = (tuple(None if d == "x" else slice(None) for d in self.new_order)
                         if self.augment else None)
            plan = self.__dict__["_cached_plan"] = (drop_index, perm, add_index)
        return plan

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self._apply(inputs[0])

    def python_thunk(self, node: Apply):
        apply = self._apply
        return lambda x: (apply(x),)

    def grad(self, inputs: Sequence[Variable], output_grads: Sequence[Variable]) -> list:
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None]
        # Undo: drop the augmented dims, invert the permutation, re-insert dropped dims.
        without_x = [d for d in range(len(self.new_order)) if self.new_order[d] != "x"]
        gz = DimShuffle(gz.broadcastable, without_x)(gz) if self.augment else gz
        order: list[int | str] = []
        pos = {d: i for i, d in enumerate(self.shuffle)}
        for d in range(x.ndim):
            order.append("x" if d in self.drop else pos[d])
        return [DimShuffle(gz.broadcastable, order)(gz)]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        (shp,) = input_shapes
        return [tuple(1 if d == "x" else shp[d] for d in self.new_order)]
