"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from their python-pickle files.

The files are pickled dicts: ``data`` a uint8 ``[N, 3072]`` array (the red, green, blue planes of
each 32x32 image in turn), ``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100) lists of ints,
and a meta file with the class names.
"""
from __future__ import annotations

import _codecs
import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simclip.data.checksums import read_verified
from simclip.data.image_dataset import ImageDataset
from simclip.data.resize import resize_square
from simclip.data.spec import check_split
from simclip.errors import SimclipError


def _numpy_internal(module: str, name: str) -> Any:
    """A private numpy function that pickles name (numpy's stubs do not declare them all)."""
    try:  # numpy >= 2 moved the array internals to numpy._core
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:  # pragma: no cover - numpy 1.x
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


_reconstruct = _numpy_internal("multiarray", "_reconstruct")
_frombuffer = _numpy_internal("numeric", "_frombuffer")

# name, sub-folder of the official archive, train files, test file, meta file, label key, names key
_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                "batches.meta", "labels", "label_names"),
    "cifar100": ("cifar-100-python", ["train"], "test", "meta", "fine_labels", "fine_label_names"),
}

# Unpickling calls whatever global the stream names (os.system included), so a pickle from the
# internet is code, not data. CIFAR files hold only dicts, lists, strings/bytes, ints and numpy
# arrays. Dicts, lists, str, bytes and ints are built by pickle opcodes without any global; a numpy
# array needs its reconstruction functions, ndarray and dtype. Those are all that is allowed
# (plus _codecs.encode, which python 3 uses to write bytes at protocol 2 — a pure function).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs.encode,
}


class CIFARFormatError(SimclipError, ValueError):
    """A CIFAR file whose content is not what the format promises."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}: CIFAR files only "
                                         "contain dicts, lists and numpy arrays") from None


def safe_unpickle(data: bytes, name: str) -> dict[str, object]:
    """Unpickle a CIFAR dict without running code; bytes keys are decoded to str."""
    try:
        obj = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # any malformed stream: pickle raises a dozen types
        raise CIFARFormatError(f"{name}: not a readable CIFAR pickle ({err})") from None
    if not isinstance(obj, dict):
        raise CIFARFormatError(f"{name}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def cifar_folder(root: Path, kind: str) -> Path:
    """``root`` or its official sub-folder (e.g. ``cifar-10-batches-py``), whichever has the meta."""
    sub, _, _, meta, _, _ = _LAYOUTS[kind]
    for folder in (Path(root), Path(root) / sub):
        if (folder / meta).is_file():
            return folder
    raise FileNotFoundError(f"missing {kind} file: {Path(root) / meta} (nor {Path(root) / sub / meta})")


def load_cifar(root: Path, kind: str = "cifar10", split: str = "train",
               image_size: int | None = None) -> ImageDataset:
    """Load a CIFAR-10 or CIFAR-100 (fine labels) split: uint8 ``[N, 3, S, S]`` (S = 32 or image_size)."""
    if kind not in _LAYOUTS:
        raise ValueError(f"kind must be one of {', '.join(_LAYOUTS)}, got {kind!r}")
    check_split(split)
    folder = cifar_folder(root, kind)
    _, train_files, test_file, meta_file, label_key, names_key = _LAYOUTS[kind]
    classes = _class_names(folder / meta_file, names_key)
    parts = [_read_batch(folder / f, label_key, len(classes))
             for f in (train_files if split == "train" else [test_file])]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    if image_size is not None:
        images = resize_square(images, image_size)
    return ImageDataset(images=images, labels=labels, classes=classes, name=f"{kind}:{root}",
                        split=split)


def _field(batch: dict[str, object], key: str, path: Path) -> object:
    if key not in batch:
        raise CIFARFormatError(f"{path}: missing key {key!r} (has {', '.join(map(str, batch))})")
    return batch[key]


def _class_names(path: Path, key: str) -> list[str]:
    names = _field(safe_unpickle(read_verified(path), str(path)), key, path)
    if not isinstance(names, list) or not names:
        raise CIFARFormatError(f"{path}: {key!r} must be a non-empty list of class names")
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def _read_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``[n, 3, 32, 32]`` and labels int64 ``[n]`` of one pickle file."""
    batch = safe_unpickle(read_verified(path), str(path))
    data = _field(batch, "data", path)
    labels = np.asarray(_field(batch, label_key, path))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CIFARFormatError(f"{path}: 'data' must be uint8 [N, 3072], got {got}")
    if labels.shape != (len(data),) or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise CIFARFormatError(f"{path}: {label_key!r} must hold {len(data)} integer labels, "
                               f"got shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise CIFARFormatError(f"{path}: labels must lie in 0..{num_classes - 1}, got "
                               f"{labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32).copy(), labels.astype(np.int64)
