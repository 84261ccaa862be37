"""images_in_memory / captions_in_memory: streamed wds: shards are read into memory (the first
``limit`` samples, in shard order); in-memory datasets pass through."""

import pytest
import torch

from simclip.data import (CaptionDataset, ImageDataset, ShardedDataset, captions_in_memory, images_in_memory,
                          load_caption_dataset, load_dataset, write_shards)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_shards("shapes?n=30&label=color", out, shard_size=10)
    return out


def test_streamed_images_are_read_into_memory_up_to_the_limit(shards):
    source = load_caption_dataset("shapes?n=30&label=color")
    streamed = load_dataset(f"wds:{shards}")
    assert isinstance(streamed, ShardedDataset)
    data = images_in_memory(streamed, limit=12)
    assert isinstance(data, ImageDataset) and len(data) == 12
    assert torch.equal(data.images, source.images[:12])
    assert torch.equal(data.labels, source.labels[:12])
    assert data.classes == source.classes


def test_streamed_captions_are_read_into_memory(shards):
    source = load_caption_dataset("shapes?n=30&label=color")
    data = captions_in_memory(load_caption_dataset(f"wds:{shards}"))
    assert isinstance(data, CaptionDataset) and len(data) == 30
    assert data.captions == source.captions
    assert torch.equal(data.images, source.images)


def test_in_memory_datasets_pass_through():
    digits = load_dataset("digits", split="test")
    assert images_in_memory(digits) is digits
    shapes = load_caption_dataset("shapes?n=8")
    assert captions_in_memory(shapes) is shapes
    as_images = images_in_memory(shapes)
    assert isinstance(as_images, ImageDataset) and torch.equal(as_images.images, shapes.images)


def test_shards_loaded_without_captions_are_refused(shards):
    with pytest.raises(TypeError, match="not loaded with captions"):
        captions_in_memory(load_dataset(f"wds:{shards}"))
