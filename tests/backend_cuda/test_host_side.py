"""The CUDA backend's host side against the fake runtime: storage and transfer counts,
placement (copies only at the edges), launch configuration, fallback, and why the backend is
unavailable here."""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as tt
from theanine.compile import Out
from theanine.config import config


def test_launch_covers_every_element_with_whole_blocks():
    from theanine_cuda.launch import MAX_BLOCKS, elementwise_launch

    for n in (0, 1, 255, 256, 257, 10_000, 2**31):
        (blocks, gy, gz), (threads, by, bz) = elementwise_launch(n)
        assert (gy, gz, by, bz) == (1, 1, 1, 1)
        assert blocks * threads >= n and (blocks - 1) * threads < max(n, 1)
    with pytest.raises(ValueError, match="at most"):
        elementwise_launch((MAX_BLOCKS + 1) * 256)
    with pytest.raises(ValueError, match="negative"):
        elementwise_launch(-1)


def test_storage_round_trip_counts_transfers(fake_cuda):
    from theanine_cuda.storage import STORAGE, TRANSFERS

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    d = STORAGE.to_device(a.T)  # a strided host array goes up C-ordered
    assert STORAGE.is_device(d) and not STORAGE.is_device(a)
    np.testing.assert_array_equal(STORAGE.to_host(d), a.T)
    assert TRANSFERS == {"to_device": 1, "to_host": 1}
    # a strided device view is gathered on the device, then read as one block
    view = fake_cuda.to_device(a).transpose()
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(STORAGE.to_host(view), a.T)
    copy = STORAGE.copy(view)
    assert copy.flags.c_contiguous and copy.buf is not view.buf
    np.testing.assert_array_equal(copy.view_numpy(), a.T)


def test_elementwise_runs_on_device_and_moves_only_edges(fake_cuda):
    from theanine_cuda.storage import TRANSFERS

    x, y = tt.fmatrix("x"), tt.fmatrix("y")
    f = theanine.function([x, y], tt.exp(x) * 2 + y)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 11)).astype(np.float32)
    b = rng.standard_normal((37, 11)).astype(np.float32)
    TRANSFERS.clear()
    np.testing.assert_allclose(f(a, b), np.exp(a) * 2 + b, rtol=1e-6)
    assert TRANSFERS == {"to_device": 2, "to_host": 1}
    assert fake_cuda.launches and all(g[0] * b_[0] >= a.size for _, g, b_ in fake_cuda.launches)


def test_broadcast_and_strided_operands(fake_cuda):
    x, r = tt.fmatrix("x"), tt.frow("r")
    f = theanine.function([x, r], Out(x.T + r, borrow=True))
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    row = np.arange(4, dtype=np.float32)[None, :]
    out = f(a, row)
    assert isinstance(out, fake_cuda.array_type)  # a borrowed output stays on the device
    from theanine_cuda.storage import STORAGE

    np.testing.assert_array_equal(STORAGE.to_host(out), a.T + row)
    with pytest.raises(ValueError):
        f(a, np.zeros((1, 5), np.float32))


def test_device_inputs_pass_without_copies(fake_cuda):
    from theanine_cuda.storage import STORAGE, TRANSFERS

    x = tt.dvector("x")
    f = theanine.function([x], Out(x * x + 1.0, borrow=True))
    d = STORAGE.to_device(np.arange(5.0))
    TRANSFERS.clear()
    out = f(d)
    assert TRANSFERS == {}
    np.testing.assert_array_equal(STORAGE.to_host(out), np.arange(5.0) ** 2 + 1)


def test_shared_value_stays_on_device_across_updates(fake_cuda):
    from theanine_cuda.storage import TRANSFERS

    w = theanine.shared(np.ones(6, dtype=np.float32), name="w")
    x = tt.fvector("x")
    step = theanine.function([x], (w * x).sum(), updates=[(w, w - 0.5 * x)])
    TRANSFERS.clear()
    v = np.arange(6, dtype=np.float32)
    total = step(v)
    assert total == pytest.approx(float(np.sum(v)))
    np.testing.assert_allclose(w.get_value(), 1 - 0.5 * v)
    # the update is computed on the device and stored there; the sum (no CUDA impl) runs
    # on the host and so costs one copy of w*x inside the graph
    assert "1 fallback to perform" in step.report()
    assert TRANSFERS["to_device"] == 1  # x only


def test_fallback_nodes_are_reported(fake_cuda):
    x = tt.dmatrix("x")
    with config.change_flags(impl_fallback="warn"), pytest.warns(UserWarning,
                                                               match="fallback to perform"):
        f = theanine.function([x], tt.exp(x).sum(axis=0))
    np.testing.assert_allclose(f(np.eye(3)), np.exp(np.eye(3)).sum(axis=0))


def test_unavailable_says_why_without_a_driver():
    import importlib.util

    from theanine_cuda.backend import BACKEND
    from theanine_cuda.runtime import use_runtime

    with use_runtime(None):
        ok, why = BACKEND.is_available()
    if importlib.util.find_spec("pycuda") is None:
        assert not ok and "pycuda is not importable" in why
    elif not ok:
        assert "driver" in why or "device" in why or "nvcc" in why
