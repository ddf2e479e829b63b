"""Convolution as Ops (Theano's `abstract_conv`): `conv2d`/`conv3d` on NCHW / NCDHW tensors,
and their gradients with respect to the inputs and to the filters as Ops of their own.

Why three Ops: a backend implements each one natively (im2col + GEMM, a direct loop, a vendor
kernel), and second-order code needs each to have a gradient.  The three are the partial
derivatives of one trilinear form <conv(x, w), top>, so each Op's gradient is the other two.
`perform` is im2col plus one NumPy matmul per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import MakeVector, as_tensor_variable, shape_entries, shape_length
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

BORDER_MODES = ("valid", "full", "half")


# NumPy kernels: filters reach them already flipped when the Op convolves, so they compute
# the cross-correlation out[b, k, o] = sum_{c, u} xpad[b, c, o * stride + u * dilation] * w[k, c, u]
def axis_pad(border_mode: Any, kernel: Any, dilation: int) -> Any:
    """The zero padding on each side of one axis (`kernel` may be symbolic)."""
    if border_mode == "valid":
        return 0
    dil_kernel = (kernel - 1) * dilation + 1
    if border_mode == "full":
        return dil_kernel - 1
    if border_mode == "half":
        return dil_kernel // 2
    return border_mode


def _padded(x: np.ndarray, pads: Sequence[int]) -> np.ndarray:
    if not any(pads):
        return x
    return np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pads])


def _out_shape(padded: Sequence[int], kshape: Sequence[int], subsample: Sequence[int],
               dilation: Sequence[int]) -> tuple[int, ...]:
    return tuple((p - (k - 1) * d - 1) // s + 1
                 for p, k, s, d in zip(padded, kshape, subsample, dilation))


def _columns(xp: np.ndarray, kshape: Sequence[int], out: Sequence[int],
             subsample: Sequence[int], dilation: Sequence[int], groups: int) -> np.ndarray:
    """(groups, channels/group * prod(kshape), batch * prod(out)): each column is the window
    of one output position, rows ordered (channel, *kernel offset)."""
    n = len(kshape)
    b, c = xp.shape[:2]
    sp = xp.strides[2:]
    windows = as_strided(
        xp, (b, c, *kshape, *out),
        xp.strides[:2] + tuple(s * d for s, d in zip(sp, dilation))
        + tuple(s * t for s, t in zip(sp, subsample)), writeable=False)
    windows = windows.reshape(b, groups, c // groups, *kshape, *out)
    order = (1, 2, *range(3, 3 + n), 0, *range(3 + n, 3 + 2 * n))
    return windows.transpose(order).reshape(groups, (c // groups) * prod(kshape), b * prod(out))


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a[g] @ b[g] for each group g: one BLAS call each (NumPy's stacked matmul is many
    times slower when an operand is a transposed view)."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for g in range(a.shape[0]):
        np.matmul(a[g], b[g], out=out[g])
    return out


def _by_group(a: np.ndarray, groups: int) -> np.ndarray:
    """(batch, channels, *out) -> (groups, channels/group, batch * prod(out))."""
    return np.moveaxis(a, 0, 1).reshape(groups, a.shape[1] // groups, -1)


def _np_forward(x: np.ndarray, w: np.ndarray, pads: Sequence[int], subsample: Sequence[int],
                dilation: Sequence[int], groups: int) -> np.ndarray:
    kshape = w.shape[2:]
    xp = _padded(x, pads)
    out = _out_shape(xp.shape[2:], kshape, subsample, dilation)
    cols = _columns(xp, kshape, out, subsample, dilation, groups)
    k = w.shape[0]
    res = _matmul(w.reshape(groups, k // groups, -1), cols)  # (groups, k/group, batch*out)
    return np.ascontiguousarray(np.moveaxis(res.reshape(k, x.shape[0], *out), 1, 0))


def _np_grad_weights(x: np.ndarray, top: np.ndarray, kshape: Sequence[int],
                     pads: Sequence[int], subsample: Sequence[int], dilation: Sequence[int],
                     groups: int) -> np.ndarray:
    """d sum(_np_forward(x, w) * top) / dw, for filters of spatial shape `kshape`."""
    xp = _padded(x, pads)
    cols = _columns(xp, kshape, top.shape[2:], subsample, dilation, groups)
    gw = _matmul(_by_group(top, groups), cols.transpose(0, 2, 1))
    return gw.reshape(top.shape[1], x.shape[1] // groups, *kshape)


def _np_grad_inputs(w: np.ndarray, top: np.ndarray, ishape: Sequence[int],
                    pads: Sequence[int], subsample: Sequence[int], dilation: Sequence[int],
                    groups: int) -> np.ndarray:
    """d sum(_np_forward(x, w) * top) / dx, for inputs of spatial shape `ishape`: the columns
    W^T top, added back at their windows (col2im), then the padding cut off."""
    kshape, out = w.shape[2:], top.shape[2:]
    n, b, k, cg = len(kshape), top.shape[0], w.shape[0], w.shape[1]
    wg = w.reshape(groups, k // groups, -1)
    dcols = _matmul(wg.transpose(0, 2, 1), _by_group(top, groups))
    dcols = np.moveaxis(dcols.reshape(groups, cg, *kshape, b, *out), 2 + n, 0)
    padded = tuple(i + 2 * p for i, p in zip(ishape, pads))
    gxp = np.zeros((b, groups, cg, *padded), dtype=dcols.dtype)
    for u in np.ndindex(*kshape):
        at = tuple(slice(o * d, o * d + s * (m - 1) + 1, s)
                   for o, d, s, m in zip(u, dilation, subsample, out))
        gxp[(slice(None),) * 3 + at] += dcols[(slice(None),) * 3 + u]
    crop = tuple(slice(p, p + i) for p, i in zip(pads, ishape))
    return np.ascontiguousarray(gxp.reshape(b, groups * cg, *padded)[(slice(None),) * 2 + crop])


# Shapes -----------------------------------------------------------------------------------
def get_conv_shape_1axis(image_shape: Any, kernel_shape: Any, border_mode: Any,
                         subsample: int, dilation: int = 1) -> Any:
    """The output extent along one axis (ints or symbolic scalars; None if an input is None)."""
    if image_shape is None or kernel_shape is None:
        return None
    dil_kernel = (kernel_shape - 1) * dilation + 1
    pad = axis_pad(border_mode, kernel_shape, dilation)
    return (image_shape + 2 * pad - dil_kernel) // subsample + 1


def get_conv_output_shape(image_shape: Sequence[Any], kernel_shape: Sequence[Any],
                          border_mode: Any, subsample: Sequence[int],
                          filter_dilation: Sequence[int] | None = None) -> tuple[Any, ...]:
    """(batch, output channels, *spatial extents) of a convolution, as Theano computes it."""
    convdim = len(image_shape) - 2
    dilation = tuple(filter_dilation) if filter_dilation is not None else (1,) * convdim
    modes = border_mode if isinstance(border_mode, tuple) else (border_mode,) * convdim
    spatial = tuple(get_conv_shape_1axis(image_shape[2 + i], kernel_shape[-convdim + i],
                                         modes[i], subsample[i], dilation[i])
                    for i in range(convdim))
    return (image_shape[0], kernel_shape[0]) + spatial


# Parameters -------------------------------------------------------------------------------
def _static_int(e: Any) -> int | None:
    if isinstance(e, int | np.integer) and not isinstance(e, bool):
        return int(e)
    if isinstance(e, Constant) and np.ndim(e.data) == 0:
        return int(e.data)
    return None


def _shape_hint(shape: Any, n: int, what: str) -> tuple[int | None, ...]:
    """A shape hint of `n` entries; symbolic entries (not known when building) become None."""
    if shape is None:
        return (None,) * n
    if isinstance(shape, Variable):
        length = shape_length(as_tensor_variable(shape))
        if length is None:
            return (None,) * n
        entries: list[Any] = [shape[i] for i in range(length)]
    else:
        entries = list(shape)
    if len(entries) != n:
        raise ValueError(f"{what} must have {n} entries, got {shape!r}")
    hint = []
    for e in entries:
        v = None if e is None else _static_int(e)
        if v is None and e is not None and not isinstance(e, Variable):
            raise TypeError(f"{what}: expected ints, None or symbolic scalars, got {shape!r}")
        if v is not None and v < 0:
            raise ValueError(f"{what}: negative extent in {shape!r}")
        hint.append(v)
    return tuple(hint)


def _int_tuple(value: Any, n: int, what: str, low: int) -> tuple[int, ...]:
    values = (value,) * n if isinstance(value, int | np.integer) else tuple(value)
    if len(values) != n or not all(isinstance(v, int | np.integer) and v >= low
                                   for v in values):
        raise ValueError(f"{what} must be a tuple of {n} ints >= {low}, got {value!r}")
    return tuple(int(v) for v in values)


def _border_mode(border_mode: Any, n: int) -> str | tuple[int, ...]:
    if isinstance(border_mode, str):
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {BORDER_MODES}, an int or a tuple of "
                             f"{n} ints, got {border_mode!r}")
        return border_mode
    pads = _int_tuple(border_mode, n, "border_mode (padding)", 0)
    return "valid" if pads == (0,) * n else pads


# The Ops ----------------------------------------------------------------------------------
class BaseAbstractConv(Op):
    """Parameters and checks shared by the convolution and its two gradients."""

    __props__ = ("convdim", "border_mode", "subsample", "filter_flip", "imshp", "kshp",
                 "filter_dilation", "num_groups")
    _family = "nd"
    _kind = 0  # index in _FAMILIES[_family]: forward, gradWeights, gradInputs

    def __init__(self, convdim: int, imshp: Any = None, kshp: Any = None,
                 border_mode: Any = "valid", subsample: Any = None, filter_flip: bool = True,
                 filter_dilation: Any = None, num_groups: int = 1):
        if convdim not in (2, 3):
            raise ValueError(f"convolutions have 2 or 3 spatial dimensions, got {convdim}")
        n = self.convdim = convdim
        self.imshp = _shape_hint(imshp, n + 2, "input_shape (imshp)")
        self.kshp = _shape_hint(kshp, n + 2, "filter_shape (kshp)")
        self.border_mode = _border_mode(border_mode, n)
        self.subsample = _int_tuple(subsample if subsample is not None else 1, n,
                                    "subsample", 1)
        self.filter_dilation = _int_tuple(filter_dilation if filter_dilation is not None
                                          else 1, n, "filter_dilation", 1)
        self.filter_flip = bool(filter_flip)
        if not isinstance(num_groups, int | np.integer) or num_groups < 1:
            raise ValueError(f"num_groups must be an int >= 1, got {num_groups!r}")
        self.num_groups = int(num_groups)
        n_in, n_k, n_kc = self.imshp[1], self.kshp[0], self.kshp[1]
        if n_k is not None and n_k % self.num_groups:
            raise ValueError(f"{self.what}: {n_k} filters (filter_shape {self.kshp}) cannot be "
                             f"split into num_groups={self.num_groups} groups")
        if n_in is not None and n_kc is not None and n_in != n_kc * self.num_groups:
            raise ValueError(f"{self.what}: input_shape {self.imshp} has {n_in} channels but "
                             f"filter_shape {self.kshp} expects {n_kc} x num_groups="
                             f"{self.num_groups} = {n_kc * self.num_groups}")

    @property
    def what(self) -> str:
        return f"conv{self.convdim}d"

    def _sibling(self, kind: int) -> BaseAbstractConv:
        """The forward or gradient Op of this family with the same parameters."""
        cls = _FAMILIES[self._family][kind]
        op = Op.__new__(cls)
        op.__dict__.update(self.__dict__)
        return op

    def _tensors(self, *pairs: tuple[Any, str]) -> list[TensorVariable]:
        """The operands as tensors of rank convdim + 2 and of one float dtype."""
        tensors = []
        for value, role in pairs:
            t = as_tensor_variable(value)
            if t.ndim != self.convdim + 2:
                layout = "NCHW" if self.convdim == 2 else "NCDHW"
                raise TypeError(f"{self.what}: {role} {t} must be a {self.convdim + 2}-d tensor "
                                f"({layout}), got {t.type} with {t.ndim} dimension(s)")
            if t.dtype[0] == "c":
                raise TypeError(f"{self.what}: {role} {t} is complex ({t.dtype}); use floats")
            tensors.append(t)
        dtype = str(np.result_type(*[t.dtype for t in tensors]))
        if np.dtype(dtype).kind not in "f":
            dtype = "float64"
        from theanine.tensor.math import cast

        return [t if t.dtype == dtype else cast(t, dtype) for t in tensors]

    def _spatial(self, shape: Any, role: str) -> TensorVariable:
        """A symbolic int64 vector of convdim spatial extents."""
        if isinstance(shape, Variable) and shape.ndim == 1:
            v = as_tensor_variable(shape)
            if v.dtype[0] not in "iu":
                raise TypeError(f"{self.what}: {role} must hold integers, got {v.type}")
            length = shape_length(v)
            if length is not None and length != self.convdim:
                raise ValueError(f"{self.what}: {role} must have {self.convdim} entries, got "
                                 f"{length}")
            from theanine.tensor.math import cast

            return v if v.dtype == "int64" else cast(v, "int64")
        entries = list(shape)
        if len(entries) != self.convdim:
            raise ValueError(f"{self.what}: {role} must have {self.convdim} entries, got "
                             f"{shape!r}")
        return MakeVector("int64")(*entries)

    def _pads(self, kshape: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(axis_pad(self.border_mode if isinstance(self.border_mode, str)
                                 else self.border_mode[i], kshape[i], self.filter_dilation[i])
                     for i in range(self.convdim))

    def _check_hint(self, value: np.ndarray, hint: tuple, var: Variable, role: str) -> None:
        if any(h is not None and h != s for h, s in zip(hint, value.shape)):
            raise ValueError(f"{self.what}: {role} {var} has shape {value.shape}, but its "
                             f"declared shape is {hint}")

    def _check_pair(self, img_shape: tuple, kern_shape: tuple, img: str, kern: str) -> None:
        """Channels agree with the groups, and the (dilated) filters fit the padded input;
        `img` and `kern` say what the two are in messages."""
        g = self.num_groups
        if kern_shape[0] % g:
            raise ValueError(f"{self.what}: {kern_shape[0]} filters ({kern}, shape "
                             f"{kern_shape}) cannot be split into num_groups={g} groups")
        if img_shape[1] != kern_shape[1] * g:
            raise ValueError(f"{self.what}: {img} has {img_shape[1]} channels (shape "
                             f"{img_shape}), but {kern} (shape {kern_shape}) expect "
                             f"{kern_shape[1]} x num_groups={g} = {kern_shape[1] * g}")
        out = get_conv_output_shape(img_shape, kern_shape, self.border_mode, self.subsample,
                                    self.filter_dilation)
        if any(o < 1 for o in out[2:]):
            raise ValueError(f"{self.what}: {kern} (shape {kern_shape}, dilation "
                             f"{self.filter_dilation}) do not fit in {img} (shape {img_shape}) "
                             f"with border_mode={self.border_mode!r}: the output would have "
                             f"shape {out}")

    def _check_length(self, shape: np.ndarray, var: Variable) -> None:
        if len(shape) != self.convdim:
            raise ValueError(f"{self.what}: the spatial shape {var} must have {self.convdim} "
                             f"entries, got {list(shape)}")

    def _check_top(self, top: np.ndarray, img_shape: tuple, kern_shape: tuple,
                   top_var: Variable) -> None:
        want = get_conv_output_shape(img_shape, kern_shape, self.border_mode, self.subsample,
                                     self.filter_dilation)
        if top.shape != tuple(want):
            raise ValueError(f"{self.what}: the output gradient {top_var} has shape "
                             f"{top.shape}, but a convolution of an input of shape {img_shape} "
                             f"by filters of shape {kern_shape} gives {tuple(want)}")

    def _flip(self, w: np.ndarray) -> np.ndarray:
        return w[(Ellipsis,) + (slice(None, None, -1),) * self.convdim] if self.filter_flip else w


class AbstractConv(BaseAbstractConv):
    """conv(img, kern): the convolution (filter_flip=True) or correlation of `img` by `kern`."""

    _kind = 0

    def make_node(self, img: Any, kern: Any) -> Apply:
        img, kern = self._tensors((img, "input"), (kern, "filters"))
        bcast = (img.broadcastable[0], kern.broadcastable[0]) + (False,) * self.convdim
        return Apply(self, [img, kern], [TensorType(img.dtype, bcast)()])

    def check_operands(self, node: Apply, img: Any, kern: Any) -> None:
        """The run-time checks of the operands' shapes (shared with native impls)."""
        self._check_hint(img, self.imshp, node.inputs[0], "the input")
        self._check_hint(kern, self.kshp, node.inputs[1], "the filters")
        self._check_pair(img.shape, kern.shape, f"the input {node.inputs[0]}",
                         f"the filters {node.inputs[1]}")

    def perform(self, node, inputs, output_storage):
        img, kern = inputs
        self.check_operands(node, img, kern)
        output_storage[0][0] = _np_forward(
            img, self._flip(kern), self._pads(kern.shape[2:]), self.subsample,
            self.filter_dilation, self.num_groups)

    def grad(self, inputs, output_grads):
        img, kern = inputs
        (top,) = output_grads
        n = self.convdim
        d_img = self._sibling(2)(kern, top, [img.shape[2 + i] for i in range(n)])
        d_kern = self._sibling(1)(img, top, [kern.shape[2 + i] for i in range(n)])
        return [d_img, d_kern]

    def infer_shape(self, fgraph, node, input_shapes):
        ishp, kshp = input_shapes
        return [get_conv_output_shape(ishp, kshp, self.border_mode, self.subsample,
                                      self.filter_dilation)]


class AbstractConv_gradWeights(BaseAbstractConv):
    """The gradient of sum(conv(img, kern) * topgrad) with respect to `kern`, whose spatial
    shape is the input `shape` (a strided convolution does not determine it)."""

    _kind = 1

    def make_node(self, img: Any, topgrad: Any, shape: Any) -> Apply:
        img, topgrad = self._tensors((img, "input"), (topgrad, "output gradient"))
        shape = self._spatial(shape, "the filters' spatial shape")
        bcast = (topgrad.broadcastable[1], False) + (False,) * self.convdim
        return Apply(self, [img, topgrad, shape], [TensorType(img.dtype, bcast)()])

    def filter_shape(self, node: Apply, img: Any, top: Any, shape: Any) -> tuple[int, ...]:
        """The shape of the filters' gradient, after the run-time checks of the operands
        (shared with native impls)."""
        g = self.num_groups
        self._check_length(shape, node.inputs[2])
        if img.shape[1] % g:
            raise ValueError(f"{self.what}: the input {node.inputs[0]} has {img.shape[1]} "
                             f"channels, not divisible by num_groups={g}")
        kshape = (top.shape[1], img.shape[1] // g, *(int(s) for s in shape))
        self._check_hint(img, self.imshp, node.inputs[0], "the input")
        self._check_pair(img.shape, kshape, f"the input {node.inputs[0]}",
                         "the filters being differentiated")
        self._check_top(top, img.shape, kshape, node.inputs[1])
        return kshape

    def perform(self, node, inputs, output_storage):
        img, top, shape = inputs
        kshape = self.filter_shape(node, img, top, shape)
        gw = _np_grad_weights(img, top, kshape[2:], self._pads(kshape[2:]), self.subsample,
                              self.filter_dilation, self.num_groups)
        output_storage[0][0] = np.ascontiguousarray(self._flip(gw))

    def grad(self, inputs, output_grads):
        img, top, _ = inputs
        (g_kern,) = output_grads
        n = self.convdim
        d_img = self._sibling(2)(g_kern, top, [img.shape[2 + i] for i in range(n)])
        d_top = self._sibling(0)(img, g_kern)
        return [d_img, d_top, None]

    def infer_shape(self, fgraph, node, input_shapes):
        ishp, tshp, _ = input_shapes
        shape = node.inputs[2]
        return [(tshp[1], ishp[1] // self.num_groups,
                 *(shape[i] for i in range(self.convdim)))]


class AbstractConv_gradInputs(BaseAbstractConv):
    """The gradient of sum(conv(img, kern) * topgrad) with respect to `img`, whose spatial
    shape is the input `shape` (a strided convolution does not determine it)."""

    _kind = 2

    def make_node(self, kern: Any, topgrad: Any, shape: Any) -> Apply:
        kern, topgrad = self._tensors((kern, "filters"), (topgrad, "output gradient"))
        shape = self._spatial(shape, "the input's spatial shape")
        bcast = (topgrad.broadcastable[0], False) + (False,) * self.convdim
        return Apply(self, [kern, topgrad, shape], [TensorType(kern.dtype, bcast)()])

    def input_shape(self, node: Apply, kern: Any, top: Any, shape: Any) -> tuple[int, ...]:
        """The shape of the input's gradient, after the run-time checks of the operands
        (shared with native impls)."""
        self._check_length(shape, node.inputs[2])
        ishape = (top.shape[0], kern.shape[1] * self.num_groups, *(int(s) for s in shape))
        self._check_hint(kern, self.kshp, node.inputs[0], "the filters")
        self._check_pair(ishape, kern.shape, "the input being differentiated",
                         f"the filters {node.inputs[0]}")
        self._check_top(top, ishape, kern.shape, node.inputs[1])
        return ishape

    def perform(self, node, inputs, output_storage):
        kern, top, shape = inputs
        ishape = self.input_shape(node, kern, top, shape)
        output_storage[0][0] = _np_grad_inputs(
            self._flip(kern), top, ishape[2:], self._pads(kern.shape[2:]), self.subsample,
            self.filter_dilation, self.num_groups)

    def grad(self, inputs, output_grads):
        kern, top, _ = inputs
        (g_img,) = output_grads
        n = self.convdim
        d_kern = self._sibling(1)(g_img, top, [kern.shape[2 + i] for i in range(n)])
        d_top = self._sibling(0)(g_img, kern)
        return [d_kern, d_top, None]

    def infer_shape(self, fgraph, node, input_shapes):
        kshp, tshp, _ = input_shapes
        shape = node.inputs[2]
        return [(tshp[0], kshp[1] * self.num_groups,
                 *(shape[i] for i in range(self.convdim)))]


def _fixed_dim(base: type, dim: int, name: str, family: str) -> type:
    """A subclass of `base` with `dim` spatial dimensions and Theano's constructor."""

    def __init__(self, imshp=None, kshp=None, border_mode="valid", subsample=(1,) * dim,
                 filter_flip=True, filter_dilation=(1,) * dim, num_groups=1):
        base.__init__(self, dim, imshp, kshp, border_mode, subsample, filter_flip,
                      filter_dilation, num_groups)

    layout = "NCHW" if dim == 2 else "NCDHW"
    doc = f"{base.__name__} on {dim}-d images ({layout}), with Theano's constructor."
    return type(name, (base,), {"__init__": __init__, "_family": family, "__doc__": doc,
                                "__module__": __name__})


AbstractConv2d = _fixed_dim(AbstractConv, 2, "AbstractConv2d", "2d")
AbstractConv2d_gradWeights = _fixed_dim(AbstractConv_gradWeights, 2,
                                        "AbstractConv2d_gradWeights", "2d")
AbstractConv2d_gradInputs = _fixed_dim(AbstractConv_gradInputs, 2,
                                       "AbstractConv2d_gradInputs", "2d")
AbstractConv3d = _fixed_dim(AbstractConv, 3, "AbstractConv3d", "3d")
AbstractConv3d_gradWeights = _fixed_dim(AbstractConv_gradWeights, 3,
                                        "AbstractConv3d_gradWeights", "3d")
AbstractConv3d_gradInputs = _fixed_dim(AbstractConv_gradInputs, 3,
                                       "AbstractConv3d_gradInputs", "3d")
_FAMILIES = {
    "nd": (AbstractConv, AbstractConv_gradWeights, AbstractConv_gradInputs),
    "2d": (AbstractConv2d, AbstractConv2d_gradWeights, AbstractConv2d_gradInputs),
    "3d": (AbstractConv3d, AbstractConv3d_gradWeights, AbstractConv3d_gradInputs),
}


# Theano's functions -----------------------------------------------------------------------
def _conv(dim: int, input: Any, filters: Any, input_shape: Any, filter_shape: Any,
          border_mode: Any, subsample: Any, filter_flip: bool, filter_dilation: Any,
          num_groups: int) -> TensorVariable:
    op = _FAMILIES[f"{dim}d"][0](input_shape, filter_shape, border_mode, subsample,
                                 filter_flip, filter_dilation, num_groups)
    return op(input, filters)


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           filter_dilation: Any = (1, 1), num_groups: int = 1, image_shape: Any = None
           ) -> TensorVariable:
    """2-d convolution of a (batch, channels, rows, cols) input by (filters, channels / groups,
    rows, cols) filters; `border_mode` is 'valid', 'full', 'half' or explicit zero padding.
    `filter_flip=False` computes a cross-correlation.  `image_shape` is Theano's old name of
    `input_shape`; the shapes are hints, checked when the function runs."""
    if image_shape is not None:
        if input_shape is not None:
            raise ValueError("conv2d: give input_shape or its old name image_shape, not both")
        input_shape = image_shape
    return _conv(2, input, filters, input_shape, filter_shape, border_mode, subsample,
                 filter_flip, filter_dilation, num_groups)


def conv3d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1, 1), filter_flip: bool = True,
           filter_dilation: Any = (1, 1, 1), num_groups: int = 1) -> TensorVariable:
    """3-d convolution of a (batch, channels, depth, rows, cols) input; see `conv2d`."""
    return _conv(3, input, filters, input_shape, filter_shape, border_mode, subsample,
                 filter_flip, filter_dilation, num_groups)


def _full_shape(shape: Any, n: int, what: str) -> list[Any]:
    """The n entries of a shape given as a sequence or a symbolic vector such as x.shape."""
    entries = None if shape is None else shape_entries(shape, what)
    if entries is None or len(entries) != n:
        raise ValueError(f"{what} must give all {n} extents (the spatial ones at least "
                         f"known or symbolic), got {shape!r}")
    return entries


def _grad_inputs(dim: int, output_grad: Any, filters: Any, input_shape: Any,
                 filter_shape: Any, **params: Any) -> TensorVariable:
    entries = _full_shape(input_shape, dim + 2, f"conv{dim}d_grad_wrt_inputs: input_shape")
    op = _FAMILIES[f"{dim}d"][2](entries, filter_shape, **params)
    return op(filters, output_grad, entries[2:])


def _grad_weights(dim: int, input: Any, output_grad: Any, filter_shape: Any,
                  input_shape: Any, **params: Any) -> TensorVariable:
    entries = _full_shape(filter_shape, dim + 2, f"conv{dim}d_grad_wrt_weights: filter_shape")
    op = _FAMILIES[f"{dim}d"][1](input_shape, entries, **params)
    return op(input, output_grad, entries[2:])


def conv2d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Sequence[Any],
                           filter_shape: Any = None, border_mode: Any = "valid",
                           subsample: Any = (1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1), num_groups: int = 1
                           ) -> TensorVariable:
    """The gradient of conv2d with respect to its input (a transposed convolution).
    `input_shape` gives the input's 4 extents; the last two may be symbolic."""
    return _grad_inputs(2, output_grad, filters, input_shape, filter_shape,
                        border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                        filter_dilation=filter_dilation, num_groups=num_groups)


def conv2d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Sequence[Any],
                            input_shape: Any = None, border_mode: Any = "valid",
                            subsample: Any = (1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1), num_groups: int = 1
                            ) -> TensorVariable:
    """The gradient of conv2d with respect to its filters.  `filter_shape` gives the filters'
    4 extents; the last two may be symbolic."""
    return _grad_weights(2, input, output_grad, filter_shape, input_shape,
                         border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                         filter_dilation=filter_dilation, num_groups=num_groups)


def conv3d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Sequence[Any],
                           filter_shape: Any = None, border_mode: Any = "valid",
                           subsample: Any = (1, 1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1, 1), num_groups: int = 1
                           ) -> TensorVariable:
    """The gradient of conv3d with respect to its input; see `conv2d_grad_wrt_inputs`."""
    return _grad_inputs(3, output_grad, filters, input_shape, filter_shape,
                        border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                        filter_dilation=filter_dilation, num_groups=num_groups)


def conv3d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Sequence[Any],
                            input_shape: Any = None, border_mode: Any = "valid",
                            subsample: Any = (1, 1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1, 1), num_groups: int = 1
                            ) -> TensorVariable:
    """The gradient of conv3d with respect to its filters; see `conv2d_grad_wrt_weights`."""
    return _grad_weights(3, input, output_grad, filter_shape, input_shape,
                         border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                         filter_dilation=filter_dilation, num_groups=num_groups)
