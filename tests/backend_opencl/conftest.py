"""The OpenCL kernel tests: every test here compiles its function for `opencl`, so the whole
folder is skipped, with the reason, where that backend is not available (no pyopencl, no
device that builds a kernel)."""

from __future__ import annotations

import numpy as np
import pytest

from theanine.config import config


def _unavailable() -> str | None:
    from theanine.link.backend import select_backend

    try:
        select_backend("opencl")
    except Exception as exc:  # noqa: BLE001 - any reason the backend cannot be selected
        return f"the opencl backend is not available: {exc}"
    return None


_REASON = _unavailable()


def pytest_collection_modifyitems(config, items):
    if _REASON is None:
        return
    skip = pytest.mark.skip(reason=_REASON)
    for item in items:
        if "backend_opencl" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _on_opencl():
    with config.change_flags(backend="opencl"):
        yield


@pytest.fixture(params=["float32", "float64"])
def dtype(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1302)
