"""The fuzz table's extra ops (`tensor.extra_ops` and its neighbours), reductions with
`dtype=` / `acc_dtype=`, `argmax` over several axes, the lazy `ifelse` and the Ops that
change only the gradient (`zero_grad`, `grad_clip`, `disconnected_grad`).

The gradient-only Ops are the identity on values, so their NumPy oracle is the argument;
what they change is the gradient, which the checker compares across every configuration.
They are not `smooth`: finite differences see the value's derivative, not the modified one.
"""

from __future__ import annotations

from typing import Any

from theanine.testing.fuzz.domains import BOOL, FLOATS, INTS, NUMBERS, REAL, Code, OpSpec
from theanine.testing.fuzz.generate import Context, Skip

IFELSE = "from theanine.ifelse import ifelse"
# argmax over several axes: those axes moved last and flattened in C order, then argmax
ARG_MULTI = ("np.{kind}(np.moveaxis({0}, {axis}, {tail}).reshape("
             "tuple(np.delete(np.shape({0}), {axis})) + (-1,)), axis=-1)")


def _axis_sample(dtypes: tuple[str, ...], ndim: tuple[int, int] = (1, 3)):
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(dtypes, ndim)
        return [x], {"axis": int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))}
    return sample


def _roll_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL, (1, 3), min_size=1)
    shift = ctx.fresh(ctx.choice(INTS), (), domain="any")
    axis = None if ctx.chance(0.3) else int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))
    return [x, shift], {"axis": axis}


def _choose_index(ctx: Context, n: int) -> tuple[int, str]:
    """An integer index array for n choices (outside [0, n) only in the wrapping modes)."""
    mode = ctx.choice(["raise", "wrap", "clip"])
    shape = ctx.random_shape(int(ctx.rng.integers(0, 3)))
    idx = ctx.fresh(ctx.choice(("int8", "int32", "int64")), shape, domain="nonneg")
    hi = n if mode == "raise" else n + 3
    ctx.values[idx][...] = ctx.rng.integers(-3 if mode != "raise" else 0, hi, size=shape)
    return idx, mode


def _choose_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    idx, mode = _choose_index(ctx, 2)
    dtype = ctx.choice(NUMBERS)
    return [idx, ctx.partner(idx, (dtype,)), ctx.partner(idx, (dtype,))], {"mode": mode}


def _choose_tensor_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    n = int(ctx.rng.integers(1, 4))
    idx, mode = _choose_index(ctx, n)
    choices = ctx.fresh(ctx.choice(NUMBERS), (n, *ctx.shape(idx)))
    return [idx, choices], {"mode": mode}


def _ptp_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3), min_size=1)
    return [x], {"axis": None if ctx.chance(0.3) else int(ctx.rng.integers(ctx.ndim(x)))}


def _cov_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2), min_size=1)
    params = {"rowvar": ctx.chance(0.6), "bias": ctx.chance(0.3)}
    if ctx.shape(x)[-1 if params["rowvar"] or ctx.ndim(x) == 1 else 0] < 2 and \
            not params["bias"]:
        raise Skip  # ddof 1 over a single observation divides by zero
    return [x], params


def _diff_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3))
    return [x], {"n": int(ctx.rng.integers(0, 3)),
                 "axis": int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))}


def _fill_diagonal_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (2, 2))
    val = ctx.fresh(ctx.dtype(x), ())
    return [x, val], {}


def _one_hot_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    n = int(ctx.rng.integers(1, 5))
    y = ctx.fresh(ctx.choice(INTS), ctx.random_shape(1), domain="nonneg")
    ctx.values[y][...] = ctx.rng.integers(0, n, size=ctx.shape(y))
    return [y], {"n": n, "dtype": ctx.choice([None, "float64", "int32", "int8"])}


def _bincount_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.fresh(ctx.choice(INTS), ctx.random_shape(1), domain="nonneg")
    return [x], {"minlength": ctx.choice([None, 0, 3, 6])}


def _bincount_weights_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    # its own sampler: sharing bincount's, which drew the weights half the time, built the
    # two-argument expression from one argument in every other try
    (x,), params = _bincount_sample(ctx)
    return [x, ctx.fresh(ctx.choice(FLOATS), ctx.shape(x))], params


def _repeat_vector_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    axis = int(ctx.rng.integers(ctx.ndim(x)))
    reps = ctx.fresh(ctx.choice(INTS), (ctx.shape(x)[axis],), domain="nonneg")
    ctx.values[reps][...] = ctx.rng.integers(0, 3, size=ctx.shape(reps))
    return [x, reps], {"axis": axis}


def _repeat_scalar_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    reps = ctx.fresh(ctx.choice(INTS), (), domain="nonneg")
    ctx.values[reps][...] = ctx.rng.integers(0, 3)
    return [x, reps], {"axis": None if ctx.chance(0.3) else int(ctx.rng.integers(ctx.ndim(x)))}


def _specify_shape_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL, (0, 3))
    shape = list(ctx.shape(x))
    if shape and ctx.chance(0.1):  # a wrong promise must raise when the function runs
        shape[int(ctx.rng.integers(len(shape)))] += 1
        ctx.bad = True
    return [x], {"shape": tuple(shape)}


def _tile_symbolic_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    reps = [ctx.fresh(ctx.choice(("int32", "int64")), (), domain="nonneg") for _ in "ab"]
    for r in reps:
        ctx.values[r][...] = ctx.rng.integers(0, 3)
    return [x, *reps], {}


def _multi_axes(ctx: Context, x: int) -> tuple[int, ...]:
    nd = ctx.ndim(x)
    k = int(ctx.rng.integers(2, nd + 1))
    return tuple(sorted(int(a) for a in ctx.rng.choice(nd, size=k, replace=False)))


def _arg_multi_sampler(kind: str):
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(REAL, (2, 3), min_size=1)
        axis = _multi_axes(ctx, x)
        return [x], {"axis": axis, "kind": Code(kind), "tail": tuple(range(-len(axis), 0))}
    return sample


def _max_and_argmax_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL, (1, 3), min_size=1)
    r = ctx.rng.random()
    axis: Any = None if r < 0.3 else (int(ctx.rng.integers(ctx.ndim(x))) if r < 0.7
                                      else list(_multi_axes(ctx, x)) if ctx.ndim(x) > 1
                                      else 0)
    return [x], {"axis": axis, "k": int(ctx.rng.integers(2)), "keepdims": ctx.chance(0.3)}


def _acc_sampler(kind: str):
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(NUMBERS, (0, 3))
        axis = None if ctx.ndim(x) == 0 or ctx.chance(0.3) else int(
            ctx.rng.integers(ctx.ndim(x)))
        outs = ["float64", "float32", None] + (["int64"] if kind != "mean" else [])
        return [x], {"axis": axis, "dtype": ctx.choice(outs),
                     "acc": ctx.choice([None, "float64", "float32", "int64"])}
    return sample


def _ifelse_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    then = ctx.pick(NUMBERS, (0, 2))
    same = [j for j in range(len(ctx.vars))
            if j != then and ctx.vars[j].type == ctx.vars[then].type]
    if same and ctx.chance(0.5):
        other = ctx.choice(same)  # of the same type, perhaps of another shape
    else:
        other = ctx.fresh(ctx.dtype(then), ctx.shape(then), ctx.bcast(then))
    cond = ctx.pick(REAL, (0, 0), fresh=0.7)
    return [cond, then, other], {}


def _clip_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(FLOATS, (0, 3))
    lo = float(ctx.choice([-1.0, -0.5, 0.0]))
    return [x], {"lo": lo, "hi": lo + float(ctx.choice([0.5, 1.0, 2.0]))}


def _flatten_outdim_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL + BOOL, (1, 3))
    return [x], {"ndim": int(ctx.rng.integers(1, ctx.ndim(x) + 1))}


def _searchsorted_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL, (1, 1))
    return [x, ctx.pick(REAL, (0, 2))], {"side": ctx.choice(["left", "right"])}


def _nonzero_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(REAL, (1, 3))
    return [x], {"k": int(ctx.rng.integers(ctx.ndim(x)))}


def _diagonal_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (2, 3))
    a1, a2 = (int(a) for a in ctx.rng.choice(ctx.ndim(x), size=2, replace=False))
    return [x], {"offset": int(ctx.rng.integers(-2, 3)), "a1": a1, "a2": a2}


def extra_specs() -> list[OpSpec]:
    nd = {"smooth": False}
    no_grad = {"differentiable": False, "smooth": False}
    return [
        OpSpec("roll", "T.roll({0}, {1}, axis={axis})", 2, REAL, sample=_roll_sample,
               numpy="np.roll({0}, {1}, axis={axis})", weight=0.6),
        OpSpec("choose", "T.choose({0}, [{1}, {2}], mode={mode})", 3, NUMBERS,
               sample=_choose_sample, numpy="np.choose({0}, [{1}, {2}], mode={mode})",
               weight=0.3, **nd),
        OpSpec("choose_tensor", "T.choose({0}, {1}, mode={mode})", 2, NUMBERS,
               sample=_choose_tensor_sample, numpy="np.choose({0}, {1}, mode={mode})",
               weight=0.3, **nd),
        OpSpec("ptp", "T.ptp({0}, axis={axis})", dtypes=NUMBERS, sample=_ptp_sample,
               numpy="np.ptp({0}, axis={axis})", weight=0.4, **nd),
        OpSpec("cov", "T.cov({0}, rowvar={rowvar}, bias={bias})", dtypes=NUMBERS,
               sample=_cov_sample, weight=0.4),
        OpSpec("diff", "T.diff({0}, n={n}, axis={axis})", dtypes=NUMBERS, sample=_diff_sample,
               numpy="np.diff({0}, n={n}, axis={axis})", weight=0.5),
        OpSpec("fill_diagonal", "T.fill_diagonal({0}, {1})", 2, NUMBERS,
               sample=_fill_diagonal_sample, weight=0.4, **nd),
        OpSpec("to_one_hot", "T.extra_ops.to_one_hot({0}, {n}, dtype={dtype})", dtypes=INTS,
               sample=_one_hot_sample, weight=0.3, **no_grad),
        OpSpec("bincount", "T.bincount({0}, minlength={minlength})", dtypes=INTS,
               sample=_bincount_sample, weight=0.3, **no_grad,
               numpy="np.bincount({0}, minlength={minlength} or 0)"),
        OpSpec("bincount_weights", "T.bincount({0}, {1}, minlength={minlength})", 2,
               INTS + FLOATS, sample=_bincount_weights_sample, weight=0.3),
        OpSpec("repeat_vector", "T.repeat({0}, {1}, axis={axis})", 2, NUMBERS,
               sample=_repeat_vector_sample, numpy="np.repeat({0}, {1}, axis={axis})",
               weight=0.4),
        OpSpec("repeat_symbolic", "T.repeat({0}, {1}, axis={axis})", 2, NUMBERS,
               sample=_repeat_scalar_sample, numpy="np.repeat({0}, {1}, axis={axis})",
               weight=0.3),
        OpSpec("specify_shape", "T.specify_shape({0}, {shape})", dtypes=REAL,
               sample=_specify_shape_sample, numpy="{0}", weight=0.4),
        OpSpec("tile_symbolic", "T.tile({0}, [{1}, {2}])", 3, NUMBERS,
               sample=_tile_symbolic_sample, numpy="np.tile({0}, [{1}, {2}])", weight=0.4),
        OpSpec("argmax_axes", "T.argmax({0}, axis={axis})", dtypes=REAL,
               sample=_arg_multi_sampler("argmax"), numpy=ARG_MULTI, weight=0.3, **no_grad),
        OpSpec("argmin_axes", "T.argmin({0}, axis={axis})", dtypes=REAL,
               sample=_arg_multi_sampler("argmin"), numpy=ARG_MULTI, weight=0.3, **no_grad),
        OpSpec("max_and_argmax", "T.max_and_argmax({0}, axis={axis}, keepdims={keepdims})[{k}]",
               dtypes=REAL, sample=_max_and_argmax_sample, weight=0.4, **nd),
        OpSpec("sum_dtype", "T.sum({0}, axis={axis}, dtype={dtype}, acc_dtype={acc})",
               dtypes=NUMBERS, sample=_acc_sampler("sum"), weight=0.4),
        OpSpec("prod_dtype", "T.prod({0}, axis={axis}, dtype={dtype}, acc_dtype={acc})",
               dtypes=NUMBERS, sample=_acc_sampler("prod"), weight=0.3),
        OpSpec("mean_dtype", "T.mean({0}, axis={axis}, dtype={dtype}, acc_dtype={acc})",
               dtypes=NUMBERS, sample=_acc_sampler("mean"), weight=0.3),
        OpSpec("xlogx", "T.xlogx.xlogx({0})", dtypes=FLOATS, domain="nonneg", weight=0.4,
               **nd),
        OpSpec("xlogy0", "T.xlogx.xlogy0({0}, {1})", 2, FLOATS, domain="nonneg", weight=0.3,
               **nd),
        OpSpec("flatten_outdim", "T.flatten({0}, outdim={ndim})",
               sample=_flatten_outdim_sample, weight=0.3),
        OpSpec("ifelse", "ifelse({0}, {1}, {2})", 3, REAL, sample=_ifelse_sample,
               imports=(IFELSE,), weight=0.6, **nd),
        OpSpec("searchsorted", "T.extra_ops.searchsorted(T.sort({0}), {1}, side={side})", 2,
               REAL, sample=_searchsorted_sample, weight=0.3, **no_grad,
               numpy="np.searchsorted(np.sort({0}), {1}, side={side})"),
        OpSpec("nonzero", "T.nonzero({0})[{k}]", dtypes=REAL, sample=_nonzero_sample,
               numpy="np.nonzero({0})[{k}]", weight=0.3, **no_grad),
        OpSpec("flatnonzero", "T.flatnonzero({0})", dtypes=REAL, ndim=(1, 3),
               numpy="np.flatnonzero({0})", weight=0.2, **no_grad),
        OpSpec("nonzero_values", "T.nonzero_values({0})", dtypes=REAL, ndim=(1, 3),
               numpy="{0}[np.nonzero({0})]", weight=0.3, **nd),
        OpSpec("diagonal", "T.diagonal({0}, {offset}, {a1}, {a2})", dtypes=NUMBERS,
               sample=_diagonal_sample, numpy="np.diagonal({0}, {offset}, {a1}, {a2})",
               weight=0.4),
        OpSpec("zero_grad", "theano.gradient.zero_grad({0})", dtypes=FLOATS, numpy="{0}",
               weight=0.3, **nd),
        OpSpec("disconnected_grad", "theano.gradient.disconnected_grad({0})", dtypes=FLOATS,
               numpy="{0}", weight=0.3, **nd),
        OpSpec("grad_clip", "theano.gradient.grad_clip({0}, {lo}, {hi})", dtypes=FLOATS,
               sample=_clip_sample, numpy="{0}", weight=0.3, **nd),
    ]

