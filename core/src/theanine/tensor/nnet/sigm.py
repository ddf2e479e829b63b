"""Activations Theano 1.0 added beside `basic`'s: `ultra_fast_sigmoid` (a piecewise
approximation of the sigmoid), `softsign` and `selu`."""

from __future__ import annotations

from typing import Any

from theanine.tensor import math as tm
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.nnet.basic import elu
from theanine.tensor.variable import TensorVariable

# Theano's piecewise tanh approximation, on t = |x| / 2: 1.5 t / (1 + t) below 1.7, then a line
# to 3, then a constant.
_KNEE, _FAR = 1.7, 3.0
_LINE_AT_KNEE, _LINE_SLOPE, _PLATEAU = 0.935409070603099, 0.0458812946797165, 0.99505475368673


def ultra_fast_sigmoid(x: Any) -> TensorVariable:
    """An approximation of sigmoid(x) within about 0.02, as Theano 1.0 computed it.

    The inner part is written as `1.5 a / (1 + |a|)` (a = x / 2), an odd function smooth at 0,
    so its gradient is the derivative of the approximation everywhere (Theano had none).
    """
    x = as_tensor_variable(x)
    if x.dtype[0] not in "fc":
        x = tm.cast(x, "float64")
    a = x * 0.5
    t = tm.abs(a)
    sign = tm.sgn(a)
    inner = 1.5 * a / (1 + t)
    line = sign * (_LINE_AT_KNEE + _LINE_SLOPE * (t - _KNEE))
    z = tm.switch(t < _KNEE, inner, tm.switch(t < _FAR, line, sign * _PLATEAU))
    return 0.5 * (z + 1)


def softsign(x: Any) -> TensorVariable:
    """x / (1 + |x|): a sigmoid-shaped activation in (-1, 1) with polynomial tails."""
    x = as_tensor_variable(x)
    return x / (1 + tm.abs(x))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(x: Any) -> TensorVariable:
    """Scaled ELU (Klambauer et al.): scale * elu(x, alpha) with the self-normalizing
    constants."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)
