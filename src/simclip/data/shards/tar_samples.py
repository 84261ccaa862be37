"""Samples inside WebDataset tar shards: consecutive members that share a key.

The WebDataset convention (Aizman et al., 2019, "High Performance I/O For Large Scale Deep
Learning"; the ``webdataset`` package): a sample is the run of consecutive tar members whose names
agree up to the first dot of the file name, e.g. ``000042.png`` and ``000042.cls``; the rest of the
name (``png``, ``cls``, ``txt``) names the field. Members are read and written with Python's
``tarfile`` only, as a stream, so a shard is read once from start to end.
"""
from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simclip.data.shards.errors import ShardError, ShardSourceError
from simclip.data.shards.location import open_location

# Image fields a reader accepts; the writer stores PNG (lossless) or JPEG.
IMAGE_FIELDS = ("png", "jpg", "jpeg", "webp", "ppm", "bmp")
LABEL_FIELD, CAPTION_FIELD = "cls", "txt"


@dataclass(frozen=True)
class RawSample:
    """One sample as stored: ``fields`` maps a field name (``"png"``, ``"cls"``) to its bytes."""

    shard: str
    key: str
    fields: dict[str, bytes]

    def image_field(self) -> str | None:
        """The name of the first image field present, or None."""
        return next((f for f in IMAGE_FIELDS if f in self.fields), None)

    def where(self) -> str:
        """``"SHARD, sample KEY"`` for error messages."""
        return f"{self.shard}, sample {self.key!r}"


def split_member_name(name: str) -> tuple[str, str]:
    """``(key, field)`` of a member name: ``"a/b/0001.seg.png"`` -> ``("a/b/0001", "seg.png")``."""
    folder, _, base = name.rpartition("/")
    stem, dot, field = base.partition(".")
    key = f"{folder}/{stem}" if folder else stem
    return key, field if dot else ""


def read_samples(path: str | Path) -> Iterator[RawSample]:
    """Yield the samples of the tar shard at ``path`` in stored order (plain, .gz, .bz2 or .xz):
    a local file, ``pipe:COMMAND``, an http(s) URL or an fsspec URL (``location.py``).

    Raises:
        ShardError: ``path`` is not a tar file, is truncated or corrupt (the message names it).
        ShardSourceError: a remote location cannot be opened or read (the message names it).
        FileNotFoundError: a local ``path`` does not exist.
    """
    shard = str(path)
    key, fields = None, {}
    try:
        with open_location(shard) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, field = split_member_name(member.name)
                if member_key != key and key is not None:
                    yield RawSample(shard, key, fields)
                    fields = {}
                key = member_key
                handle = tar.extractfile(member)  # a regular file (isfile above) always has one
                data = handle.read() if handle is not None else b""
                if len(data) != member.size:  # tarfile may return short reads at a cut-off end
                    raise tarfile.ReadError("unexpected end of data")
                fields[field] = data
    except ShardSourceError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        where = "before its first sample" if key is None else f"at or after sample {key!r}"
        raise ShardError(f"{shard}: not a readable tar shard, truncated or corrupt {where} "
                         f"({type(err).__name__}: {err})") from None
    if key is not None:
        yield RawSample(shard, key, fields)


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Append file ``name`` with ``data`` to ``tar``; metadata is fixed so shards are reproducible."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))
