"""The contract for native code that an Op brings itself: `Op.c_code(node)` (or an impl
registered with `theanine_register_op_impls` for backend "c") returns a `CCode`.

The C function receives every input and every output as a `th_array` (the header below is put
before the source) and returns 0, or nonzero after writing a message into `error`:

    int NAME(const th_array *inputs, th_array *outputs, char *error, int64_t error_size);

The backend converts the inputs to the node's dtypes (and makes them C-contiguous unless
`contiguous_inputs=False`), allocates C-contiguous outputs of the shapes `output_shapes(*inputs)`
returns and of the node's output dtypes, and checks those shapes before calling, so the
function may index within them freely.  Strides are in bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: maximum rank of an array handed to native code
MAX_NDIM = 16

C_ARRAY_HEADER = f"""#include <stdint.h>
#include <stddef.h>
#include <math.h>
#define TH_MAX_NDIM {MAX_NDIM}
typedef struct {{
    char *data;
    int64_t ndim;
    int64_t size;
    int64_t shape[TH_MAX_NDIM];
    int64_t strides[TH_MAX_NDIM];
}} th_array;
"""


@dataclass(frozen=True)
class CCode:
    """C source defining `name` with the signature above; `output_shapes(*input_values)`
    gives each output's shape."""

    source: str
    name: str
    output_shapes: Callable[..., Sequence[tuple[int, ...]]]
    contiguous_inputs: bool = True

    def full_source(self) -> str:
        return C_ARRAY_HEADER + self.source

    def key(self) -> tuple[Any, ...]:
        return (self.source, self.name, self.contiguous_inputs)
