"""Kernel files are unloaded with the last program that uses them, but the runtimes they link
to (libgomp, whose idle OpenMP threads keep running its code) stay loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from c_checks import require_c

require_c()

SCRIPT = textwrap.dedent("""
    import gc
    import numpy as np
    import theanine, theanine.tensor as T

    def mapped(name):
        return any(name in line for line in open("/proc/self/maps"))

    x = T.dvector("x")
    with theanine.config.change_flags(tiered=False):
        f = theanine.function([x], T.exp(x) * 3.0 + 1.25, backend="c")
    f(np.ones(1_000_000))  # above the threshold: OpenMP threads start
    kernels = f.maker.program.libraries
    assert kernels and all(mapped(str(lib.path)) for lib in kernels)
    paths = [str(lib.path) for lib in kernels]
    del f, kernels
    gc.collect()
    assert not any(mapped(p) for p in paths), "kernel files stay mapped"
    assert mapped("libgomp"), "libgomp was unloaded under its threads"
    print("ok")
""")


def test_kernels_unload_and_openmp_stays():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
