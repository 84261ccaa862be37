"""Keeping the cyclic garbage collector's full passes short in a serving process, and counting them.

A worker imports torch, FastAPI, pydantic and ONNX Runtime and builds its model before it answers
anything: some 400,000 container objects (functions, tuples, dicts, cells) that live as long as the
process. CPython's full (oldest-generation) collection visits every one of them, and it runs whenever
the objects promoted since the last one reach a quarter of the old generation, which steady traffic
does every few seconds (requests in flight when a young collection runs are promoted with it). A full
pass holds the GIL, so the event loop and both tower threads of the worker stand still for it, and
on a shared core it stands still for longer than the pass's own CPU time.

:func:`freeze_startup_heap`, called once the app is built and before the first request, collects the
start-up garbage and moves everything still alive into the permanent generation (:func:`gc.freeze`),
which no collection visits. Objects created afterwards, by requests, are collected as before, and a
full pass then visits only them. It also starts :data:`PAUSES`, which sums the time each generation's
collections take, for ``/metrics``.
"""

from __future__ import annotations

import gc
import time
from typing import Any

GENERATIONS = (0, 1, 2)


class GcPauses:
    """Counts collections per generation and sums their wall time (seconds), through
    :data:`gc.callbacks` once :meth:`start` has run.

    No lock: only the collector writes (one collection runs at a time, with the GIL held), and a
    reader that copies the counts mid-update is at most one collection behind.
    """

    def __init__(self) -> None:
        self.counts = [0 for _ in GENERATIONS]
        self.seconds = [0.0 for _ in GENERATIONS]
        self._started_at = 0.0

    def start(self) -> None:
        """Begin counting (once; a second call does nothing)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # runs inside the collection, with the GIL held: nothing here may block
        if phase == "start":
            self._started_at = time.perf_counter()
            return
        generation = info["generation"]
        self.counts[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._started_at

    def snapshot(self) -> dict[str, Any]:
        """``{"frozen_objects": n, "collections": {"0".."2": n}, "pause_seconds": {"0".."2": s}}``."""
        counts, seconds = list(self.counts), list(self.seconds)
        return {"frozen_objects": gc.get_freeze_count(),
                "collections": {str(g): counts[g] for g in GENERATIONS},
                "pause_seconds": {str(g): seconds[g] for g in GENERATIONS}}


PAUSES = GcPauses()


def freeze_startup_heap() -> int:
    """Collect garbage, then exempt every object alive now from later collections, and start counting
    collections in :data:`PAUSES`; returns the number of objects frozen (``gc.get_freeze_count()``).
    Call it once per serving process, after start-up."""
    gc.collect()
    gc.freeze()
    PAUSES.start()
    return gc.get_freeze_count()
