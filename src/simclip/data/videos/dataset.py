"""``VideoDataset``: clips of a split held in memory, each as a fixed number of frames."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from simclip.data.image_dataset import ImageDataset


@dataclass
class VideoDataset(ImageDataset):
    """Clips with optional integer labels (one per clip); build it with :meth:`from_clips`.

    Batches (:func:`simclip.data.batches`) are ``(clips [B, T, 3, S, S], index [B, T], labels [B] or
    None)``: a SimCLR objective picks its views' frames from them (``positives.py``). As an
    :class:`ImageDataset` (probes, statistics, every command that reads images) it holds one image
    per clip, its middle frame: ``images`` is a view of ``clips``, not a copy.

    Attributes:
        clips: uint8 ``[N, T, 3, S, S]``; index: int64 ``[N, T]``, each frame's number in its video.
        images: uint8 ``[N, 3, S, S]``, the middle frames; labels, classes, name, split, bad_files:
            as :class:`ImageDataset` (``bad_files``: ``"FILE: reason"`` of each video skipped).
    """

    clips: Tensor = field(kw_only=True)
    index: Tensor = field(kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        c = self.clips
        if c.dtype != torch.uint8 or c.ndim != 5 or c.shape[2] != 3:
            raise ValueError(f"clips must be uint8 [N, T, 3, S, S], got {c.dtype} {tuple(c.shape)}")
        if self.index.shape != c.shape[:2]:
            raise ValueError(f"index must be [N, T] = {tuple(c.shape[:2])}, got {tuple(self.index.shape)}")
        if len(self.images) != len(c):
            raise ValueError(f"{len(self.images)} images for {len(c)} clips")

    @classmethod
    def from_clips(cls, clips: Tensor, index: Tensor, labels: Tensor | None, classes: list[str], name: str,
                   split: str, bad_files: list[str] | None = None) -> VideoDataset:
        """The dataset of ``clips`` ``[N, T, 3, S, S]``, with their middle frames as ``images``."""
        return cls(images=clips[:, clips.shape[1] // 2], labels=labels, classes=classes, name=name, split=split,
                   bad_files=list(bad_files or []), clips=clips, index=index)

    @property
    def frames_per_clip(self) -> int:
        return int(self.clips.shape[1])
