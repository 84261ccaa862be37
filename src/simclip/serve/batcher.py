"""Request batching: calls that arrive while a tower is busy are run together as one forward pass,
and each caller gets its own rows back.

:class:`BatchingEmbedder` wraps any :class:`~simclip.serve.embedder.Embedder` and is one itself, so
the routes, zero-shot classification and the index code need not know it exists. Each tower (images,
texts) has one thread that owns the model calls for it. The batching is continuous (adaptive): there
is no collection window. A call that finds its tower idle runs at once, alone; calls that arrive
while a batch is in flight wait in the tower's queue, and when that batch ends the thread takes all
of them, up to ``max_batch`` items, as the next batch. An idle service therefore adds nothing to a
request, and under load the batches grow by themselves with the time a batch takes.

A forward pass over ``B`` items costs far less than ``B`` passes over one (the weights are read once,
the matrix products are wider), so under concurrent load the service does more with the same cores.
The sizes of the batches run are counted per tower (:meth:`BatchingEmbedder.batch_size_counts`), for
the ``/metrics`` histogram.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
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
    submitted: float
    result: Future[np.ndarray] = field(default_factory=Future)


class TowerBatcher(Generic[T]):
    """One tower's queue and the thread that embeds what gathers in it while it is busy.

    ``embed``: ``list[T]`` of ``B`` items -> ``float32[B, E]``; called only from this batcher's thread,
    with at most ``max_batch`` items unless a single call brings more (its items stay together).
    ``sizes`` counts the batches run by their number of items; ``waited_s`` sums, over calls, the time
    from ``submit`` to the start of the call's batch, read from ``clock`` (seconds), which is used for
    nothing else.
    """

    def __init__(self, name: str, embed: Callable[[list[T]], np.ndarray], max_batch: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.embed, self.max_batch, self.clock = name, embed, max_batch, clock
        self.sizes: Counter[int] = Counter()
        self.waited_s = 0.0
        self._waiting: deque[_Call[T]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"batch-{name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[T]) -> np.ndarray:
        """Embed ``items`` now if the tower is idle, else in the next batch; blocks until its rows
        ``float32[len(items), E]`` are ready."""
        call: _Call[T] = _Call(list(items), self.clock())
        with self._ready:
            if self._closed:
                raise RuntimeError(f"the {self.name} batcher is closed")
            self._waiting.append(call)
            self._ready.notify()
        return call.result.result()

    def counts(self) -> dict[int, int]:
        """``{batch size: number of batches run}`` so far (a copy)."""
        with self._ready:
            return dict(self.sizes)

    def waited(self) -> float:
        """``waited_s`` (see the class)."""
        with self._ready:
            return self.waited_s

    def queued(self) -> int:
        """Items waiting for the next batch."""
        with self._ready:
            return sum(len(call.items) for call in self._waiting)

    def close(self) -> None:
        """Stop the thread once the calls already queued are answered."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def _next_batch(self) -> list[_Call[T]] | None:
        """Every waiting call, oldest first, up to ``max_batch`` items (at least one call); blocks
        only while nothing waits. None once closed and drained."""
        with self._ready:
            while not self._waiting:
                if self._closed:
                    return None
                self._ready.wait()
            calls = [self._waiting.popleft()]
            n = len(calls[0].items)
            while self._waiting and n + len(self._waiting[0].items) <= self.max_batch:
                n += len(self._waiting[0].items)
                calls.append(self._waiting.popleft())
            now = self.clock()
            self.waited_s += sum(now - call.submitted for call in calls)
            return calls

    def _serve(self) -> None:
        while (calls := self._next_batch()) is not None:
            self._run(calls)

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
        with self._ready:
            self.sizes[len(items)] += 1
        start = 0
        for call in calls:
            call.result.set_result(vectors[start:start + len(call.items)])
            start += len(call.items)


class BatchingEmbedder:
    """:class:`~simclip.serve.embedder.Embedder` that batches concurrent calls to ``inner``.

    ``max_batch`` (>= 1): most items in one forward pass; a single call larger than that still runs
    whole, alone. Results equal ``inner``'s up to floating-point reassociation in the wider matrix
    products (the tests hold them to 1e-5 for unit rows). ``clock``: what the towers' ``waited_s``
    is measured with.
    """

    def __init__(self, inner: Embedder, max_batch: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        if max_batch < 1:
            raise UsageError(f"max_batch must be >= 1, got {max_batch}")
        self.inner = inner
        self.identity: dict[str, Any] = inner.identity
        self.logit_scale: float = inner.logit_scale
        self.image_size: int | None = getattr(inner, "image_size", None)
        self.max_batch = max_batch
        self.towers: dict[str, TowerBatcher[Any]] = {
            "image": TowerBatcher("image", inner.embed_images, max_batch, clock),
            "text": TowerBatcher("text", inner.embed_texts, max_batch, clock)}

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``N`` RGB images -> ``float32[N, E]``, rows of unit norm (embedded with other callers' images)."""
        return self.towers["image"].submit(images) if images else self.inner.embed_images([])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``float32[N, E]``, rows of unit norm (embedded with other callers' texts)."""
        return self.towers["text"].submit(texts) if texts else self.inner.embed_texts([])

    def batch_size_counts(self) -> dict[str, dict[int, int]]:
        """Per tower, ``{batch size: number of batches run}``."""
        return {name: tower.counts() for name, tower in self.towers.items()}

    def queue_wait_s(self) -> dict[str, float]:
        """Per tower, the seconds calls have spent waiting for their batch to start, summed."""
        return {name: tower.waited() for name, tower in self.towers.items()}

    def close(self) -> None:
        for tower in self.towers.values():
            tower.close()
