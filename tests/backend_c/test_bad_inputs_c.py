"""The catalogue of bad inputs (bad_inputs_catalogue.py) on backend c, in a subprocess: every
case raises a clear Python error naming the variable (or computes NumPy's answer) and the
interpreter survives all of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from c_checks import require_c

require_c()

SCRIPT = Path(__file__).with_name("bad_inputs_catalogue.py")


def _case_names() -> list[str]:
    return re.findall(r'^@case\("([^"]+)"', SCRIPT.read_text(), flags=re.MULTILINE)


def test_every_bad_input_raises_a_clear_error_and_nothing_crashes():
    env = dict(os.environ, THEANINE_FLAGS="backend=c,tiered=False")
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          env=env, timeout=300)
    out = done.stdout
    assert done.returncode == 0, f"exit status {done.returncode}\n{out}\n{done.stderr}"
    assert out.rstrip().endswith("END"), out
    failures = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert not failures, out
    names = _case_names()
    assert len(names) >= 20
    for name in names:
        assert f"OK {name}" in out, f"case {name!r} did not report OK:\n{out}"
