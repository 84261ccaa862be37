"""``ShardedDataset``: a dataset in WebDataset tar shards, streamed rather than held in memory.

Spec forms (``wds:`` then a folder, a file or a brace pattern, then options)::

    wds:shards/                         every shard listed in shards/shards.json
    wds:shards/                         shards/train/ or shards/test/ when the folder has those
    wds:shards/{000000..000009}.tar     a brace range (zero-padded like its first number)
    wds:shards/{000000,000004}.tar      a brace list
    wds:shards/000003.tar               one shard
    wds:shards?shuffle_buffer=2000&resample=1&workers=2&strict=1
    wds:https://host/data/{000000..000099}.tar         streamed over HTTP(S)
    wds:https://host/data/                             the shards its shards.json or sizes.json lists
    wds:s3://bucket/data/{000000..000099}.tar          any fsspec URL (``simclip[remote]``)
    wds:pipe:curl -s https://host/{000000..000009}.tar  a command's output per shard

Locations other than local paths are read by ``location.py``; braces expand over the whole
location (a ``pipe:`` command too), as in the ``webdataset`` package. A URL cannot carry a query
string of its own (``?`` starts the options); use ``pipe:curl ...`` for signed URLs.

Sample counts come from ``shards.json`` (written by :func:`write_shards`), else from ``sizes.json``
or ``_info.json`` beside the shards (``sizes.py``; only the first shard is read, for the image
layout), else from reading every shard once.

Options: ``shuffle_buffer`` (samples, default 2000; 0 shuffles shard order only),
``resample`` (draw shards with replacement: an endless stream cut into epochs of
``len(dataset)`` samples), ``workers`` (DataLoader worker processes per rank, default 0),
``strict`` (raise on the first bad sample instead of skipping and counting it), ``size`` and
``channels`` (convert images on the fly). Batches come from ``batches(...)`` as for in-memory
datasets; ``stream.py`` describes the order.
"""
from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.image_dataset import ImageDataset
from simclip.data.shards.decode import BadSample, SampleFormat
from simclip.data.shards.errors import ShardError, ShardSourceError
from simclip.data.shards.index import INDEX_NAME, ShardIndex, read_index, scan_shards, shard_name
from simclip.data.shards.location import is_remote, join, sibling
from simclip.data.shards.sizes import INFO_NAME, SIZES_NAME, read_sizes
from simclip.data.shards.tar_samples import read_samples
from simclip.data.spec import SPLITS, DatasetSpec, DatasetSpecError, spec_error

DEFAULT_SHUFFLE_BUFFER = 2000
_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
PATTERN_EXAMPLE = "DIR/{000000..000009}.tar"
_LISTED_BAD = 100  # bad-sample messages kept for reports; the count goes on


@dataclass(frozen=True)
class StreamOptions:
    """How a sharded dataset is streamed (the spec options of the same names)."""

    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER
    resample: bool = False
    workers: int = 0
    strict: bool = False


@dataclass
class ShardedDataset:
    """Tar shards read on demand: images uint8 ``[C, S, S]`` with labels or captions.

    Attributes:
        shards: the shard files (``Path``), or ``pipe:``/URL locations (``str``), in order.
        counts: samples per shard (from ``shards.json``, or counted once at opening).
        sample_format: classes, image layout and what each sample must carry.
        name: the spec string.
        split: ``"train"`` or ``"test"``.
        with_captions: batches carry captions (``load_caption_dataset``) instead of labels.
        options: shuffle buffer, resampling, workers, strictness.
        mean, std: per-channel pixel statistics in [0, 1] units from the index, or None.
        bad_samples: samples skipped so far because they could not be used (in this process,
            over all epochs); ``bad_messages`` names the first 100 with shard, key and reason.
    """

    shards: list[Path | str]
    counts: list[int]
    sample_format: SampleFormat
    name: str
    split: str
    with_captions: bool = False
    options: StreamOptions = field(default_factory=StreamOptions)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    bad_samples: int = 0
    bad_messages: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(self.counts)

    @property
    def classes(self) -> list[str]:
        """Class names (empty when unlabelled)."""
        return list(self.sample_format.classes)

    @property
    def num_classes(self) -> int:
        """Number of classes (0 when unlabelled)."""
        return len(self.sample_format.classes)

    @property
    def channels(self) -> int:
        """Channels per image: 1 (grayscale) or 3 (RGB)."""
        return self.sample_format.channels

    @property
    def image_size(self) -> int:
        """Side of the square images in pixels."""
        return self.sample_format.image_size

    def record_bad(self, messages: list[str]) -> None:
        """Count skipped samples (``"SHARD, sample KEY: reason"``); warns at the first."""
        if messages and self.bad_samples == 0:
            warnings.warn(f"{self.name}: skipping samples that cannot be used, first {messages[0]} "
                          "(counted in ShardedDataset.bad_samples; strict=1 raises instead)",
                          stacklevel=3)
        self.bad_samples += len(messages)
        self.bad_messages += messages[:max(0, _LISTED_BAD - len(self.bad_messages))]

    def to_memory(self, limit: int | None = None) -> ImageDataset | CaptionDataset:
        """The first ``limit`` usable samples (all when None) in shard order, held in memory;
        a ``CaptionDataset`` keeps every caption of each image."""
        bad: list[str] = []
        decoded = list(itertools.islice(self._decoded(bad), limit))
        self.record_bad(bad)
        if not decoded:
            raise ShardError(f"{self.name}: no usable samples in {len(self.shards)} shard(s)")
        images, labels, captions = zip(*decoded)
        tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        label_tensor = torch.tensor(labels, dtype=torch.int64) if self.sample_format.labelled else None
        if self.with_captions:
            return CaptionDataset(images=tensor, captions=list(captions), name=self.name,
                                  split=self.split, labels=label_tensor, classes=self.classes)
        return ImageDataset(images=tensor, labels=label_tensor, classes=self.classes,
                            name=self.name, split=self.split)

    def _decoded(self, bad: list[str]) -> Iterator[tuple[np.ndarray, int | None, list[str] | None]]:
        """``(pixels [S, S, C], label, captions)`` of each usable sample in shard order."""
        fmt = self.sample_format
        for shard in self.shards:
            for sample in read_samples(shard):
                try:
                    yield (fmt.pixels(sample), fmt.label(sample),
                           fmt.captions(sample) if self.with_captions else None)
                except BadSample as err:
                    if self.options.strict:
                        raise ShardError(f"{sample.where()}: {err}") from None
                    bad.append(f"{sample.where()}: {err}")


def load_sharded(parsed: DatasetSpec, split: str, image_size: int | None, *, strict: bool = False,
                 captions: bool = False) -> ShardedDataset:
    """Open the shards that the ``wds:`` spec ``parsed`` names (see the module docstring)."""
    options = StreamOptions(shuffle_buffer=parsed.int_option("shuffle_buffer", DEFAULT_SHUFFLE_BUFFER,
                                                             minimum=0),
                            resample=parsed.bool_option("resample", False),
                            workers=parsed.int_option("workers", 0, minimum=0),
                            strict=strict or parsed.bool_option("strict", False))
    shards, index = resolve_shards(parsed, split)
    if index.split and index.split != split:
        raise ValueError(f"{parsed.text!r} holds the {index.split!r} split, not {split!r}; write "
                         f"each split to its own folder, e.g. DIR/{index.split} and DIR/{split}")
    channels = int(parsed.choice_option("channels", ("1", "3"), str(index.channels)))
    if captions and not (index.captions or index.labels):
        raise ValueError(f"{parsed.text!r} has neither captions nor labels, so no text for CLIP; "
                         "write the shards from a captioned source")
    source_kind = re.split(r"[:?]", index.source, maxsplit=1)[0]
    fmt = SampleFormat(classes=tuple(index.classes), channels=channels,
                       image_size=image_size or index.image_size, labelled=index.labels,
                       captioned=index.captions, digit_templates=source_kind in ("digits", "mnist"))
    same_pixels = channels == index.channels
    return ShardedDataset(shards=shards, counts=[index.shards[str(p)] for p in shards],
                          sample_format=fmt, name=parsed.text, split=split, with_captions=captions,
                          options=options, mean=index.mean if same_pixels else None,
                          std=index.std if same_pixels else None)


def resolve_shards(parsed: DatasetSpec, split: str) -> tuple[list[Path | str], ShardIndex]:
    """The shards of a ``wds:`` spec (local ``Path``s, or location strings for ``pipe:`` and
    URLs) and an index whose ``shards`` are keyed by ``str(shard)``."""
    raw = spec_location(parsed)
    remote = is_remote(raw)
    if "{" in raw or "}" in raw:
        try:
            expanded = expand_braces(raw)
        except ValueError as err:
            raise spec_error(parsed.text, str(err)) from None
        shards: list[Path | str] = list(expanded) if remote else [Path(p) for p in expanded]
    elif remote and (raw.startswith("pipe:") or ".tar" in shard_name(raw)):
        shards = [raw]
    elif remote:
        return _folder_shards(parsed, raw, split)
    elif parsed.file_path.is_file():
        shards = [parsed.file_path]
    elif parsed.file_path.is_dir():
        return _folder_shards(parsed, str(parsed.file_path), split)
    else:
        raise spec_error(parsed.text, f"path {raw!r} does not exist")
    missing = [str(p) for p in shards if isinstance(p, Path) and not p.is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise spec_error(parsed.text, f"shard file(s) {', '.join(missing[:3])}{more} do not exist")
    return shards, _index_for(shards)


def spec_location(parsed: DatasetSpec) -> str:
    """The shards as the ``wds:`` spec writes them: a path (``~`` expanded), ``pipe:`` or a URL."""
    raw = parsed.text.partition("?")[0].partition(":")[2]
    return raw if is_remote(raw) else str(parsed.path)


def expand_braces(pattern: str) -> list[str]:
    """Expand ``{A..B}`` (numbers, zero-padded to the width of A) and ``{x,y,z}`` groups, left
    to right: ``"s/{00..02}.tar"`` -> ``["s/00.tar", "s/01.tar", "s/02.tar"]``."""
    match = _BRACE.search(pattern)
    if match is None:
        if "{" in pattern or "}" in pattern:
            raise ValueError(f"unbalanced or nested braces in {pattern!r}")
        return [pattern]
    body, head, tail = match.group(1), pattern[:match.start()], pattern[match.end():]
    numbers = _RANGE.match(body)
    if numbers:
        first, last = int(numbers.group(1)), int(numbers.group(2))
        if last < first:
            raise ValueError(f"brace range {{{body}}} runs backwards")
        width = len(numbers.group(1).lstrip("-"))
        items = [f"{i:0{width}d}" for i in range(first, last + 1)]
    elif "," in body:
        items = body.split(",")
    else:
        raise ValueError(f"brace group {{{body}}} is neither a range A..B nor a list x,y")
    return [f"{head}{item}{rest}" for item in items for rest in expand_braces(tail)]


def _folder_shards(parsed: DatasetSpec, folder: str, split: str,
                   top: bool = True) -> tuple[list[Path | str], ShardIndex]:
    """The shards of a folder (or folder URL): those ``shards.json`` lists, else all ``.tar``
    files (for a URL: those ``sizes.json`` lists); ``folder/split`` when it holds none."""
    remote = is_remote(folder)
    index = read_index(folder)
    if index is not None:
        shards = [join(folder, name) if remote else Path(folder) / name for name in index.shards]
        missing = [str(p) for p in shards if isinstance(p, Path) and not p.is_file()]
        if missing:
            raise ShardError(f"{join(folder, INDEX_NAME)} lists shard(s) that do not exist: "
                             f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        return shards, _keyed(index, shards, [Path(name) for name in index.shards])
    sizes = read_sizes(folder)
    if remote:
        tars: list[Path | str] = [join(folder, name) for name in sorted(sizes or {})]
    else:
        tars = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(".tar"))
    if not tars and top and split in SPLITS and (remote or Path(folder, split).is_dir()):
        with contextlib.suppress(DatasetSpecError, ShardSourceError):
            return _folder_shards(parsed, join(folder, split), split, top=False)
    if not tars and remote:
        raise ShardSourceError(f"{folder}: holds no {INDEX_NAME}, {SIZES_NAME} or {INFO_NAME} to list "
                               f"its shards; name them with a brace pattern, e.g. {PATTERN_EXAMPLE}")
    if not tars:
        raise spec_error(parsed.text, f"{folder!r} holds no .tar shards and no {INDEX_NAME}")
    return tars, _keyed(_scan(tars, sizes), tars, tars)


def _index_for(shards: list[Path | str]) -> ShardIndex:
    """The index beside ``shards`` (they must share one folder to use it), else a scan that
    takes the counts from ``sizes.json`` when it lies beside them."""
    folders = {sibling(str(p), "") for p in shards}
    folder = folders.pop() if len(folders) == 1 else None
    index = read_index(folder) if folder is not None else None
    if index is None:
        return _keyed(_scan(shards, read_sizes(folder) if folder else None), shards, shards)
    unlisted = [p for p in shards if shard_name(p) not in index.shards]
    if unlisted:  # shards beside an index that does not list them: count them
        counted = scan_shards(unlisted).shards
        index = replace(index, shards={**index.shards, **{shard_name(p): counted[str(p)]
                                                          for p in unlisted}})
    return _keyed(index, shards, [Path(shard_name(p)) for p in shards])


def _scan(shards: list[Path | str], sizes: dict[str, int] | None) -> ShardIndex:
    """``scan_shards``, reading only the first shard when ``sizes`` counts every one."""
    known = sizes is not None and all(shard_name(p) in sizes for p in shards)
    return scan_shards(shards, sizes if known else None)


def _keyed(index: ShardIndex, shards: list[Path | str], names: list[Path | str]) -> ShardIndex:
    """``index`` with its counts keyed by ``str(shard)`` (``names[i]`` is shard i's key in it)."""
    counts = {str(path): index.shards[str(name)] for path, name in zip(shards, names)}
    return replace(index, shards=counts)
