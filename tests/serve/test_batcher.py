"""Request batching: concurrent calls become one forward pass, and each caller gets its own rows.

Tolerance: batched rows may differ from one-at-a-time rows only by float32 reassociation in the wider
matrix products, far below 1e-5 for unit vectors of the tiny CLIP.
"""

import asyncio
import threading

import httpx
import numpy as np
import pytest

from simclip.errors import UsageError
from simclip.serve.app import create_app
from simclip.serve.batcher import BatchingEmbedder
from tests.serve.conftest import COLOURS, FakeEmbedder, draw_shape, png_bytes

ATOL = 1e-5


def call_together(fns):
    """Run the callables in threads released at the same instant; their results in order."""
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def run(i):
        barrier.wait()
        results[i] = fns[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_calls_are_batched_and_equal_unbatched(clip_embedder):
    batcher = BatchingEmbedder(clip_embedder, window_s=0.2, max_batch=64)
    try:
        texts = [f"a {c} shape number {i}" for i, c in enumerate(list(COLOURS) * 3)]
        images = [draw_shape("circle", rgb, 6 + i) for i, rgb in enumerate(COLOURS.values())]
        got = call_together([lambda t=t: batcher.embed_texts([t]) for t in texts]
                            + [lambda im=im: batcher.embed_images([im]) for im in images]
                            + [lambda: batcher.embed_texts(texts[:3])])
        for t, row in zip(texts, got):
            np.testing.assert_allclose(row, clip_embedder.embed_texts([t]), atol=ATOL)
        for im, row in zip(images, got[len(texts):]):
            np.testing.assert_allclose(row, clip_embedder.embed_images([im]), atol=ATOL)
        np.testing.assert_allclose(got[-1], clip_embedder.embed_texts(texts[:3]), atol=ATOL)
        counts = batcher.batch_size_counts()
        assert sum(size * n for size, n in counts["text"].items()) == len(texts) + 3
        assert sum(size * n for size, n in counts["image"].items()) == len(images)
        assert max(counts["text"]) > 1 and max(counts["image"]) > 1  # concurrency really made batches
        assert batcher.embed_texts([]).shape == (0, 128)
    finally:
        batcher.close()


def test_a_batch_stops_at_max_batch():
    batcher = BatchingEmbedder(FakeEmbedder(delay_s=0.05), window_s=0.5, max_batch=4)
    try:
        rows = call_together([lambda i=i: batcher.embed_texts([f"text {i}"]) for i in range(10)])
        assert all(r.shape == (1, 16) for r in rows)
        counts = batcher.batch_size_counts()["text"]
        assert max(counts) <= 4 and sum(size * n for size, n in counts.items()) == 10
    finally:
        batcher.close()


class Failing(FakeEmbedder):
    def embed_texts(self, texts):
        raise RuntimeError("model exploded")


def test_a_failed_batch_fails_every_caller_and_nothing_hangs():
    batcher = BatchingEmbedder(Failing(), window_s=0.1, max_batch=8)
    outcomes = call_together([lambda: _error_of(lambda: batcher.embed_texts(["x"])) for _ in range(3)])
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


@pytest.mark.parametrize("window, max_batch", [(0, 8), (-1, 8), (0.01, 0)])
def test_settings_are_checked(window, max_batch):
    with pytest.raises(UsageError):
        BatchingEmbedder(FakeEmbedder(), window_s=window, max_batch=max_batch)


def test_served_answers_equal_unbatched_ones(built_index, clip_embedder, shapes_dir):
    """Through the HTTP routes: 16 concurrent requests give what the unbatched service gives."""
    batcher = BatchingEmbedder(clip_embedder, window_s=0.2, max_batch=64)
    queries = [f"a {c} {s}" for c in COLOURS for s in ("circle", "square")]
    upload = (shapes_dir / "circle/blue_14.png").read_bytes()

    async def ask(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            texts = [http.get("/api/search", params={"q": q, "k": 5}) for q in queries]
            images = [http.post("/api/search/image", params={"k": 5}, files={"file": ("q.png", data, "image/png")})
                      for data in (upload, png_bytes(draw_shape("square", (1, 2, 3), 9)))] * 4
            return [r.json()["results"] for r in await asyncio.gather(*texts, *images)]

    try:
        batched = asyncio.run(ask(create_app(built_index, batcher, max_concurrency=64)))
        plain = asyncio.run(ask(create_app(built_index, clip_embedder)))
    finally:
        batcher.close()
    for got, want in zip(batched, plain):
        np.testing.assert_allclose([h["score"] for h in got], [h["score"] for h in want], atol=ATOL)
        assert got[0]["id"] == want[0]["id"]
    assert batched[len(queries)][0]["id"] == "circle/blue_14.png"
    counts = batcher.batch_size_counts()
    assert max(counts["text"]) > 1 and max(counts["image"]) > 1
