"""Keep freed heap memory in the process during training (glibc on Linux).

A training step allocates its activations and gradients afresh and frees them at the end. With
glibc's default settings, freed blocks of a few MB go back to the operating system (munmap, or
trimming the top of the heap), so the next step page-faults the same amount in again, zeroing
every page: a sizeable share of a small CNN's step on the CPU (BENCHMARKS.md, "SimCLR on MNIST",
speed of the loop). Raising the mmap threshold to its maximum (32 MiB) and the trim threshold to
1 GiB keeps those blocks for reuse; the resident memory then stays near the run's peak instead of
dipping between steps.

These are process-wide malloc settings: they also apply to whatever else the process runs.
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
