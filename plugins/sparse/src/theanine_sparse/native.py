"""Native code for the C backend: `SparseDenseProduct` as a `CCode` (the contract of
`theanine.codegen.native`), and `csm_properties` and `CSM` on the host (they only hand out
a scipy matrix's own arrays, or wrap arrays into one).

The kernel checks the components before reading through them (indptr monotone and within
the stored values, every index inside the matrix, the shapes aligned), so malformed
components give an error, never an out-of-bounds read.  CSR rows are independent and run on
OpenMP threads; CSC scatters column by column.
"""

from __future__ import annotations

from typing import Any

from theanine.codegen.cstyle import Unsupported
from theanine.codegen.native import CCode
from theanine.graph.basic import Apply

_CTYPES = {"float32": "float", "float64": "double"}

_SOURCE = r"""
#include <stdio.h>

int KNAME(const th_array *in, th_array *out, char *error, int64_t error_size)
{
    const T *data = (const T *)in[0].data;
    const int32_t *ind = (const int32_t *)in[1].data;
    const int32_t *ptr = (const int32_t *)in[2].data;
    const int64_t *shape = (const int64_t *)in[3].data;
    const T *y = (const T *)in[4].data;
    T *z = (T *)out[0].data;
    const int64_t nnz = in[0].size, k = in[4].ndim == 2 ? in[4].shape[1] : 1;
    if (in[3].size != 2 || in[1].size != nnz) {
        snprintf(error, error_size, "expected a shape of 2 entries and one index per value, "
                 "got %lld shape entries, %lld indices, %lld values", (long long)in[3].size,
                 (long long)in[1].size, (long long)nnz);
        return 1;
    }
    if (shape[0] < 0 || shape[1] != in[4].shape[0]) {
        snprintf(error, error_size, "shapes (%lld, %lld) and (%lld, ...) do not align",
                 (long long)shape[0], (long long)shape[1], (long long)in[4].shape[0]);
        return 1;
    }
    const int64_t nmajor = CSR ? shape[0] : shape[1], nminor = CSR ? shape[1] : shape[0];
    if (in[2].size != nmajor + 1 || ptr[0] < 0 || ptr[nmajor] > nnz) {
        snprintf(error, error_size, "indptr of %lld entries does not describe %lld %s of at "
                 "most %lld values", (long long)in[2].size, (long long)nmajor,
                 CSR ? "rows" : "columns", (long long)nnz);
        return 1;
    }
    for (int64_t i = 0; i < nmajor; i++) {
        if (ptr[i] > ptr[i + 1]) {
            snprintf(error, error_size, "indptr decreases at %lld", (long long)i);
            return 1;
        }
    }
    for (int64_t p = ptr[0]; p < ptr[nmajor]; p++) {
        if (ind[p] < 0 || ind[p] >= nminor) {
            snprintf(error, error_size, "index %lld at position %lld is outside 0..%lld",
                     (long long)ind[p], (long long)p, (long long)(nminor - 1));
            return 1;
        }
    }
#if CSR
    #pragma omp parallel for schedule(static) if (nnz * k > 100000)
    for (int64_t i = 0; i < nmajor; i++) {
        T *zi = z + i * k;
        for (int64_t c = 0; c < k; c++) zi[c] = 0;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
            const T v = data[p];
            const T *yj = y + (int64_t)ind[p] * k;
            for (int64_t c = 0; c < k; c++) zi[c] += v * yj[c];
        }
    }
#else
    for (int64_t n = 0; n < shape[0] * k; n++) z[n] = 0;
    for (int64_t j = 0; j < nmajor; j++) {
        const T *yj = y + j * k;
        for (int64_t p = ptr[j]; p < ptr[j + 1]; p++) {
            const T v = data[p];
            T *zi = z + (int64_t)ind[p] * k;
            for (int64_t c = 0; c < k; c++) zi[c] += v * yj[c];
        }
    }
#endif
    return 0;
}
"""


def product_source(format: str, dtype: str) -> tuple[str, str]:
    """(C source, function name) of the product kernel for one format and dtype."""
    name = f"th_sparse_{format}_dense_{dtype}"
    header = f"typedef {_CTYPES[dtype]} T;\n#define CSR {int(format == 'csr')}\n"
    return header + _SOURCE.replace("KNAME", name), name


def _output_shapes(data: Any, indices: Any, indptr: Any, shape: Any, y: Any) -> list:
    if len(shape) != 2:
        raise ValueError(f"SparseDenseProduct: shape must have 2 entries, got {list(shape)}")
    return [(int(shape[0]),) + tuple(y.shape[1:])]


def sparse_dense_product_c(node: Apply) -> CCode:
    """The C backend's impl of `SparseDenseProduct` (float32 and float64)."""
    dtype = node.outputs[0].dtype
    if dtype not in _CTYPES:
        raise Unsupported(f"no native sparse-dense product for {dtype}")
    source, name = product_source(node.op.format, dtype)
    return CCode(source, name, output_shapes=_output_shapes)


def host_view(node: Apply) -> Any:
    """The C backend's impl of `csm_properties` and `CSM`: a matrix's NumPy arrays handed
    out, or wrapped into a scipy matrix, on the host."""
    from theanine_c.backend import HOST

    return HOST
