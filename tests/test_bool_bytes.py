"""Bool arrays whose bytes are not all 0 or 1 (`u8.view(bool)`, memory filled by C code).

NumPy reads any nonzero byte as True: `sum` counts it once, `b * 1` is 1, `~b` is False and
`b ^ b2` compares truths.  Native kernels read bool buffers as bytes, so each must take the
byte's truth, not its number.  Runs on the backend the test run selects; NumPy is the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T


def _bytes_as_bool(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 4, size=shape).astype(np.uint8)
    raw.flat[0] = 2  # at least one byte that is neither 0 nor 1
    return raw.view(bool)


B = T.matrix("b", dtype="bool")
C = T.matrix("c", dtype="bool")

CASES = {
    "sum": (T.sum(B), lambda b, c: np.sum(b)),
    "sum over rows": (T.sum(B, axis=1), lambda b, c: np.sum(b, axis=1)),
    "mean": (T.mean(B), lambda b, c: np.mean(b)),
    "prod over columns": (T.prod(B, axis=0), lambda b, c: np.prod(b, axis=0)),
    "max": (T.max(B), lambda b, c: np.max(b)),
    "min over rows": (T.min(B, axis=1), lambda b, c: np.min(b, axis=1)),
    "all over columns": (T.all(B, axis=0), lambda b, c: np.all(b, axis=0)),
    "any over rows": (T.any(B, axis=1), lambda b, c: np.any(b, axis=1)),
    "times one": (B * np.int8(1), lambda b, c: b * np.int8(1)),
    "cast": (T.cast(B, "float32"), lambda b, c: b.astype("float32")),
    "invert": (~B, lambda b, c: ~b),
    "xor": (T.xor(B, C), lambda b, c: b ^ c),
    "equal": (T.eq(B, C), lambda b, c: b == c),
    "switch": (T.switch(B, np.float32(3), np.float32(4)),
               lambda b, c: np.where(b, np.float32(3), np.float32(4))),
    "sum of and (fused)": (T.sum(B & C, axis=0), lambda b, c: np.sum(b & c, axis=0)),
    "transposed": (B.T + np.int8(0), lambda b, c: b.T + np.int8(0)),
    "strided view": (T.cast(B[::2, ::-1], "int32"), lambda b, c: b[::2, ::-1].astype("int32")),
    "cumsum": (T.cumsum(B, axis=0), lambda b, c: np.cumsum(b, axis=0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bool_bytes_read_as_truths(name: str) -> None:
    expr, reference = CASES[name]
    b, c = _bytes_as_bool((37, 53), 0), _bytes_as_bool((37, 53), 1)
    f = theanine.function([B, C], expr, on_unused_input="ignore")
    got = np.asarray(f(b, c))
    want = np.asarray(reference(b, c))
    assert got.dtype == want.dtype
    # compared as numbers: a True result must be 1, the byte NumPy's own results hold
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))
    if got.dtype == bool:
        assert set(np.unique(got.view(np.uint8))) <= {0, 1}, "bool results hold 0 or 1"


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, 1, None])
def test_arg_extremum_of_bool_bytes_takes_the_first_truth(kind: str, axis: int | None) -> None:
    # rows of nonzero bytes in rising order: all True, so the first position wins, where the
    # bytes' numbers would pick the last; and rows where a later byte 1 follows a 3
    raw = np.tile(np.arange(1, 41, dtype=np.uint8) % 4, (9, 1))
    raw[::2] = np.sort(raw[::2] | 1, axis=1)
    b = np.ascontiguousarray(raw if axis != 0 else raw.T).view(bool)
    f = theanine.function([B], getattr(T, kind)(B, axis=axis))
    np.testing.assert_array_equal(f(b), getattr(np, kind)(b, axis=axis))
