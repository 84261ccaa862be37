"""Shared fixtures: a folder of small generated shape images, an embedder and an index over them.

The embedder is the real tiny CLIP (random weights, seeded): similarity scores are arbitrary but every
code path — preprocessing, tokenizer, both towers — is the one a trained model takes. A deterministic
fake embedder stands in where a test needs a second, different model identity or control over timing.
"""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from simclip.serve.embedder import ClipEmbedder, unit_rows
from simclip.serve.index import build_index

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40)}
SHAPES = ("circle", "square", "triangle")
SIZES = (10, 14, 18)


def draw_shape(shape: str, colour: tuple[int, int, int], size: int, image_size: int = 40) -> Image.Image:
    """A ``shape`` of half-width ``size`` in ``colour`` centred on a grey background."""
    image = Image.new("RGB", (image_size, image_size), (200, 200, 200))
    draw = ImageDraw.Draw(image)
    c = image_size // 2
    box = (c - size, c - size, c + size, c + size)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(c, c - size), (c - size, c + size), (c + size, c + size)], fill=colour)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_shapes(root: Path, shapes=SHAPES, colours=tuple(COLOURS), sizes=SIZES) -> list[str]:
    """Write one PNG per (shape, colour, size) under ``root/<shape>/``; returns their relative ids."""
    ids = []
    for shape in shapes:
        (root / shape).mkdir(parents=True, exist_ok=True)
        for colour in colours:
            for size in sizes:
                rel = f"{shape}/{colour}_{size}.png"
                draw_shape(shape, COLOURS[colour], size).save(root / rel)
                ids.append(rel)
    return ids


class FakeEmbedder:
    """Deterministic embedder of dimension 16: images by mean colour and spread, texts by hash."""

    def __init__(self, name: str = "fake", delay_s: float = 0.0) -> None:
        self.identity = {"model": name, "checkpoint": None, "sha256": hashlib.sha256(name.encode()).hexdigest(),
                         "embed_dim": 16}
        self.logit_scale = 10.0
        self.delay_s = delay_s
        self._proj = np.random.default_rng(0).standard_normal((6, 16)).astype(np.float32)

    def embed_images(self, images):
        time.sleep(self.delay_s)
        feats = [np.concatenate([np.asarray(im.convert("RGB"), np.float32).reshape(-1, 3).mean(0),
                                 np.asarray(im.convert("RGB"), np.float32).reshape(-1, 3).std(0)]) / 255
                 for im in images]
        return unit_rows(np.stack(feats) @ self._proj) if feats else np.zeros((0, 16), np.float32)

    def embed_texts(self, texts):
        time.sleep(self.delay_s)
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).standard_normal(16)
                for t in texts]
        return unit_rows(np.stack(rows)) if rows else np.zeros((0, 16), np.float32)


@pytest.fixture(scope="session")
def clip_embedder() -> ClipEmbedder:
    from simclip.serve.embedder import embedder_from_model_name

    return embedder_from_model_name("tiny-vit", seed=0)


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory) -> Path:
    """36 distinct shape images in three subfolders, plus a corrupt PNG and a non-image file."""
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(root)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, shapes_dir, clip_embedder) -> Path:
    """An exact index over ``shapes_dir`` built with the tiny CLIP; tests must not modify it."""
    out = tmp_path_factory.mktemp("index")
    build_index(clip_embedder, shapes_dir, out, batch_size=16, progress=False)
    return out
