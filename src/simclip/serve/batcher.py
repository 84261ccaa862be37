"""Request batching: concurrent embedding calls are collected for a short window and run as one
forward pass per tower, and each caller gets its own rows back.

:class:`BatchingEmbedder` wraps any :class:`~simclip.serve.embedder.Embedder` and is one itself, so
the routes, zero-shot classification and the index code need not know it exists. Each tower (images,
texts) has one thread that owns the model calls for it: a call waits in that tower's queue; the thread
takes the first waiting call, keeps taking calls until ``window_s`` has passed since then or
``max_batch`` items are gathered, embeds them all at once and hands each caller its slice.

A forward pass over ``B`` items costs far less than ``B`` passes over one (the weights are read once,
the matrix products are wider), so under concurrent load the service does more with the same cores;
an idle service adds at most ``window_s`` to a request. The sizes of the batches run are counted per
tower (:meth:`BatchingEmbedder.batch_size_counts`), for the ``/metrics`` histogram.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image

from simclip.errors import UsageError
from simclip.serve.embedder import Embedder

T = TypeVar("T")
TOWERS = ("image", "text")


@dataclass
class _Call(Generic[T]):
    items: list[T]
    result: Future[np.ndarray] = field(default_factory=Future)


class TowerBatcher(Generic[T]):
    """One tower's queue and the thread that embeds what gathers in it.

    ``embed``: ``list[T]`` of ``B`` items -> ``float32[B, E]``; called only from this batcher's thread.
    ``sizes`` counts the batches run by their number of items.
    """

    def __init__(self, name: str, embed: Callable[[list[T]], np.ndarray], window_s: float,
                 max_batch: int) -> None:
        self.name, self.embed = name, embed
        self.window_s, self.max_batch = window_s, max_batch
        self.sizes: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Call[T] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"batch-{name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[T]) -> np.ndarray:
        """Embed ``items`` in the next batch; blocks until its rows ``float32[len(items), E]`` are ready."""
        if self._closed:
            raise RuntimeError(f"the {self.name} batcher is closed")
        call: _Call[T] = _Call(list(items))
        self._queue.put(call)
        return call.result.result()

    def counts(self) -> dict[int, int]:
        """``{batch size: number of batches run}`` so far (a copy)."""
        with self._lock:
            return dict(self.sizes)

    def close(self) -> None:
        """Stop the thread once the calls already queued are answered."""
        self._closed = True
        self._queue.put(None)

    def _gather(self, first: _Call[T]) -> tuple[list[_Call[T]], bool]:
        calls, n = [first], len(first.items)
        deadline = time.monotonic() + self.window_s
        while n < self.max_batch:
            try:
                call = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                break
            if call is None:
                return calls, True
            calls.append(call)
            n += len(call.items)
        return calls, False

    def _serve(self) -> None:
        while (first := self._queue.get()) is not None:
            calls, stop = self._gather(first)
            self._run(calls)
            if stop:
                return

    def _run(self, calls: list[_Call[T]]) -> None:
        items = [item for call in calls for item in call.items]
        try:
            vectors = self.embed(items)
            if len(vectors) != len(items):
                raise RuntimeError(f"{self.name} tower returned {len(vectors)} rows for {len(items)} items")
        except BaseException as err:  # every waiting request learns of the failure, none hangs
            for call in calls:
                call.result.set_exception(err)
            return
        with self._lock:
            self.sizes[len(items)] += 1
        start = 0
        for call in calls:
            call.result.set_result(vectors[start:start + len(call.items)])
            start += len(call.items)


class BatchingEmbedder:
    """:class:`~simclip.serve.embedder.Embedder` that batches concurrent calls to ``inner``.

    ``window_s``: how long the first call of a batch waits for others (seconds, > 0); ``max_batch``:
    a batch stops gathering once it holds this many items (a single call larger than that still runs
    whole). Results equal ``inner``'s up to floating-point reassociation in the wider matrix products.
    """

    def __init__(self, inner: Embedder, window_s: float = 0.005, max_batch: int = 64) -> None:
        if not window_s > 0:
            raise UsageError(f"batch window must be > 0 seconds, got {window_s}")
        if max_batch < 1:
            raise UsageError(f"max_batch must be >= 1, got {max_batch}")
        self.inner = inner
        self.identity: dict[str, Any] = inner.identity
        self.logit_scale: float = inner.logit_scale
        self.window_s, self.max_batch = window_s, max_batch
        self.towers: dict[str, TowerBatcher[Any]] = {
            "image": TowerBatcher("image", inner.embed_images, window_s, max_batch),
            "text": TowerBatcher("text", inner.embed_texts, window_s, max_batch)}

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``N`` RGB images -> ``float32[N, E]``, rows of unit norm (embedded with other callers' images)."""
        return self.towers["image"].submit(images) if images else self.inner.embed_images([])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``float32[N, E]``, rows of unit norm (embedded with other callers' texts)."""
        return self.towers["text"].submit(texts) if texts else self.inner.embed_texts([])

    def batch_size_counts(self) -> dict[str, dict[int, int]]:
        """Per tower, ``{batch size: number of batches run}``."""
        return {name: tower.counts() for name, tower in self.towers.items()}

    def close(self) -> None:
        for tower in self.towers.values():
            tower.close()
