"""``write_shards``: any dataset spec to WebDataset tar shards plus a ``shards.json`` index.

Each sample ``KEY`` (the sample's 9-digit index in the source split) is stored as
``KEY.png`` (lossless, mode L or RGB), ``KEY.cls`` (the label as decimal text, when labelled) and
``KEY.txt`` (the captions, one per line, when written with captions). Shards are named
``000000.tar``, ``000001.tar``, ... and hold ``shard_size`` samples each (the last one the rest);
they are plain tar files that the ``webdataset`` package reads as well. Each shard is written
under a temporary name and renamed when complete, and the index is written last, so an
interrupted run never leaves a shard that looks complete but is not.
"""
from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.captions import load_caption_dataset
from simclip.data.image_dataset import ImageDataset
from simclip.data.load import load_dataset
from simclip.data.shards.index import INDEX_NAME, ShardIndex, write_index
from simclip.data.shards.tar_samples import CAPTION_FIELD, LABEL_FIELD, add_member
from simclip.data.shards.webdataset import ShardedDataset
from simclip.data.spec import check_split, parse_spec
from simclip.errors import SimclipError, UsageError

SHARD_NAME = re.compile(r"^\d{6}\.tar$")
_CAPTION_KINDS = ("captions", "shapes")  # sources whose captions are written text, not templates
_STATS_IMAGES = 10_000


class ShardsExistError(SimclipError, FileExistsError):
    """The output folder already holds shards, and ``overwrite`` was not given."""


def write_shards(spec: str, out_dir: str | os.PathLike, shard_size: int = 10_000,
                 split: str = "train", captions: bool | None = None, *,
                 overwrite: bool = False) -> list[Path]:
    """Write split ``split`` of the dataset ``spec`` as tar shards into ``out_dir``.

    Args:
        spec: any dataset spec (``digits``, ``shapes``, ``mnist:PATH``, ``captions:FILE``,
            ``folder:PATH``, ``wds:...`` to re-shard, ...).
        out_dir: folder for the shards and ``shards.json`` (created if missing).
        shard_size: samples per shard; ``ceil(N / shard_size)`` shards are written.
        split: ``"train"`` or ``"test"``.
        captions: write a ``.txt`` field with each image's captions. None: for the sources with
            written captions (``captions:FILE``, ``shapes``); True: also for labelled sources,
            whose captions come from class-name templates (as ``load_caption_dataset`` makes them).
        overwrite: replace shards and an index already in ``out_dir`` (else FileExistsError).

    Returns:
        The shard paths, in order.
    """
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise UsageError(f"shard_size must be a positive int, got {shard_size!r}")
    if captions is not None and not isinstance(captions, bool):
        raise TypeError(f"captions must be a bool or None, got {type(captions).__name__}")
    check_split(split)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {str(out)!r} is a file, not a folder")
    stale = _existing_shards(out)
    if stale and not overwrite:
        raise ShardsExistError(f"out_dir {str(out)!r} already holds shards or {INDEX_NAME}; "
                              "pass overwrite=True (--overwrite) to replace them")
    dataset = _load_source(spec, split, captions)
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX_NAME).unlink(missing_ok=True)  # no index may describe half-replaced shards
    ranges = [range(lo, min(lo + shard_size, len(dataset))) for lo in range(0, len(dataset), shard_size)]
    paths = [_write_shard(out / f"{s:06d}.tar", dataset, r) for s, r in enumerate(ranges)]
    for old in set(stale) - set(paths) - {out / INDEX_NAME}:
        old.unlink()
    write_index(out, _index(spec, split, dataset, {p.name: len(r) for p, r in zip(paths, ranges)}))
    return paths


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of uint8 ``[H, W, C]`` with C in (1, 3)."""
    pil = Image.fromarray(image[:, :, 0], "L") if image.shape[2] == 1 else Image.fromarray(image, "RGB")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def _load_source(spec: str, split: str, captions: bool | None) -> ImageDataset | CaptionDataset:
    if captions is None:
        captions = parse_spec(spec).kind in _CAPTION_KINDS
    loader = load_caption_dataset if captions else load_dataset
    dataset = loader(spec, split)
    return dataset.to_memory() if isinstance(dataset, ShardedDataset) else dataset


def _existing_shards(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if SHARD_NAME.match(p.name) or p.name == INDEX_NAME)


def _write_shard(path: Path, dataset: ImageDataset | CaptionDataset, indices: range) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _write_tar(tmp, dataset, indices)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _write_tar(tmp: Path, dataset: ImageDataset | CaptionDataset, indices: range) -> None:
    images = dataset.images[indices.start:indices.stop].permute(0, 2, 3, 1).numpy()
    labels = None if dataset.labels is None else dataset.labels[indices.start:indices.stop].tolist()
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for offset, index in enumerate(indices):
            key = f"{index:09d}"
            add_member(tar, f"{key}.png", encode_png(images[offset]))
            if labels is not None:
                add_member(tar, f"{key}.{LABEL_FIELD}", str(labels[offset]).encode())
            if isinstance(dataset, CaptionDataset):
                # One caption per line; a line break inside a caption becomes a space, which
                # text tokenizers treat alike (CLIP's collapses all whitespace).
                lines = (" ".join(c.split()) for c in dataset.captions[index])
                add_member(tar, f"{key}.{CAPTION_FIELD}", "\n".join(lines).encode("utf-8"))


def _index(spec: str, split: str, dataset: ImageDataset | CaptionDataset,
           counts: dict[str, int]) -> ShardIndex:
    # The same statistics the in-memory recipes take from the first images (float32, unbiased).
    sample = dataset.images[:_STATS_IMAGES].float().div_(255)
    mean = tuple(float(m) for m in sample.mean(dim=(0, 2, 3)))
    std = tuple(float(s) for s in sample.std(dim=(0, 2, 3)))
    return ShardIndex(shards=counts, classes=list(dataset.classes), channels=dataset.channels,
                      image_size=dataset.image_size, labels=dataset.labels is not None,
                      captions=isinstance(dataset, CaptionDataset), source=spec, split=split,
                      mean=mean, std=std)
