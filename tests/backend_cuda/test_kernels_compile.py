"""Compile-only check of CUDA kernels with nvcc for sm_80 and sm_90 (no GPU needed).

Kernels are the OpenCL backend's, recorded while representative functions compile on it
(elementwise over every scalar op and dtype the fuzzer uses, reductions, softmax, gemm,
indexing, MRG), plus the CUDA renderer's own; all are then built in batches by
`theanine_cuda.check_kernels`.  Skips with the reason when nvcc or the OpenCL backend is
missing.
"""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as tt
from theanine.config import config


def _nvcc() -> str:
    from theanine_cuda.toolkit import ToolkitMissing, find_nvcc

    try:
        return find_nvcc()
    except ToolkitMissing as exc:
        pytest.skip(str(exc))


def _record(monkeypatch) -> list[str]:
    from theanine.link.backend import select_backend

    try:
        select_backend("opencl")
    except Exception as exc:  # noqa: BLE001 - any reason the backend cannot be selected
        pytest.skip(f"the opencl backend (which renders the kernels) is unavailable: {exc}")
    import theanine_opencl.runtime as ocl

    sources: list[str] = []
    real = ocl._build

    def build(rt, source, label, portable=True):
        if portable:
            sources.append(source)
        return real(rt, source, label, portable)

    monkeypatch.setattr(ocl, "_build", build)
    import theanine_opencl.gemm_cpu as gemm_cpu  # PoCL's own product, never a GPU's
    monkeypatch.setattr(gemm_cpu, "usable", lambda rt: False)
    monkeypatch.setattr(ocl.Runtime, "program", lambda self, source, label="", portable=True:
                        build(self, source, label, portable))
    return sources


def test_recorded_kernels_compile_for_sm80_and_sm90(monkeypatch):
    from theanine_cuda.check_kernels import Source, check

    nvcc = _nvcc()
    sources = _record(monkeypatch)
    rng = np.random.default_rng(0)
    with config.change_flags(backend="opencl"):
        for dtype in ("float32", "float64", "int32", "int64", "uint8", "bool"):
            x, y = tt.matrix("x", dtype=dtype), tt.matrix("y", dtype=dtype)
            outs = [x + y, x * y, tt.maximum(x, y), tt.eq(x, y), x.sum(axis=0),
                    x.max(axis=1), tt.switch(tt.gt(x, y), x, y)]
            if dtype.startswith("float"):
                outs += [tt.exp(x) / (1 + tt.log1p(abs(y))), tt.tanh(x) ** 2, x // y, x % y,
                         tt.nnet.softmax(x), tt.dot(x, y), x[::2, 1:], x[tt.arange(2)]]
            f = theanine.function([x, y], outs, on_unused_input="ignore")
            a = (rng.standard_normal((4, 4)) * 3).astype(dtype)
            f(a, a.T.copy())
        from theanine.sandbox.rng_mrg import MRG_RandomStreams

        srng = MRG_RandomStreams(3)
        theanine.function([], srng.uniform((5,)))()
        v = tt.fvector("v")
        theanine.function([v], tt.inc_subtensor(v[tt.arange(2)], 1.0))(np.ones(4, np.float32))
    assert len(sources) > 20
    unique = [Source(f"kernel{k}", s) for k, s in enumerate(dict.fromkeys(sources))]
    failed, _ = check(unique, ["sm_80", "sm_90"], batch=60, nvcc=nvcc)
    assert not failed, "\n\n".join(f"{f.source.name}:\n{f.error}\n{f.source.text}"
                                   for f in failed)


def test_cuda_renderer_renders_every_scalar_op_that_compiles():
    """Every scalar op with a C expression, over the fuzzer's dtypes, through the CUDA
    renderer (its own headers, helpers as device functions), one nvcc batch."""
    from theanine_cuda.check_kernels import Source, check
    from theanine_cuda.elemwise import render
    from theanine_cuda.renderer import CUDARenderer

    from theanine.codegen.cstyle import Unsupported
    from theanine.scalar import basic as ts

    nvcc = _nvcc()
    r = CUDARenderer()
    ops = [v for v in vars(ts).values() if isinstance(v, ts.ScalarOp) and v.c_expr]
    sources = []
    for op in ops:
        nin = getattr(op, "nin", 1) or 1
        for dtype in ("float32", "float64", "int8", "int32", "int64", "uint8", "bool"):
            try:
                out = op.output_dtypes((dtype,) * nin)[0]
                source, _, _ = render(op, (dtype,) * nin, out, [(False,)] * nin, 1, r)
            except (Unsupported, TypeError, ValueError):
                continue
            sources.append(Source(f"{op.name}[{dtype}]", source))
    assert len(sources) > 100
    failed, _ = check(sources, ["sm_80", "sm_90"], batch=200, nvcc=nvcc)
    assert not failed, "\n\n".join(f"{f.source.name}:\n{f.error}" for f in failed)


def test_a_broken_source_is_named_with_nvccs_error():
    from theanine_cuda.check_kernels import Source, check

    nvcc = _nvcc()
    good = Source("good.cl", "__kernel void ok(__global float *x) { x[get_global_id(0)] = 1; }")
    bad = Source("bad.cl", "__kernel void ko(__global float *x) { x[0] = undefined_name; }")
    failed, runs = check([good, bad, good], ["sm_80"], batch=3, nvcc=nvcc)
    assert [f.source.name for f in failed] == ["bad.cl"]
    assert "undefined_name" in failed[0].error and runs > 1
