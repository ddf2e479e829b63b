"""theanine's OpenCL backend (entry point `opencl`); see `theanine_opencl.backend`."""
