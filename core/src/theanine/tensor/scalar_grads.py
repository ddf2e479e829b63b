"""The gradient rules of the scalar op table, as tensor expressions.

Differentiation is a transformation of the scalar primitives, so its rules sit in one table
beside them (as in JAX's Autodidax) rather than inside them: the rules are written with tensor
ops, and the scalar layer must not import the tensor layer.  A rule takes the (already
broadcast) tensor inputs, outputs and output gradients of an `Elemwise` node and returns one
term per input (None: no gradient flows); `elemwise_grads` reduces each term to its input's
broadcast pattern and dtype once for every op.  Ops outside the table (a plugin's) use their
own `ScalarOp.grad`.

Complex gradients follow Theano's convention: for a real cost C of z = x + iy the gradient is
dC/dx + i dC/dy, so a holomorphic f passes back `g * conj(f'(z))` (`_cj` below).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from theanine.graph.basic import Variable
from theanine.scalar import basic as ps
from theanine.scalar.composite import Composite
from theanine.tensor import math as tm
from theanine.tensor.basic import Rebroadcast, zeros_like
from theanine.tensor.elemwise import Elemwise

#: rule(inputs, outputs, output_grads) -> one gradient term (or None) per input
Rule = Callable[[Sequence[Variable], Sequence[Variable], Sequence[Variable]],
                list[Variable | None]]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0


def grad_as(g: Variable, dtype: str) -> Variable:
    """A gradient term in the dtype of the variable it belongs to.  A real variable's gradient
    is the real part of a complex term (Theano's convention: dC/dRe + i dC/dIm)."""
    if g.dtype == dtype:
        return g
    if g.dtype[0] == "c" and dtype[0] != "c":
        g = tm.real(g)
    return tm.cast(g, dtype)


# The rules ----------------------------------------------------------------------------------
def _cj(v: Any) -> Any:
    """conj(v) for a complex v, v itself otherwise (real graphs are left exactly as they were)."""
    return tm.conj(v) if v.dtype[0] == "c" else v


def _unary(rule: Callable[[Any, Any, Any], Any]) -> Rule:
    """Adapt `rule(x, out, gz)` to the (inputs, outputs, output_grads) convention."""
    return lambda i, o, gz: [rule(i[0], o[0], gz[0])]


def _g_add(i, o, gz):
    return [gz[0]] * len(i)


def _g_sub(i, o, gz):
    return [gz[0], -gz[0]]


def _g_mul(i, o, gz):
    x, y = i
    return [gz[0] * _cj(y), gz[0] * _cj(x)]


def _g_true_div(i, o, gz):
    x, y = i
    return [gz[0] / _cj(y), -gz[0] * _cj(o[0]) / _cj(y)]


def _g_pow(i, o, gz):
    x, y = i
    gx = gz[0] * y * x ** (y - 1)
    gy = gz[0] * o[0] * tm.log(x) if y.dtype[0] in "fc" else None
    return [gx, gy]


def _g_mod(i, o, gz):
    x, y = i
    return [gz[0], -gz[0] * tm.int_div(x, y)]


def _g_zero(i, o, gz):
    """Piecewise-constant ops (floor, ceil, sgn, //): the gradient is zero almost everywhere,
    as in Theano, so costs built on them stay differentiable."""
    return [zeros_like(x) for x in i]


def _g_maximum(i, o, gz):
    x, y = i
    return [gz[0] * tm.ge(x, y), gz[0] * tm.lt(x, y)]


def _g_minimum(i, o, gz):
    x, y = i
    return [gz[0] * tm.le(x, y), gz[0] * tm.gt(x, y)]


def _g_arctan2(i, o, gz):
    # in the result's precision: an int8 operand is float16 on its own, and squaring it there
    # would lose digits the float64 result kept
    y, x = (tm.cast(v, o[0].dtype) for v in i)
    r2 = x * x + y * y
    return [gz[0] * x / r2, -gz[0] * y / r2]


def _g_real(i, o, gz):
    return [gz[0]]  # Elemwise casts it to x's dtype: g + 0i for a complex x


def _g_imag(i, o, gz):
    (x,) = i
    return [gz[0] * 1j] if x.dtype[0] == "c" else _g_zero(i, o, gz)


def _g_angle(i, o, gz):
    (x,) = i
    if x.dtype[0] != "c":
        return _g_zero(i, o, gz)
    # angle = atan2(y, x): d/dx = -y/r^2, d/dy = x/r^2, i.e. i z / |z|^2
    return [gz[0] * 1j * x / tm.sqr(tm.abs(x))]


def _g_complex(i, o, gz):
    return [tm.real(gz[0]), tm.imag(gz[0])]


def _no_third_derivative(i, o, gz):
    raise NotImplementedError("the gradient of tetra_gamma (polygamma(3, x)) is not "
                              "implemented")


def _g_cast(op, i, o, gz):
    (x,) = i
    if x.dtype[0] in "fc":
        return [tm.cast(gz[0], x.dtype)]
    return [None]


def _g_switch(op, i, o, gz):
    cond, _, _ = i
    (g,) = gz
    return [None, tm.switch(cond, g, 0), tm.switch(cond, 0, g)]


def _g_composite(op: Composite, inputs, outputs, output_grads):
    """Reverse accumulation over the program: each step's gradient is the one its own Elemwise
    node would get (`elemwise_grads`: same rules, broadcast sums and dtypes, none for integer
    values), the terms of a value used several times are added, and an input that no term
    reaches gets None, as in the unfused graph."""
    values = list(inputs)
    for scalar_op, refs, _ in op.steps:  # the forward values the rules read
        values.append(Elemwise(scalar_op)(*[values[r] for r in refs]))
    terms: dict[int, list[Variable]] = {
        len(values) - 1: [_fit(output_grads[0], values[-1], outputs[0].broadcastable)]}
    for k in reversed(range(len(op.steps))):
        here = terms.pop(op.nin + k, None)
        if here is None:
            continue
        scalar_op, refs, _ = op.steps[k]
        args = [values[r] for r in refs]
        for r, g in zip(refs, elemwise_grads(scalar_op, args, [values[op.nin + k]],
                                             [_add_all(here)])):
            if g is not None:
                terms.setdefault(r, []).append(g)
    return [_add_all(terms[k]) if k in terms else None for k in range(op.nin)]


def _add_all(terms: list[Variable]) -> Variable:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


#: the built-in ops' rules, keyed by op (the table's ops are the module's singletons)
RULES: dict[ps.ScalarOp, Rule] = {
    ps.add: _g_add,
    ps.sub: _g_sub,
    ps.mul: _g_mul,
    ps.true_div: _g_true_div,
    ps.int_div: _g_zero,
    ps.mod: _g_mod,
    ps.pow: _g_pow,
    ps.maximum: _g_maximum,
    ps.minimum: _g_minimum,
    ps.neg: _unary(lambda x, o, g: -g),
    ps.abs_: _unary(lambda x, o, g: g * tm.sgn(x)),
    ps.sgn: _g_zero,
    ps.exp: _unary(lambda x, o, g: g * _cj(o)),
    ps.log: _unary(lambda x, o, g: g / _cj(x)),
    ps.log1p: _unary(lambda x, o, g: g / _cj(1 + x)),
    ps.expm1: _unary(lambda x, o, g: g * _cj(o + 1)),
    ps.sqrt: _unary(lambda x, o, g: g * 0.5 / _cj(o)),
    ps.sqr: _unary(lambda x, o, g: g * 2 * _cj(x)),
    ps.tanh: _unary(lambda x, o, g: g * _cj(1 - o * o)),
    ps.sin: _unary(lambda x, o, g: g * _cj(tm.cos(x))),
    ps.cos: _unary(lambda x, o, g: -g * _cj(tm.sin(x))),
    ps.sigmoid: _unary(lambda x, o, g: g * o * (1 - o)),
    ps.softplus: _unary(lambda x, o, g: g * tm.sigmoid(x)),
    ps.relu: _unary(lambda x, o, g: g * tm.gt(x, 0)),
    ps.floor: _g_zero,
    ps.ceil: _g_zero,
    ps.trunc: _g_zero,
    ps.round_half_to_even: _g_zero,
    ps.round_half_away_from_zero: _g_zero,
    ps.inv: _unary(lambda x, o, g: -g * _cj(o * o)),
    ps.exp2: _unary(lambda x, o, g: g * _cj(o * _LN2)),
    ps.log2: _unary(lambda x, o, g: g / _cj(x * _LN2)),
    ps.log10: _unary(lambda x, o, g: g / _cj(x * _LN10)),
    ps.tan: _unary(lambda x, o, g: g * _cj(1 + o * o)),
    ps.arcsin: _unary(lambda x, o, g: g / _cj(tm.sqrt(1 - x * x))),
    ps.arccos: _unary(lambda x, o, g: -g / _cj(tm.sqrt(1 - x * x))),
    ps.arctan: _unary(lambda x, o, g: g / _cj(1 + x * x)),
    ps.arctan2: _g_arctan2,
    ps.sinh: _unary(lambda x, o, g: g * _cj(tm.cosh(x))),
    ps.cosh: _unary(lambda x, o, g: g * _cj(tm.sinh(x))),
    ps.arcsinh: _unary(lambda x, o, g: g / _cj(tm.sqrt(x * x + 1))),
    ps.arccosh: _unary(lambda x, o, g: g / _cj(tm.sqrt(x * x - 1))),
    ps.arctanh: _unary(lambda x, o, g: g / _cj(1 - x * x)),
    ps.erf: _unary(lambda x, o, g: g * _cj(_TWO_OVER_SQRT_PI * tm.exp(-(x * x)))),
    ps.erfc: _unary(lambda x, o, g: -g * _cj(_TWO_OVER_SQRT_PI * tm.exp(-(x * x)))),
    ps.erfinv: _unary(lambda x, o, g: g * _SQRT_PI_OVER_TWO * tm.exp(o * o)),
    ps.gamma: _unary(lambda x, o, g: g * _cj(o * tm.psi(x))),
    ps.gammaln: _unary(lambda x, o, g: g * tm.psi(x)),
    ps.psi: _unary(lambda x, o, g: g * tm.tri_gamma(x)),
    ps.tri_gamma: _unary(lambda x, o, g: g * tm.tetra_gamma(x)),
    ps.tetra_gamma: _no_third_derivative,
    ps.real: _g_real,
    ps.imag: _g_imag,
    ps.conj: _unary(lambda x, o, g: _cj(g)),
    ps.angle: _g_angle,
    ps.complex_: _g_complex,
}

#: rules of op classes whose instances differ by parameters: rule(op, inputs, outputs, grads)
CLASS_RULES: dict[type, Callable[..., list[Variable | None]]] = {
    ps.Cast: _g_cast,
    ps.Switch: _g_switch,
    Composite: _g_composite,
}


def grad_rule(scalar_op: ps.ScalarOp) -> Rule:
    """The gradient rule of `scalar_op`: the table's for the built-in ops, else the op's own
    (`ScalarOp.grad`, None per input when it was given none)."""
    rule = RULES.get(scalar_op)
    if rule is not None:
        return rule
    for_class = CLASS_RULES.get(type(scalar_op))
    if for_class is not None:
        return partial(for_class, scalar_op)
    return scalar_op.grad


def elemwise_grads(scalar_op: ps.ScalarOp, inputs: Sequence[Variable],
                   outputs: Sequence[Variable], output_grads: Sequence[Variable]
                   ) -> list[Variable | None]:
    """The gradient of an `Elemwise(scalar_op)` node: its rule's terms, each summed over the
    dimensions its input was broadcast along and cast to the input's dtype; integer inputs
    get None."""
    grads = grad_rule(scalar_op)(inputs, outputs, output_grads)
    out_bcast = outputs[0].broadcastable
    return [None if g is None or inp.dtype[0] not in "fc" else _fit(g, inp, out_bcast)
            for inp, g in zip(inputs, grads)]


def _fit(g: Variable, like: Variable, out_bcast: tuple[bool, ...]) -> Variable:
    """`g`, a term shaped like a result of pattern `out_bcast`, as the gradient of `like`:
    summed over the dimensions `like` is broadcast along, with its pattern and (float) dtype."""
    axes = [d for d, (ib, ob) in enumerate(zip(like.broadcastable, out_bcast)) if ib and not ob]
    if axes:
        g = tm.sum(g, axis=axes, keepdims=True)
    if g.broadcastable != like.broadcastable:
        g = Rebroadcast(like.broadcastable)(g)
    return grad_as(g, like.dtype) if like.dtype[0] in "fc" else g
