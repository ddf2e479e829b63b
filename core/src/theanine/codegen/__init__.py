"""What the C-family backends (C, OpenCL, CUDA) share: kernel descriptions (`kernels`), the
renderer they subclass for their dialect (`cstyle`), the helper functions scalar expressions
call (`helpers`), and the contract for an Op's own native code (`native`)."""

from theanine.codegen.native import C_ARRAY_HEADER, CCode

__all__ = ["C_ARRAY_HEADER", "CCode"]
