"""`x * log(x)` and `x * log(y)` taken as 0 where x is 0 (Theano's `tensor.xlogx`): the
entropy terms of cross-entropies and RBM free energies, finite at the boundary."""

from __future__ import annotations

from typing import Any

from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.math import eq, log, switch
from theanine.tensor.variable import TensorVariable


def xlogy0(x: Any, y: Any) -> TensorVariable:
    """`x * log(y)`, and 0 wherever x == 0 (whatever y is there).  The logarithm reads 1
    at those places, so neither the value nor the gradient sees log(0)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    zero = eq(x, 0)
    return switch(zero, 0, x * log(switch(zero, 1, y)))


def xlogx(x: Any) -> TensorVariable:
    """`x * log(x)`, and 0 where x == 0 (its limit)."""
    return xlogy0(x, x)
