"""Launch configuration: one thread per element, in blocks of a fixed size.

The kernels compute `i = blockIdx.x * blockDim.x + threadIdx.x` and return when `i >= n`, so
the grid only has to cover `n`.  A grid's x extent is at most 2**31 - 1 blocks.
"""

from __future__ import annotations

THREADS = 256
MAX_BLOCKS = 2**31 - 1


def elementwise_launch(n: int, threads: int = THREADS) -> tuple[tuple[int, int, int],
                                                                tuple[int, int, int]]:
    """(grid, block) covering `n` elements with `threads` per block (at least one block)."""
    if n < 0:
        raise ValueError(f"element count {n} is negative")
    blocks = max(1, -(-n // threads))
    if blocks > MAX_BLOCKS:
        raise ValueError(f"{n} elements need {blocks} blocks of {threads} threads; a CUDA grid "
                         f"has at most {MAX_BLOCKS}")
    return (blocks, 1, 1), (threads, 1, 1)
