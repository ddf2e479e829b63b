"""Theano's fused softmax / cross-entropy entry points, written as stable graphs.

Theano had one Op per combination (`CrossentropySoftmaxArgmax1HotWithBias`, ...) to fuse the
softmax with the negative log-likelihood of integer labels; here each indexes a `LogSoftmax`
(max-shifted, so logits of any size stay finite) and its gradient, `softmax - one_hot`, comes
from differentiation.
"""

from __future__ import annotations

from typing import Any

from theanine.tensor import math as tm
from theanine.tensor.basic import arange, as_tensor_variable
from theanine.tensor.nnet.basic import log_softmax, softmax
from theanine.tensor.variable import TensorVariable


def _check(name: str, arg: str, v: TensorVariable, ndim: int, kinds: str, what: str) -> None:
    if v.ndim != ndim or v.dtype[0] not in kinds:
        raise TypeError(f"{name}: {arg} must be {what}, got {v} ({v.type})")


def _logits(name: str, x: Any, b: Any) -> TensorVariable:
    x, b = as_tensor_variable(x), as_tensor_variable(b)
    _check(name, "x", x, 2, "fc", "a float matrix (one row of logits per example)")
    _check(name, "b", b, 1, "fc", "a float vector (one bias per class)")
    return x + b


def _labels(name: str, y_idx: Any) -> TensorVariable:
    y_idx = as_tensor_variable(y_idx)
    _check(name, "y_idx", y_idx, 1, "iu", "an integer vector (one class index per example)")
    return y_idx


def _nll(z: TensorVariable, y_idx: TensorVariable) -> TensorVariable:
    return -log_softmax(z, axis=-1)[arange(z.shape[0]), y_idx]


def softmax_with_bias(x: Any, b: Any) -> TensorVariable:
    """softmax(x + b) of each row of the matrix `x`, `b` a vector of biases."""
    return softmax(_logits("softmax_with_bias", x, b))


def crossentropy_softmax_1hot_with_bias(x: Any, b: Any, y_idx: Any
                                        ) -> tuple[TensorVariable, TensorVariable]:
    """(nll, sm): sm = softmax(x + b) per row, nll[i] = -log(sm[i, y_idx[i]])."""
    name = "crossentropy_softmax_1hot_with_bias"
    z, y_idx = _logits(name, x, b), _labels(name, y_idx)
    return _nll(z, y_idx), softmax(z)


def crossentropy_softmax_argmax_1hot_with_bias(x: Any, b: Any, y_idx: Any
                                               ) -> tuple[TensorVariable, TensorVariable,
                                                          TensorVariable]:
    """(nll, sm, argmax of each row of x + b): the three results Theano's Op gave."""
    name = "crossentropy_softmax_argmax_1hot_with_bias"
    z, y_idx = _logits(name, x, b), _labels(name, y_idx)
    return _nll(z, y_idx), softmax(z), tm.argmax(z, axis=-1)


def crossentropy_softmax_1hot(x: Any, y_idx: Any) -> tuple[TensorVariable, TensorVariable]:
    """(nll, sm) of the logits `x` without a bias."""
    x = as_tensor_variable(x)
    _check("crossentropy_softmax_1hot", "x", x, 2, "fc",
           "a float matrix (one row of logits per example)")
    y_idx = _labels("crossentropy_softmax_1hot", y_idx)
    return _nll(x, y_idx), softmax(x)


def crossentropy_categorical_1hot(coding_dist: Any, true_one_of_n: Any) -> TensorVariable:
    """-log(coding_dist[i, true_one_of_n[i]]) per row of the probability matrix."""
    name = "crossentropy_categorical_1hot"
    coding_dist = as_tensor_variable(coding_dist)
    _check(name, "coding_dist", coding_dist, 2, "fc",
           "a float matrix (one row of probabilities per example)")
    y = as_tensor_variable(true_one_of_n)
    _check(name, "true_one_of_n", y, 1, "iu", "an integer vector (one class index per example)")
    return -tm.log(coding_dist[arange(coding_dist.shape[0]), y])
