"""The built-in ``digits`` dataset: scikit-learn's 1,797 real 8x8 handwritten digits.

The UCI "Optical Recognition of Handwritten Digits" set (Alpaydin & Kaynak, 1998), shipped inside
scikit-learn, so it needs no download. It has no official split: a stratified 80/20 split with a
fixed seed gives 1,437 training and 360 test images with the class balance of the whole.
"""
from __future__ import annotations

import numpy as np
import torch

from simclip.data.image_dataset import ImageDataset
from simclip.data.resize import resize_square
from simclip.data.spec import check_split

DIGIT_CLASSES = [str(d) for d in range(10)]
DEFAULT_SIZE = 28  # MNIST's size, so models and recipes carry over between the two
TEST_SIZE = 360
SPLIT_SEED = 0


def load_digits(split: str = "train", image_size: int | None = None) -> ImageDataset:
    """Load a split of the digits: uint8 ``[N, 1, S, S]`` (S = image_size or 28), labels 0..9.

    Pixel values 0..16 are mapped to 0..255, then upsampled bilinearly from 8x8.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    check_split(split)
    bunch = sklearn_digits()
    pixels = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    target = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(target)), test_size=TEST_SIZE,
                                           stratify=target, random_state=SPLIT_SEED)
    idx = np.sort(train_idx if split == "train" else test_idx)
    images = torch.from_numpy(pixels[idx]).unsqueeze(1)
    images = resize_square(images, image_size or DEFAULT_SIZE)
    return ImageDataset(images=images.contiguous(), labels=torch.from_numpy(target[idx]),
                        classes=list(DIGIT_CLASSES), name="digits", split=split)
