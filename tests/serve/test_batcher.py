"""Request batching: calls that arrive while a tower is busy become its next forward pass, a call that
finds the tower idle runs at once, and each caller gets its own rows.

Tolerance: batched rows may differ from one-at-a-time rows only by float32 reassociation in the wider
matrix products, far below 1e-5 for unit vectors of the tiny CLIP (ATOL). Batches are made
deterministic by holding the first call of a tower until the others are queued behind it; time is an
injected clock, never the wall clock.
"""

import asyncio
import threading
from collections import Counter

import httpx
import numpy as np
import pytest

from simclip.errors import UsageError
from simclip.serve.app import create_app
from simclip.serve.batcher import BatchingEmbedder
from tests.serve.conftest import COLOURS, FakeEmbedder, draw_shape, png_bytes

ATOL = 1e-5
GUARD_S = 60  # only against a hang; nothing asserts on how long anything took


class Held:
    """Wraps an embedder: every call blocks until :attr:`release` is set; :attr:`started` counts calls."""

    def __init__(self, inner):
        self.inner, self.identity, self.logit_scale = inner, inner.identity, inner.logit_scale
        self.release, self.started = threading.Event(), {"image": threading.Event(), "text": threading.Event()}
        self.calls = []

    def _held(self, tower, fn, items):
        self.calls.append((tower, len(items)))
        self.started[tower].set()
        assert self.release.wait(GUARD_S)
        return fn(items)

    def items(self, tower):
        return sum(n for t, n in self.calls if t == tower)

    def embed_images(self, images):
        return self._held("image", self.inner.embed_images, images)

    def embed_texts(self, texts):
        return self._held("text", self.inner.embed_texts, texts)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def in_threads(fns):
    """Start each callable in its own thread; returns (threads, results filled in as they finish)."""
    results = [None] * len(fns)

    def run(i):
        results[i] = fns[i]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(fns))]
    for t in threads:
        t.start()
    return threads, results


def wait_until(condition, state=lambda: None):
    event = threading.Event()
    for _ in range(GUARD_S * 100):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"condition not reached: {state()}")


def in_flight_then_rest(first, total):
    """The batch sizes expected when ``first`` items were in flight and the rest of ``total`` queued."""
    return dict(Counter([first, total - first] if first < total else [total]))


def join(threads):
    for t in threads:
        t.join(GUARD_S)
        assert not t.is_alive()


def test_an_idle_tower_runs_a_lone_call_at_once():
    """With a clock that never moves, any wait for a collection window would never end."""
    clock = Clock()
    batcher = BatchingEmbedder(FakeEmbedder(), max_batch=64, clock=clock)
    try:
        threads, results = in_threads([lambda: batcher.embed_texts(["alone"])])
        join(threads)
        np.testing.assert_array_equal(results[0], FakeEmbedder().embed_texts(["alone"]))
        assert batcher.batch_size_counts() == {"image": {}, "text": {1: 1}}
        assert batcher.queue_wait_s() == {"image": 0.0, "text": 0.0}
    finally:
        batcher.close()


def test_calls_that_arrive_during_a_batch_form_the_next_ones_up_to_max_batch():
    clock, held = Clock(), Held(FakeEmbedder())
    batcher = BatchingEmbedder(held, max_batch=4, clock=clock)
    try:
        first, first_result = in_threads([lambda: batcher.embed_texts(["first"])])
        assert held.started["text"].wait(GUARD_S)  # the first call is in flight, alone
        texts = [f"text {i}" for i in range(6)]
        rest, rest_results = in_threads([lambda t=t: batcher.embed_texts([t]) for t in texts]
                                        + [lambda: batcher.embed_texts(["x", "y", "z"])])
        wait_until(lambda: batcher.towers["text"].queued() == 9)
        clock.now = 1.0  # the queued calls wait one tick for the batch in flight
        held.release.set()
        join(first + rest)
    finally:
        batcher.close()
    plain = FakeEmbedder()
    np.testing.assert_array_equal(first_result[0], plain.embed_texts(["first"]))
    for t, row in zip(texts, rest_results):
        np.testing.assert_array_equal(row, plain.embed_texts([t]))
    np.testing.assert_array_equal(rest_results[-1], plain.embed_texts(["x", "y", "z"]))
    sizes = [n for tower, n in held.calls]
    # the lone first call, then the 9 queued items in batches of at most 4 (at least 3 of them; the
    # 3-item call is never split, so the order of arrival may make it 4)
    assert sizes[0] == 1 and max(sizes[1:]) <= 4 and sum(sizes) == 10 and len(sizes) in (4, 5)
    assert batcher.queue_wait_s()["text"] == pytest.approx(7.0)  # 7 calls queued 1 tick, the first none


def test_a_call_larger_than_max_batch_runs_whole_and_alone():
    batcher = BatchingEmbedder(FakeEmbedder(), max_batch=2)
    try:
        rows = batcher.embed_texts(["a", "b", "c", "d", "e"])
        assert rows.shape == (5, 16)
        assert batcher.batch_size_counts()["text"] == {5: 1}
    finally:
        batcher.close()


def test_batched_rows_equal_unbatched_ones(clip_embedder):
    held = Held(clip_embedder)
    batcher = BatchingEmbedder(held, max_batch=64)
    texts = [f"a {c} shape number {i}" for i, c in enumerate(list(COLOURS) * 3)]
    images = [draw_shape("circle", rgb, 6 + i) for i, rgb in enumerate(COLOURS.values())]
    try:
        threads, got = in_threads([lambda t=t: batcher.embed_texts([t]) for t in texts]
                                  + [lambda im=im: batcher.embed_images([im]) for im in images]
                                  + [lambda: batcher.embed_texts(texts[:3])])
        # one batch of each tower is in flight (what had come when the tower took it), the rest queued
        wait_until(lambda: len(held.calls) == 2 and batcher.towers["image"].queued() + held.items("image") == 4
                   and batcher.towers["text"].queued() + held.items("text") == len(texts) + 3)
        held.release.set()
        join(threads)
        for t, row in zip(texts, got):
            np.testing.assert_allclose(row, clip_embedder.embed_texts([t]), atol=ATOL)
        for im, row in zip(images, got[len(texts):]):
            np.testing.assert_allclose(row, clip_embedder.embed_images([im]), atol=ATOL)
        np.testing.assert_allclose(got[-1], clip_embedder.embed_texts(texts[:3]), atol=ATOL)
        first = dict(held.calls)
        counts = batcher.batch_size_counts()
        assert counts["text"] == in_flight_then_rest(first["text"], len(texts) + 3)
        assert counts["image"] == in_flight_then_rest(first["image"], len(images))
        assert batcher.embed_texts([]).shape == (0, 128)
    finally:
        held.release.set()
        batcher.close()


class Failing(FakeEmbedder):
    def embed_texts(self, texts):
        raise RuntimeError("model exploded")


def test_a_failed_batch_fails_every_caller_and_nothing_hangs():
    batcher = BatchingEmbedder(Failing(), max_batch=8)
    threads, outcomes = in_threads([lambda: _error_of(lambda: batcher.embed_texts(["x"])) for _ in range(3)])
    join(threads)
    assert outcomes == ["model exploded"] * 3
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.embed_texts(["after close"])


def _error_of(fn):
    try:
        fn()
    except RuntimeError as err:
        return str(err)
    return None


@pytest.mark.parametrize("max_batch", [0, -3])
def test_settings_are_checked(max_batch):
    with pytest.raises(UsageError, match="max_batch"):
        BatchingEmbedder(FakeEmbedder(), max_batch=max_batch)


def test_served_answers_equal_unbatched_ones(built_index, clip_embedder, shapes_dir):
    """Through the HTTP routes: 16 concurrent requests give what the unbatched service gives."""
    held = Held(clip_embedder)
    batcher = BatchingEmbedder(held, max_batch=64)
    queries = [f"a {c} {s}" for c in COLOURS for s in ("circle", "square")]
    upload = (shapes_dir / "circle/blue_14.png").read_bytes()
    uploads = [upload, png_bytes(draw_shape("square", (1, 2, 3), 9))] * 4

    async def ask(app, release=None):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            texts = [http.get("/api/search", params={"q": q, "k": 5}) for q in queries]
            images = [http.post("/api/search/image", params={"k": 5}, files={"file": ("q.png", data, "image/png")})
                      for data in uploads]
            tasks = [asyncio.ensure_future(r) for r in (*texts, *images)]
            if release is not None:
                await asyncio.to_thread(release)
            return [r.json()["results"] for r in await asyncio.gather(*tasks)]

    def release_when_queued():
        wait_until(lambda: len(held.calls) == 2
                   and batcher.towers["text"].queued() + held.items("text") == len(queries)
                   and batcher.towers["image"].queued() + held.items("image") == len(uploads))
        held.release.set()

    try:
        batched = asyncio.run(ask(create_app(built_index, batcher, max_concurrency=64), release_when_queued))
        plain = asyncio.run(ask(create_app(built_index, clip_embedder)))
    finally:
        held.release.set()
        batcher.close()
    for got, want in zip(batched, plain):
        np.testing.assert_allclose([h["score"] for h in got], [h["score"] for h in want], atol=ATOL)
        assert got[0]["id"] == want[0]["id"]
    assert batched[len(queries)][0]["id"] == "circle/blue_14.png"
    first, counts = dict(held.calls), batcher.batch_size_counts()
    assert counts == {"text": in_flight_then_rest(first["text"], len(queries)),
                      "image": in_flight_then_rest(first["image"], len(uploads))}
