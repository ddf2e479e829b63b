"""MRG31k3p, L'Ecuyer and Touzin's combined multiple recursive generator, vectorized.

The generator
-------------
Two components, each a recurrence of order 3 on integers:

    x1[n] = (2**22 * x1[n-2] + (2**7 + 1) * x1[n-3])  mod  M1 = 2**31 - 1
    x2[n] = (2**15 * x2[n-1] + (2**15 + 1) * x2[n-3]) mod  M2 = 2**31 - 21069

and the output of step n is k = x1[n] - x2[n] if that is positive, else x1[n] - x2[n] + M1
(so 1 <= k <= M1), turned into a float in (0, 1):

    float64:  k * 2**-31                      (exact)
    float32:  float32(k) * float32(NORM32)    (one IEEE float32 multiply; NORM32 keeps the
                                               largest k below 1.0)

Both component recurrences are linear, so advancing a state by 2**e steps is one 3x3 matrix
product mod M (`jump`).  Streams are spaced 2**134 steps apart and, within a stream,
substreams 2**72 apart, as in L'Ecuyer's RngStreams design; this module reproduces the
reference implementation's numbers exactly (see tests/test_mrg.py).

State layout (what a native backend implements)
-----------------------------------------------
A random variable owns an int32 array of shape (S, 6): row s is the state of substream s,
columns [x1[n], x1[n-1], x1[n-2], x2[n], x2[n-1], x2[n-2]] (newest first), every entry in
[0, M) of its component.  Drawing N numbers into a C-ordered output buffer:

    element i (0 <= i < N) is the (i // S)-th next value of substream i % S

and each substream's row is written back after its last draw.  A kernel gives one thread to
each substream s < min(S, N), which loops over i = s, s + S, s + 2S, ... < N keeping its six
integers in registers (64-bit products, or the shift-and-mask reductions of the original
paper), then stores the row.  Substreams that draw nothing keep their state.  The float
conversion above is part of the definition, so every backend returns bitwise-identical
uniforms for the same state.
"""

from __future__ import annotations

from functools import cache

import numpy as np

M1 = 2**31 - 1
M2 = 2**31 - 21069
#: float32 scale: float32(M1) rounds to 2**31, and 2**31 * NORM32 rounds below 1.0
NORM32 = np.float32(4.6566126e-10)
NORM64 = 2.0**-31

_A1 = ((0, 1 << 22, (1 << 7) + 1), (1, 0, 0), (0, 1, 0))
_A2 = ((1 << 15, 0, (1 << 15) + 1), (1, 0, 0), (0, 1, 0))

#: exponents of the jumps between substreams (2**72 steps) and streams (2**134 steps)
SUBSTREAM_JUMP = 72
STREAM_JUMP = 134
#: the most substreams a variable gets when its size is only known at run time
MAX_STREAMS = 60 * 256


def _matmul(a: tuple, b: tuple, m: int) -> tuple:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3))
                 for i in range(3))


@cache
def jump_matrices(e: int) -> tuple[tuple, tuple]:
    """(A1**(2**e) mod M1, A2**(2**e) mod M2): advance a state by 2**e steps."""
    if e == 0:
        return _A1, _A2
    j1, j2 = jump_matrices(e - 1)
    return _matmul(j1, j1, M1), _matmul(j2, j2, M2)


def _apply(mat: tuple, x: np.ndarray, m: int) -> np.ndarray:
    """mat @ x mod m for each row of x (n, 3), exact in int64: each product is < 2**62 and
    each partial sum of reduced products < 2**33."""
    out = np.zeros_like(x)
    for i in range(3):
        for k in range(3):
            if mat[i][k]:
                out[:, i] = (out[:, i] + (mat[i][k] * x[:, k]) % m) % m
    return out


def jump(states: np.ndarray, e: int) -> np.ndarray:
    """Each row of the (n, 6) `states` advanced by 2**e steps."""
    x = np.asarray(states, dtype=np.int64).reshape(-1, 6)
    j1, j2 = jump_matrices(e)
    out = np.concatenate([_apply(j1, x[:, :3], M1), _apply(j2, x[:, 3:], M2)], axis=1)
    return out.astype(np.int32).reshape(np.shape(states))


def substreams(rstate: np.ndarray, n: int) -> np.ndarray:
    """The (n, 6) int32 states of the first n substreams starting at `rstate`: row s is
    `rstate` advanced by s * 2**72 steps (built by doubling: log2(n) vectorized jumps)."""
    if n < 1:
        raise ValueError(f"the number of streams must be at least 1, got {n}")
    rows = np.asarray(rstate, dtype=np.int32).reshape(1, 6)
    j = 0
    while len(rows) < n:
        rows = np.concatenate([rows, jump(rows, SUBSTREAM_JUMP + j)[:n - len(rows)]])
        j += 1
    return rows


def next_stream(rstate: np.ndarray) -> np.ndarray:
    """The start of the next stream: `rstate` advanced by 2**134 steps."""
    return jump(np.asarray(rstate, dtype=np.int32), STREAM_JUMP)


def state_columns(state: np.ndarray, what: str) -> np.ndarray:
    """The (S, 6) int32 `state` as a (6, S) int64 array (one contiguous row per column of
    the state), or a ValueError if it is not a valid, non-degenerate state."""
    if state.ndim != 2 or state.shape[1] != 6 or state.shape[0] < 1 or state.dtype != np.int32:
        raise ValueError(f"{what}: an MRG state must be an int32 array of shape (streams, 6), "
                         f"got {state.dtype} array of shape {state.shape}")
    st = np.ascontiguousarray(state.T, dtype=np.int64)
    if st.min() < 0 or st[:3].max() >= M1 or st[3:].max() >= M2 \
            or not (st[0] | st[1] | st[2]).all() or not (st[3] | st[4] | st[5]).all():
        raise ValueError(f"{what}: invalid MRG state (entries must lie in [0, {M1}) for the "
                         f"first three columns, [0, {M2}) for the last three, and neither "
                         "half of a row may be all zeros)")
    return st


def draw(state: np.ndarray, n: int, dtype: str, what: str = "MRG draw"
         ) -> tuple[np.ndarray, np.ndarray]:
    """(new state, n uniforms of `dtype`) following the layout in the module docstring.

    One vectorized step per round of S draws: round r advances substreams 0 .. m-1 with
    m = min(S, n - r*S), a prefix of the rows.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{what}: MRG uniforms are float32 or float64, not {dtype}")
    st = state_columns(state, what)
    n_streams = st.shape[1]
    k = np.empty(n, dtype=np.int64)
    a12, a13 = _A1[0][1], _A1[0][2]
    a21, a23 = _A2[0][0], _A2[0][2]
    for start in range(0, n, n_streams):
        m = min(n_streams, n - start)
        y1 = (a12 * st[1, :m] + a13 * st[2, :m]) % M1
        y2 = (a21 * st[3, :m] + a23 * st[5, :m]) % M2
        st[2, :m] = st[1, :m]
        st[1, :m] = st[0, :m]
        st[0, :m] = y1
        st[5, :m] = st[4, :m]
        st[4, :m] = st[3, :m]
        st[3, :m] = y2
        diff = y1 - y2
        k[start:start + m] = np.where(diff > 0, diff, diff + M1)
    if dtype == "float64":
        u = k.astype(np.float64) * NORM64
    else:
        u = k.astype(np.float32) * NORM32
    return np.ascontiguousarray(st.T, dtype=np.int32), u


def guess_n_streams(static_size: tuple[int | None, ...]) -> int:
    """How many substreams a variable gets (Theano's rule): about one per six elements when
    the size is known when the graph is built, at most MAX_STREAMS, and MAX_STREAMS when it
    is not."""
    if any(s is None for s in static_size):
        return MAX_STREAMS
    total = int(np.prod(static_size, dtype=np.int64)) if static_size else 1
    if total > 6:
        total //= 6
    return max(1, min(total, MAX_STREAMS))
