"""Keep freed heap memory in the process (glibc on Linux): for training steps and loader workers.

A training step allocates its activations and gradients afresh and frees them at the end; a data
loader's worker allocates and frees the same large buffers for every batch (decoded photos, the
batch, chunks of float views). With glibc's default settings, freed blocks of a few MB go back to
the operating system (munmap, or trimming the top of the heap), so the next step or batch
page-faults the same amount in again, zeroing every page: a sizeable share of a small CNN's step
on the CPU (BENCHMARKS.md, "SimCLR on MNIST", speed of the loop) and of a photo loader's worker
(BENCHMARKS.md, "Photos to SimCLR views"). Raising the mmap threshold to its maximum (32 MiB) and
the trim threshold to 1 GiB keeps those blocks for reuse; the resident memory then stays near the
process's peak instead of dipping between steps.

These are process-wide malloc settings: they also apply to whatever else the process runs. The
training loop applies them unless ``TrainConfig.keep_freed_memory`` is off; the loaders' worker
processes always do (:func:`init_loader_worker`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's ceiling on 64-bit systems
_TRIM_THRESHOLD = 1 << 30

_applied = False


def keep_freed_memory() -> bool:
    """Apply the malloc settings once per process; True when they are in effect.

    Does nothing (returns False) where there is no glibc ``mallopt``: macOS, Windows, musl.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _applied


def init_loader_worker(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: :func:`keep_freed_memory` in the worker process."""
    keep_freed_memory()
