"""``make_world``: write the world's objects as files and list them in ``pairs.csv``.

Layout of ``OUT``::

    pairs.csv          id, image, depth, audio, points, text, shape, color, size, position, height, split
    image/000000.png   RGB, 32 x 32
    depth/000000.png   16-bit grayscale, distance from the camera in 1/1000 of the image side
    audio/000000.wav   mono 16-bit PCM (stdlib ``wave``), 8 kHz, 0.5 s
    points/000000.npy  float32 [256, 3] (x, y, z)
    videos/train/circle/000000.mp4, videos/test/...
                       ``videos`` clips of moving objects with their sound (``video.py``), one
                       folder per split and shape, as ``videos:OUT/videos`` reads them

Paths in ``pairs.csv`` are relative to it, so the folder can be moved. ``videos/`` is replaced
as a whole. The clips show objects of
their own draw (a world of ``videos`` objects with the same seed), not the rows of ``pairs.csv``.
"""
from __future__ import annotations

import csv
import shutil
import wave
from pathlib import Path

import numpy as np
from PIL import Image

from simclip.data.world.cloud import sample_points
from simclip.data.world.depth import depth_to_png_units, render_depth
from simclip.data.world.objects import sample_objects
from simclip.data.world.sound import SAMPLE_RATE, synthesize
from simclip.data.world.video import render_clip, soundtrack, write_clip
from simclip.errors import UsageError

COLUMNS = ("id", "image", "depth", "audio", "points", "text", "shape", "color", "size", "position",
           "height", "split")
_CIRCLE = 0  # index of "circle" in SHAPES: the one shape rendered as a dome


def make_world(out: str | Path, n: int = 2000, seed: int = 0, overwrite: bool = False,
               videos: int = 200) -> Path:
    """Write ``n`` objects and ``videos`` clips (0: none) under ``out`` (see the module doc);
    returns the path of ``pairs.csv``.

    A folder that already holds a ``pairs.csv`` is refused unless ``overwrite``.
    """
    out = Path(out)
    table = out / "pairs.csv"
    if isinstance(n, bool) or not isinstance(n, int) or n < 10:
        raise UsageError(f"--objects must be an integer >= 10, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed!r}")
    if isinstance(videos, bool) or not isinstance(videos, int) or videos < 0 or 0 < videos < 10:
        raise UsageError(f"--videos must be 0 or an integer >= 10, got {videos!r}")
    if table.exists() and not overwrite:
        raise UsageError(f"{table} already exists; pass --overwrite to replace the world in {out}")
    objects = sample_objects(n, seed)
    rng = np.random.default_rng([seed, 78])
    depth = depth_to_png_units(render_depth(objects.masks, objects.height, objects.shape == _CIRCLE,
                                            objects.centers, rng))
    sounds = synthesize(objects.shape, objects.color, objects.size, rng)
    for sub in ("image", "depth", "audio", "points"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = f"{i:06d}"
        Image.fromarray(objects.images[i].transpose(1, 2, 0)).save(out / "image" / f"{name}.png")
        Image.fromarray(depth[i]).save(out / "depth" / f"{name}.png")
        write_wav(out / "audio" / f"{name}.wav", sounds[i], SAMPLE_RATE)
        np.save(out / "points" / f"{name}.npy", sample_points(objects.masks[i], float(objects.height[i]), rng))
        rows.append({"id": name, "image": f"image/{name}.png", "depth": f"depth/{name}.png",
                     "audio": f"audio/{name}.wav", "points": f"points/{name}.npy",
                     "text": objects.captions[i], **objects.labels(i),
                     "height": f"{objects.height[i]:.3f}", "split": objects.split[i]})
    tmp = table.with_name(".pairs.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if (out / "videos").exists():  # the folder is the dataset: clips of an earlier world must go
        shutil.rmtree(out / "videos")
    if videos:
        write_videos(out / "videos", videos, seed)
    tmp.replace(table)
    return table


def write_videos(out: Path, count: int, seed: int) -> None:
    """``count`` clips under ``out/SPLIT/SHAPE/`` (see ``video.py``)."""
    objects = sample_objects(count, seed)
    rng = np.random.default_rng([seed, 79])
    sounds = synthesize(objects.shape, objects.color, objects.size, rng)
    for i in range(count):
        folder = out / objects.split[i] / objects.labels(i)["shape"]
        folder.mkdir(parents=True, exist_ok=True)
        write_clip(folder / f"{i:06d}.mp4", render_clip(objects, i, rng), soundtrack(sounds[i], SAMPLE_RATE),
                   SAMPLE_RATE)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Mono 16-bit PCM WAV of int16 ``samples [T]``."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.astype("<i2").tobytes())
