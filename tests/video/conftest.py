"""Small videos written with PyAV for the video tests."""

from pathlib import Path

import numpy as np
import pytest


def write_video(path: Path, frames: np.ndarray, codec: str = "mpeg4", rate: int = 8) -> Path:
    """Encode uint8 ``[T, H, W, 3]`` RGB frames into ``path`` (container from the suffix)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square(colour=(255, 0, 0), frames=16, side=32) -> np.ndarray:
    """A 8x8 square of ``colour`` sliding left to right over black."""
    video = np.zeros((frames, side, side, 3), np.uint8)
    for t in range(frames):
        x = t * (side - 8) // (frames - 1)
        video[t, 12:20, x:x + 8] = colour
    return video


def still_circle(colour=(0, 0, 255), frames=16, side=32) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side]
    disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 4) ** 2
    video = np.zeros((frames, side, side, 3), np.uint8)
    video[:, disc] = colour
    return video


def bar_clock(frames=16, side=32) -> np.ndarray:
    """Frame ``t`` has a white bar at columns ``2t, 2t + 1``: the frame number can be read back."""
    video = np.zeros((frames, side, side, 3), np.uint8)
    for t in range(frames):
        video[t, :, 2 * t:2 * t + 2] = 255
    return video


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    (root / "shapes").mkdir()
    write_video(root / "shapes" / "red_square.mp4", moving_square((255, 0, 0)))
    write_video(root / "blue_circle.mp4", still_circle((0, 0, 255)))
    write_video(root / "green_square.mkv", moving_square((0, 255, 0)))
    write_video(root / "clock.mp4", bar_clock())
    (root / "notes.txt").write_text("not a video")
    return root
