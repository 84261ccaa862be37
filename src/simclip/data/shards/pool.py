"""An order-keeping parallel map with a bounded number of tasks in flight.

``Executor.map`` submits every task at once, and ``multiprocessing.Pool.imap`` reads its input as
fast as it can: on a source of millions of images either holds them all. Here at most
``ahead`` tasks are submitted before the oldest result is taken, so memory stays flat however
long the input is.
"""
from __future__ import annotations

import collections
import concurrent.futures as futures
import multiprocessing
from collections.abc import Callable, Generator, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
POOLS = ("process", "thread")


def ordered_map(fn: Callable[[T], R], tasks: Iterable[T], workers: int, pool: str = "process",
                ahead: int | None = None) -> Generator[R, None, None]:
    """``fn(task)`` for each task, in order. ``workers=0`` runs in this thread; otherwise a pool
    of ``workers`` processes (``fn`` and tasks must pickle) or threads, with at most ``ahead``
    (default ``4 * workers``) tasks submitted and not yet taken."""
    if workers == 0:
        yield from map(fn, tasks)
        return
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    ahead = ahead or 4 * workers
    executor: futures.Executor
    if pool == "thread":
        executor = futures.ThreadPoolExecutor(workers)
    else:
        # fork starts workers at once; each resizes with one torch thread
        from simclip.data.parallel_decode import single_threaded_worker

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        executor = futures.ProcessPoolExecutor(workers, mp_context=context, initializer=single_threaded_worker)
    pending: collections.deque[futures.Future] = collections.deque()
    try:
        for task in tasks:
            pending.append(executor.submit(fn, task))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
