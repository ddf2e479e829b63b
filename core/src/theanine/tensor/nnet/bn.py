"""Batch normalization (`T.nnet.bn`), with Theano 1.0's functions and signatures.

Each is an elementwise/reduction graph, so its gradient comes from differentiation; Theano
had Ops for the cuDNN path, which computed the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.config import config
from theanine.tensor import math as tm
from theanine.tensor.basic import Rebroadcast, as_tensor_variable
from theanine.tensor.variable import TensorVariable


def batch_normalization(inputs: Any, gamma: Any, beta: Any, mean: Any, std: Any,
                        mode: str = "low_mem") -> TensorVariable:
    """(inputs - mean) * (gamma / std) + beta, with the statistics given (broadcasting as
    in NumPy).  `mode` ('low_mem' or 'high_mem') chose Theano's implementation; both compute
    the same values here (fusion gives one elementwise loop either way)."""
    if mode not in ("low_mem", "high_mem"):
        raise ValueError(f"batch_normalization: mode must be 'low_mem' or 'high_mem', got "
                         f"{mode!r}")
    inputs, gamma, beta, mean, std = (as_tensor_variable(v)
                                      for v in (inputs, gamma, beta, mean, std))
    return (inputs - mean) * (gamma / std) + beta


def _axes(axes: str | Sequence[int], ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(normalized axes, the others), from 'per-activation', 'spatial' or a sequence."""
    if axes == "per-activation":
        chosen: tuple[int, ...] = (0,)
    elif axes == "spatial":
        chosen = (0, *range(2, ndim))
    elif isinstance(axes, list | tuple | np.ndarray):
        chosen = tuple(sorted(int(a) for a in axes))
    else:
        raise ValueError(f"batch normalization: axes must be 'per-activation', 'spatial' or a "
                         f"tuple of ints, got {axes!r}")
    if not chosen:
        raise ValueError("batch normalization: there must be at least one normalization axis")
    if min(chosen) < 0 or max(chosen) >= ndim:
        raise ValueError(f"batch normalization: axes {chosen} out of range for inputs of "
                         f"{ndim} dimensions")
    return chosen, tuple(i for i in range(ndim) if i not in chosen)


def _check_epsilon(epsilon: float) -> None:
    if np.asarray(epsilon, dtype=config.floatX) < 1e-5:  # float32(1e-5) < 1e-5, as Theano
        raise ValueError(f"batch normalization: epsilon must be at least 1e-5, got {epsilon}")


def _broadcast_params(names: Sequence[str], params: Sequence[Any], ndim: int,
                      axes: tuple[int, ...], others: tuple[int, ...]) -> list[TensorVariable]:
    """Parameters given per non-normalized axis (or already with the inputs' rank) as tensors
    of the inputs' rank, broadcastable along `axes`."""
    params = [as_tensor_variable(p) for p in params]
    full = params[0].ndim == ndim
    want = ndim if full else len(others)
    out = []
    for name, p in zip(names, params):
        if p.ndim != want:
            raise ValueError(f"batch normalization: {name} ({p}, {p.type}) must have "
                             f"{len(others)} dimension(s) (one per non-normalized axis) or "
                             f"{ndim} (the inputs'), like {names[0]}; got {p.ndim}")
        if full:
            out.append(Rebroadcast([b or i in axes for i, b in enumerate(p.broadcastable)])(p)
                       if any(not p.broadcastable[i] for i in axes) else p)
        else:
            pattern: list[Any] = ["x"] * ndim
            for k, axis in enumerate(others):
                pattern[axis] = k
            out.append(p.dimshuffle(*pattern))
    return out


def batch_normalization_train(inputs: Any, gamma: Any, beta: Any,
                              axes: str | Sequence[int] = "per-activation",
                              epsilon: float = 1e-4, running_average_factor: float = 0.1,
                              running_mean: Any = None, running_var: Any = None
                              ) -> tuple[TensorVariable, ...]:
    """Normalize with the batch's own statistics: (out, mean, invstd), plus the updated
    running averages (new_running_mean, new_running_var) when both are given.

    mean and var are over `axes`; invstd = 1 / sqrt(var + epsilon); out = (inputs - mean) *
    gamma * invstd + beta.  new_running_mean = running_mean * (1 - f) + mean * f and
    new_running_var = running_var * (1 - f) + m / (m - 1) * var * f (the unbiased variance; m
    is the number of values averaged), f = running_average_factor.  The statistics have
    gamma's shape: per non-normalized axis, or the inputs' rank with size-1 normalized axes.
    """
    inputs = as_tensor_variable(inputs)
    ndim = inputs.ndim
    axes_t, others = _axes(axes, ndim)
    _check_epsilon(epsilon)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_normalization_train: give both running_mean and running_var, "
                         "or neither")
    full = as_tensor_variable(gamma).ndim == ndim
    names = ["gamma", "beta"] + (["running_mean", "running_var"] if running_mean is not None
                                 else [])
    given = [gamma, beta] + ([running_mean, running_var] if running_mean is not None else [])
    params = _broadcast_params(names, given, ndim, axes_t, others)
    mean = tm.mean(inputs, axis=axes_t, keepdims=True)
    var = tm.var(inputs, axis=axes_t, keepdims=True)
    invstd = tm.inv(tm.sqrt(var + epsilon))
    out = (inputs - mean) * (params[0] * invstd) + params[1]
    results = [mean, invstd]
    if running_mean is not None:
        f = running_average_factor
        count = tm.prod(inputs.shape) // tm.prod(mean.shape)
        unbiased = var * tm.cast(count, var.dtype) / tm.cast(count - 1, var.dtype)
        results += [params[2] * (1 - f) + mean * f, params[3] * (1 - f) + unbiased * f]
    if not full:  # the statistics come back in gamma's form: one entry per other axis
        results = [r.dimshuffle(*others) for r in results]
    elif running_mean is not None:
        results[2:] = [_like(r, p) for r, p in zip(results[2:], (running_mean, running_var))]
    return (out, *results)


def _like(result: TensorVariable, param: Any) -> TensorVariable:
    """`result` with the broadcastable pattern of the parameter it updates (a shared variable
    takes only values of its own type)."""
    pattern = as_tensor_variable(param).broadcastable
    return result if result.broadcastable == pattern else Rebroadcast(pattern)(result)


def batch_normalization_test(inputs: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                             axes: str | Sequence[int] = "per-activation",
                             epsilon: float = 1e-4) -> TensorVariable:
    """Normalize with given statistics (inference): (inputs - mean) * gamma /
    sqrt(var + epsilon) + beta, the parameters shaped as for batch_normalization_train."""
    inputs = as_tensor_variable(inputs)
    ndim = inputs.ndim
    axes_t, others = _axes(axes, ndim)
    _check_epsilon(epsilon)
    gamma, beta, mean, var = _broadcast_params(("gamma", "beta", "mean", "var"),
                                               (gamma, beta, mean, var), ndim, axes_t, others)
    return (inputs - mean) * (gamma / tm.sqrt(var + epsilon)) + beta
