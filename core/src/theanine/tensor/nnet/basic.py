"""Activations, softmax and cross-entropies: the core of `T.nnet`."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor import math as tm
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.variable import TensorVariable

sigmoid = tm.sigmoid
softplus = tm.softplus


def relu(x: Any, alpha: float = 0) -> TensorVariable:
    """max(x, 0); with `alpha`, a leaky ReLU with slope `alpha` below zero."""
    if alpha == 0:
        return tm.relu_op(x)
    x = as_tensor_variable(x)
    return tm.switch(x > 0, x, alpha * x)


def elu(x: Any, alpha: float = 1.0) -> TensorVariable:
    """x above zero, alpha * (exp(x) - 1) below (Clevert et al.'s exponential linear unit)."""
    x = as_tensor_variable(x)
    # expm1 sees min(x, 0): no overflow in the branch not taken, whose gradient (0 * inf)
    # would otherwise be nan.
    return tm.switch(x > 0, x, alpha * tm.expm1(tm.minimum(x, 0)))


def hard_sigmoid(x: Any) -> TensorVariable:
    """clip(0.2 * x + 0.5, 0, 1): Theano's piecewise-linear approximation of the sigmoid."""
    x = as_tensor_variable(x)
    return tm.clip(x * 0.2 + 0.5, 0, 1)


class _AlongAxis(Op):
    """An Op of one float tensor along `axis` whose result has its type (softmax and
    log-softmax): the checks and the shape they share."""

    __props__ = ("axis",)
    label = ""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"{self.label} needs at least one dimension, got {x.type} ({x})")
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self.label}: axis {self.axis} is out of range for {x} "
                             f"({x.type})")
        if x.dtype[0] not in "fc":
            x = tm.cast(x, "float64")
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""

    label = "softmax"

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        e = np.exp(x - x.max(axis=self.axis, keepdims=True)) if x.size else x.copy()
        output_storage[0][0] = e / e.sum(axis=self.axis, keepdims=True) if x.size else e

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (g,) = output_grads
        sm = self(x)
        return [SoftmaxGrad(self.axis)(g, sm)]


class LogSoftmax(_AlongAxis):
    """x - max(x) - log(sum(exp(x - max(x)))) along `axis`.

    One Op rather than that expression: the result does not depend on the shift, so the
    gradient leaves the max out (the expression's gradient carried its exactly-zero path, an
    `eq` mask, sums and allocs, into every classifier's backward pass).
    """

    label = "log_softmax"

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size == 0:
            output_storage[0][0] = x.copy()
            return
        # a row holding NaN, +inf or only -inf gives NaN throughout (inf - inf), as the
        # shifted expression does
        shifted = x - x.max(axis=self.axis, keepdims=True)
        output_storage[0][0] = shifted - np.log(np.exp(shifted).sum(axis=self.axis,
                                                                    keepdims=True))

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (g,) = output_grads
        # d/dx_i sum_j g_j (x_j - lse(x)) = g_i - softmax(x)_i * sum(g), softmax = exp(out)
        return [g - tm.exp(self(x)) * tm.sum(g, axis=self.axis, keepdims=True)]


class SoftmaxGrad(Op):
    """The gradient of softmax: (g - sum(g * sm, axis)) * sm."""

    __props__ = ("axis",)

    def __init__(self, axis: int = -1):
        self.axis = axis

    def make_node(self, g: Any, sm: Any) -> Apply:
        g, sm = as_tensor_variable(g), as_tensor_variable(sm)
        return Apply(self, [g, sm], [sm.type()])

    def perform(self, node, inputs, output_storage):
        g, sm = inputs
        gsm = g * sm
        output_storage[0][0] = (gsm - sm * gsm.sum(axis=self.axis, keepdims=True)).astype(
            sm.dtype, copy=False)

    def grad(self, inputs, output_grads):
        g, sm = inputs
        (gz,) = output_grads
        # d/dg: (gz - sum(gz*sm)) * sm ; d/dsm: gz*g - gz*sum(g*sm) - sum(gz*sm)*g
        ax = self.axis
        s_gsm = tm.sum(g * sm, axis=ax, keepdims=True)
        s_gzsm = tm.sum(gz * sm, axis=ax, keepdims=True)
        dg = (gz - s_gzsm) * sm
        dsm = gz * g - gz * s_gsm - s_gzsm * g
        return [dg, dsm]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]


def softmax(x: Any, axis: int | None = None) -> TensorVariable:
    """exp(x) / sum(exp(x)) along `axis` (default: the last).

    As in Theano 1.0, which had no `axis`, a vector without an explicit `axis` gives a 1×n
    matrix (Theano's softmax worked on rows); with `axis` given, the result has x's shape.
    """
    if axis is None:
        x = as_tensor_variable(x)
        if x.ndim == 1:
            x = x.dimshuffle("x", 0)
        axis = -1
    return Softmax(axis)(x)


def log_softmax(x: Any, axis: int = -1) -> TensorVariable:
    """log(softmax(x)) along `axis` (default: the last), computed stably; x keeps its shape
    (a vector gives a vector, unlike `softmax` without `axis`)."""
    return LogSoftmax(axis)(x)


logsoftmax = log_softmax


def binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise."""
    return -(target * tm.log(output) + (1 - target) * tm.log(1 - output))


def sigmoid_binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """binary_crossentropy(sigmoid(output), target), computed stably from the logits."""
    return (1 - target) * output + softplus(-output)


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> TensorVariable:
    """-sum(true * log(coding)) per row; `true_dist` may be one-hot rows or integer labels."""
    coding_dist = as_tensor_variable(coding_dist)
    true_dist = as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -tm.sum(true_dist * tm.log(coding_dist), axis=-1)
    if true_dist.ndim == coding_dist.ndim - 1 and true_dist.dtype[0] in "iu":
        from theanine.tensor.basic import arange

        rows = arange(coding_dist.shape[0])
        return -tm.log(coding_dist[rows, true_dist])
    raise TypeError(f"categorical_crossentropy: true_dist {true_dist.type} does not match "
                    f"coding_dist {coding_dist.type}")
