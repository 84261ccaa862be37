"""The error of a video file that cannot be used."""
from __future__ import annotations

from simclip.errors import SimclipError


class VideoDecodeError(SimclipError, ValueError):
    """A video file without a readable video stream or decodable frames, truncated, or (where its
    sound is wanted) without a usable audio track; the message names the file."""
