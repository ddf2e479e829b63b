"""The CUDA backend's tests run its host side against a fake runtime (`fake_cuda`): no GPU,
no pycuda."""

from __future__ import annotations

import pytest

pytest.importorskip("theanine_cuda", reason="the CUDA backend (theanine-cuda, backend_cuda/) is "
                    "not installed: the tox env cuda installs it")


@pytest.fixture
def fake_cuda(monkeypatch):
    """A registry with the cuda plugin and a fake runtime; `backend=cuda` selected."""
    import theanine_cuda.elemwise as elemwise
    import theanine_cuda.plugin as plugin
    from fake_cuda import FakeRuntime
    from theanine_cuda.runtime import use_runtime
    from theanine_cuda.storage import TRANSFERS

    from theanine.config import config
    from theanine.plugins import PluginRegistry, use_registry

    rt = FakeRuntime()
    real_render = elemwise.render

    def render(scalar_op, *args, **kwargs):  # the fake evaluates each source's scalar op
        source, name, scalar = real_render(scalar_op, *args, **kwargs)
        rt.ops[source] = scalar_op
        return source, name, scalar

    monkeypatch.setattr(elemwise, "render", render)
    registry = PluginRegistry(entry_points=False)
    registry.register(plugin, "cuda")
    TRANSFERS.clear()
    with use_registry(registry), use_runtime(rt), config.change_flags(backend="cuda"):
        yield rt
