"""``ImageDataset``: a whole split held in memory as one uint8 tensor.

In memory is right for every format the spec strings name at the sizes trained on a CPU
(MNIST train is 47 MB); batches are then plain tensor indexing, with no worker processes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


class InMemoryImages:
    """Size queries shared by the in-memory datasets, which hold ``images: uint8 [N, C, S, S]`` and
    ``classes``."""

    # declared for the type checker only: the dataclasses that derive from this hold them as fields
    images: Tensor
    classes: list[str]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        """Number of classes (0 when unlabelled)."""
        return len(self.classes)

    @property
    def channels(self) -> int:
        """Channels per image: 1 (grayscale) or 3 (RGB)."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        """Side of the square images in pixels."""
        return square_side(self.images)


@dataclass
class ImageDataset(InMemoryImages):
    """Images with optional integer labels.

    Attributes:
        images: uint8 ``[N, C, H, W]`` (C is 1 or 3, H == W), values 0..255.
        labels: int64 ``[N]`` indexing ``classes``, or None for unlabelled data.
        classes: class names, ``classes[labels[i]]`` names image i (empty when unlabelled).
        name: the spec string or a short name, for logs.
        split: ``"train"`` or ``"test"``.
        bad_files: files that were skipped because they could not be decoded (image folders).
        workers: loader processes that make each batch's views when a loader is asked for them
            (``batches(..., views=)``: SimCLR on the CPU); 0: the calling process makes them.
    """

    images: Tensor
    labels: Tensor | None
    classes: list[str]
    name: str
    split: str
    bad_files: list[str] = field(default_factory=list)
    workers: int = 0

    def __post_init__(self) -> None:
        check_images(self.images, "images")
        self.labels = check_labels(self.labels, len(self.images), self.classes)



def check_images(images: Tensor, what: str) -> None:
    """Raise unless ``images`` is a uint8 ``[N, C, H, W]`` tensor with C in (1, 3)."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{what} must be uint8 [N, C, H, W] with C in (1, 3), got "
                         f"{images.dtype} {tuple(images.shape)}")


def check_labels(labels: Tensor | None, n: int, classes: list[str]) -> Tensor | None:
    """Validate ``labels`` (int64 ``[n]`` in ``range(len(classes))``) against ``classes``."""
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise TypeError("classes must be a list of str")
    if labels is None:
        return None
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64 or labels.shape != (n,):
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, Tensor) else type(labels)
        raise ValueError(f"labels must be int64 [{n}] (one per image), got {got}")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
        raise ValueError(f"labels must lie in 0..{len(classes) - 1} (len(classes) - 1), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    return labels


def square_side(images: Tensor) -> int:
    """H of ``[N, C, H, W]`` images, which must be square."""
    h, w = int(images.shape[2]), int(images.shape[3])
    if h != w:
        raise ValueError(f"images are {h}x{w}, not square; image_size is defined for square images")
    return h
