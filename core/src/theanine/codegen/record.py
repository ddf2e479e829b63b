"""Recording the kernel sources a run builds, for the CUDA backend's compile-only check
(`python -m theanine_cuda.check_kernels`).

With `THEANINE_RECORD_KERNELS=<dir>` set, a device runtime calls `record_source` for each
program it builds; the file is named by the source's hash, so a kernel built by many tests
(or processes) is written once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ENV = "THEANINE_RECORD_KERNELS"


def record_source(source: str) -> None:
    """Write `source` to `$THEANINE_RECORD_KERNELS/<sha>.cl` (nothing when it is unset)."""
    where = os.environ.get(ENV)
    if not where:
        return
    folder = Path(where)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(source.encode()).hexdigest()[:24] + ".cl")
    if path.exists():
        return
    # written aside and renamed: concurrent test processes never see half a file
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    os.replace(tmp, path)
