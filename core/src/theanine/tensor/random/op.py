"""`RandomFunction`: one draw from a NumPy `RandomState` held in a graph variable.

The state is an input and the advanced state an output (never a mutation of the input), so a
function compiled with `no_default_updates=True` draws the same numbers at every call, and a
draw used several times in one graph is one node, computed once per call.  Draws are
non-differentiable and never constant-folded (`foldable = False`); two draws from different
state variables have different inputs, so merging never fuses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.random.samplers import SAMPLERS
from theanine.tensor.type import TensorType


def is_random_state(v: Any) -> bool:
    """Whether `v` is a variable holding a `numpy.random.RandomState` (its type, a
    `GenericType` made by `shared()`, lives in the compile layer, above this one)."""
    return isinstance(v, Variable) and getattr(v.type, "cls", None) is np.random.RandomState


def copy_random_state(rng: np.random.RandomState) -> np.random.RandomState:
    """An independent RandomState in the same state (`copy.copy` would share the bit
    generator; this is also several times cheaper than `copy.deepcopy`)."""
    new = np.random.RandomState(0)
    new.set_state(rng.get_state())
    return new


class RandomFunction(Op):
    """Inputs `(rng, size, *params)`, outputs `(new rng, sample)`.

    `size` is an int64 vector: the sample's leading shape, or empty for "the broadcast shape of
    the parameters".  `dist` names a sampler of `samplers.SAMPLERS`; the sample is cast to
    `dtype`, with `broadcastable` its pattern.
    """

    __props__ = ("dist", "dtype", "broadcastable")
    default_output = 1
    foldable = False  # a draw must happen at call time

    def __init__(self, dist: str, dtype: str, broadcastable: tuple[bool, ...]):
        if dist not in SAMPLERS:
            raise ValueError(f"unknown distribution {dist!r}; known: {', '.join(SAMPLERS)}")
        self.dist = dist
        self.dtype = str(np.dtype(dtype))
        self.broadcastable = tuple(bool(b) for b in broadcastable)
        self._sampler = SAMPLERS[dist]

    def __str__(self) -> str:
        return f"RandomFunction{{{self.dist}}}"

    def make_node(self, rng: Any, size: Any, *params: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        if not is_random_state(rng):
            raise TypeError(f"{self}: the first input must be a RandomState variable (e.g. "
                            f"theanine.shared(numpy.random.RandomState(seed))), got {rng!r}")
        size = as_tensor_variable(size)
        if size.ndim != 1 or size.dtype != "int64":
            raise TypeError(f"{self}: size must be an int64 vector, got {size} ({size.type})")
        params = [as_tensor_variable(p) for p in params]
        sample = TensorType(self.dtype, self.broadcastable)()
        return Apply(self, [rng, size, *params], [rng.type(), sample])

    def perform(self, node: Apply, inputs: Any, output_storage: list[list[Any]]) -> None:
        rng, size, *params = inputs
        rng = copy_random_state(rng)  # the caller's state stays; the update carries the new
        shape = tuple(int(s) for s in size) if len(size) else None
        sample = np.asarray(self._sampler(rng, shape, *params), dtype=self.dtype)
        ndim = len(self.broadcastable)
        if sample.ndim != ndim or (shape is not None and sample.shape[:len(shape)] != shape):
            raise ValueError(f"{self}: drew a sample of shape {sample.shape}, expected "
                             f"{ndim} dimension(s)"
                             + (f" starting with {shape}" if shape is not None else "")
                             + "; check that the parameters' shapes fit the size")
        output_storage[0][0] = rng
        output_storage[1][0] = sample

    def grad(self, inputs: Any, output_grads: Any) -> list[None]:
        """None for every input: a draw is not a differentiable function of its parameters.
        For a pathwise gradient write the draw as a transform of a standard one, e.g.
        `avg + std * srng.normal(size)`."""
        return [None] * len(inputs)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[Any]) -> list[tuple]:
        from theanine.tensor.basic import shape_length

        size = node.inputs[1]
        n = shape_length(size)
        ndim = len(self.broadcastable)
        if n is None or (n == 0 and ndim > 0):
            raise NotImplementedError(f"{self}: the shape comes from the parameters' values")
        lead = [size[i] for i in range(n)]
        if self.dist == "permutation":
            lead.append(node.inputs[2])
        elif self.dist == "multinomial":
            lead.append(input_shapes[3][-1])
        return [(), tuple(lead)]
