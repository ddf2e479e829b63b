"""The MRG31k3p uniform kernel gives the same streams as the Python backend, bit for bit,
over several draws (so the state it writes back is the same too), and refuses bad states."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function

import theanine as th
from theanine.config import config
from theanine.sandbox.rng_mrg import MRG_RandomStreams
from theanine.tensor.random.mrg_ops import MRGUniform


def _draws(backend, shape, dtype, nstreams):
    with config.change_flags(backend=backend):
        u = MRG_RandomStreams(1234).uniform(shape, dtype=dtype, nstreams=nstreams)
        f = native_function([], u, MRGUniform) if backend == "opencl" else th.function([], u)
        return [f() for _ in range(3)], u.rstate.get_value()


@pytest.mark.parametrize("shape,nstreams", [((7,), None), ((100, 9), None), ((5, 3), 64),
                                            ((1000, 33), 7), ((0, 4), None)])
def test_streams_are_bit_identical_to_the_python_backend(shape, nstreams, dtype):
    got, got_state = _draws("opencl", shape, dtype, nstreams)
    want, want_state = _draws("python", shape, dtype, nstreams)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))
    np.testing.assert_array_equal(got_state, want_state)


def test_bad_states_are_refused():
    u = MRG_RandomStreams(8).uniform((4,))
    f = native_function([], u, MRGUniform)
    u.rstate.set_value(np.zeros((1, 6), dtype=np.int32))
    with pytest.raises(ValueError, match="invalid MRG state in row 0"):
        f()
    u.rstate.set_value(np.ones((1, 5), dtype=np.int32))
    with pytest.raises(ValueError, match=r"shape \(streams, 6\)"):
        f()
