"""Image-caption pairs from a CSV or JSONL file.

CSV: a header row with (at least) the columns ``image`` and ``caption``. JSONL: one JSON object
per line with the fields ``image`` and ``caption`` (a string, or a list of strings); blank lines
are skipped. ``image`` is a path relative to the file's folder (or absolute). Rows that name the
same image give it several captions. The file must be UTF-8 (a BOM is allowed); captions may be
of any length, since tokenizers truncate. Every error names the file and the line.
Images are decoded and resized as in image folders (see ``decode.py``): RGB unless ``channels=1``,
shorter side to the image size and centre-cropped, the image size being ``image_size`` or the
images' own size when all share one square size, else 32.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from simclip import imageio
from simclip.data.caption_dataset import CaptionDataset
from simclip.data.decode import choose_size, decode_square
from simclip.data.spec import check_split
from simclip.errors import SimclipError

DEFAULT_SIZE = 32
FIELDS = ("image", "caption")


class CaptionFileError(SimclipError, ValueError):
    """A malformed caption file; the message names the file and line."""


def read_caption_rows(path: Path) -> list[tuple[int, str, str]]:
    """``(line number, image path as written, caption)`` for each caption in a .csv/.jsonl file."""
    path = Path(path)
    text = _read_utf8(path)
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _jsonl_rows(path, text)
    if not rows:
        raise CaptionFileError(f"{path}: no captions in the file")
    for line, image, caption in rows:
        if not image.strip():
            raise CaptionFileError(f"{path} line {line}: empty image path")
        if not caption.strip():
            raise CaptionFileError(f"{path} line {line}: empty caption for image {image!r}")
    return rows


def load_caption_file(path: Path, split: str = "train", image_size: int | None = None,
                      channels: int = 3) -> CaptionDataset:
    """Load a caption file as a ``CaptionDataset`` with images uint8 ``[N, channels, S, S]``.

    A caption file is one split: it is returned as ``split`` (``"train"`` or ``"test"``).
    """
    check_split(split)
    path = Path(path)
    grouped = group_captions(path)
    size = choose_size([imageio.image_size(p) for p in grouped], image_size, DEFAULT_SIZE)
    images = []
    for image_path, (line, _) in grouped.items():
        try:
            images.append(decode_square(image_path, size, channels))
        except imageio.ImageDecodeError as err:
            raise CaptionFileError(f"{path} line {line}: {err}") from None
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return CaptionDataset(images=tensor, captions=[caps for _, caps in grouped.values()],
                          name=f"captions:{path}", split=split, files=[str(p) for p in grouped])


def group_captions(path: Path) -> dict[Path, tuple[int, list[str]]]:
    """Image file -> (line of its first caption, its captions), in file order; checks that every
    image exists (``FileNotFoundError`` naming the line) but does not open it."""
    path = Path(path)
    grouped: dict[Path, tuple[int, list[str]]] = {}
    for line, image, caption in read_caption_rows(path):
        try:
            image_path = (path.parent / image).resolve()
            found = image_path.is_file()
        except (OSError, ValueError) as err:  # a NUL byte, a name too long for the file system
            raise CaptionFileError(f"{path} line {line}: image path {image!r} cannot be used "
                                   f"({err})") from None
        if not found:
            raise FileNotFoundError(f"{path} line {line}: image {image!r} not found "
                                    f"(looked for {image_path})")
        grouped.setdefault(image_path, (line, []))[1].append(caption)
    return grouped


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise CaptionFileError(f"{path} line {line}: not UTF-8 (byte 0x{data[err.start]:02x} at "
                               f"offset {err.start}); save the file as UTF-8") from None


def _csv_rows(path: Path, text: str) -> list[tuple[int, str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    for name in FIELDS:
        if name not in header:
            raise CaptionFileError(f"{path}: missing column {name!r} in the header row "
                                   f"(found columns: {', '.join(header) or 'none'})")
    rows = []
    try:
        for record in reader:
            if record["image"] is None or record["caption"] is None:
                raise CaptionFileError(f"{path} line {reader.line_num}: row has fewer fields "
                                       "than the header")
            rows.append((reader.line_num, record["image"], record["caption"]))
    except csv.Error as err:
        raise CaptionFileError(f"{path} line {reader.line_num}: malformed CSV ({err})") from None
    return rows


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, str, str]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError) as err:  # also nesting too deep, integers too long
            reason = err.msg if isinstance(err, json.JSONDecodeError) else err
            raise CaptionFileError(f"{path} line {line}: invalid JSON ({reason})") from None
        if not isinstance(record, dict):
            raise CaptionFileError(f"{path} line {line}: expected a JSON object, got "
                                   f"{type(record).__name__}")
        for name in FIELDS:
            if name not in record:
                raise CaptionFileError(f"{path} line {line}: missing field {name!r}")
        image, captions = record["image"], record["caption"]
        captions = [captions] if isinstance(captions, str) else captions
        if not isinstance(image, str) or not isinstance(captions, list) or not captions \
                or not all(isinstance(c, str) for c in captions):
            raise CaptionFileError(f"{path} line {line}: 'image' must be a string and 'caption' a "
                                   "string or a non-empty list of strings")
        try:  # a \ud800 escape decodes to a lone surrogate, which UTF-8 (shards, logs) cannot hold
            "".join([image, *captions]).encode("utf-8")
        except UnicodeEncodeError as err:
            raise CaptionFileError(f"{path} line {line}: text with an unpaired surrogate "
                                   f"escape ({err.object[err.start]!r})") from None
        rows += [(line, image, caption) for caption in captions]
    return rows
