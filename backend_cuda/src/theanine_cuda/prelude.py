"""The CUDA dialect: OpenCL C kernels made CUDA C++ by a prelude of macros and inline functions.

The kernels of the device backends are written once, in the handful of OpenCL spellings they
use (`__kernel`, `__global`, `__local`, `get_global_id` and friends, `barrier`,
`atomic_min`, `uchar`/`ushort`/`uint`/`ulong`).  Prepending `PRELUDE` maps each to CUDA:
a kernel is `__global__` (with C linkage when it is loaded by name), `__local` arrays are
`__shared__`, work-item queries are blockIdx/threadIdx arithmetic on a one-dimensional launch,
`barrier` is `__syncthreads()`.  `#pragma OPENCL` lines are dropped.
"""

from __future__ import annotations

import re

#: C linkage, so a kernel is found by its name in the module (the runtime's spelling); the
#: compile check wraps many programs in namespaces and so uses C++ linkage instead
EXTERN_C = 'extern "C"'

_PRELUDE = r"""// --- theanine CUDA prelude: OpenCL C spellings as CUDA C++ ---
#ifndef THEANINE_CUDA_PRELUDE
#define THEANINE_CUDA_PRELUDE
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
// OpenCL programs typedef the <stdint.h> names themselves (`typedef char int8_t`), which
// clashes with the host headers nvcc includes: those names become the program's own types
#define int8_t th_cl_int8_t
#define int16_t th_cl_int16_t
#define int32_t th_cl_int32_t
#define int64_t th_cl_int64_t
#define uint8_t th_cl_uint8_t
#define uint16_t th_cl_uint16_t
#define uint32_t th_cl_uint32_t
#define uint64_t th_cl_uint64_t
// the programs' helper functions are `static inline`: make them device functions
#define inline __device__ __forceinline__
#define __global
#define __local __shared__
#define __constant const
#define CLK_LOCAL_MEM_FENCE 1
#define CLK_GLOBAL_MEM_FENCE 2
#define barrier(flags) __syncthreads()
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
__device__ __forceinline__ size_t get_local_id(uint d) {
    return d == 0 ? threadIdx.x : d == 1 ? threadIdx.y : threadIdx.z; }
__device__ __forceinline__ size_t get_group_id(uint d) {
    return d == 0 ? blockIdx.x : d == 1 ? blockIdx.y : blockIdx.z; }
__device__ __forceinline__ size_t get_local_size(uint d) {
    return d == 0 ? blockDim.x : d == 1 ? blockDim.y : blockDim.z; }
__device__ __forceinline__ size_t get_num_groups(uint d) {
    return d == 0 ? gridDim.x : d == 1 ? gridDim.y : gridDim.z; }
__device__ __forceinline__ size_t get_global_id(uint d) {
    return get_group_id(d) * get_local_size(d) + get_local_id(d); }
__device__ __forceinline__ size_t get_global_size(uint d) {
    return get_num_groups(d) * get_local_size(d); }
__device__ __forceinline__ int atomic_min(int *p, int v) { return atomicMin(p, v); }
__device__ __forceinline__ int atomic_max(int *p, int v) { return atomicMax(p, v); }
__device__ __forceinline__ int atomic_add(int *p, int v) { return atomicAdd(p, v); }
__device__ __forceinline__ int atomic_inc(int *p) { return atomicAdd(p, 1); }
#endif
"""

_OPENCL_PRAGMA = re.compile(r"^\s*#\s*pragma\s+OPENCL\b.*$", re.MULTILINE)


def prelude(linkage: str = EXTERN_C) -> str:
    """The prelude, with `__kernel` meaning a `__global__` function of `linkage`."""
    return _PRELUDE + f"#undef __kernel\n#define __kernel {linkage} __global__\n"


def strip_opencl(source: str) -> str:
    """`source` without its `#pragma OPENCL ...` lines (extensions CUDA has built in)."""
    return _OPENCL_PRAGMA.sub("", source)


def to_cuda(source: str, linkage: str = EXTERN_C) -> str:
    """An OpenCL C program as one CUDA C++ translation unit."""
    return prelude(linkage) + strip_opencl(source)
