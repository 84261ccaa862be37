"""Memory settings of the data loader's worker processes: keep freed memory for the next batch.

A worker allocates and frees the same large buffers for every batch (decoded photos, the batch of
images, chunks of float views). glibc hands freed blocks above its mmap threshold (128 KiB at
first) back to the kernel, and trims the top of the heap once it holds more than twice that free,
so the next batch maps the memory again and faults it in 4 KiB page by page, each page zeroed;
where page faults are dear (virtual machines) that is a large share of a worker's time. With the
threshold for separate mappings at 32 MiB and no trimming below 1 GiB, such buffers are reused
from the heap. A worker keeps the memory it has used at its peak, as it would hold it anyway for
the next batch.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Set this process's glibc heap to keep freed buffers; True when glibc took the settings,
    False elsewhere (musl, macOS, Windows), where nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def init_loader_worker(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: :func:`keep_freed_memory` in the worker."""
    keep_freed_memory()
