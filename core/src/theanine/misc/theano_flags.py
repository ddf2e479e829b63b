"""Theano 1.0's config flags that ported code sets, most of which mean nothing in theanine.

Each is declared with Theano's default and choices, so reading it gives what Theano gave and a
wrong value is still refused; setting it (from THEANO_FLAGS, THEANINE_FLAGS or by assignment)
warns once per process that it has no effect here, and why.  Flags that do work (floatX, mode,
optimizer_including, on_unused_input, warn_float64, profile, exception_verbosity,
traceback.limit, ...) live in `theanine.config` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_GPU = "there is no GPU backend yet: everything runs on the CPU"
_C = "the C backend chooses its own compiler flags and libraries (see `theanine plugins`)"
_DEBUG = "this option of Theano's debugging tools is not implemented"
_NOGC = ("compiled programs keep no intermediate storage between calls, so there is nothing "
         "to collect")
_OPT = "theanine's rewriter has its own stages; use optimizer_including/optimizer_excluding"
_OLD_BUG = "theanine never had the Theano bug this warning is about"
_TEST_VALUE = ("test values are computed while building (compute_test_value), not during "
               "rewrites, and not printed; errors name the failing node, its inputs' shapes and "
               "dtypes at run time")


def _device(value: str) -> str:
    if value.split(":")[0].rstrip("0123456789") not in ("cpu", "cuda", "gpu", "opencl"):
        raise ValueError("expected 'cpu', 'cuda', 'cudaN', 'gpu', 'gpuN' or 'openclN:M'")
    return value


def _optional(value: str) -> str | None:
    return None if value in ("", "None") else value


def _not_cpu(value: Any) -> bool:
    return value != "cpu"


_BOOL, _S = bool, str
# (name, default, convert, choices, why it has no effect, which values have no effect)
_FLAGS: list[tuple[str, Any, Callable[[str], Any], tuple | None, str | None,
                   Callable[[Any], bool] | None]] = [
    ("device", "cpu", _device, None, _GPU, _not_cpu),
    ("init_gpu_device", "", _S, None, _GPU, bool),
    ("force_device", False, _BOOL, None, _GPU, None),
    ("print_active_device", True, _BOOL, None, _GPU, None),
    ("compute_test_value_opt", "off", _S, ("off", "ignore", "warn", "raise", "pdb"),
     _TEST_VALUE, None),
    ("cast_policy", "custom", _S, ("custom", "numpy+floatX"),
     "type promotion follows NumPy 2 with Python numbers weak (docs/architecture.md)", None),
    ("int_division", "int", _S, ("int", "raise", "floatX"),
     "`/` on integers is true division, as in NumPy", None),
    ("profile_memory", False, _BOOL, None, "profiles record time, not memory", None),
    ("profile_optimizer", False, _BOOL, None,
     "a profile always times each rewrite stage (`profile`)", None),
    ("openmp", False, _BOOL, None, "the C backend uses OpenMP when its compiler has it", None),
    ("openmp_elemwise_minsize", 200000, int, None,
     "the C backend splits elementwise loops across threads above 200,000 elements", None),
    ("allow_gc", True, _BOOL, None, _NOGC, None),
    ("scan.allow_gc", False, _BOOL, None, _NOGC, None),
    ("scan.allow_output_prealloc", True, _BOOL, None, "scan always preallocates its outputs",
     None),
    ("scan.debug", False, _BOOL, None, _DEBUG, None),
    ("cxx", "g++", _S, None, "the C backend takes its compiler from $CC, else cc/gcc/clang",
     None),
    ("gcc.cxxflags", "", _S, None, _C, None),
    ("blas.ldflags", "", _S, None, _C, None),
    ("blas.check_openmp", True, _BOOL, None, _C, None),
    ("lib.amdlibm", False, _BOOL, None, _C, None),
    ("cmodule.warn_no_version", False, _BOOL, None, _C, None),
    ("cmodule.remove_gxx_opt", False, _BOOL, None, _C, None),
    ("cmodule.compilation_warning", False, _BOOL, None, _C, None),
    ("cmodule.preload_cache", False, _BOOL, None, _C, None),
    ("cmodule.age_thresh_use", 60 * 60 * 24 * 24, int, None,
     "the artifact cache prunes itself (THEANINE_CACHE_MAX_AGE_DAYS)", None),
    ("cmodule.debug", False, _BOOL, None, _C, None),
    ("compiledir", "", _S, None, "compiled artifacts go to `cache_dir`", None),
    ("base_compiledir", "", _S, None, "compiled artifacts go to `cache_dir`", None),
    ("nocleanup", False, _BOOL, None, "failed builds are kept under <cache_dir>/failures", None),
    ("dnn.enabled", "auto", _S, ("auto", "True", "False", "no_check"), _GPU, None),
    ("dnn.include_path", "", _S, None, _GPU, None),
    ("dnn.library_path", "", _S, None, _GPU, None),
    ("dnn.conv.algo_fwd", "small", _S, None, _GPU, None),
    ("dnn.conv.algo_bwd_data", "none", _S, None, _GPU, None),
    ("dnn.conv.algo_bwd_filter", "none", _S, None, _GPU, None),
    ("dnn.conv.precision", "as_input_f32", _S, None, _GPU, None),
    ("lib.cnmem", 0.0, float, None, _GPU, None),
    ("gpuarray.preallocate", 0.0, float, None, _GPU, None),
    ("gpuarray.sched", "default", _S, ("default", "multi", "single"), _GPU, None),
    ("gpuarray.single_stream", True, _BOOL, None, _GPU, None),
    ("nvcc.fastmath", False, _BOOL, None, _GPU, None),
    ("nvcc.flags", "", _S, None, _GPU, None),
    ("cuda.root", "", _S, None, _GPU, None),
    ("pycuda.init", False, _BOOL, None, _GPU, None),
    ("enable_initial_driver_test", True, _BOOL, None, _GPU, None),
    ("assert_no_cpu_op", "ignore", _S, ("ignore", "warn", "raise", "pdb"), _GPU, None),
    ("experimental.unpickle_gpu_on_cpu", False, _BOOL, None, _GPU, None),
    ("magma.enabled", False, _BOOL, None, _GPU, None),
    ("ctc.root", "", _S, None, _GPU, None),
    ("traceback.compile_limit", 0, int, None,
     "nodes built while compiling take the creation trace of the node they replace", None),
    ("unittests.rseed", "666", _S, None, "theanine's own tests seed themselves", None),
    ("deterministic", "default", _S, ("default", "more"),
     "every implementation is deterministic already", None),
    ("reoptimize_unpickled_function", False, _BOOL, None,
     "unpickling relinks the rewritten graph without rewriting it again", None),
    ("check_input", True, _BOOL, None, "inputs are always checked", None),
    ("vm.lazy", None, _optional, None, "ifelse is lazy on every backend", None),
    ("cycle_detection", "regular", _S, ("regular", "fast"), _OPT, None),
    ("check_stack_trace", "off", _S, ("off", "log", "warn", "raise"), _OPT, None),
    ("optimizer_verbose", False, _BOOL, None, "theanine.explain(f) lists the rewrites applied",
     None),
    ("on_opt_error", "warn", _S, ("warn", "raise", "pdb", "ignore"), _OPT, None),
    ("on_shape_error", "warn", _S, ("warn", "raise"), _OPT, None),
    ("optdb.position_cutoff", float("inf"), float, None, _OPT, None),
    ("optdb.max_use_ratio", 8.0, float, None, _OPT, None),
    ("metaopt.verbose", 0, int, None, _OPT, None),
    ("tensor.cmp_sloppy", 0, int, None, "comparisons are exact, as in NumPy", None),
    ("tensor.local_elemwise_fusion", True, _BOOL, None,
     "exclude the 'fusion' tag with optimizer_excluding instead", None),
    ("conv.assert_shape", False, _BOOL, None, "convolution comes in a later issue", None),
    ("numpy.seterr_all", "ignore", _S, ("ignore", "warn", "raise", "call", "print", "log",
                                        "None"),
     "theanine leaves NumPy's error handling as you set it", None),
    ("DebugMode.check_c", True, _BOOL, None, None, None),
    ("DebugMode.check_py", True, _BOOL, None, None, None),
    ("DebugMode.check_finite", True, _BOOL, None, None, None),
    ("DebugMode.check_strides", 0, int, None, _DEBUG, None),
    ("DebugMode.patience", 10, int, None, _DEBUG, None),
    ("DebugMode.warn_input_not_reused", True, _BOOL, None, _DEBUG, None),
    ("NanGuardMode.nan_is_error", True, _BOOL, None, None, None),
    ("NanGuardMode.inf_is_error", True, _BOOL, None, None, None),
    ("NanGuardMode.big_is_error", True, _BOOL, None, None, None),
    ("NanGuardMode.action", "raise", _S, ("raise", "warn", "pdb"), _DEBUG, None),
    ("warn.ignore_bug_before", "0.9", _S, None, _OLD_BUG, None),
] + [(f"warn.{bug}", True, _BOOL, None, _OLD_BUG, None) for bug in (
    "argmax_pushdown_bug", "gpusum_01_011_0111_bug", "sum_sum_bug", "sum_div_dimshuffle_bug",
    "subtensor_merge_bug", "gpu_set_subtensor1", "vm_gc_bug", "signal_conv2d_interface",
    "reduce_join", "inc_set_subtensor1", "round", "identify_1pexp_bug")]


def add_theano_flags(config: Any) -> None:
    """Declare every flag of the table on `config` (a flag without a reason works: the debugging
    modes read it)."""
    for name, default, convert, choices, why, noop_if in _FLAGS:
        doc = f"Theano's {name}" + (f"; no effect here: {why}" if why else "")
        config.add(name, doc, default, convert, choices, noop=why, noop_if=noop_if)
