"""Frames sampled from a video file, decoded with PyAV (FFmpeg).

Sampling follows TSN (Wang et al. 2016) as CLIP4Clip does (Luo et al. 2021): the video is cut into
``T`` equal segments and one frame is taken from each: the middle one (``"uniform"``, for indexing
and evaluation) or a random one (``"random"``, for training). Videos shorter than ``T`` frames repeat
frames, so every video gives exactly ``T``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from simclip.data.videos.errors import VideoDecodeError
from simclip.errors import UsageError

__all__ = ["STRATEGIES", "VideoDecodeError", "frame_indices", "sample_frames"]

STRATEGIES = ("uniform", "random")


def frame_indices(total: int, num_frames: int, strategy: str = "uniform",
                  generator: torch.Generator | None = None) -> list[int]:
    """``num_frames`` indices into ``total`` frames, ascending: segment ``i`` spans
    ``[i * total / T, (i + 1) * total / T)``; ``"uniform"`` takes its middle frame, ``"random"`` a
    uniformly drawn one."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise UsageError(f"num_frames must be a positive int, got {num_frames!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if total < 1:
        raise VideoDecodeError(f"cannot sample frames from a video of {total} frames")
    starts = [i * total / num_frames for i in range(num_frames)]
    if strategy == "uniform":
        return [int(s + total / (2 * num_frames)) for s in starts]
    offsets = torch.rand(num_frames, generator=generator, dtype=torch.float64).tolist()
    return [min(total - 1, int(s + u * total / num_frames)) for s, u in zip(starts, offsets)]


def _decode(path: Path, wanted: set[int] | None) -> tuple[dict[int, np.ndarray], int]:
    """RGB arrays ``[H, W, 3]`` of the frames numbered in ``wanted`` (none when ``None``) and the
    number of frames decoded."""
    import av

    kept: dict[int, np.ndarray] = {}
    count = 0
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoDecodeError(f"video {str(path)!r} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for count, frame in enumerate(container.decode(stream), start=1):
            if wanted is not None and count - 1 in wanted:
                kept[count - 1] = frame.to_ndarray(format="rgb24")
    return kept, count


def _declared_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoDecodeError(f"video {str(path)!r} has no video stream")
        return int(container.streams.video[0].frames or 0)


def sample_frames(path: str | Path, num_frames: int = 8, strategy: str = "uniform",
                  seed: int | None = None) -> Tensor:
    """``num_frames`` RGB frames of the video at ``path`` as uint8 ``[T, 3, H, W]``.

    The frame count comes from the container when it records one (MP4, AVI), else from a decoding
    pass (Matroska, WebM). ``seed`` fixes the ``"random"`` draw. A missing file raises
    ``FileNotFoundError``; a file FFmpeg cannot decode raises ``ValueError`` naming it.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video {str(path)!r} does not exist or is not a file")
    frame_indices(1, num_frames, strategy)  # validates the arguments before any decoding
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    try:
        total = _declared_frames(path) or _decode(path, None)[1]
        if total == 0:
            raise VideoDecodeError(f"video {str(path)!r} has no decodable frames")
        indices = frame_indices(total, num_frames, strategy, generator)
        kept, decoded = _decode(path, set(indices))
        if 0 < decoded < total:  # the container over-declared its frames: sample the real ones
            indices = frame_indices(decoded, num_frames, strategy, generator)
            kept, decoded = _decode(path, set(indices))
    except av.FFmpegError as err:
        raise VideoDecodeError(f"cannot read video {str(path)!r}: {err}") from err
    if decoded == 0:
        raise VideoDecodeError(f"video {str(path)!r} has no decodable frames")
    frames = np.stack([kept[i] for i in indices])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
