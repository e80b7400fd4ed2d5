"""BLAS thread control, shared by the patch loop and the training loops (threadpoolctl).

``torch.set_num_threads`` and ``OMP_NUM_THREADS`` do not reach the pthread build of OpenBLAS
that Debian ships; threadpoolctl sets the thread count through the library itself. Where
threadpoolctl is missing (a GPU machine with torch and NumPy only) these are no-ops.
"""

from __future__ import annotations

import contextlib
import functools


@functools.lru_cache(maxsize=1)
def _controller():
    """One scan of the loaded BLAS libraries (numpy loads OpenBLAS before anything calls this)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def limit_threads(n: int = 1) -> None:
    """Use ``n`` torch and ``n`` BLAS threads: on small shared cores, spinning BLAS threads made a
    training step several times slower, and ``torch.set_num_threads`` alone does not reach
    OpenBLAS."""
    import torch

    torch.set_num_threads(n)
    set_blas_threads(n)


def set_blas_threads(n: int) -> None:
    """Use ``n`` BLAS threads from now on."""
    controller = _controller()
    if controller is not None:
        controller.limit(limits=int(n), user_api="blas")


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """Run the block with ``n`` BLAS threads, then restore the previous counts."""
    controller = _controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=int(n), user_api="blas"):
        yield
