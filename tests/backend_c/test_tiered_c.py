"""Tiered compilation: on a cold cache a function answers at once on the Python backend, then
switches to native code between calls; tiered=False is native from the first call; a warm
cache is native from the first call either way.  Each case runs in a fresh process with its
own cache, since probe results and loaded kernels are remembered per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from c_checks import require_c

require_c()

PRELUDE = textwrap.dedent("""
    import sys
    import numpy as np
    import theanine, theanine.tensor as T
    from theanine_c.backend import TieredProgram

    x = T.dmatrix("x")
    out = T.tanh(x) * 2 + T.exp(-x).sum(axis=1, keepdims=True)
    v = np.linspace(-2, 2, 60).reshape(6, 10)
    want = np.tanh(v) * 2 + np.exp(-v).sum(axis=1, keepdims=True)
    tiered = sys.argv[1] == "on"
    if sys.argv[2:] == ["probe-first"]:  # the compiler is known, these kernels are not
        with theanine.config.change_flags(tiered=False):
            theanine.function([x], x + 1, backend="c")
""")

COLD = PRELUDE + textwrap.dedent("""
    with theanine.config.change_flags(tiered=tiered):
        f = theanine.function([x], out, backend="c")
    program = f.maker.program
    first = f(v)
    np.testing.assert_allclose(first, want, rtol=1e-12)
    if isinstance(program, TieredProgram):
        assert tiered
        assert program.wait(120), "the native build never finished"
        assert program.error is None, program.error
    assert program.report.tier == "native", program.report.tier
    assert all(n.how != "fallback" for n in program.report.nodes), f.report()
    again = f(v)
    np.testing.assert_allclose(again, first, rtol=1e-12)  # the fuzzer's float64 tolerance
    np.testing.assert_allclose(again, want, rtol=1e-12)
    print("tiered" if isinstance(program, TieredProgram) else "direct")
""")


def _run(script: str, cache: str, *args: str, env: dict | None = None) -> str:
    environ = {**os.environ, "THEANINE_CACHE_DIR": cache, "THEANINE_FLAGS": "", **(env or {})}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=300, env=environ)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_cold_cache_tiered_starts_on_python_then_switches(tmp_path):
    assert _run(COLD, str(tmp_path), "on") == "tiered"


def test_known_compiler_uncached_kernels_tiered(tmp_path):
    assert _run(COLD, str(tmp_path), "on", "probe-first") == "tiered"


def test_tiered_false_is_native_from_the_first_call(tmp_path):
    assert _run(COLD, str(tmp_path), "off") == "direct"


def test_warm_cache_is_native_from_the_first_call(tmp_path):
    _run(COLD, str(tmp_path), "off")  # fills the cache
    assert _run(COLD, str(tmp_path), "on") == "direct"


def test_a_broken_compiler_leaves_tiered_functions_on_python(tmp_path):
    broken = tmp_path / "broken-cc"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    script = PRELUDE + textwrap.dedent("""
        import warnings
        f = theanine.function([x], out, backend="c")
        np.testing.assert_allclose(f(v), want, rtol=1e-12)
        program = f.maker.program
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            program.wait(120)
        assert program.error is not None and "fails on a trivial file" in str(program.error)
        np.testing.assert_allclose(f(v), want, rtol=1e-12)  # still answers, on Python
        from theanine.cli import main
        main(["plugins"])
    """)
    text = _run(script, str(tmp_path / "cache"), "on", env={"CC": str(broken)})
    assert "no: the C compiler" in text
