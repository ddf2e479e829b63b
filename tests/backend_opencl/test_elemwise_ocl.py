"""Fused elementwise kernels on OpenCL where a dialect detail could change a value."""

from __future__ import annotations

import numpy as np
from helpers_ocl import native_function

import theanine.tensor as T
from theanine.tensor.elemwise import Elemwise


def test_bool_temporaries_round_like_numpy_inside_a_fused_kernel():
    # bool buffers are uchar on OpenCL: a temporary of that type would keep True + True = 2
    a, b = T.matrix("a", dtype="bool"), T.matrix("b", dtype="bool")
    k = T.matrix("k", dtype="int32")
    outs = [T.or_(a + b, k), (a + b) * k, T.cast(a * b + a, "int32"), T.xor(a + b, a)]
    f = native_function([a, b, k], outs, Elemwise)
    rng = np.random.default_rng(0)
    av, bv = rng.random((3, 4)) < 0.5, rng.random((3, 4)) < 0.5
    kv = rng.integers(-4, 5, (3, 4)).astype("int32")
    expected = [np.bitwise_or(av + bv, kv), (av + bv) * kv, (av * bv + av).astype("int32"),
                (av + bv) ^ av]
    for got, want in zip(f(av, bv, kv), expected):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
