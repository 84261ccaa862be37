"""``CaptionDataset``: images paired with one or more captions each, for CLIP training."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from simclip.data.image_dataset import ImageDataset, InMemoryImages, check_images, check_labels


@dataclass(kw_only=True)
class CaptionDataset(InMemoryImages):
    """Images with captions (Radford et al., 2021, "Learning Transferable Visual Models From
    Natural Language Supervision", train on such pairs).

    Attributes:
        images: uint8 ``[N, C, H, W]`` (C is 1 or 3, H == W).
        captions: ``captions[i]`` is the non-empty list of captions of image i; a loader picks
            one per image and epoch.
        name: the spec string or a short name, for logs.
        split: ``"train"`` or ``"test"``.
        labels: optional int64 ``[N]`` class indices, for zero-shot evaluation.
        classes: class names for ``labels`` (usable in prompts such as "a photo of a {}.").
        files: the image file of each image, where the images came from files (``captions:FILE``).
    """

    images: Tensor
    captions: list[list[str]]
    name: str
    split: str
    labels: Tensor | None = None
    classes: list[str] = field(default_factory=list)
    files: list[str] | None = None

    def __post_init__(self) -> None:
        check_images(self.images, "images")
        if not isinstance(self.captions, list) or len(self.captions) != len(self.images):
            got = len(self.captions) if isinstance(self.captions, list) else type(self.captions)
            raise ValueError(f"captions must be a list with one entry per image "
                             f"({len(self.images)}), got {got}")
        for i, caps in enumerate(self.captions):
            if not isinstance(caps, list) or not caps or not all(isinstance(c, str) for c in caps):
                raise ValueError(f"captions[{i}] must be a non-empty list of str, got {caps!r}")
        self.labels = check_labels(self.labels, len(self.images), self.classes)
        if self.files is not None and len(self.files) != len(self.images):
            raise ValueError(f"files must name one file per image ({len(self.images)}), "
                             f"got {len(self.files)}")


    def as_image_dataset(self) -> ImageDataset:
        """The same images and labels without captions (shares the tensors)."""
        return ImageDataset(images=self.images, labels=self.labels, classes=list(self.classes),
                            name=self.name, split=self.split)
