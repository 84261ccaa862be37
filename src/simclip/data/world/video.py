"""Short videos of the world's objects, written as MP4 files (H.264 video, AAC audio) with PyAV.

Each clip is ``FRAMES`` frames at ``FPS`` (2 s) of one object on the still scenes' dark grey
background: it starts where its image shows it and moves ``SPEED`` pixels a frame in a random
direction, bouncing off the borders; it grows and shrinks by up to ``PULSE`` of its radius (as if
approaching and receding) and the background's grey level drifts by up to ``DRIFT`` (lighting).
Frames ``K`` apart thus show the same object moved, rescaled and relit: what a temporal positive
pair sees and a single frame's augmentations only imitate. The audio track is the object's sound
(``sound.py``: pitch by shape, timbre by colour) plucked every ``sound.DURATION`` seconds.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from simclip.data.shapes import BACKGROUND, COLOR_NAMES, COLORS, NOISE, RADIUS, SHAPES, SIZES, shape_mask
from simclip.data.world.objects import WorldObjects

FRAMES, FPS = 16, 8
SPEED = 1.5  # pixels a frame
PULSE = 0.2  # radius scale swings in 1 +- PULSE
DRIFT = 12  # grey levels the background drifts by, at most


def render_clip(objects: WorldObjects, i: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``[FRAMES, S, S, 3]``: object ``i`` moving (see the module doc)."""
    side = objects.images.shape[-1]
    radius = RADIUS[SIZES[objects.size[i]]] * side
    angle, phase = rng.uniform(0, 2 * np.pi, size=2)
    t = np.arange(FRAMES)
    scale = 1.0 + PULSE * np.sin(2 * np.pi * t / FRAMES + phase)
    # positions bounce between the borders by reflecting the straight path into [margin, side - margin]
    low, high = radius, side - 1 - radius
    path = objects.centers[i][None, :] + SPEED * t[:, None] * np.array([np.cos(angle), np.sin(angle)])
    span = high - low
    folded = np.mod(path - low, 2 * span)
    centers = low + np.where(folded > span, 2 * span - folded, folded)
    masks = shape_mask(SHAPES[objects.shape[i]], centers, radius * scale, side)  # [T, S, S]
    level = rng.integers(*BACKGROUND) + DRIFT * np.sin(2 * np.pi * t / FRAMES + rng.uniform(0, 2 * np.pi))
    noise = rng.integers(-NOISE, NOISE + 1, size=(FRAMES, side, side))
    grey = np.clip(level[:, None, None] + noise, 0, 255)[..., None].repeat(3, axis=-1)
    rgb = np.array(COLORS[COLOR_NAMES[objects.color[i]]], dtype=np.float64)
    return np.where(masks[..., None], rgb, grey).astype(np.uint8)


def soundtrack(sound: np.ndarray, sample_rate: int) -> np.ndarray:
    """int16 ``[FRAMES / FPS * sample_rate]``: ``sound`` repeated over the clip."""
    length = FRAMES * sample_rate // FPS
    return np.resize(sound, length)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``[H * 3 / 2, W]`` planar YUV 4:2:0 (BT.601, limited range, chroma averaged over 2 x 2
    pixels) of uint8 ``rgb [H, W, 3]`` with even H and W: done here, so that the files depend on
    the frames and the encoder alone."""
    x = rgb.astype(np.float64) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    h, w = y.shape
    pool = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).reshape(h // 4, w)  # noqa: E731
    planes = np.concatenate([y, pool(cb), pool(cr)])
    return np.clip(np.rint(planes), 0, 255).astype(np.uint8)


def write_clip(path: Path, frames: np.ndarray, audio: np.ndarray, sample_rate: int) -> None:
    """An MP4 of uint8 ``frames [T, H, W, 3]`` at ``FPS`` with the mono int16 ``audio [A]``.

    H.264 (libx264) where FFmpeg has it, else MPEG-4 part 2; AAC audio (FFmpeg's fast coder, half
    the time of its default). One encoder thread and a constant quantiser: x264's CRF rate control
    (its macroblock tree) gives different bytes from run to run, and the world's files are a pure
    function of its seed."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w", format="mp4") as container:
        options = {"qp": "12", "preset": "veryfast", "threads": "1"} if codec == "libx264" else {"threads": "1"}
        video: Any = container.add_stream(codec, rate=FPS, options=options)  # set later, options are ignored
        video.width, video.height = frames.shape[2], frames.shape[1]
        video.pix_fmt = "yuv420p"
        sound: Any = container.add_stream("aac", rate=sample_rate, options={"aac_coder": "fast"})
        sound.layout = "mono"
        for t, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
            frame.pts, frame.time_base = t, Fraction(1, FPS)  # unset, the encoder sees whatever was there
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        chunk = av.AudioFrame.from_ndarray(audio[None].astype(np.int16), format="s16", layout="mono")
        chunk.sample_rate = sample_rate
        container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
