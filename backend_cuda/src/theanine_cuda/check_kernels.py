"""Compile-only check: every recorded OpenCL kernel source must build as CUDA for each arch.

    python -m theanine_cuda.check_kernels <dir> --arch sm_80 --arch sm_90

Sources (`*.cl`, as `THEANINE_RECORD_KERNELS` wrote them) are deduplicated by content and
compiled in batches: each batch is one .cu file holding the CUDA prelude once and every source
in its own namespace (kernels get C++ linkage there, so equal names in two sources do not
clash), built for all architectures by one nvcc run.  A batch that fails is split in halves
until the failing sources are alone, so each is named with nvcc's own error.  Exit status 1
when any source fails, 2 when nothing could be checked.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from theanine_cuda.prelude import prelude, strip_opencl
from theanine_cuda.toolkit import compile_cuda, find_nvcc

_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    name: str  # the file it came from
    text: str


@dataclass(frozen=True)
class Failure:
    source: Source
    error: str


def batch_unit(sources: Sequence[Source]) -> str:
    """One CUDA translation unit: the prelude, then each source in its own namespace, the
    macros it defined (helper guards included) undefined after it so the next one starts
    clean."""
    parts = [prelude(linkage="")]
    for k, src in enumerate(sources):
        body = strip_opencl(src.text)
        undefs = "".join(f"#undef {m}\n" for m in dict.fromkeys(_DEFINE.findall(body)))
        parts.append(f"// {src.name}\nnamespace th_src_{k} {{\n{body}\n}}\n{undefs}")
    return "\n".join(parts)


def _first_errors(stderr: str, limit: int = 6) -> str:
    lines = [ln for ln in stderr.splitlines() if "error" in ln.lower()]
    return "\n".join((lines or stderr.splitlines())[:limit])


class Checker:
    def __init__(self, archs: Sequence[str], nvcc: str | None = None):
        self.archs = list(archs)
        self.nvcc = nvcc or find_nvcc()
        self.runs = 0

    def builds(self, sources: Sequence[Source]) -> tuple[bool, str]:
        """Whether `sources` build together, and nvcc's errors when not."""
        self.runs += 1
        with tempfile.TemporaryDirectory(prefix="theanine-cuda-check-") as tmp:
            cu = Path(tmp) / "batch.cu"
            cu.write_text(batch_unit(sources))
            done = compile_cuda(self.nvcc, cu, Path(tmp) / "batch.fatbin", self.archs,
                                kind="-fatbin")
        return done.returncode == 0, done.stderr

    def failures(self, sources: Sequence[Source]) -> list[Failure]:
        """The sources of this batch that do not build, found by splitting it."""
        ok, stderr = self.builds(sources)
        if ok:
            return []
        if len(sources) == 1:
            return [Failure(sources[0], _first_errors(stderr))]
        half = len(sources) // 2
        return self.failures(sources[:half]) + self.failures(sources[half:])


def load(folder: Path) -> list[Source]:
    """The `*.cl` files under `folder`, one per distinct content, in name order."""
    seen: dict[str, Source] = {}
    for path in sorted(folder.rglob("*.cl")):
        text = path.read_text()
        seen.setdefault(hashlib.sha256(text.encode()).hexdigest(), Source(path.name, text))
    return list(seen.values())


def check(sources: Sequence[Source], archs: Sequence[str], batch: int = 40, jobs: int = 2,
          nvcc: str | None = None) -> tuple[list[Failure], int]:
    """(failures, nvcc runs) for `sources`, `batch` per .cu file, `jobs` nvcc at a time."""
    checker = Checker(archs, nvcc)
    batches = [sources[i:i + batch] for i in range(0, len(sources), batch)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        found = [f for fs in pool.map(checker.failures, batches) for f in fs]
    return found, checker.runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theanine_cuda.check_kernels",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where THEANINE_RECORD_KERNELS wrote *.cl")
    parser.add_argument("--arch", action="append", dest="archs",
                        help="an sm_XY to build for (repeatable; default sm_80 and sm_90)")
    parser.add_argument("--batch", type=int, default=40, help="sources per nvcc run")
    parser.add_argument("--jobs", type=int, default=2, help="nvcc runs at a time")
    args = parser.parse_args(argv)
    archs = args.archs or ["sm_80", "sm_90"]
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a directory of recorded kernels", file=sys.stderr)
        return 2
    sources = load(args.folder)
    if not sources:
        print(f"error: no *.cl sources under {args.folder}: was THEANINE_RECORD_KERNELS set "
              "for the recording run?", file=sys.stderr)
        return 2
    start = time.perf_counter()
    failed, runs = check(sources, archs, args.batch, args.jobs)
    took = time.perf_counter() - start
    print(f"{len(sources)} distinct kernel sources, {', '.join(archs)}: "
          f"{len(sources) - len(failed)} build, {len(failed)} fail ({runs} nvcc runs, "
          f"{took:.1f} s)")
    for f in failed:
        print(f"\nFAILED {f.source.name}:\n{f.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
