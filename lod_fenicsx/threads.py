"""OpenBLAS thread control, shared by the patch loop and the training loops.

``torch.set_num_threads`` and ``OMP_NUM_THREADS`` do not reach the pthread build of OpenBLAS
that Debian ships, so its thread count is set through the library itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools


@functools.lru_cache(maxsize=1)
def openblas():
    """The loaded OpenBLAS library (ctypes), or None when another BLAS is in use."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        with contextlib.suppress(OSError, AttributeError):
            lib = ctypes.CDLL(path)
            lib.openblas_get_num_threads, lib.openblas_set_num_threads  # noqa: B018
            return lib
    return None


def set_blas_threads(n: int) -> None:
    """Use ``n`` OpenBLAS threads from now on (no-op for another BLAS)."""
    lib = openblas()
    if lib is not None:
        lib.openblas_set_num_threads(int(n))


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """Run the block with ``n`` OpenBLAS threads, then restore the previous count."""
    lib = openblas()
    if lib is None:
        yield
        return
    old = lib.openblas_get_num_threads()
    lib.openblas_set_num_threads(int(n))
    try:
        yield
    finally:
        lib.openblas_set_num_threads(old)
