"""Patches of images as rows of a matrix (Theano's `nnet.neighbours`): `images2neibs` and its
inverse for non-overlapping patches, `neibs2images`.

Both are one pair of Ops, each the other's adjoint: `Images2Neibs` gathers patches and
`Neibs2Images` adds them back where they came from.  So one is the other's gradient, in every
mode, overlapping patches included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import MakeVector, as_tensor_variable, shape_length
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

MODES = ("valid", "ignore_borders", "wrap_centered", "half", "full")


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, Constant):
        value = value.data
    if isinstance(value, Variable):
        raise TypeError(f"images2neibs: {what} must be known when the graph is built (a pair "
                        f"of ints), got the symbolic {value}")
    entries = list(np.asarray(value, dtype=object).reshape(-1))
    if len(entries) != 2 or not all(isinstance(e, int | np.integer) and e >= 1
                                    for e in entries):
        raise ValueError(f"images2neibs: {what} must be a pair of ints >= 1, got {value!r}")
    return int(entries[0]), int(entries[1])


class _NeibsOp(Op):
    """Parameters and patch geometry shared by the two Ops."""

    __props__ = ("neib_shape", "neib_step", "mode")

    def __init__(self, neib_shape: Any, neib_step: Any = None, mode: str = "valid"):
        if mode not in MODES:
            raise ValueError(f"images2neibs: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.neib_shape = _pair(neib_shape, "neib_shape")
        self.neib_step = self.neib_shape if neib_step is None else _pair(neib_step, "neib_step")
        if mode == "wrap_centered" and not all(n % 2 for n in self.neib_shape):
            raise ValueError(f"images2neibs: mode 'wrap_centered' needs an odd neib_shape, got "
                             f"{self.neib_shape}")

    def _pad(self, n: int) -> int:
        return {"half": n // 2, "full": n - 1}.get(self.mode, 0)

    def _grid(self, v: Any, n: int, s: int) -> Any:
        """Patches along an axis of extent `v` (an int or a symbolic scalar)."""
        if self.mode == "wrap_centered":
            return (v + s - 1) // s
        return (v + 2 * self._pad(n) - n) // s + 1

    def _check(self, image_shape: tuple[int, ...], var: Any) -> tuple[int, int]:
        """The patch grid of an image of this shape, after Theano's checks of the mode."""
        grid = []
        for v, n, s in zip(image_shape[2:], self.neib_shape, self.neib_step):
            fits = v >= n or self.mode in ("half", "full")
            if not fits or (self.mode == "valid" and (v - n) % s):
                raise ValueError(
                    f"images2neibs: {var} of shape {image_shape} does not split into "
                    f"{self.neib_shape} patches moved by {self.neib_step} in mode "
                    f"{self.mode!r}" + (" (use mode='ignore_borders' to drop the rest)"
                                        if fits else ""))
            grid.append(self._grid(v, n, s))
        return grid[0], grid[1]

    def _sources(self, v: int, n: int, s: int, grid: int) -> np.ndarray:
        """(grid, n) positions in the padded axis that patch element [a, i] comes from."""
        pos = np.arange(grid)[:, None] * s + np.arange(n)[None, :]
        if self.mode == "wrap_centered":
            return (pos - n // 2) % v
        return pos

    def _layout(self, shape: tuple[int, ...], var: Any):
        """Grid, padded image shape and source rows/columns of an image of `shape`."""
        gc, gd = self._check(shape, var)
        (nh, nw), (sh, sw) = self.neib_shape, self.neib_step
        padded = (*shape[:2], shape[2] + 2 * self._pad(nh), shape[3] + 2 * self._pad(nw))
        rows = self._sources(shape[2], nh, sh, gc)
        cols = self._sources(shape[3], nw, sw, gd)
        return (gc, gd), padded, rows, cols

    def _crop(self) -> tuple:
        ph, pw = (self._pad(n) for n in self.neib_shape)
        return (slice(None), slice(None), slice(ph, -ph or None), slice(pw, -pw or None))


class Images2Neibs(_NeibsOp):
    """(batch, channels, rows, cols) -> one row per patch (ordered by image, channel, patch
    row, patch column) holding the patch's elements in row-major order."""

    def make_node(self, ten4: Any) -> Apply:
        ten4 = as_tensor_variable(ten4)
        if ten4.ndim != 4:
            raise TypeError(f"images2neibs: ten4 {ten4} must be a 4-d tensor (batch, channels, "
                            f"rows, cols), got {ten4.type}")
        return Apply(self, [ten4], [TensorType(ten4.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        (gc, gd), padded, rows, cols = self._layout(x.shape, node.inputs[0])
        xp = np.zeros(padded, dtype=x.dtype)
        xp[self._crop()] = x
        patches = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]
        output_storage[0][0] = patches.reshape(-1, self.neib_shape[0] * self.neib_shape[1])

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None]
        return [Neibs2Images(self.neib_shape, self.neib_step, self.mode)(gz, x.shape)]

    def infer_shape(self, fgraph, node, input_shapes):
        b, c, h, w = input_shapes[0]
        gc = self._grid(h, self.neib_shape[0], self.neib_step[0])
        gd = self._grid(w, self.neib_shape[1], self.neib_step[1])
        return [(b * c * gc * gd, self.neib_shape[0] * self.neib_shape[1])]


class Neibs2Images(_NeibsOp):
    """The adjoint of Images2Neibs: each row added back to the patch it came from, in an image
    of the given shape.  For non-overlapping patches it is the inverse (`neibs2images`)."""

    def make_node(self, neibs: Any, shape: Any) -> Apply:
        neibs = as_tensor_variable(neibs)
        if neibs.ndim != 2:
            raise TypeError(f"neibs2images: neibs {neibs} must be a matrix (one patch per row), "
                            f"got {neibs.type}")
        if isinstance(shape, Variable):
            shape = as_tensor_variable(shape)
        else:
            shape = MakeVector("int64")(*shape)
        if shape.ndim != 1 or shape.dtype[0] not in "iu" or shape_length(shape) not in (4, None):
            raise TypeError(f"neibs2images: original_shape must be 4 integers, got {shape} "
                            f"({shape.type})")
        return Apply(self, [neibs, shape], [TensorType(neibs.dtype, (False,) * 4)()])

    def perform(self, node, inputs, output_storage):
        neibs, shape = inputs
        shape = tuple(int(s) for s in shape)
        if len(shape) != 4:
            raise ValueError(f"neibs2images: original_shape {node.inputs[1]} must have 4 "
                             f"entries, got {shape}")
        (gc, gd), padded, rows, cols = self._layout(shape, f"an image ({node.inputs[1]})")
        nh, nw = self.neib_shape
        want = (shape[0] * shape[1] * gc * gd, nh * nw)
        if neibs.shape != want:
            raise ValueError(f"neibs2images: neibs {node.inputs[0]} has shape {neibs.shape}, "
                             f"but an image of shape {shape} has {want[0]} patches of "
                             f"{self.neib_shape}, so shape {want} was expected")
        g = neibs.reshape(shape[0], shape[1], gc, gd, nh, nw)
        out = np.zeros(padded, dtype=neibs.dtype)
        for i in range(nh):
            for j in range(nw):
                # within one patch element the sources are distinct, so += does not drop terms
                out[:, :, rows[:, i][:, None], cols[:, j][None, :]] += g[:, :, :, :, i, j]
        output_storage[0][0] = np.ascontiguousarray(out[self._crop()])

    def grad(self, inputs, output_grads):
        neibs, _ = inputs
        (gz,) = output_grads
        if neibs.dtype[0] not in "fc":
            return [None, None]
        return [Images2Neibs(self.neib_shape, self.neib_step, self.mode)(gz), None]

    def infer_shape(self, fgraph, node, input_shapes):
        shape = node.inputs[1]
        return [tuple(shape[i] for i in range(4))]


def images2neibs(ten4: Any, neib_shape: Any, neib_step: Any = None, mode: str = "valid"
                 ) -> TensorVariable:
    """The `neib_shape` patches of every (row, col) image of `ten4`, moved by `neib_step`
    (default: `neib_shape`), as rows of a matrix.  Modes: 'valid' (patches must tile the
    image), 'ignore_borders' (drop what is left over), 'wrap_centered' (a patch centred on
    every `neib_step`-th pixel, wrapping around), 'half' and 'full' (zero padding of
    neib_shape // 2 and neib_shape - 1)."""
    return Images2Neibs(neib_shape, neib_step, mode)(ten4)


def neibs2images(neibs: Any, neib_shape: Any, original_shape: Any, mode: str = "valid"
                 ) -> TensorVariable:
    """The inverse of `images2neibs(x, neib_shape, mode=mode)` for an `x` of shape
    `original_shape`; in 'ignore_borders' mode the dropped border comes back as zeros."""
    if mode not in ("valid", "ignore_borders"):
        raise NotImplementedError(f"neibs2images supports modes 'valid' and 'ignore_borders', "
                                  f"got {mode!r}")
    return Neibs2Images(neib_shape, None, mode)(neibs, original_shape)
