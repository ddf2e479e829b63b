"""The fuzz table's structured part: reductions, products, indexing, joins, shape ops,
softmax and cross-entropies, cumulative ops, sort and diagonals (more nnet, linear algebra and
extra ops: ops_nnet, ops_linalg, ops_extra).  Each sampler sizes its further arguments from
the real shape of the first one, so the graphs it builds are valid (or deliberately not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.testing.fuzz.domains import ALL, FLOATS, INTS, NUMBERS, REAL, Code, OpSpec
from theanine.testing.fuzz.generate import Context, Skip

Sample = Callable[[Context], tuple[list[int], dict[str, Any]]]


# Reductions -------------------------------------------------------------------------------
def _axes(ctx: Context, ndim: int, multi: bool = True) -> Any:
    r = ctx.rng.random()
    if ndim == 0 or r < 0.25:
        return None
    if r < 0.65 or not multi:
        d = int(ctx.rng.integers(ndim))
        return d - ndim if ctx.chance(0.3) else d
    k = int(ctx.rng.integers(1, ndim + 1))
    return tuple(sorted(int(a) for a in ctx.rng.choice(ndim, size=k, replace=False)))


def _reduce_sampler(dtypes: tuple[str, ...], multi: bool = True) -> Sample:
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(dtypes)
        return [x], {"axis": _axes(ctx, ctx.ndim(x), multi), "keepdims": ctx.chance(0.3)}
    return sample


def _reduce(name: str, dtypes: tuple[str, ...], multi: bool = True, smooth: bool = True,
            diff: bool = True, numpy: str | None = None) -> OpSpec:
    return OpSpec(name, f"T.{name}({{0}}, axis={{axis}}, keepdims={{keepdims}})",
                  dtypes=dtypes, sample=_reduce_sampler(dtypes, multi), smooth=smooth,
                  differentiable=diff,
                  numpy=numpy and f"np.{numpy}({{0}}, axis={{axis}}, keepdims={{keepdims}})")


# Products ---------------------------------------------------------------------------------
def _other(ctx: Context, x: int, shape: tuple[int, ...], dtypes: tuple[str, ...] = NUMBERS
           ) -> int:
    same = [j for j in range(len(ctx.vars)) if j != x and ctx.shape(j) == shape
            and ctx.dtype(j) in dtypes and not any(ctx.bcast(j))]
    if same and ctx.chance(0.3):
        return ctx.choice(same)
    dtype = ctx.dtype(x) if ctx.chance(0.7) and ctx.dtype(x) in dtypes else ctx.choice(dtypes)
    return ctx.fresh(dtype, shape)


def _dot_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    n = ctx.shape(x)[-1]
    shape = (n,) if ctx.chance(0.3) else (n, int(ctx.rng.integers(0, 4)))
    return [x, _other(ctx, x, shape)], {}


def _matmul_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3))
    if ctx.ndim(x) == 3 and 0 in ctx.shape(x) and not ctx.allows("matmul_empty_batch"):
        raise Skip
    n = ctx.shape(x)[-1]
    shape = (n,) if ctx.chance(0.3) else (n, int(ctx.rng.integers(1, 4)))
    return [x, _other(ctx, x, shape)], {}


def _tensordot_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3))
    k = int(ctx.rng.integers(0, min(ctx.ndim(x), 2) + 1))
    tail = ctx.shape(x)[ctx.ndim(x) - k:]
    extra = ctx.random_shape(int(ctx.rng.integers(0, 2)))
    return [x, _other(ctx, x, tuple(tail) + extra)], {"axes": k}


def _batched_dot_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (2, 3))
    shp = ctx.shape(x)
    other = (shp[0], shp[-1]) if ctx.chance(0.4) else (shp[0], shp[-1], 2)
    return [x, _other(ctx, x, other)], {}


def _outer_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 1))
    return [x, _other(ctx, x, ctx.random_shape(1))], {}


def _gemm_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(("float32", "float64"), (2, 2))
    (m, n), p = ctx.shape(x), int(ctx.rng.integers(1, 4))
    y = _other(ctx, x, (n, p), (ctx.dtype(x),))
    z = _other(ctx, x, (m, p), (ctx.dtype(x),))
    return [x, z, y], {"a": ctx.choice([1.0, -1.0, 0.5]), "b": ctx.choice([1.0, 2.0, -1.0])}


# Indexing ---------------------------------------------------------------------------------
def _index(ctx: Context, shape: tuple[int, ...], arrays: bool, repeat: bool = True
           ) -> tuple[str, tuple]:
    """Index code for a value of `shape` and the same index as a Python object."""
    parts: list[str] = []
    n_adv = first_len = 0
    for s in shape:
        r = ctx.rng.random()
        adjacent_only = not ctx.allows("adv_index_transposed")
        if r < 0.25 and s > 0 and not (adjacent_only and n_adv):
            parts.append(str(int(ctx.rng.integers(-s, s))))
        elif r < 0.45 and s > 0 and arrays and not (adjacent_only and n_adv):
            k = int(ctx.rng.integers(1, 4))
            if n_adv and not ctx.allows("adv_index_broadcast"):
                k = first_len  # index arrays of equal lengths only
            first_len = first_len or k
            idx = [int(i) for i in ctx.rng.integers(-s, s, size=k)]
            if not repeat:
                idx = list(dict.fromkeys(i % s for i in idx))
            parts.append(repr(idx))
            n_adv += 1
        elif r < 0.85:
            start = ctx.choice([None, None, int(ctx.rng.integers(-s - 1, s + 2))])
            stop = ctx.choice([None, None, int(ctx.rng.integers(-s - 1, s + 2))])
            step = ctx.choice([None, None, 1, 2, -1, -2])
            parts.append(":".join("" if v is None else str(v) for v in (start, stop, step)))
        else:
            parts.append(":")
    if adjacent_only and n_adv and any(p.lstrip("-").isdigit() for p in parts):
        parts = [":" if p.lstrip("-").isdigit() else p for p in parts]
    if parts and ctx.chance(0.2):  # an Ellipsis in place of the trailing full dimensions
        while parts and parts[-1] == ":":
            parts.pop()
        parts.append("...")
    if ctx.chance(0.2) and (not n_adv or ctx.allows("adv_index_transposed")):
        parts.insert(int(ctx.rng.integers(len(parts) + 1)), "None")
    code = ", ".join(parts) if parts else "..."
    return code, eval(f"np.s_[{code}]", {"np": np})  # noqa: S307


def _subtensor_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (1, 3))
    code, _ = _index(ctx, ctx.shape(x), arrays=ctx.chance(0.5))
    return [x], {"idx": Code(code)}


def _inc_sampler(set_: bool) -> Sample:
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(NUMBERS, (1, 3))
        repeat = not set_ or ctx.allows("grad_set_subtensor_repeated")
        code, idx = _index(ctx, ctx.shape(x), arrays=ctx.chance(0.6), repeat=repeat)
        try:
            target = np.shape(ctx.values[x][idx])
        except IndexError:
            raise Skip from None
        if ctx.chance(0.25):
            y = ctx.fresh(ctx.dtype(x), ())
        else:
            y = ctx.fresh(ctx.dtype(x), target)
        return [x, y], {"idx": Code(code)}
    return sample


def _take_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3), min_size=1)
    axis = None if ctx.chance(0.3) else int(ctx.rng.integers(ctx.ndim(x)))
    size = ctx.values[x].size if axis is None else ctx.shape(x)[axis]
    idx = [int(i) for i in ctx.rng.integers(-size, size, size=int(ctx.rng.integers(1, 4)))]
    return [x], {"indices": idx, "axis": axis}


# Joins and shapes -------------------------------------------------------------------------
def _join_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 3))
    axis = int(ctx.rng.integers(ctx.ndim(x)))
    shape = list(ctx.shape(x))
    shape[axis] = int(ctx.rng.integers(0, 4))
    return [x, _other(ctx, x, tuple(shape))], {"axis": axis - ctx.ndim(x) * ctx.chance(0.3)}


def _stack_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (0, 2))
    return [x, _other(ctx, x, ctx.shape(x))], {"axis": int(ctx.rng.integers(ctx.ndim(x) + 1))}


def _reshape_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (0, 3))
    shape = list(ctx.shape(x))
    r = ctx.rng.random()
    if r < 0.3:
        new = [int(np.prod(shape))]
    elif r < 0.5:
        new = shape[::-1]
    elif r < 0.7 and len(shape) >= 2:
        new = [shape[0] * shape[1]] + shape[2:]
    else:
        new = shape[:]
        new.insert(int(ctx.rng.integers(len(new) + 1)), 1)
    if new and ctx.chance(0.3) and 0 not in new:
        new[int(ctx.rng.integers(len(new)))] = -1
    return [x], {"shape": tuple(new)}


def _dimshuffle_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (0, 3))
    keep = [d for d, b in enumerate(ctx.bcast(x)) if not b or ctx.chance(0.5)]
    pattern: list[Any] = [int(d) for d in ctx.rng.permutation(keep)]
    for _ in range(int(ctx.rng.integers(0, 2))):
        pattern.insert(int(ctx.rng.integers(len(pattern) + 1)), "x")
    return [x], {"pattern": tuple(pattern)}


def _axis_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (1, 3))
    return [x], {"axis": int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))}


def _axis_or_none_sample(dtypes: tuple[str, ...]) -> Sample:
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        x = ctx.pick(dtypes, (1, 3))
        return [x], {"axis": None if ctx.chance(0.25) else
                     int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))}
    return sample


def _swap_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (2, 3))
    a, b = ctx.rng.choice(ctx.ndim(x), size=2, replace=False)
    return [x], {"a": int(a), "b": int(b)}


def _flatten_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (1, 3))
    return [x], {"ndim": int(ctx.rng.integers(1, ctx.ndim(x) + 1))}


def _tile_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    return [x], {"reps": tuple(int(r) for r in ctx.rng.integers(1, 3, size=ctx.ndim(x)))}


def _repeat_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    return [x], {"r": int(ctx.rng.integers(0, 3)),
                 "axis": None if ctx.chance(0.3) else int(ctx.rng.integers(ctx.ndim(x)))}


def _split_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2), min_size=1)
    axis = int(ctx.rng.integers(ctx.ndim(x)))
    n = ctx.shape(x)[axis]
    cut = int(ctx.rng.integers(0, n + 1))
    return [x], {"sizes": [cut, n - cut], "axis": axis, "k": int(ctx.rng.integers(2))}


def _alloc_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL, (0, 0))
    return [x], {"shape": ctx.random_shape(int(ctx.rng.integers(1, 3)))}


def _arange_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    n = ctx.fresh(ctx.choice(("int32", "int64")), (), domain="nonneg")
    return [n], {}


# nnet, linalg -----------------------------------------------------------------------------
def _prob_pair(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    out = ctx.pick(FLOATS, (1, 2), domain="prob", fresh=0.6)
    return [out, ctx.fresh(ctx.dtype(out), ctx.shape(out), domain="prob")], {}


def _logit_pair(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    out = ctx.pick(FLOATS, (1, 2))
    return [out, ctx.fresh(ctx.dtype(out), ctx.shape(out), domain="prob")], {}


def _categorical_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    rows, cols = ctx.random_shape(1)[0], int(ctx.rng.integers(1, 4))
    coding = ctx.fresh(ctx.choice(("float32", "float64")), (rows, cols), domain="prob")
    if ctx.chance(0.5):
        labels = ctx.fresh("int64", (rows,), domain="nonneg")
        ctx.values[labels][...] = ctx.rng.integers(0, cols, size=rows)
        return [coding, labels], {}
    return [coding, ctx.fresh(ctx.dtype(coding), (rows, cols), domain="prob")], {}


def _softmax_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(FLOATS, (1, 3))
    return [x], {"axis": int(ctx.rng.integers(-ctx.ndim(x), ctx.ndim(x)))}


def _matrix_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [ctx.pick(NUMBERS, (2, 2))], {}


def _vector_or_matrix(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [ctx.pick(NUMBERS, (1, 2))], {}


def _cost_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    raise Skip  # costs are added by the gradient builder only


def tensor_specs() -> list[OpSpec]:
    F = FLOATS
    nd = {"smooth": False}
    return [
        _reduce("sum", ALL, numpy="sum"), _reduce("prod", NUMBERS, numpy="prod"),
        _reduce("mean", NUMBERS, numpy="mean"),
        _reduce("max", REAL, smooth=False, numpy="max"),
        _reduce("min", REAL, smooth=False, numpy="min"),
        _reduce("all", REAL, diff=False, smooth=False, numpy="all"),
        _reduce("any", REAL, diff=False, smooth=False, numpy="any"),
        _reduce("var", F, numpy="var"), _reduce("std", F, smooth=False, numpy="std"),
        _reduce("logsumexp", F),
        _reduce("argmax", REAL, multi=False, diff=False, smooth=False, numpy="argmax"),
        _reduce("argmin", REAL, multi=False, diff=False, smooth=False, numpy="argmin"),
        OpSpec("dot", "T.dot({0}, {1})", 2, NUMBERS, sample=_dot_sample, numpy='np.dot({0}, {1})'),
        OpSpec("matmul", "T.matmul({0}, {1})", 2, NUMBERS, sample=_matmul_sample,
               numpy='np.matmul({0}, {1})'),
        OpSpec("matmul_op", "{0} @ {1}", 2, NUMBERS, sample=_matmul_sample,
               numpy='np.matmul({0}, {1})'),
        OpSpec("tensordot", "T.tensordot({0}, {1}, axes={axes})", 2, NUMBERS,
               sample=_tensordot_sample, numpy='np.tensordot({0}, {1}, axes={axes})'),
        OpSpec("batched_dot", "T.batched_dot({0}, {1})", 2, NUMBERS,
               sample=_batched_dot_sample),
        OpSpec("outer", "T.outer({0}, {1})", 2, NUMBERS, sample=_outer_sample,
               numpy='np.outer({0}, {1})'),
        OpSpec("gemm_shaped", "{b} * {1} + {a} * T.dot({0}, {2})", 3, F, sample=_gemm_sample),
        OpSpec("subtensor", "{0}[{idx}]", sample=_subtensor_sample, weight=2, **nd,
               numpy='{0}[{idx}]'),
        OpSpec("set_subtensor", "T.set_subtensor({0}[{idx}], {1})", 2, NUMBERS,
               sample=_inc_sampler(True), weight=1.5, **nd),
        OpSpec("inc_subtensor", "T.inc_subtensor({0}[{idx}], {1})", 2, NUMBERS,
               sample=_inc_sampler(False), weight=1.5),
        OpSpec("take", "T.take({0}, {indices}, axis={axis})", sample=_take_sample,
               numpy='np.take({0}, {indices}, axis={axis})'),
        OpSpec("concatenate", "T.concatenate([{0}, {1}], axis={axis})", 2,
               sample=_join_sample, numpy='np.concatenate([{0}, {1}], axis={axis})'),
        OpSpec("join", "T.join({axis}, {0}, {1})", 2, sample=_join_sample),
        OpSpec("stack", "T.stack([{0}, {1}], axis={axis})", 2, sample=_stack_sample,
               numpy='np.stack([{0}, {1}], axis={axis})'),
        OpSpec("reshape", "T.reshape({0}, {shape})", sample=_reshape_sample,
               numpy='np.reshape({0}, {shape})'),
        OpSpec("flatten", "T.flatten({0}, {ndim})", sample=_flatten_sample),
        OpSpec("dimshuffle", "{0}.dimshuffle({pattern})", sample=_dimshuffle_sample),
        OpSpec("transpose", "T.transpose({0})", dtypes=ALL, ndim=(0, 3), numpy='np.transpose({0})'),
        OpSpec("swapaxes", "T.swapaxes({0}, {a}, {b})", sample=_swap_sample,
               numpy='np.swapaxes({0}, {a}, {b})'),
        OpSpec("squeeze", "T.squeeze({0})", dtypes=ALL),
        OpSpec("expand_dims", "T.expand_dims({0}, {axis})", sample=_axis_sample),
        OpSpec("shape_padleft", "T.shape_padleft({0})", dtypes=ALL),
        OpSpec("tile", "T.tile({0}, {reps})", sample=_tile_sample, numpy='np.tile({0}, {reps})'),
        OpSpec("repeat", "T.repeat({0}, {r}, axis={axis})", sample=_repeat_sample,
               numpy='np.repeat({0}, {r}, axis={axis})'),
        OpSpec("split", "T.split({0}, {sizes}, 2, axis={axis})[{k}]", sample=_split_sample),
        OpSpec("shape", "T.cast(T.shape({0}), 'int32')", dtypes=ALL, differentiable=False,
               weight=0.3),
        OpSpec("alloc", "T.alloc({0}, *{shape})", sample=_alloc_sample),
        OpSpec("zeros_like", "T.zeros_like({0})", dtypes=ALL, weight=0.3),
        OpSpec("ones_like", "T.ones_like({0})", dtypes=ALL, weight=0.3),
        OpSpec("arange", "T.arange({0})", dtypes=INTS, sample=_arange_sample, weight=0.3),
        OpSpec("softmax", "T.nnet.softmax({0}, axis={axis})", dtypes=F,
               sample=_softmax_sample),
        OpSpec("log_softmax", "T.nnet.log_softmax({0}, axis={axis})", dtypes=F,
               sample=_softmax_sample),
        OpSpec("binary_crossentropy", "T.nnet.binary_crossentropy({0}, {1})", 2, F,
               sample=_prob_pair),
        OpSpec("sigmoid_binary_crossentropy", "T.nnet.sigmoid_binary_crossentropy({0}, {1})",
               2, F, sample=_logit_pair),
        OpSpec("categorical_crossentropy", "T.nnet.categorical_crossentropy({0}, {1})", 2, F,
               sample=_categorical_sample),
        OpSpec("elu", "T.nnet.elu({0})", dtypes=F, smooth=False),
        OpSpec("hard_sigmoid", "T.nnet.hard_sigmoid({0})", dtypes=F, smooth=False),
        OpSpec("cumsum", "T.cumsum({0}, axis={axis})", sample=_axis_or_none_sample(NUMBERS),
               numpy='np.cumsum({0}, axis={axis})'),
        OpSpec("cumprod", "T.cumprod({0}, axis={axis})",
               sample=_axis_or_none_sample(NUMBERS), numpy='np.cumprod({0}, axis={axis})'),
        OpSpec("sort", "T.sort({0}, axis={axis})", sample=_axis_or_none_sample(REAL), **nd,
               numpy='np.sort({0}, axis={axis})'),
        OpSpec("argsort", "T.argsort({0}, axis={axis})", sample=_axis_or_none_sample(REAL),
               differentiable=False, **nd, numpy="np.argsort({0}, axis={axis})"),
        OpSpec("diag", "T.diag({0})", sample=_vector_or_matrix, weight=0.5, numpy='np.diag({0})'),
        OpSpec("trace", "T.trace({0})", sample=_matrix_sample, weight=0.5, numpy='np.trace({0})'),
        OpSpec("cost_sum", "T.sum({0})", dtypes=F, sample=_cost_sample, weight=0),
        OpSpec("cost_sqr", "T.sum(T.sqr({0}))", dtypes=F, sample=_cost_sample, weight=0),
    ]

