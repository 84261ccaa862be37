"""MNIST (LeCun, Bottou, Bengio & Haffner, 1998) from its four IDX files in one folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from simclip.data.digits import DIGIT_CLASSES
from simclip.data.idx import IDXFormatError, read_idx
from simclip.data.image_dataset import ImageDataset
from simclip.data.resize import resize_square
from simclip.data.spec import check_split

_PREFIX = {"train": "train", "test": "t10k"}


def mnist_file(folder: Path, split: str, part: str) -> Path:
    """The path of ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (``.gz`` preferred).

    Also accepts the ``train-images.idx3-ubyte`` spelling some mirrors use. Raises
    ``FileNotFoundError`` naming the expected file when none exists.
    """
    kind = "images-idx3" if part == "images" else "labels-idx1"
    stem, dotted = f"{_PREFIX[split]}-{kind}-ubyte", f"{_PREFIX[split]}-{kind.replace('-', '.')}-ubyte"
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FileNotFoundError(f"missing MNIST file: {Path(folder) / stem}[.gz]")


def load_mnist(folder: Path, split: str = "train", image_size: int | None = None) -> ImageDataset:
    """Load an MNIST split: uint8 ``[N, 1, S, S]`` (S = image_size or 28), labels 0..9.

    60,000 train / 10,000 test images for the original files. Checks the IDX headers, that the
    image and label counts agree, and the checksums when the folder has a SHA256SUMS file.
    """
    check_split(split)
    images_path = mnist_file(folder, split, "images")
    labels_path = mnist_file(folder, split, "labels")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IDXFormatError(f"{images_path}: expected ubyte images [N, H, W] (magic 2051), got "
                             f"{images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(f"{labels_path}: expected ubyte labels [N] (magic 2049), got "
                             f"{labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise IDXFormatError(f"{images_path} has {len(images)} images but {labels_path} has "
                             f"{len(labels)} labels")
    if len(labels) and labels.max() > 9:
        raise IDXFormatError(f"{labels_path}: label {int(labels.max())} is not a digit 0..9")
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    if image_size is not None:
        tensor = resize_square(tensor, image_size)
    return ImageDataset(images=tensor, labels=torch.from_numpy(labels.astype(np.int64)),
                        classes=list(DIGIT_CLASSES), name=f"mnist:{folder}", split=split)
