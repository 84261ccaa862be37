"""Decoding many image files to squares in worker processes that write into shared memory.

An image folder is decoded once, into one uint8 array. With ``workers`` processes each worker
takes chunks of file indices, decodes them (``decode.decode_square``: reduced-size JPEG decoding,
centre square resampled) and writes the pixels straight into a shared-memory array at their
indices, so no pixels are pickled through a pipe; only the reasons of undecodable files come
back. The result does not depend on the number of workers: ``workers=0`` decodes the same pixels
in this process.

Workers are forked (they inherit the file list and the array); where ``fork`` does not exist
(Windows, and macOS's default) the files are decoded in this process.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from simclip import imageio
from simclip.data.decode import decode_square
from simclip.heap import keep_freed_memory
from simclip.imageio import preload_jpeg_decoder

_CHUNK = 32  # files per task: large enough that scheduling is cheap, small enough to balance
_MIN_FILES_PER_WORKER = 64  # below this, starting processes costs more than it saves
_MAX_DEFAULT_WORKERS = 4

# What forked workers read: set in the parent just before the pool forks, never pickled.
_job: tuple[Sequence[Path], np.ndarray, int, int] | None = None


@dataclass(frozen=True)
class DecodedSquares:
    """Files decoded to squares.

    Attributes:
        images: uint8 ``[len(kept), S, S, C]``, the decodable files in file order.
        kept: index in the file list of each decoded image.
        bad: ``(path, reason)`` of each undecodable file, in file order.
    """

    images: np.ndarray
    kept: list[int]
    bad: list[tuple[str, str]]


def single_threaded_worker() -> None:
    """Pool initializer: one torch thread per decoding worker process (the workers are the
    parallelism; a forked OpenMP pool would also oversubscribe the cores), whose heap keeps the
    buffers it frees for the next file (:func:`~simclip.heap.keep_freed_memory`)."""
    torch.set_num_threads(1)
    keep_freed_memory()


def default_workers(n_files: int) -> int:
    """Worker processes used when none are asked for: up to 4 (never more than the CPUs this
    process may run on, nor one per 64 files); 0 (this process) for small folders."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(_MAX_DEFAULT_WORKERS, cpus, n_files // _MIN_FILES_PER_WORKER)
    return workers if workers >= 2 else 0


def decode_squares(files: Sequence[Path], size: int, channels: int = 3, *, workers: int | None = None,
                   strict: bool = False) -> DecodedSquares:
    """Decode ``files`` to uint8 ``[size, size, channels]`` each, in ``workers`` processes
    (None: :func:`default_workers`; 0: this process).

    Raises:
        ImageDecodeError: with ``strict``, for the first undecodable file (in file order).
    """
    if workers is None:
        workers = default_workers(len(files))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative int, got {workers!r}")
    if workers and "fork" not in multiprocessing.get_all_start_methods():
        workers = 0
    n = len(files)
    if workers == 0 or n == 0:
        out = np.empty((n, size, size, channels), dtype=np.uint8)
        reasons = _decode_range(files, out, size, channels, 0, n, strict)
    else:
        # share_memory_() maps the storage MAP_SHARED, so what forked workers write is seen here
        shared = torch.empty((n, size, size, channels), dtype=torch.uint8).share_memory_()
        out = shared.numpy()
        reasons = _decode_forked(files, out, size, channels, workers)
    bad = [(str(files[i]), reasons[i]) for i in sorted(reasons)]
    if strict and bad:
        raise imageio.ImageDecodeError(bad[0][1])
    kept = [i for i in range(n) if i not in reasons]
    images = out if not bad else out[kept]
    return DecodedSquares(images=np.ascontiguousarray(images), kept=kept, bad=bad)


def _decode_forked(files: Sequence[Path], out: np.ndarray, size: int, channels: int,
                   workers: int) -> dict[int, str]:
    global _job
    n = len(files)
    chunks = [(start, min(start + _CHUNK, n)) for start in range(0, n, _CHUNK)]
    _job = (files, out, size, channels)
    preload_jpeg_decoder()  # imported once here, not by each worker on its first photo
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, len(chunks)), initializer=single_threaded_worker) as pool:
            reasons: dict[int, str] = {}
            for found in pool.imap_unordered(_decode_chunk, chunks):
                reasons.update(found)
        return reasons
    finally:
        _job = None


def _decode_chunk(bounds: tuple[int, int]) -> dict[int, str]:
    assert _job is not None, "a worker forked without a job"
    files, out, size, channels = _job
    return _decode_range(files, out, size, channels, bounds[0], bounds[1], strict=False)


def _decode_range(files: Sequence[Path], out: np.ndarray, size: int, channels: int, start: int,
                  stop: int, strict: bool) -> dict[int, str]:
    """Decode ``files[start:stop]`` into ``out[start:stop]``; the reasons of those that fail."""
    reasons = {}
    for i in range(start, stop):
        try:
            out[i] = decode_square(files[i], size, channels)
        except imageio.ImageDecodeError as err:
            if strict:
                raise
            reasons[i] = str(err)
    return reasons
