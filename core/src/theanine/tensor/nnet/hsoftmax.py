"""Theano's two-level hierarchical softmax (`h_softmax`): the outputs are split into classes;
one softmax picks the class, a second the output inside it."""

from __future__ import annotations

from typing import Any

from theanine.tensor import math as tm
from theanine.tensor.basic import arange, as_tensor_variable
from theanine.tensor.nnet.basic import softmax
from theanine.tensor.products import dot, tensordot
from theanine.tensor.variable import TensorVariable


def h_softmax(x: Any, batch_size: Any, n_outputs: int, n_classes: int,
              n_outputs_per_class: int, W1: Any, b1: Any, W2: Any, b2: Any,
              target: Any = None) -> TensorVariable:
    """Probabilities of the `n_outputs` outputs for each row of `x` (batch_size, n_features).

    Output k is in class k // n_outputs_per_class; its probability is P(class | x) *
    P(k | class, x), with W1 (n_features, n_classes), b1 (n_classes,), W2 (n_classes,
    n_features, n_outputs_per_class), b2 (n_classes, n_outputs_per_class).  Without `target`,
    a (batch_size, n_outputs) matrix of every output; with `target` (one output index per row,
    shape (batch_size,) or (batch_size, 1)), the vector of the targets' probabilities, which
    costs O(n_classes + n_outputs_per_class) per row.
    """
    x, W1, b1 = as_tensor_variable(x), as_tensor_variable(W1), as_tensor_variable(b1)
    W2, b2 = as_tensor_variable(W2), as_tensor_variable(b2)
    for name, v, ndim in (("x", x, 2), ("W1", W1, 2), ("b1", b1, 1), ("W2", W2, 3),
                          ("b2", b2, 2)):
        if v.ndim != ndim:
            raise TypeError(f"h_softmax: {name} must have {ndim} dimensions, got {v} "
                            f"({v.type})")
    if n_classes * n_outputs_per_class < n_outputs:
        raise ValueError(f"h_softmax: n_classes * n_outputs_per_class ({n_classes} * "
                         f"{n_outputs_per_class}) must be at least n_outputs ({n_outputs})")
    class_probs = softmax(dot(x, W1) + b1)
    if target is None:
        activations = tensordot(x, W2, [[1], [1]]) + b2  # (batch, class, output in class)
        within = softmax(activations.reshape((-1, n_outputs_per_class)))
        within = within.reshape((batch_size, n_classes, n_outputs_per_class))
        probs = class_probs.dimshuffle(0, 1, "x") * within
        return probs.reshape((batch_size, n_classes * n_outputs_per_class))[:, :n_outputs]
    target = as_tensor_variable(target)
    if target.dtype[0] not in "iu" or target.ndim not in (1, 2):
        raise TypeError(f"h_softmax: target must be integer output indices of shape "
                        f"(batch_size,) or (batch_size, 1), got {target} ({target.type})")
    target = target.flatten()
    classes = target // n_outputs_per_class
    rows = arange(batch_size)
    # each row's own class weights: (batch, n_features, n_outputs_per_class)
    activations = tm.sum(x.dimshuffle(0, 1, "x") * W2[classes], axis=1) + b2[classes]
    within = softmax(activations)[rows, target % n_outputs_per_class]
    return class_probs[rows, classes] * within
