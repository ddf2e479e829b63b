"""Matrix-vector products split over the backend's OpenMP threads.

OpenBLAS threads a gemv only from about 460,800 elements on (NumPy's 0.3.31 build: its
threshold is 115,200 times GEMM_MULTITHREAD_THRESHOLD, 4); below that one core reads the whole
matrix.  A 400 x 784 float64 gemv (the tutorial's logistic regression) takes 29 us there on
one core and 15 us split in two.  So between `SPLIT_MIN` and that threshold the rows of the
product (of op(A)) are cut into one block per OpenMP thread, each block one call of the same
OpenBLAS gemv (a float32 result may differ from one call's in the last bit, where a block
edge regroups the kernel's vector lanes).  Above the threshold OpenBLAS's own pool does it.

The split pays only while the OpenMP threads are awake: woken from sleep, each parallel
region costs 20-30 us here, which is why the backend lets idle threads spin briefly
(`build.SPIN_COUNT`).
"""

from __future__ import annotations

from typing import Any

from theanine.codegen.cstyle import Unit
from theanine_c.build import Library, Source, ffi, threads_spin
from theanine_c.plan import named_source
from theanine_c.renderer import CRenderer

#: smallest product (rows x cols) worth a fork/join: below it one call is as fast
SPLIT_MIN = 1 << 16
#: where OpenBLAS starts threading a gemv itself (see the module docstring)
OPENBLAS_THREADS_FROM = 460_800

_SOURCE = r"""
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
typedef void (*KNAME_gemv_t)(int, int, int64_t, int64_t, %(T)s, const %(T)s *, int64_t,
                             const %(T)s *, int64_t, %(T)s, %(T)s *, int64_t);

int KNAME_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* y = alpha op(A) x + beta y, A row-major (rows x cols, leading dimension lda), y contiguous:
   thread t computes the block [lo, hi) of y (64-byte aligned edges, no false sharing). */
void KNAME_split(void *fn, int trans, int64_t rows, int64_t cols, %(T)s alpha,
                 const %(T)s *a, int64_t lda, const %(T)s *x, int64_t incx, %(T)s beta,
                 %(T)s *y, int threads) {
    const KNAME_gemv_t gemv = (KNAME_gemv_t)fn;
    const int64_t n = trans ? cols : rows;
    #pragma omp parallel num_threads(threads) if(threads > 1)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        const int64_t lo = (n * t / nt) & ~(int64_t)15;
        const int64_t hi = t == nt - 1 ? n : (n * (t + 1) / nt) & ~(int64_t)15;
        if (hi > lo) {
            if (trans)
                gemv(101, 112, rows, hi - lo, alpha, a + lo, lda, x, incx, beta, y + lo, 1);
            else
                gemv(101, 111, hi - lo, cols, alpha, a + lo * lda, lda, x, incx, beta, y + lo, 1);
        }
    }
}
"""


def source(dtype: str, renderer: CRenderer) -> tuple[Source, str]:
    """The unit of the split gemv for `dtype` (float32 or float64) and its kernel name."""
    t = renderer.ctype(dtype)
    unit = Unit(renderer)
    unit.kernels.append(_SOURCE % {"T": t})
    unit.declarations.extend([
        "int KNAME_threads(void);",
        f"void KNAME_split(void *, int, int64_t, int64_t, {t}, void *, int64_t, void *, "
        f"int64_t, {t}, void *, int);"])
    return named_source(unit.source(), unit.declarations)


class SplitGemv:
    """The loaded split gemv: `__call__` takes gemv's row-major CBLAS arguments (unit-stride
    y) and returns False, doing nothing, when the product is outside the split's range or
    OpenMP has one thread.  Made only where idle threads spin (`loaded`)."""

    def __init__(self, lib: Library, name: str, gemv: Any):
        self._split = lib.function(f"{name}_split")
        self._threads = lib.function(f"{name}_threads")
        self._gemv = ffi().cast("void *", gemv)

    @classmethod
    def loaded(cls, lib: Library, name: str, gemv: Any) -> SplitGemv | None:
        """The split, or None where OpenMP's idle threads sleep at once (the user's
        `OMP_WAIT_POLICY=PASSIVE`, or a runtime other than libgomp): woken from sleep, they
        would cost more than the split saves, and the product stays one plain call."""
        return cls(lib, name, gemv) if threads_spin() else None

    @staticmethod
    def covers(size: int) -> bool:
        """Whether a product with a matrix of `size` elements is split."""
        return SPLIT_MIN <= size < OPENBLAS_THREADS_FROM

    def __call__(self, trans: bool, rows: int, cols: int, alpha: float, a: Any, lda: int,
                 x: Any, incx: int, beta: float, y: Any) -> bool:
        if not self.covers(rows * cols):
            return False
        threads = self._threads()
        if threads < 2:
            return False
        self._split(self._gemv, int(trans), rows, cols, alpha, a, lda, x, incx, beta, y,
                    threads)
        return True

