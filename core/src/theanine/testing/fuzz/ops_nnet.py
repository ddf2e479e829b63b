"""The fuzz table's neural-network part: convolutions and their gradient Ops, pooling,
neighbourhoods, batch normalization, the newer activations and the fused cross-entropies.

Spatial sizes stay small (at most 5 x 5 images, 3 x 3 windows) so a graph runs in
milliseconds on the reference's NumPy loops; each sampler sizes its inputs so the Op accepts
them (a deliberately invalid geometry would only test the error path, which the generator
exercises elsewhere).
"""

from __future__ import annotations

from typing import Any

from theanine.testing.fuzz.domains import OpSpec
from theanine.testing.fuzz.generate import Context, Skip

F = ("float32", "float64")  # conv and pooling in float16 would only test rounding
POOL = "from theanine.tensor.signal import pool"
POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


# Convolution ------------------------------------------------------------------------------
def _conv_out(size: int, k: int, mode: Any, s: int, d: int) -> int:
    """The output extent of one axis, written from the definition (not the library's)."""
    dk = (k - 1) * d + 1
    pad = {"valid": 0, "full": dk - 1, "half": dk // 2}.get(mode, mode)
    return (size + 2 * pad - dk) // s + 1


def _conv_input(ctx: Context) -> int | None:
    """Now and then an earlier 4-d float result (conv chains, pooled maps), else None."""
    earlier = [i for i in range(len(ctx.vars)) if ctx.dtype(i) in F and ctx.ndim(i) == 4
               and 0 < min(ctx.shape(i)) and max(ctx.shape(i)[2:]) <= 6]
    return ctx.choice(earlier) if earlier and ctx.chance(0.5) else None


def _conv_geometry(ctx: Context, x: int | None) -> dict[str, Any]:
    channels = None if x is None else ctx.shape(x)[1]
    groups = ctx.choice([1, 1, 1, 2])
    if channels is not None and channels % groups:
        groups = 1
    mode: Any = ctx.choice(["valid", "full", "half", 1, (0, 1), (2, 1)])
    sub = ctx.choice([(1, 1), (1, 1), (2, 1), (2, 2)])
    dil = ctx.choice([(1, 1), (1, 1), (2, 1), (2, 2)])
    kshp = tuple(int(k) for k in ctx.rng.integers(1, 4, size=2))
    img = (tuple(int(s) for s in ctx.rng.integers(2, 6, size=2)) if x is None
           else ctx.shape(x)[2:])
    pads = mode if isinstance(mode, tuple) else (mode, mode)
    out = tuple(_conv_out(i, k, p, s, d)
                for i, k, p, s, d in zip(img, kshp, pads, sub, dil))
    if min(out) < 1:
        raise Skip
    return {"groups": groups, "mode": mode, "sub": sub, "dil": dil, "kshp": kshp, "img": img,
            "out": out, "flip": ctx.chance(0.7)}


def _conv_args(ctx: Context, g: dict[str, Any], x: int | None) -> tuple[int, int, int]:
    """(input, filters) of the geometry `g` (the input `x` or a fresh one), and the number
    of filters."""
    if x is None:
        batch, cpg = int(ctx.rng.integers(1, 3)), int(ctx.rng.integers(1, 3))
        x = ctx.fresh(ctx.choice(F), (batch, cpg * g["groups"], *g["img"]), domain="small")
    cpg = ctx.shape(x)[1] // g["groups"]
    nf = g["groups"] * int(ctx.rng.integers(1, 3))
    dtype = ctx.dtype(x) if ctx.chance(0.8) else ctx.choice(F)
    w = ctx.fresh(dtype, (nf, cpg, *g["kshp"]), domain="small")
    return x, w, nf


def _conv_params(g: dict[str, Any]) -> dict[str, Any]:
    return {"mode": g["mode"], "sub": g["sub"], "dil": g["dil"], "groups": g["groups"],
            "flip": g["flip"]}


def _conv_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = _conv_input(ctx)
    g = _conv_geometry(ctx, x)
    x, w, _ = _conv_args(ctx, g, x)
    return [x, w], _conv_params(g)


def _conv_grad_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    """The gradient Ops, reached through `grad` of <conv(x, w), gz> for a fresh gz."""
    x = _conv_input(ctx)
    g = _conv_geometry(ctx, x)
    x, w, nf = _conv_args(ctx, g, x)
    gz = ctx.fresh(ctx.dtype(x), (ctx.shape(x)[0], nf, *g["out"]), domain="small")
    return [x, w, gz], {**_conv_params(g), "wrt": ctx.choice([0, 1])}


CONV = ("T.nnet.conv2d({0}, {1}, border_mode={mode}, subsample={sub}, filter_flip={flip}, "
        "filter_dilation={dil}, num_groups={groups})")


# Pooling and neighbourhoods ---------------------------------------------------------------
def _pool_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(F, (2, 4), min_size=1)
    if max(ctx.shape(x)[-2:]) > 6:
        raise Skip
    ws = tuple(int(w) for w in ctx.rng.integers(1, 4, size=2))
    ignore = ctx.chance(0.5)
    stride = None if ctx.chance(0.4) else tuple(int(s) for s in ctx.rng.integers(1, 4, size=2))
    pad = (0, 0)
    if ignore and ctx.chance(0.4):
        pad = tuple(int(ctx.rng.integers(0, w)) for w in ws)
    return [x], {"ws": ws, "ignore": ignore, "stride": stride, "pad": pad,
                 "mode": ctx.choice(POOL_MODES)}


def _neibs_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    mode = ctx.choice(["valid", "ignore_borders", "wrap_centered", "half", "full"])
    shape = tuple(int(n) for n in ctx.rng.integers(1, 4, size=2))
    if mode == "wrap_centered":
        shape = tuple(n | 1 for n in shape)  # odd patches only
    step = None if ctx.chance(0.5) else tuple(int(s) for s in ctx.rng.integers(1, 3, size=2))
    st = step or shape
    if mode == "valid":  # the patches must tile the image exactly
        img = tuple(n + s * int(ctx.rng.integers(0, 3)) for n, s in zip(shape, st))
    else:
        img = tuple(int(s) for s in ctx.rng.integers(max(shape), 6, size=2))
    batch = tuple(int(s) for s in ctx.rng.integers(1, 3, size=2))
    x = ctx.fresh(ctx.choice(F), batch + img)
    return [x], {"shape": shape, "step": step, "mode": mode}


# Normalization, activations, cross-entropies ---------------------------------------------
def _bn_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(F, (1, 3))
    gamma, beta, mean = (ctx.partner(x, (ctx.dtype(x),)) for _ in range(3))
    bc = [ctx.chance(0.4) for _ in ctx.shape(x)]  # fresh: a partner may be an earlier result
    std = ctx.fresh(ctx.dtype(x), [1 if b else s for b, s in zip(bc, ctx.shape(x))], bc,
                    domain="positive")
    return [x, gamma, beta, mean, std], {"mode": ctx.choice(["low_mem", "high_mem"])}


def _bn_geometry(ctx: Context) -> tuple[int, Any, tuple[int, ...]]:
    """(inputs, axes, the shape of one statistic per non-normalized axis)."""
    x = ctx.pick(F, (2, 4), min_size=1)
    nd = ctx.ndim(x)
    r = ctx.rng.random()
    if r < 0.4:
        axes: Any = "per-activation"
    elif r < 0.7 and nd >= 3:
        axes = "spatial"
    else:
        k = int(ctx.rng.integers(1, nd))
        axes = tuple(sorted(int(a) for a in ctx.rng.choice(nd, size=k, replace=False)))
    chosen = {"per-activation": (0,), "spatial": (0, *range(2, nd))}.get(axes, axes)
    return x, axes, tuple(s for d, s in enumerate(ctx.shape(x)) if d not in chosen)


def _bn_train_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x, axes, shape = _bn_geometry(ctx)
    gamma, beta = (ctx.fresh(ctx.dtype(x), shape) for _ in "gb")
    return [x, gamma, beta], {"axes": axes, "k": int(ctx.rng.integers(3))}


def _bn_running_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x, axes, shape = _bn_geometry(ctx)
    gamma, beta, mean = (ctx.fresh(ctx.dtype(x), shape) for _ in "gbm")
    var = ctx.fresh(ctx.dtype(x), shape, domain="positive")
    return [x, gamma, beta, mean, var], {"axes": axes, "k": int(ctx.rng.integers(5))}


def _bn_test_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    args, params = _bn_running_sample(ctx)
    return args, {"axes": params["axes"]}


def _neibs2images_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    shape = tuple(int(n) for n in ctx.rng.integers(1, 4, size=2))
    mode = ctx.choice(["valid", "ignore_borders"])
    grid = tuple(int(g) for g in ctx.rng.integers(1, 3, size=2))
    extra = (0, 0) if mode == "valid" else tuple(int(e) for e in ctx.rng.integers(0, 2, 2))
    original = (*(int(s) for s in ctx.rng.integers(1, 3, size=2)),
                *(g * n + e for g, n, e in zip(grid, shape, extra)))
    rows = original[0] * original[1] * grid[0] * grid[1]
    neibs = ctx.fresh(ctx.choice(F), (rows, shape[0] * shape[1]))
    return [neibs], {"shape": shape, "original": original, "mode": mode}


def _labels(ctx: Context, rows: int, classes: int) -> int:
    y = ctx.fresh(ctx.choice(("int32", "int64")), (rows,), domain="nonneg")
    ctx.values[y][...] = ctx.rng.integers(0, classes, size=rows)
    return y


def _xent_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(F, (2, 2), min_size=1)
    rows, cols = ctx.shape(x)
    bias = ctx.fresh(ctx.dtype(x), (cols,))
    return [x, _labels(ctx, rows, cols), bias], {"k": int(ctx.rng.integers(2))}


def _xent_argmax_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    args, _ = _xent_sample(ctx)
    return args, {"k": int(ctx.rng.integers(3))}


def _xent_categorical_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    rows, cols = int(ctx.rng.integers(1, 4)), int(ctx.rng.integers(1, 4))
    coding = ctx.fresh(ctx.choice(F), (rows, cols), domain="prob")
    return [coding, _labels(ctx, rows, cols)], {}


def _h_softmax_sampler(target: bool):
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        return _h_softmax_args(ctx, target)
    return sample


def _h_softmax_args(ctx: Context, target: bool) -> tuple[list[int], dict[str, Any]]:
    batch, feats = int(ctx.rng.integers(1, 4)), int(ctx.rng.integers(1, 4))
    classes, per = int(ctx.rng.integers(1, 4)), int(ctx.rng.integers(1, 4))
    n_out = int(ctx.rng.integers(1, classes * per + 1))
    dtype = ctx.choice(F)
    args = [ctx.fresh(dtype, shape) for shape in
            ((batch, feats), (feats, classes), (classes,), (classes, feats, per), (classes, per))]
    params = {"batch": batch, "n_out": n_out, "classes": classes, "per": per}
    if target:
        args.append(_labels(ctx, batch, n_out))
    return args, params


H_SOFTMAX = "T.nnet.h_softmax({0}, {batch}, {n_out}, {classes}, {per}, {1}, {2}, {3}, {4}"


def nnet_specs() -> list[OpSpec]:
    nd = {"smooth": False}
    return [
        OpSpec("conv2d", CONV, 2, F, sample=_conv_sample, weight=0.6),
        # both gradient Ops (AbstractConv_gradInputs / _gradWeights) through `grad`
        OpSpec("conv2d_grad", f"theano.grad(T.sum({CONV} * {{2}}), [{{0}}, {{1}}])[{{wrt}}]",
               3, F, sample=_conv_grad_sample, weight=0.5),
        OpSpec("pool_2d", "pool.pool_2d({0}, ws={ws}, ignore_border={ignore}, stride={stride}, "
               "pad={pad}, mode={mode})", dtypes=F, sample=_pool_sample, imports=(POOL,),
               weight=0.8, **nd),
        OpSpec("images2neibs", "T.nnet.images2neibs({0}, {shape}, {step}, mode={mode})",
               dtypes=F, sample=_neibs_sample, weight=0.5),
        OpSpec("batch_normalization",
               "T.nnet.batch_normalization({0}, {1}, {2}, {3}, {4}, mode={mode})", 5, F,
               sample=_bn_sample, weight=0.5,
               numpy="({0} - {3}) * ({1} / {4}) + {2}"),
        OpSpec("batch_normalization_train",
               "T.nnet.bn.batch_normalization_train({0}, {1}, {2}, axes={axes})[{k}]", 3, F,
               sample=_bn_train_sample, weight=0.3),
        OpSpec("batch_normalization_train_running",
               "T.nnet.bn.batch_normalization_train({0}, {1}, {2}, axes={axes}, "
               "running_mean={3}, running_var={4})[{k}]", 5, F, sample=_bn_running_sample,
               weight=0.2),
        OpSpec("batch_normalization_test",
               "T.nnet.bn.batch_normalization_test({0}, {1}, {2}, {3}, {4}, axes={axes})", 5, F,
               sample=_bn_test_sample, weight=0.2),
        OpSpec("neibs2images", "T.nnet.neibs2images({0}, {shape}, {original}, mode={mode})",
               dtypes=F, sample=_neibs2images_sample, weight=0.3),
        OpSpec("softsign", "T.nnet.softsign({0})", dtypes=F, numpy="{0} / (1 + np.abs({0}))",
               weight=0.5),
        OpSpec("ultra_fast_sigmoid", "T.nnet.ultra_fast_sigmoid({0})", dtypes=F, weight=0.5,
               **nd),
        OpSpec("selu", "T.nnet.selu({0})", dtypes=F, weight=0.5, **nd),
        OpSpec("crossentropy_softmax_1hot", "T.nnet.crossentropy_softmax_1hot({0}, {1})[{k}]",
               2, F + ("int32", "int64"), sample=_xent_sample, weight=0.4),
        OpSpec("crossentropy_softmax_1hot_with_bias",
               "T.nnet.crossentropy_softmax_1hot_with_bias({0}, {2}, {1})[{k}]", 3,
               F + ("int32", "int64"), sample=_xent_sample, weight=0.3),
        OpSpec("crossentropy_softmax_argmax_1hot_with_bias",
               "T.nnet.crossentropy_softmax_argmax_1hot_with_bias({0}, {2}, {1})[{k}]", 3,
               F + ("int32", "int64"), sample=_xent_argmax_sample, weight=0.2, **nd),
        OpSpec("crossentropy_categorical_1hot",
               "T.nnet.crossentropy_categorical_1hot({0}, {1})", 2, F + ("int32", "int64"),
               sample=_xent_categorical_sample, weight=0.3),
        OpSpec("h_softmax", H_SOFTMAX + ")", 5, F, sample=_h_softmax_sampler(False),
               weight=0.2),
        OpSpec("h_softmax_target", H_SOFTMAX + ", target={5})", 6, F + ("int32", "int64"),
               sample=_h_softmax_sampler(True), weight=0.2),
    ]
