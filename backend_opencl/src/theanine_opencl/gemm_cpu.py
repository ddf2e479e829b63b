"""The matrix · matrix kernel for CPU devices (PoCL), where the GPU's tiled kernel is slow.

PoCL runs a work-group as a loop over its work items and vectorizes across them only when
that loop is innermost; with a register tile per item and barriers around local tiles it
instead keeps each item's accumulators and local addresses in memory between barriers
(measured: 5-10 GFLOP/s, 1024² float32 in 200-400 ms).  So here a work-group is ONE work item,
written as a CPU would be programmed: explicit vectors, no barriers, a register tile.

Each group computes a TM x TN block of the result (TN = C vectors of V elements).  Per
block of `panel_k` rows of the shared dimension it first copies that panel of B into local
memory, through B's own strides (so a transposed or strided B costs a gather, never a
copy), contiguous and L1-sized: every row of A then streams over the same cached panel,
and a power-of-two row stride of B cannot alias the panel out of the cache.  Rows of A are
read in place (one value broadcast per row and step).  An R x C register tile of vectors
takes R * C multiply-adds per C vector loads and R scalar loads.  Partial sums of earlier
panels live in the result (c, a fresh array) until the last panel applies alpha and beta.

The sizes were measured on a 2-core AVX-512 host (float32 and float64, 256 to 1024).
"""

from __future__ import annotations

from typing import Any

#: register tile: R rows x C vectors of V elements; S tiles of rows per group
R, C, V, S = 4, 2, 16, 16
TN, TM = C * V, R * S
#: bytes of B's panel in local memory (an L1 cache's worth)
PANEL_BYTES = 32 * 1024


def panel_k(itemsize: int) -> int:
    """Rows of B in one panel."""
    return PANEL_BYTES // (TN * itemsize)


def usable(rt: Any) -> bool:
    """Whether the device is a CPU whose local memory holds a panel of B."""
    return bool(rt.is_cpu) and int(rt.device.local_mem_size) >= PANEL_BYTES


def work_size(m: int, n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(global, local) sizes: one single-item group per TM x TN block of the result."""
    return (-(-n // TN), -(-m // TM)), (1, 1)


def render(t: str, itemsize: int, params: str, prologue: list[str], gemm: bool) -> str:
    """The kernel `KNAME_mm(M, N, K, <params>)` and its two row helpers, in OpenCL C.

    `params` are the operands, scaling and `c` as the tiled kernel takes them; `prologue`
    reads alpha and beta from the device when they are not passed by value."""
    vt, tk = f"{t}{V}", panel_k(itemsize)
    scale = ""
    if gemm:
        scale = f"""
            if (last) {{  /* gemm: beta == 0 ignores z (a NaN there does not propagate) */
                for (int r = 0; r < {R}; r++) {{
                    if (i0 + r >= M) break;
                    {vt} zv[{C}];
                    if (beta != 0) KNAME_gather(z + zo + (i0 + r) * zs0 + j0 * zs1, zs1, n, zv);
                    for (int q = 0; q < {C}; q++)
                        acc[r][q] = beta != 0 ? alpha * acc[r][q] + beta * zv[q]
                                              : alpha * acc[r][q];
                }}
            }}"""
    return f"""
/* row of TN values from `p` (step `s`): columns from n on read as 0 */
void KNAME_gather(__global const {t} *p, const long s, const long n, {vt} *v) {{
    if (n >= {TN} && s == 1) {{
        for (int q = 0; q < {C}; q++) v[q] = vload{V}(q, p);
        return;
    }}
    {t} tmp[{TN}];
    for (int q = 0; q < {TN}; q++) tmp[q] = q < n ? p[q * s] : 0;
    for (int q = 0; q < {C}; q++) v[q] = vload{V}(q, tmp);
}}

/* the first n of a row of TN values into `p` (contiguous) */
void KNAME_put(__global {t} *p, const long n, const {vt} *v) {{
    if (n >= {TN}) {{
        for (int q = 0; q < {C}; q++) vstore{V}(v[q], q, p);
        return;
    }}
    {t} tmp[{TN}];
    for (int q = 0; q < {C}; q++) vstore{V}(v[q], q, tmp);
    for (int q = 0; q < n; q++) p[q] = tmp[q];
}}

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void KNAME_mm(const long M, const long N, const long K, {params}) {{
    __local {t} panel[{tk * TN}];
{chr(10).join(prologue)}
    const long i00 = get_group_id(1) * {TM}, j0 = get_group_id(0) * {TN};
    const long n = min((long){TN}, N - j0);  /* columns of this block */
    for (long k0 = 0; ; k0 += {tk}) {{  /* runs once when K == 0: the scaling still applies */
        const int kb = (int)min((long){tk}, K - k0);
        const bool last = k0 + {tk} >= K;
        for (int k = 0; k < kb; k++) {{
            {vt} row[{C}];
            KNAME_gather(b + bo + (k0 + k) * bs0 + j0 * bs1, bs1, n, row);
            for (int q = 0; q < {C}; q++) vstore{V}(row[q], q, panel + k * {TN});
        }}
        for (long i0 = i00; i0 < min(i00 + {TM}, M); i0 += {R}) {{
            /* rows past M read row M - 1 (in bounds) and are never written */
            __global const {t} *pa[{R}];
            {vt} acc[{R}][{C}];
            #pragma unroll
            for (int r = 0; r < {R}; r++) {{
                const long i = min(i0 + r, M - 1);
                pa[r] = a + ao + i * as0 + k0 * as1;
                if (k0 > 0) {{
                    KNAME_gather(c + i * N + j0, 1, n, acc[r]);
                }} else {{
                    #pragma unroll
                    for (int q = 0; q < {C}; q++) acc[r][q] = 0;
                }}
            }}
            for (int k = 0; k < kb; k++) {{
                {vt} bv[{C}];
                #pragma unroll
                for (int q = 0; q < {C}; q++) bv[q] = vload{V}(q, panel + k * {TN});
                #pragma unroll
                for (int r = 0; r < {R}; r++) {{
                    const {t} av = pa[r][k * as1];
                    /* not fma(): PoCL's SLEEF build calls it out of line; LLVM contracts this */
                    #pragma unroll
                    for (int q = 0; q < {C}; q++) acc[r][q] += av * bv[q];
                }}
            }}{scale}
            for (int r = 0; r < {R} && i0 + r < M; r++) KNAME_put(c + (i0 + r) * N + j0, n, acc[r]);
        }}
        if (last) break;
    }}
}}"""
