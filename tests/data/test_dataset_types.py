"""ImageDataset / CaptionDataset validation, and captions generated from labels."""
import pytest
import torch

from simclip.data import CaptionDataset, ImageDataset, load_caption_dataset
from simclip.data.class_captions import class_captions, with_article


def images(n=4, c=3, h=8, w=8):
    return torch.zeros(n, c, h, w, dtype=torch.uint8)


def test_image_dataset_properties_and_checks():
    data = ImageDataset(images(), torch.tensor([0, 1, 1, 0]), ["x", "y"], "toy", "train")
    assert (len(data), data.num_classes, data.channels, data.image_size) == (4, 2, 3, 8)
    assert data.bad_files == []
    with pytest.raises(ValueError, match=r"images must be uint8 \[N, C, H, W\]"):
        ImageDataset(images().float(), None, [], "toy", "train")
    with pytest.raises(ValueError, match=r"images must be uint8 \[N, C, H, W\] with C in \(1, 3\)"):
        ImageDataset(images(c=2), None, [], "toy", "train")
    with pytest.raises(ValueError, match=r"labels must be int64 \[4\]"):
        ImageDataset(images(), torch.tensor([0, 1, 1]), ["x", "y"], "toy", "train")
    with pytest.raises(ValueError, match=r"labels must lie in 0..1"):
        ImageDataset(images(), torch.tensor([0, 1, 2, 0]), ["x", "y"], "toy", "train")
    with pytest.raises(ValueError, match="not square"):
        _ = ImageDataset(images(h=4), None, [], "toy", "train").image_size


def test_caption_dataset_checks():
    data = CaptionDataset(images=images(2), captions=[["a"], ["b", "c"]], name="t", split="test")
    assert (len(data), data.labels, data.classes, data.image_size) == (2, None, [], 8)
    assert data.as_image_dataset().images is data.images
    with pytest.raises(ValueError, match=r"one entry per image \(2\), got 1"):
        CaptionDataset(images=images(2), captions=[["a"]], name="t", split="test")
    with pytest.raises(ValueError, match=r"captions\[1\] must be a non-empty list of str"):
        CaptionDataset(images=images(2), captions=[["a"], []], name="t", split="test")


def test_digit_captions():
    data = load_caption_dataset("digits", "test")
    assert len(data) == 360 and data.classes == [str(d) for d in range(10)]
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for caps, label in zip(data.captions[:20], data.labels[:20].tolist()):
        assert f"a photo of the digit {label}" in caps and f"a handwritten {words[label]}" in caps
        assert len(set(caps)) == len(caps) >= 4


def test_class_templates():
    assert with_article("apple") == "an apple" and with_article("bird") == "a bird"
    captions = class_captions("aquarium_fish")
    assert "a photo of an aquarium fish." in captions and "a photo of the aquarium fish." in captions
