"""Theano's original `nnet.conv.conv2d` (the signature with `image_shape`), kept so that
programs written against it run unchanged; it is the abstract convolution with flipped
filters, in 'valid' or 'full' mode."""

from __future__ import annotations

from typing import Any

from theanine.tensor.nnet.abstract_conv import conv2d as _abstract_conv2d
from theanine.tensor.variable import TensorVariable

# Tuning options of Theano's old ConvOp: they chose among its C implementations and change
# nothing in the result.
_IGNORED_OPTIONS = frozenset({"unroll_batch", "unroll_kern", "unroll_patch", "verbose",
                              "version", "direction_hint", "openmp"})


def conv2d(input: Any, filters: Any, image_shape: Any = None, filter_shape: Any = None,
           border_mode: str = "valid", subsample: Any = (1, 1), **kargs: Any
           ) -> TensorVariable:
    """Convolve a (batch, channels, rows, cols) input with (filters, channels, rows, cols)
    filters; `border_mode` is 'valid' or 'full'."""
    unknown = set(kargs) - _IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"conv.conv2d got unexpected keyword argument(s) {sorted(unknown)}")
    if border_mode not in ("valid", "full"):
        raise ValueError(f"conv.conv2d: border_mode must be 'valid' or 'full', got "
                         f"{border_mode!r} (theanine.tensor.nnet.conv2d has more modes)")
    return _abstract_conv2d(input, filters, input_shape=image_shape, filter_shape=filter_shape,
                            border_mode=border_mode, subsample=subsample, filter_flip=True)
