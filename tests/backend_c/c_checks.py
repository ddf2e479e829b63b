"""Helpers of the C backend tests: whether backend `c` can run here, compiling one graph on
both backends, and comparing float results in units in the last place (ulp)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import theanine
from theanine.compile.mode import Mode
from theanine.plugins import get_registry


def c_unavailable_reason() -> str | None:
    """None when backend `c` is registered and available, else why not."""
    entry = get_registry().backends.get("c")
    if entry is None:
        return "backend 'c' is not registered (install backend_c: pip install -e backend_c)"
    ok, why = entry[0].is_available()
    return None if ok else f"backend 'c' is not available: {why}"


def require_c() -> None:
    """Skip the calling test module, saying why, when backend `c` cannot run."""
    reason = c_unavailable_reason()
    if reason is not None:
        pytest.skip(reason, allow_module_level=True)


def compile_both(inputs: Sequence[Any], outputs: Any, optimizer: str | None = "fast_run"
                 ) -> tuple[Any, Any]:
    """(Python-backend function, C-backend function) of the same graph and rewrites."""
    fp = theanine.function(list(inputs), outputs, mode=Mode("python", optimizer),
                           on_unused_input="ignore")
    fc = theanine.function(list(inputs), outputs, mode=Mode("c", optimizer),
                           on_unused_input="ignore")
    return fp, fc


def report(f: Any) -> Any:
    """The compile report of a C-linked function (what each node runs as)."""
    return f.maker.program.report


def hows(f: Any, op_type: type | None = None) -> list[str]:
    """How each node (of `op_type`, if given) runs: "native", "host" or "fallback"."""
    nodes = f.maker.fgraph.toposort()
    return [entry.how for node, entry in zip(nodes, report(f).nodes)
            if op_type is None or isinstance(node.op, op_type)]


def _ordered(a: np.ndarray) -> np.ndarray:
    """Floats as integers in the same order (adjacent floats differ by 1), in int64."""
    a = np.asarray(a)
    if a.dtype == np.float16:
        a = a.astype(np.float16)
    width = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(width).astype(np.int64)
    low = np.int64(np.iinfo(width).min)
    return np.where(i < 0, low - i, i)


def ulp_distance(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """|expected - actual| in ulps of their dtype (both finite floats of one dtype)."""
    return np.abs(_ordered(expected) - _ordered(actual))


def assert_ulp_close(expected: Any, actual: Any, ulps: int, what: str = "",
                     inputs: Sequence[Any] = ()) -> None:
    """Same dtype and shape, NaN and infinities at the same positions, every other element
    within `ulps` ulps (integers and bools: equal)."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind not in "fc":
        bad = np.flatnonzero(expected != actual)
        assert bad.size == 0, f"{what}: {_sample(bad, expected, actual, inputs)}"
        return
    if expected.dtype.kind == "c":
        assert_ulp_close(expected.real, actual.real, ulps, what + " (real part)", inputs)
        assert_ulp_close(expected.imag, actual.imag, ulps, what + " (imaginary part)", inputs)
        return
    e, a = expected.ravel(), actual.ravel()
    nan_e, nan_a = np.isnan(e), np.isnan(a)
    bad = np.flatnonzero(nan_e != nan_a)
    assert bad.size == 0, f"{what}: NaN positions differ: {_sample(bad, expected, actual, inputs)}"
    finite = ~nan_e
    inf_bad = np.flatnonzero(finite & (np.isinf(e) | np.isinf(a)) & (e != a))
    assert inf_bad.size == 0, f"{what}: infinities differ: " \
        f"{_sample(inf_bad, expected, actual, inputs)}"
    both = finite & np.isfinite(e) & np.isfinite(a)
    dist = np.zeros(e.shape, np.int64)
    dist[both] = ulp_distance(e[both], a[both])
    far = np.flatnonzero(dist > ulps)
    assert far.size == 0, f"{what}: {far.size} element(s) more than {ulps} ulp apart (max " \
        f"{dist.max()}): {_sample(far, expected, actual, inputs)}"


def _sample(flat: np.ndarray, expected: np.ndarray, actual: np.ndarray,
            inputs: Sequence[Any]) -> str:
    """The first few differing elements with the inputs that gave them."""
    rows = []
    for k in flat[:4]:
        args = []
        for v in inputs:
            v = np.asarray(v)
            args.append(repr(np.broadcast_to(v, expected.shape).ravel()[k]) if v.ndim else
                        repr(v[()]))
        rows.append(f"at {k} inputs ({', '.join(args)}): expected {expected.ravel()[k]!r}, "
                    f"got {actual.ravel()[k]!r}")
    return "; ".join(rows)
