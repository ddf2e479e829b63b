"""The Ops behind `MRG_RandomStreams`: the MRG31k3p uniform draw, and the deterministic maps
from uniforms to multinomial counts and to category indices.

Only `MRGUniform` reads and advances a state; everything else a stream draws (normal,
binomial, multinomial, choice) is built from its uniforms, so a backend that implements
`MRGUniform` natively gives the same numbers as any other for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.random import mrg
from theanine.tensor.type import TensorType


class MRGUniform(Op):
    """Inputs `(rstate, size)`, outputs `(new rstate, uniforms)`: `prod(size)` uniforms in
    (0, 1) drawn as described in `theanine.tensor.random.mrg` (state layout included)."""

    __props__ = ("dtype", "broadcastable")
    default_output = 1
    foldable = False

    def __init__(self, dtype: str, broadcastable: tuple[bool, ...]):
        self.dtype = str(np.dtype(dtype))
        if self.dtype not in ("float32", "float64"):
            raise TypeError(f"MRG uniforms are float32 or float64, not {self.dtype}")
        self.broadcastable = tuple(bool(b) for b in broadcastable)

    def __str__(self) -> str:
        return f"MRGUniform{{{self.dtype}, {len(self.broadcastable)}d}}"

    def make_node(self, rstate: Any, size: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        rstate = as_tensor_variable(rstate)
        if rstate.dtype != "int32" or rstate.ndim != 2:
            raise TypeError(f"{self}: the state must be an int32 matrix (streams x 6), got "
                            f"{rstate} ({rstate.type})")
        size = as_tensor_variable(size)
        if size.ndim != 1 or size.dtype != "int64":
            raise TypeError(f"{self}: size must be an int64 vector, got {size} ({size.type})")
        return Apply(self, [rstate, size],
                     [rstate.type(), TensorType(self.dtype, self.broadcastable)()])

    def perform(self, node: Apply, inputs: Any, output_storage: list[list[Any]]) -> None:
        rstate, size = inputs
        shape = tuple(int(s) for s in size)
        if len(shape) != len(self.broadcastable) or any(s < 0 for s in shape):
            raise ValueError(f"{self}: bad size {shape} for a {len(self.broadcastable)}-d draw")
        new_state, u = mrg.draw(rstate, int(np.prod(shape, dtype=np.int64)), self.dtype,
                                f"{self} state {node.inputs[0]}")
        output_storage[0][0] = new_state
        output_storage[1][0] = u.reshape(shape)

    def grad(self, inputs: Any, output_grads: Any) -> list[None]:
        return [None, None]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[Any]) -> list[tuple]:
        size = node.inputs[1]
        return [input_shapes[0], tuple(size[i] for i in range(len(self.broadcastable)))]


def _rows_and_uniforms(pvals: np.ndarray, unis: np.ndarray, n: int, what: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """pvals as float64 (rows, k) and the uniforms as (n, rows): sample c of row r uses
    unis[c * rows + r]."""
    if pvals.ndim != 2 or pvals.shape[1] < 1:
        raise ValueError(f"{what}: pvals must be a (rows, outcomes) matrix, got shape "
                         f"{pvals.shape}")
    rows = pvals.shape[0]
    if unis.shape != (n * rows,):
        raise ValueError(f"{what}: expected {n * rows} uniforms ({n} per row), got "
                         f"{unis.shape}")
    if (pvals < 0).any():
        raise ValueError(f"{what}: pvals has negative entries")
    return pvals.astype(np.float64), unis.astype(np.float64).reshape(n, rows)


def _outcome(cdf: np.ndarray, u: np.ndarray, last: np.ndarray) -> np.ndarray:
    """For each row, the first outcome whose cumulative probability exceeds u (the last
    possible outcome when rounding leaves u above the total)."""
    return np.minimum((cdf <= u[:, None]).sum(axis=1), last)


def _last_positive(p: np.ndarray) -> np.ndarray:
    return p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)


class _FromUniform(Op):
    """Inputs `(pvals, unis, n)`: a deterministic map of uniforms (no state of its own)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64"):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, pvals: Any, unis: Any, n: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        pvals, unis, n = (as_tensor_variable(v) for v in (pvals, unis, n))
        if pvals.ndim != 2 or unis.ndim != 1 or n.ndim != 0 or n.dtype[:3] not in ("int",
                                                                                  "uin"):
            raise TypeError(f"{type(self).__name__} takes a pvals matrix, a vector of "
                            f"uniforms and an integer count; got {pvals.type}, {unis.type}, "
                            f"{n.type}")
        return Apply(self, [pvals, unis, n], [TensorType(self.dtype, (False, False))()])

    def grad(self, inputs: Any, output_grads: Any) -> list[None]:
        return [None, None, None]


class MultinomialFromUniform(_FromUniform):
    """Counts (rows, k) of `n` draws per row among the outcomes of `pvals` (rows, k)."""

    def perform(self, node: Apply, inputs: Any, output_storage: list[list[Any]]) -> None:
        pvals, unis, n = inputs
        p, u = _rows_and_uniforms(pvals, unis, int(n), str(self))
        rows, k = p.shape
        cdf = np.cumsum(p, axis=1)
        last = _last_positive(p)
        counts = np.zeros(rows * k, dtype=np.int64)
        for c in range(int(n)):
            idx = _outcome(cdf, u[c], last)
            counts += np.bincount(np.arange(rows) * k + idx, minlength=rows * k)
        output_storage[0][0] = counts.reshape(rows, k).astype(self.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[Any]) -> list[tuple]:
        return [input_shapes[0]]


class ChoiceFromUniform(_FromUniform):
    """Indices (rows, n) of outcomes drawn per row from `pvals` (rows, k), with or without
    replacement (without: a drawn outcome's probability becomes 0 and the row is
    renormalized)."""

    __props__ = ("dtype", "replace")

    def __init__(self, dtype: str = "int64", replace: bool = False):
        super().__init__(dtype)
        self.replace = bool(replace)

    def perform(self, node: Apply, inputs: Any, output_storage: list[list[Any]]) -> None:
        pvals, unis, n = inputs
        n = int(n)
        p, u = _rows_and_uniforms(pvals, unis, n, str(self))
        rows, k = p.shape
        if not self.replace and n > 0 and ((p > 0).sum(axis=1) < n).any():
            raise ValueError(f"{self}: cannot draw {n} outcomes without replacement from a "
                             f"row with fewer than {n} outcomes of nonzero probability")
        if self.replace:
            cdf, last = np.cumsum(p, axis=1), _last_positive(p)
            out = np.minimum((cdf[None, :, :] <= u[:, :, None]).sum(axis=2), last).T
        else:
            out = np.empty((rows, n), dtype=np.int64)
            row_index = np.arange(rows)
            for c in range(n):
                idx = _outcome(np.cumsum(p, axis=1), u[c], _last_positive(p))
                out[:, c] = idx
                if c < n - 1:
                    p[row_index, idx] = 0.0
                    p /= p.sum(axis=1, keepdims=True)
        output_storage[0][0] = out.astype(self.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[Any]) -> list[tuple]:
        return [(input_shapes[0][0], node.inputs[2])]

