"""Image folders: one sub-folder per class (labels = sorted sub-folder names) or a flat folder.

Layout rules:

- If PATH has a ``train/`` and a ``test/`` (or ``val/``) sub-folder, those are the splits, and the
  class list is the sorted union of both splits' class folders (so a class missing from one split
  cannot shift the other's label numbers). Otherwise PATH is the ``train`` split and asking for
  ``test`` is an error.
- A split folder with sub-folders is labelled: every file below ``CLASS/`` (at any depth) has that
  class; files lying next to the class folders belong to no class and are reported as bad files.
  A split folder without sub-folders is unlabelled (``labels`` is None).
- Hidden files and folders (``.DS_Store``, ``.git``) are ignored.

Images are RGB unless ``channels=1`` (see ``decode.py``). RGB is the default even when every
file is grayscale, because a split's channel count must not depend on which files it happens to
hold: train and test must agree, and so must two versions of a folder. Every image is resized so
its shorter side is the image size and centre-cropped; the image size is ``image_size`` if given,
else the images' own size when all files (of both splits) share one square size, else 32.

Undecodable files (corrupt, truncated, empty, not images, decompression bombs) are skipped,
listed in ``bad_files`` and reported in one warning; with ``strict=True`` the first raises.

Files are decoded by ``parallel_decode.decode_squares``: worker processes writing into shared
memory for folders of a few hundred files or more, JPEGs at a reduced size when the image size is
at most half of their shorter side.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from simclip import imageio
from simclip.data.decode import choose_size
from simclip.data.image_dataset import ImageDataset
from simclip.data.parallel_decode import decode_squares
from simclip.data.spec import check_split
from simclip.errors import SimclipError

DEFAULT_SIZE = 32
_WARN_LISTED = 5  # bad files spelled out in the warning; all are in ImageDataset.bad_files


class FolderLayoutError(SimclipError, ValueError):
    """An image folder whose layout cannot give the requested split."""


def load_folder(root: Path, split: str = "train", image_size: int | None = None,
                channels: int = 3, strict: bool = False, workers: int | None = None) -> ImageDataset:
    """Load a split of an image folder as uint8 ``[N, channels, S, S]`` (rules in the module doc).

    ``workers``: decoding processes (None: ``parallel_decode.default_workers``; 0: this one); when
    given, also the loader processes that make SimCLR's views on the CPU (``ImageDataset.workers``).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    listing = list_folder(root, split)
    files, labels, outside, classes = listing.files, listing.labels, listing.outside, listing.classes
    split_dirs = listing.split_dirs
    size = choose_size([imageio.image_size(f) for f in listing.every_file], image_size, DEFAULT_SIZE)
    if strict and outside:
        raise FolderLayoutError(f"{outside[0]}: lies outside the class folders, so it has no label")
    decoded = decode_squares(files, size, channels, workers=workers, strict=strict)
    kept = decoded.kept
    bad = [(str(f), f"{f}: outside the class folders, so it has no label") for f in outside] + decoded.bad
    if bad:
        _warn_bad(root, bad, len(files) + len(outside))
    if not kept:
        raise FolderLayoutError(f"{split_dirs[split]} holds no decodable images "
                                f"({len(bad)} bad files)")
    tensor = torch.from_numpy(decoded.images).permute(0, 3, 1, 2).contiguous()
    label_tensor = torch.tensor([labels[i] for i in kept], dtype=torch.int64) if classes else None
    return ImageDataset(images=tensor, labels=label_tensor, classes=classes, name=f"folder:{root}",
                        split=split, bad_files=[path for path, _ in bad], workers=workers or 0)


@dataclass(frozen=True)
class FolderListing:
    """The files of one split of an image folder, without opening them (rules in the module doc).

    Attributes:
        files: the split's image files, in label order then path order.
        labels: each file's class index (0 when unlabelled).
        classes: class names (empty when unlabelled).
        outside: files beside the class folders, which have no label.
        every_file: the files of all splits, from which the image size is chosen.
        split_dirs: split name -> folder.
    """

    files: list[Path]
    labels: list[int]
    classes: list[str]
    outside: list[Path]
    every_file: list[Path]
    split_dirs: dict[str, Path]


def list_folder(root: Path, split: str = "train") -> FolderListing:
    """List split ``split`` of the image folder ``root`` (``load_folder`` decodes what it lists)."""
    check_split(split)
    split_dirs = _split_dirs(Path(root))
    if split_dirs is None:
        if split != "train":
            raise FolderLayoutError(f"{root} has no test split: it has no train/ and test/ (or val/) "
                                    "sub-folders, so the whole folder is the train split")
        split_dirs = {"train": Path(root)}
    classes = sorted(set().union(*(_class_dirs(d) for d in split_dirs.values())))
    files, labels, outside = _list_files(split_dirs[split], classes)
    every_file = [f for d in split_dirs.values() for f in _list_files(d, classes)[0]]
    return FolderListing(files, labels, classes, outside, every_file, split_dirs)


def _split_dirs(root: Path) -> dict[str, Path] | None:
    test = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and test is not None:
        return {"train": root / "train", "test": test}
    return None


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _class_dirs(folder: Path) -> set[str]:
    return {e.name for e in os.scandir(folder) if e.is_dir() and _visible(e.name)}


def _walk(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        found += [Path(dirpath) / f for f in sorted(filenames) if _visible(f)]
    return found


def _list_files(folder: Path, classes: list[str]) -> tuple[list[Path], list[int], list[Path]]:
    """Files of a split with their label indices (0 when unlabelled) and the files outside classes."""
    top_files = sorted(Path(e.path) for e in os.scandir(folder) if e.is_file() and _visible(e.name))
    if not classes:
        return top_files, [0] * len(top_files), []
    files, labels = [], []
    for index, name in enumerate(classes):
        if (folder / name).is_dir():
            found = _walk(folder / name)
            files += found
            labels += [index] * len(found)
    return files, labels, top_files


def _warn_bad(root: Path, bad: list[tuple[str, str]], total: int) -> None:
    shown = "\n  ".join(reason for _, reason in bad[:_WARN_LISTED])
    more = f"\n  ... and {len(bad) - _WARN_LISTED} more" if len(bad) > _WARN_LISTED else ""
    warnings.warn(f"{root}: skipped {len(bad)} of {total} files that are not decodable images "
                  f"(listed in ImageDataset.bad_files; strict=True raises instead):\n  {shown}{more}",
                  stacklevel=3)
