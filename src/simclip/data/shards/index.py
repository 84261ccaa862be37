"""``shards.json``: the index written beside a folder of tar shards.

It lets a reader know a dataset's length, classes and image layout without opening a shard::

    {"format": "simclip-shards", "version": 1, "source": "digits", "split": "train",
     "total": 1437, "shards": [{"name": "000000.tar", "samples": 1000}, ...],
     "classes": ["0", ..., "9"], "channels": 1, "image_size": 28,
     "labels": true, "captions": false, "mean": [0.19], "std": [0.33]}

``labels``/``captions`` say whether every sample has a ``.cls``/``.txt`` field; ``mean``/``std``
are per-channel pixel statistics in [0, 1] units over the first 10,000 images. Shards without an
index are counted by reading them once (``scan_shards``), or, when ``sizes.json`` or ``_info.json``
lies beside them (``sizes.py``), by reading only the first.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simclip import imageio
from simclip.data.shards.errors import ShardError
from simclip.data.shards.location import join, read_optional
from simclip.data.shards.tar_samples import CAPTION_FIELD, LABEL_FIELD, read_samples

INDEX_NAME = "shards.json"
FORMAT, VERSION = "simclip-shards", 1


@dataclass(frozen=True)
class ShardIndex:
    """What ``shards.json`` records; ``shards`` maps each shard's file name to its sample count."""

    shards: dict[str, int]
    classes: list[str]
    channels: int
    image_size: int
    labels: bool
    captions: bool
    source: str = ""
    split: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @property
    def total(self) -> int:
        """Samples in all shards."""
        return sum(self.shards.values())

    def to_json(self) -> dict:
        """The JSON object written to ``shards.json``."""
        fields = asdict(self)
        shards = [{"name": name, "samples": count} for name, count in fields.pop("shards").items()]
        return {"format": FORMAT, "version": VERSION, "source": self.source, "split": self.split,
                "total": self.total, "shards": shards,
                **{k: v for k, v in fields.items() if k not in ("source", "split")}}


def write_index(folder: Path, index: ShardIndex) -> Path:
    """Write ``folder/shards.json`` atomically (temp file, then rename); returns its path."""
    path = Path(folder) / INDEX_NAME
    tmp = path.with_name(f".{INDEX_NAME}.tmp")
    tmp.write_text(json.dumps(index.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_index(folder: str | Path) -> ShardIndex | None:
    """The index in ``folder`` (a local folder or a URL), or None when there is none;
    ``ShardError`` when it is malformed."""
    path = join(str(folder), INDEX_NAME)
    raw = read_optional(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ShardError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ShardError(f"{path}: not a shard index (field 'format' must be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ShardError(f"{path}: index version {data.get('version')!r} is not supported "
                         f"(this reader knows version {VERSION})")
    try:
        shards = {str(s["name"]): _count(s["samples"]) for s in data["shards"]}
        index = ShardIndex(shards=shards, classes=[str(c) for c in data["classes"]],
                           channels=int(data["channels"]), image_size=int(data["image_size"]),
                           labels=bool(data["labels"]), captions=bool(data["captions"]),
                           source=str(data.get("source", "")), split=str(data.get("split", "")),
                           mean=_floats(data.get("mean")), std=_floats(data.get("std")))
    except KeyError as err:
        raise ShardError(f"{path}: malformed index, field {err} is missing") from None
    except (TypeError, ValueError) as err:
        raise ShardError(f"{path}: malformed index ({err})") from None
    if index.channels not in (1, 3) or index.image_size < 1:
        raise ShardError(f"{path}: channels must be 1 or 3 and image_size positive, got "
                         f"{index.channels} and {index.image_size}")
    return index


def scan_shards(paths: list[str | Path], sizes: dict[str, int] | None = None) -> ShardIndex:
    """Build an index by reading ``paths`` once: sample counts, label range, whether all samples
    with an image have labels and captions, and the first image's layout.

    With ``sizes`` (shard file name -> count, from ``sizes.json``) only the first shard is read,
    for the rest; the counts come from ``sizes``. Classes of shards without an index are named
    by their numbers, ``"0"`` .. ``"K-1"`` (with ``sizes``: the labels the first shard holds).
    """
    counts, labels, has_label, has_caption, first_image = {}, set(), True, True, None
    for path in paths[:1] if sizes is not None else paths:
        count = 0
        for sample in read_samples(path):
            count += 1  # samples without an image count too: readers skip them as bad
            field = sample.image_field()
            if field is None:
                continue
            first_image = first_image or sample.fields[field]
            has_label = has_label and LABEL_FIELD in sample.fields
            has_caption = has_caption and CAPTION_FIELD in sample.fields
            if LABEL_FIELD in sample.fields:
                labels.add(sample.fields[LABEL_FIELD].strip())
        counts[str(path)] = count
    if sizes is not None:
        counts = {str(p): sizes[shard_name(p)] for p in paths}
    if first_image is None:
        raise ShardError(f"no samples with an image in {', '.join(map(str, paths))}")
    channels, size = _image_layout(first_image)
    numbers = [int(x) for x in labels if x.isdigit()] if has_label else []
    return ShardIndex(shards=counts, classes=[str(i) for i in range(max(numbers, default=-1) + 1)],
                      channels=channels, image_size=size, labels=has_label and bool(numbers),
                      captions=has_caption)


def shard_name(location: str | Path) -> str:
    """The file name of a shard path or URL (``"000003.tar"``)."""
    return str(location).rstrip("/").rsplit("/", 1)[-1]


def _image_layout(data: bytes) -> tuple[int, int]:
    """Channels (1 for grayscale modes, else 3) and the shorter side of an encoded image."""
    try:
        pixels = imageio.decode_array(data, channels=None, name="the first image in the shards")
    except imageio.ImageDecodeError as err:
        raise ShardError(str(err)) from None
    return pixels.shape[2], min(pixels.shape[:2])


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'samples' must be a non-negative int, got {value!r}")
    return value


def _floats(value: Any) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(v) for v in value)

