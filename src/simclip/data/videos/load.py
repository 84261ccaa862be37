"""``videos:DIR``: a folder of video files read with PyAV into a :class:`VideoDataset`.

The layout is an image folder's (``simclip.data.folder``): ``train/`` and ``test/`` (or ``val/``)
sub-folders give the splits (else every fifth video, in path order, is ``test``), and class
sub-folders the labels. Options: ``size`` (the side frames are decoded at, default 32: the models'
size, not the video's), ``frames`` (frames sampled evenly per clip, default 16), ``audio_ms`` (the
audio around a frame, for ``--pair frame,audio``; default 500), ``strict``.

A file FFmpeg cannot read, a truncated one, and (when the audio is wanted) one without sound or
with a silent track is skipped and counted in ``bad_files`` as ``FILE: reason`` (the training loop
stops past ``max_bad_fraction``); with ``strict`` the first one raises :class:`VideoDecodeError`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from simclip.data.folder import FolderLayoutError, list_folder
from simclip.data.spec import DatasetSpec, check_split
from simclip.data.videos.dataset import VideoDataset
from simclip.data.videos.decode import VIDEO_EXTENSIONS, Clip, read_clip
from simclip.data.videos.errors import VideoDecodeError

DEFAULT_SIZE, DEFAULT_FRAMES, DEFAULT_AUDIO_MS = 32, 16, 500
_WARN_LISTED = 3


@dataclass(frozen=True)
class VideoOptions:
    """The ``videos:`` spec's options, read once."""

    size: int = DEFAULT_SIZE
    frames: int = DEFAULT_FRAMES
    audio_ms: int = DEFAULT_AUDIO_MS
    strict: bool = False

    @classmethod
    def from_spec(cls, parsed: DatasetSpec, size: int | None = None, strict: bool = False) -> VideoOptions:
        return cls(size=parsed.image_size(size) or DEFAULT_SIZE,
                   frames=parsed.int_option("frames", DEFAULT_FRAMES),
                   audio_ms=parsed.int_option("audio_ms", DEFAULT_AUDIO_MS),
                   strict=strict or parsed.bool_option("strict", False))


@dataclass
class ReadClips:
    """The usable clips of a split, their labels (None when unlabelled) and the skipped files."""

    clips: list[Clip]
    labels: list[int] | None
    classes: list[str]
    bad_files: list[str]


def list_videos(root: Path, split: str) -> tuple[list[Path], list[int], list[str], list[Path]]:
    """Video files of ``split`` with label indices, the classes, and files outside the classes."""
    check_split(split)
    try:
        listing = list_folder(root, split)
    except FolderLayoutError:  # no train/ and test/ sub-folders: the test split is drawn below
        listing = list_folder(root, "train")
    has_splits = "test" in listing.split_dirs
    pairs = [(f, y) for f, y in zip(listing.files, listing.labels) if f.suffix.lower() in VIDEO_EXTENSIONS]
    if not has_splits:  # one folder: every fifth video is held out
        pairs = [p for i, p in enumerate(pairs) if (i % 5 == 4) == (split == "test")]
    outside = [f for f in listing.outside if f.suffix.lower() in VIDEO_EXTENSIONS]
    return [f for f, _ in pairs], [y for _, y in pairs], listing.classes, outside


def read_videos(root: Path, split: str, options: VideoOptions, audio: bool = False) -> ReadClips:
    """Decode every video of ``split`` (module doc); :class:`FolderLayoutError` when none is usable."""
    files, labels, classes, outside = list_videos(root, split)
    bad = [f"{f}: outside the class folders, so it has no label" for f in outside]
    if options.strict and bad:
        raise VideoDecodeError(bad[0])
    clips, kept = [], []
    for path, label in zip(files, labels):
        try:
            clips.append(read_clip(path, options.size, options.frames, audio=audio))
            kept.append(label)
        except VideoDecodeError as err:
            if options.strict:
                raise
            bad.append(str(err))
    if bad:
        shown = "\n  ".join(bad[:_WARN_LISTED]) + (f"\n  ... and {len(bad) - _WARN_LISTED} more"
                                                   if len(bad) > _WARN_LISTED else "")
        warnings.warn(f"{root}: skipped {len(bad)} of {len(files) + len(outside)} {split} videos "
                      f"(counted in bad_files; strict=1 raises instead):\n  {shown}", stacklevel=3)
    if not clips:
        raise FolderLayoutError(f"{root}: no usable {split} video ({', '.join(sorted(VIDEO_EXTENSIONS))}; "
                                f"{len(bad)} skipped)")
    return ReadClips(clips, kept if classes else None, classes, bad)


def load_videos(parsed: DatasetSpec, split: str = "train", size: int | None = None,
                strict: bool = False) -> VideoDataset:
    """Split ``split`` of ``videos:DIR[?size=S&frames=T&strict=1]`` as a :class:`VideoDataset`."""
    options = VideoOptions.from_spec(parsed, size, strict)
    read = read_videos(parsed.file_path, split, options)
    clips = torch.from_numpy(np.stack([c.frames for c in read.clips]))
    index = torch.from_numpy(np.stack([c.index for c in read.clips]).astype(np.int64))
    labels = None if read.labels is None else torch.tensor(read.labels, dtype=torch.int64)
    return VideoDataset.from_clips(clips, index, labels, read.classes, parsed.text, split, read.bad_files)
