"""The custom-Op author kit: what a package that defines its own Ops tests them with.

- `verify_grad(op_or_fn, inputs)`: the symbolic gradient against finite differences;
- `check_infer_shape(op_or_fn, inputs)`: `infer_shape` against the computed shapes;
- `check_backends(op_or_fn, inputs)`: every available backend against `perform`;
- a pytest plugin (`theanine.testing.pytest_plugin`) with `--theanine-backend` and the
  `theanine_backend` fixture, so a suite runs once per installed backend.
"""

from theanine.gradient import GradientError
from theanine.testing.checks import (
    BackendMismatchError,
    InferShapeError,
    check_backends,
    check_infer_shape,
    make_variables,
    verify_grad,
)

__all__ = [
    "BackendMismatchError",
    "GradientError",
    "InferShapeError",
    "check_backends",
    "check_infer_shape",
    "make_variables",
    "verify_grad",
]
