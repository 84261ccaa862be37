"""Reading one video file with PyAV (FFmpeg): a fixed number of frames at the model's size, and
its audio track as a mono waveform.

Frames are sampled evenly over the clip: ``T`` frames taken at the middles of ``T`` equal
segments (TSN's uniform sampling, Wang et al. 2016), so a clip of up to ``T`` frames gives each
of its frames (repeated where it has fewer). Each chosen frame is scaled by FFmpeg's swscale so
its shorter side is ``size``, then centre-cropped to ``size x size``.

A file is refused (:class:`VideoDecodeError`, naming it) when FFmpeg cannot open or decode it,
when it has no video stream or no frame, and when it decodes to fewer than ``TRUNCATED`` of the
frames its container declares (a file cut short). Audio, when asked for, must exist and not be
silent (peak at or below :data:`simclip.data.paired.audio.SILENCE`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simclip.data.paired.audio import SILENCE
from simclip.data.videos.errors import VideoDecodeError

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})
TRUNCATED = 0.9  # decoding fewer than this share of the declared frames means the file was cut


@dataclass
class Clip:
    """One decoded clip.

    Attributes:
        frames: uint8 ``[T, 3, S, S]``; index: int64 ``[T]``, each frame's number in the video;
        times: float64 ``[T]``, each frame's time in seconds.
        audio: float32 ``[A]`` mono samples in [-1, 1] (None unless asked for); sample_rate: Hz.
    """

    frames: np.ndarray
    index: np.ndarray
    times: np.ndarray
    audio: np.ndarray | None = None
    sample_rate: int = 0


def even_indices(total: int, count: int) -> np.ndarray:
    """int64 ``[count]``: the middle frame of each of ``count`` equal segments of ``total`` frames."""
    return ((np.arange(count) + 0.5) * total / count).astype(np.int64).clip(0, total - 1)


def read_clip(path: str | Path, size: int, frames: int, audio: bool = False) -> Clip:
    """``frames`` frames of the video at ``path`` at ``size x size`` (see the module doc), with its
    audio when ``audio``. :class:`VideoDecodeError` for an unusable file."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"{path} does not exist")
    try:
        with av.open(str(path)) as container:
            declared = _declared_frames(container, path)
            wanted = set(even_indices(declared, frames).tolist()) if declared else None
            decoded, kept = _decode(container, path, size, wanted)
            if declared and decoded < TRUNCATED * declared:
                raise VideoDecodeError(f"{path} is truncated: its container declares {declared} frames, "
                                       f"{decoded} decode")
            samples, rate = _read_audio(container, path) if audio else (None, 0)
        if decoded != declared:  # no count declared, or a few frames more or fewer: sample those there are
            with av.open(str(path)) as container:
                kept = _decode(container, path, size, set(even_indices(decoded, frames).tolist()))[1]
    except av.FFmpegError as err:
        raise VideoDecodeError(f"{path} is not a readable video ({err})") from None
    index = even_indices(decoded, frames)
    return Clip(frames=np.stack([kept[i][0] for i in index.tolist()]), index=index,
                times=np.array([kept[i][1] for i in index.tolist()]), audio=samples, sample_rate=rate)


def _declared_frames(container: Any, path: Path) -> int:
    if not container.streams.video:
        raise VideoDecodeError(f"{path} has no video stream")
    return int(container.streams.video[0].frames or 0)


def _decode(container: Any, path: Path, size: int, wanted: set[int] | None
            ) -> tuple[int, dict[int, tuple[np.ndarray, float]]]:
    """The number of frames that decode, and ``{number: (uint8 [3, S, S], seconds)}`` of those in
    ``wanted`` (none when ``None``)."""
    kept: dict[int, tuple[np.ndarray, float]] = {}
    count = 0
    for count, frame in enumerate(container.decode(container.streams.video[0]), start=1):
        if wanted is not None and count - 1 in wanted:
            kept[count - 1] = (_square(frame, size), float(frame.time or 0.0))
    if count == 0:
        raise VideoDecodeError(f"{path} has no decodable frame")
    return count, kept


def _square(frame: Any, size: int) -> np.ndarray:
    """uint8 ``[3, size, size]``: scaled (shorter side ``size``) by swscale, centre-cropped."""
    scale = size / min(frame.width, frame.height)
    width, height = max(size, round(frame.width * scale)), max(size, round(frame.height * scale))
    if (width, height) == (frame.width, frame.height):  # a new scaler per call costs ~1 ms a frame
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
    top, left = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(rgb[top:top + size, left:left + size].transpose(2, 0, 1))


def _read_audio(container: Any, path: Path) -> tuple[np.ndarray, int]:
    """float32 ``[A]`` mono samples of the first audio stream, from its start."""
    import av

    if not container.streams.audio:
        raise VideoDecodeError(f"{path} has no audio track")
    stream = container.streams.audio[0]
    rate = int(stream.rate or stream.codec_context.sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    container.seek(0)
    chunks = []
    for frame in container.decode(stream):
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise VideoDecodeError(f"{path}: its audio track holds no samples")
    peak = float(np.abs(samples).max())
    if peak <= SILENCE:
        raise VideoDecodeError(f"{path}: its audio track is silent (peak amplitude {peak:.2g})")
    return samples, rate
