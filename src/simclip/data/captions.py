"""``load_caption_dataset``: any dataset spec string to image-caption pairs for CLIP training.

- ``captions:FILE.csv`` / ``captions:FILE.jsonl``: written captions (see ``caption_files.py``);
- ``shapes``: procedural scenes with compositional captions (see ``shapes.py``);
- ``digits``, ``mnist:PATH``: digit phrasings such as "a photo of the digit 7", "a handwritten seven";
- labelled ``folder:PATH``, ``cifar10:PATH``, ``cifar100:PATH``: class names through templates
  such as "a photo of a {}.".
"""
from __future__ import annotations

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.caption_files import load_caption_file
from simclip.data.class_captions import captions_from_labels
from simclip.data.load import channels_option, load_dataset, load_shapes_spec
from simclip.data.spec import check_split, parse_spec
from simclip.data.shards.webdataset import ShardedDataset, load_sharded


def load_caption_dataset(spec: str, split: str = "train", image_size: int | None = None, *,
                         strict: bool = False) -> CaptionDataset | ShardedDataset:
    """Load split ``"train"`` or ``"test"`` of ``spec`` as a ``CaptionDataset``.

    Images are uint8 ``[N, C, S, S]`` as from ``load_dataset``; every image has one or more
    captions. Raises ``ValueError`` for an unlabelled folder, whose images have no text.
    ``wds:`` shards give a streamed ``ShardedDataset`` whose batches carry captions.
    """
    parsed = parse_spec(spec)
    check_split(split)
    size = parsed.image_size(image_size)
    if parsed.kind == "captions":
        return load_caption_file(parsed.file_path, split, size, channels_option(parsed))
    if parsed.kind == "shapes":
        return load_shapes_spec(parsed, split, size)
    if parsed.kind == "wds":
        return load_sharded(parsed, split, size, strict=strict, captions=True)
    dataset = load_dataset(spec, split, image_size, strict=strict)
    assert not isinstance(dataset, ShardedDataset)  # only wds: streams, and it returned above
    return captions_from_labels(dataset, digits=parsed.kind in ("digits", "mnist"))
