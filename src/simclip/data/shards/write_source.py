"""The samples a shard writer reads from a dataset spec, one at a time.

``folder:`` and ``captions:`` sources are listed, not loaded: an :class:`Item` names an image file
that a worker decodes when its shard is written, so memory does not grow with the source (only
the list of file names and captions is held). The image size is chosen as their loaders choose it
(``choose_size``: the ``size`` option, else the files' common square size from their headers,
else 32). Other sources (built-in, MNIST, CIFAR, re-sharded ``wds:``) are loaded and handed out
as pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from simclip import imageio
from simclip.data.caption_dataset import CaptionDataset
from simclip.data.caption_files import DEFAULT_SIZE as CAPTION_DEFAULT_SIZE
from simclip.data.caption_files import group_captions
from simclip.data.captions import load_caption_dataset
from simclip.data.class_captions import class_captions
from simclip.data.decode import choose_size
from simclip.data.folder import DEFAULT_SIZE as FOLDER_DEFAULT_SIZE
from simclip.data.folder import FolderLayoutError, list_folder
from simclip.data.image_dataset import ImageDataset
from simclip.data.load import channels_option, load_dataset
from simclip.data.shards.encode import Item
from simclip.data.shards.webdataset import ShardedDataset
from simclip.data.spec import DatasetSpec, parse_spec

_CAPTION_KINDS = ("captions", "shapes")  # sources whose captions are written text, not templates


@dataclass
class WriteSource:
    """A dataset to shard: its layout, and ``item(i)`` for each of its ``len()`` samples.

    Attributes:
        classes: class names (empty when unlabelled); labels index them.
        channels, image_size: the layout every image is stored at (``[S, S, C]``).
        captioned: items carry captions (written as ``.txt``).
        strict: an undecodable image is an error rather than a skipped sample.
        bad: samples known to be unusable before decoding (files outside the class folders).
    """

    name: str
    split: str
    classes: list[str]
    channels: int
    image_size: int
    captioned: bool
    strict: bool = False
    bad: list[str] = field(default_factory=list)
    _files: list[str] = field(default_factory=list, repr=False)
    _labels: list[int] | None = field(default=None, repr=False)
    _captions: list[list[str]] | None = field(default=None, repr=False)
    _wheres: list[str] | None = field(default=None, repr=False)
    _memory: ImageDataset | CaptionDataset | None = field(default=None, repr=False)

    @property
    def labelled(self) -> bool:
        """Every item carries a label."""
        return self._labels is not None

    def __len__(self) -> int:
        return len(self._memory.images) if self._memory is not None else len(self._files)

    def item(self, i: int) -> Item:
        """Sample ``i`` of the source split."""
        label = None if self._labels is None else self._labels[i]
        captions = self._item_captions(i, label)
        if self._memory is not None:
            return Item(i, self._memory.images[i].permute(1, 2, 0).numpy(), label, captions)
        return Item(i, self._files[i], label, captions, self._wheres[i] if self._wheres else "")

    def _item_captions(self, i: int, label: int | None) -> tuple[str, ...] | None:
        if not self.captioned:
            return None
        if self._captions is not None:
            return tuple(self._captions[i])
        assert label is not None  # a labelled folder with --captions (_folder refuses unlabelled ones)
        return tuple(class_captions(self.classes[label]))


def open_source(spec: str, split: str, captions: bool | None) -> WriteSource:
    """The samples of split ``split`` of ``spec``; ``captions`` as ``write_shards`` takes it."""
    parsed = parse_spec(spec)
    if captions is None:
        captions = parsed.kind in _CAPTION_KINDS
    if parsed.kind == "folder":
        return _folder(parsed, split, captions)
    if parsed.kind == "captions":
        return _caption_file(parsed, split, captions)
    loader = load_caption_dataset if captions else load_dataset
    dataset = loader(spec, split)
    if isinstance(dataset, ShardedDataset):
        dataset = dataset.to_memory()
    labels = None if dataset.labels is None else dataset.labels.tolist()
    return WriteSource(name=spec, split=split, classes=list(dataset.classes),
                       channels=dataset.channels, image_size=dataset.image_size,
                       captioned=isinstance(dataset, CaptionDataset), _labels=labels,
                       _captions=dataset.captions if isinstance(dataset, CaptionDataset) else None,
                       _memory=dataset)


def _folder(parsed: DatasetSpec, split: str, captions: bool) -> WriteSource:
    listing = list_folder(parsed.file_path, split)
    if captions and not listing.classes:
        raise ValueError(f"dataset {parsed.text!r} is unlabelled, so no captions can be made from "
                         "class names; give a labelled folder or a captions: file")
    strict = parsed.bool_option("strict", False)
    if strict and listing.outside:
        raise FolderLayoutError(f"{listing.outside[0]}: lies outside the class folders, so it has "
                                "no label")
    size = choose_size([imageio.image_size(f) for f in listing.every_file],
                       parsed.image_size(None), FOLDER_DEFAULT_SIZE)
    if not listing.files:
        raise FolderLayoutError(f"{listing.split_dirs[split]} holds no image files")
    return WriteSource(name=parsed.text, split=split, classes=listing.classes,
                       channels=channels_option(parsed), image_size=size, captioned=captions,
                       strict=strict, _files=[str(f) for f in listing.files],
                       _labels=listing.labels if listing.classes else None,
                       bad=[f"{f}: outside the class folders, so it has no label"
                            for f in listing.outside])


def _caption_file(parsed: DatasetSpec, split: str, captions: bool) -> WriteSource:
    path = parsed.file_path
    grouped = group_captions(path)
    size = choose_size([imageio.image_size(p) for p in grouped], parsed.image_size(None),
                       CAPTION_DEFAULT_SIZE)
    return WriteSource(name=parsed.text, split=split, classes=[], channels=channels_option(parsed),
                       image_size=size, captioned=captions, strict=True,
                       _files=[str(p) for p in grouped],
                       _captions=[caps for _, caps in grouped.values()],
                       _wheres=[f"{path} line {line}" for line, _ in grouped.values()])
