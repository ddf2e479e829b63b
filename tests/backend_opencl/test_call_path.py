"""The OpenCL call path made to wait for the device about once a call, against NumPy and the
transfer counter (`storage.TRANSFERS`): large inputs uploaded without waiting are still safe
for the caller to change once the call returns (or fails); a caller's 0-d input that kernels
take by value is not uploaded, one a kernel reads from a buffer (or that is an output) still
is; `to_host_all` reads every layout back; the matrix·vector kernels (four partial sums on a
CPU device) and status-word index errors raised before any update is stored."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_ocl import native_function, on_device, transposed_on_device

import theanine as th
import theanine.tensor as T
from theanine.tensor.blas import Gemm
from theanine.tensor.math import Dot


def _storage():
    from theanine_opencl.storage import STORAGE

    return STORAGE


def _runtime():
    from theanine_opencl.runtime import runtime

    return runtime()


def _moved(f, *args):
    """f(*args) and the host↔device copies it made."""
    from theanine_opencl.storage import TRANSFERS

    before = dict(TRANSFERS)
    out = f(*args)
    return out, {k: TRANSFERS[k] - before.get(k, 0) for k in ("to_device", "to_host")}


def _large(rng, dtype="float64"):
    """A vector well past the size copied when its buffer is created (enqueued, no wait)."""
    from theanine_opencl.storage import SMALL_UPLOAD

    value = rng.standard_normal(64 * SMALL_UPLOAD // np.dtype(dtype).itemsize).astype(dtype)
    assert value.nbytes > SMALL_UPLOAD
    return value


# -- 1. large inputs: the caller may change them as soon as the call returns -------------

@pytest.fixture
def uploads(monkeypatch):
    """The events of the copies the backend enqueued without waiting for them (`upload`)."""
    import theanine_opencl.backend as ocl_backend

    seen: list = []
    real = ocl_backend.to_device

    def recording(value, wait=True):
        rt = _runtime()
        n = len(rt.uploads)
        out = real(value, wait=wait)
        seen.extend(rt.uploads[n:])
        return out

    monkeypatch.setattr(ocl_backend, "to_device", recording)
    return seen


def _all_done(events) -> bool:
    """Whether the call waited for these copies (on PoCL a later enqueue may wait as well)."""
    import pyopencl as cl

    return all(e.command_execution_status == cl.command_execution_status.COMPLETE
               for e in events)


@pytest.mark.parametrize("how", ["borrow", "device_outputs"])
def test_large_input_changed_right_after_the_call(how, rng, uploads):
    x, y = T.dvector("x"), T.dvector("y")
    expr = x * 2 + y
    with th.config.change_flags(device_outputs=(how == "device_outputs")):
        f = th.function([x, y], th.Out(expr, borrow=True) if how == "borrow" else expr)
    for _ in range(3):
        xv, yv = _large(rng), _large(rng)
        want = xv * 2 + yv
        out, moved = _moved(f, xv, yv)
        xv[:] = np.nan  # the caller reuses its buffers at once
        yv[:] = np.nan
        assert moved == {"to_device": 2, "to_host": 0}
        assert _storage().is_device(out)
        assert len(uploads) == 2 and _all_done(uploads)  # enqueued, then waited for
        assert _runtime().uploads == []
        uploads.clear()
        np.testing.assert_array_equal(_storage().to_host(out), want)


def test_a_failing_call_waits_for_its_uploads_too(rng, uploads):
    x, y, i = T.dvector("x"), T.dvector("y"), T.lvector("i")
    add = th.function([x, y], th.Out(x + y, borrow=True))
    xv, yv = _large(rng), _large(rng)[:-1]
    kept = xv.copy()
    with pytest.raises(ValueError, match="do not broadcast"):  # after the uploads
        add(xv, yv)
    assert uploads and _all_done(uploads) and _runtime().uploads == []
    np.testing.assert_array_equal(xv, kept)  # the caller's array is left as it was
    xv[:] = -1.0
    np.testing.assert_array_equal(_storage().to_host(add(xv, xv)), np.full(len(xv), -2.0))

    gather = th.function([x, i], th.Out(x[i] * 3, borrow=True))
    with pytest.raises(IndexError, match="out of bounds"):  # found on the device
        gather(xv, np.array([0, len(xv)]))
    assert uploads and _all_done(uploads) and _runtime().uploads == []
    np.testing.assert_array_equal(xv, -1.0)
    xv = _large(rng)
    out = gather(xv, np.array([3, -1, 0]))
    want = xv[[3, -1, 0]] * 3
    xv[:] = np.nan
    np.testing.assert_array_equal(_storage().to_host(out), want)


# -- 2. a 0-d learning rate reaches the kernels as an argument ----------------------------

def test_sgd_step_uploads_only_the_vector(dtype, rng):
    lr, v = T.scalar("lr", dtype=dtype), T.vector("v", dtype=dtype)
    w_now = rng.standard_normal(300).astype(dtype)
    w = th.shared(w_now.copy(), name="w")
    f = th.function([lr, v], T.dot(w, v), updates=[(w, w - lr * v)])
    assert " 0 fallback" in f.report(), f.report()
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}
    steps = [0.1, np.asarray(0.05, dtype), np.dtype(dtype).type(-0.2), 0.0, 0.3]
    for rate in steps:
        vv = rng.standard_normal(300).astype(dtype)
        out, moved = _moved(f, rate, vv)
        assert moved == {"to_device": 1, "to_host": 1}, f.report()
        np.testing.assert_allclose(out, w_now.astype("float64") @ vv, **tol)
        w_now = (w_now - np.dtype(dtype).type(rate) * vv).astype(dtype)
        np.testing.assert_allclose(w.get_value(), w_now, **tol)
    # a learning rate already on the device is taken too
    vv = rng.standard_normal(300).astype(dtype)
    f(on_device(np.asarray(0.5, dtype)), vv)
    np.testing.assert_allclose(w.get_value(), w_now - np.dtype(dtype).type(0.5) * vv, **tol)


# -- 3. a 0-d input some kernel reads from a buffer, or returned, is still uploaded -------

def test_scalar_read_by_reductions_is_uploaded_once(rng):
    s, x = T.dscalar("s"), T.dvector("x")
    # `maximum` could take s by value, the two Max read (two views of) it from a buffer:
    # s crosses once, when the call starts, not once per view inside the graph
    f = th.function([s, x], [T.maximum(x, s).sum(), T.max(s.dimshuffle("x")) * 2,
                             T.max(s.dimshuffle("x", "x"))])
    assert "copies inside the graph" not in f.report(), f.report()
    for sv in (0.25, -3.0, 1.5):
        xv = rng.standard_normal(40)
        (total, twice, peak), moved = _moved(f, sv, xv)
        assert moved == {"to_device": 2, "to_host": 3}, f.report()
        np.testing.assert_allclose(total, np.maximum(xv, sv).sum(), rtol=1e-12)
        assert twice == 2 * sv and peak == sv


def test_scalar_read_by_softmax_and_alloc(rng):
    s, x = T.dscalar("s"), T.dvector("x")
    f = th.function([s, x], [T.nnet.softmax(s.dimshuffle("x", "x") * x.dimshuffle("x", 0)),
                             T.alloc(s, 3) + x[0]])
    for sv in (0.5, -2.0):
        xv = rng.standard_normal(7)
        soft, filled = f(sv, xv)
        e = np.exp(sv * xv - (sv * xv).max())
        np.testing.assert_allclose(soft, (e / e.sum())[None, :], rtol=1e-12)
        np.testing.assert_array_equal(filled, np.full(3, sv + xv[0]))


@pytest.mark.parametrize("device_outputs", [False, True])
def test_scalar_returned_as_an_output(device_outputs, rng):
    s, x = T.dscalar("s"), T.dvector("x")
    with th.config.change_flags(device_outputs=device_outputs):
        f = th.function([s, x], [s, s.dimshuffle("x"), x * s])
    for sv in (2.0, -0.5):
        xv = rng.standard_normal(5)
        outs = f(sv, xv)
        # device_outputs: every output a device array, s too
        assert [_storage().is_device(o) for o in outs] == [device_outputs] * 3
        outs = [_storage().to_host(o) if device_outputs else o for o in outs]
        assert outs[0].shape == () and outs[0] == sv
        np.testing.assert_array_equal(outs[1], [sv])
        np.testing.assert_array_equal(outs[2], xv * sv)


# -- 4. to_host_all on every layout ------------------------------------------------------

@pytest.mark.parametrize("kind", ["float32", "float64", "int32", "int64"])
def test_to_host_all_reads_every_layout(kind, rng):
    from theanine_opencl.storage import TRANSFERS, to_host_all
    from theanine_opencl.views import view

    from theanine.link.storage import to_host_all as core_to_host_all

    a = (rng.standard_normal((5, 6)) * 100).astype(kind)
    d = on_device(a)
    size = d.dtype.itemsize
    cases = [  # (device array, what NumPy says it holds, whether pyopencl's .get() reads it)
        (d, a, True),
        (transposed_on_device(a), a, True),  # Fortran order
        (d[1:], a[1:], True),  # contiguous, away from the buffer's start
        (d[1:, ::2], a[1:, ::2], False),
        (d.T[::2], a.T[::2], False),
        (view(d, (6,), (-size,), 11 * size), a[1, ::-1], False),  # negative stride
        (on_device(np.asarray(a[2, 3])), np.asarray(a[2, 3]), True),  # 0-d
        (on_device(a[:0]), a[:0], True),
        (d[:, 2:2], a[:, 2:2], True),
    ]
    values = [c[0] for c in cases]
    assert not any(v.flags.forc for v, _, gets in cases if not gets)  # really strided
    before = TRANSFERS["to_host"]
    got = to_host_all(values)
    assert TRANSFERS["to_host"] - before == len(values)
    for (dev, want, gets), host in zip(cases, got):
        assert isinstance(host, np.ndarray)
        assert host.dtype == want.dtype and host.shape == want.shape
        np.testing.assert_array_equal(host, want)
        if gets:
            np.testing.assert_array_equal(host, dev.get())
    for host, again in zip(got, core_to_host_all(_storage(), values)):
        np.testing.assert_array_equal(again, host)
    got[0][...] = 0  # a host copy, not a window on the device
    np.testing.assert_array_equal(_storage().to_host(d), a)
    assert to_host_all([]) == []


# -- 5. matrix·vector products ------------------------------------------------------------

def _close_to_dot(got, mat, vec, dtype):
    """|got - mat·vec| within the float sum's error bound, 2·K·eps·(|mat|·|vec|), K the
    shared dimension (the reference's error is within K·eps too)."""
    m, v = mat.astype("float64"), vec.astype("float64")
    bound = 2 * len(v) * np.finfo(dtype).eps * (np.abs(m) @ np.abs(v)) + np.finfo(dtype).tiny
    err = np.abs(got.astype("float64") - m @ v)
    assert got.dtype == np.dtype(dtype)
    assert np.all(err <= bound), f"worst error {err.max()} over a bound {bound.min()}"


@pytest.mark.parametrize("rows,k", [(64, 512), (200, 1031), (63, 515), (10, 2050)])
@pytest.mark.parametrize("form", ["A.v", "A.T.v", "v.B", "device F-ordered A.v"])
def test_matrix_vector_product(rows, k, form, dtype, rng):
    a, v = T.matrix("a", dtype=dtype), T.vector("v", dtype=dtype)
    vv = rng.standard_normal(k).astype(dtype)
    if form in ("A.v", "device F-ordered A.v"):
        mat = rng.standard_normal((rows, k)).astype(dtype)
        f = native_function([a, v], T.dot(a, v), Dot)
        arg = transposed_on_device(mat) if form.startswith("device") else mat
        got = f(arg, vv)
    else:  # a (k, rows) operand read along its columns
        given = rng.standard_normal((k, rows)).astype(dtype)
        mat = given.T
        expr = T.dot(a.T, v) if form == "A.T.v" else T.dot(v, a)
        got = native_function([a, v], expr, Dot)(given, vv)
    assert got.shape == (rows,)
    _close_to_dot(got, mat, vv, dtype)


def test_gemv_with_alpha_and_beta_on_many_rows(dtype, rng):
    z, x, y = T.vector("z", dtype=dtype), T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    a = T.scalar("a", dtype=dtype)
    f = native_function([z, a, x, y], z * 2 + a * T.dot(x, y), Gemm)
    zv = rng.standard_normal(150).astype(dtype)
    xv = rng.standard_normal((150, 777)).astype(dtype)
    yv = rng.standard_normal(777).astype(dtype)
    got = f(zv, 0.5, xv, yv)
    two = np.dtype(dtype).type(2)
    # z·2 + 0.5·(x·y) is x'·y' with x' = [0.5·x | z] and y' = [y; 2]: one dot's error bound
    _close_to_dot(got, np.hstack([xv * np.dtype(dtype).type(0.5), zv[:, None]]),
                  np.append(yv, two), dtype)


# -- 6. an index error reported on the device stores no update ------------------------------

def test_index_error_on_the_device_stores_no_update(rng):
    table = rng.standard_normal((6, 3))
    w, steps = th.shared(table.copy(), name="w"), th.shared(np.int64(0), name="steps")
    i = T.lvector("i")
    f = th.function([i], w[i].sum(), updates=[(w, T.inc_subtensor(w[i], 1.0)),
                                              (steps, steps + 1)])
    g = th.function([i], w[i].sum(), updates=[(steps, steps + 1)])  # only the gather reports
    now = table.copy()
    np.testing.assert_allclose(f(np.array([0, 5, 5])), now[[0, 5, 5]].sum(), rtol=1e-12)
    np.add.at(now, [0, 5, 5], 1.0)
    for fn, bad in ((f, [1, 6]), (f, [-7, 0]), (g, [2, 9])):
        with pytest.raises(IndexError, match="out of bounds for axis 0 with size 6"):
            fn(np.array(bad))
        np.testing.assert_array_equal(w.get_value(), now)
        assert int(steps.get_value()) == 1
    # nothing left over makes the next good call fail
    np.testing.assert_allclose(g(np.array([4, -1])), now[[4, -1]].sum(), rtol=1e-12)
    assert int(steps.get_value()) == 2
