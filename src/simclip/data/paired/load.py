"""``load_paired_dataset``: a ``pairs:FILE.csv|jsonl`` spec to a :class:`PairedDataset`.

The table has one column per modality (``image``, ``depth``, ``audio``, ``points`` holding file
paths relative to the table, ``text`` holding the caption), optional label columns (any other
column whose values are not all numbers and take at most ``MAX_CLASSES`` distinct values, e.g.
``shape``, ``color``) and an optional ``split`` column (``train`` / ``test``; without it every
fifth row, rows 5, 10, ..., is ``test``).

Structural mistakes always raise :class:`PairFileError`: a missing column, a row with more or fewer
fields than the header, a ``split`` value other than train/test, a split with no usable row.
An unusable file of one sample (missing, undecodable, a truncated or silent WAV, a malformed
``.npy``) or an empty caption skips that whole row (every modality of the object), counted in
``bad_files`` as ``FILE (row at line L): reason``; the training loop stops when more than
``max_bad_fraction`` of the rows were skipped. With ``strict`` (the spec option ``strict=1``
or ``--strict``) the first such file raises instead, naming the file and the row.

Samples of one modality are brought to one shape: images and depth maps are resized to the
``size`` option (default: the first sample's size), audio is resampled to the first clip's rate and
cut or padded to its length, then turned into a log-mel spectrogram, and point clouds are
subsampled (or repeated) to the first cloud's point count with a seeded draw per row.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from simclip.data.paired.audio import fit_length, log_mel, read_wav
from simclip.data.paired.dataset import MODALITIES, PairedDataset, stack
from simclip.data.paired.errors import PairFileError
from simclip.data.paired.readers import read_depth, read_image, read_points
from simclip.data.paired.table import PairTable, read_pair_table
from simclip.data.spec import check_split, parse_spec, spec_error
from simclip.errors import SimclipError

MAX_CLASSES = 100
_NOT_LABELS = frozenset(MODALITIES) | {"id", "split"}
_READERS = {"image": read_image, "depth": read_depth, "audio": read_wav, "points": read_points}


def load_paired_dataset(spec: str, split: str = "train", modalities: list[str] | tuple[str, ...] | None = None,
                        *, strict: bool = False) -> PairedDataset:
    """Load split ``split`` of ``pairs:FILE[?size=S&strict=1]`` with ``modalities`` (default: every
    modality column of the table, in ``MODALITIES`` order); see the module doc."""
    parsed = parse_spec(spec)
    if parsed.kind != "pairs" or parsed.path is None:
        raise spec_error(spec, "a paired dataset is named pairs:FILE.csv or pairs:FILE.jsonl")
    check_split(split)
    strict = strict or parsed.bool_option("strict", False)
    size = parsed.int_option("size", None)
    table = read_pair_table(parsed.path)
    mods = list(modalities) if modalities else [m for m in MODALITIES if m in table.columns]
    unknown = [m for m in mods if m not in MODALITIES]
    if unknown or not mods:
        raise PairFileError(f"unknown modality {', '.join(unknown) or '(none)'}; choose from {', '.join(MODALITIES)}")
    table.require(mods)
    rows = _split_rows(table, split)
    samples, kept, bad = _read_rows(table, rows, mods, strict)
    if not kept:
        raise PairFileError(f"{table.path}: no usable {split} row ({len(bad)} skipped; first: "
                            f"{bad[0] if bad else 'none'})")
    data: dict[str, torch.Tensor | list[str]] = {}
    rate = None
    for m in mods:
        if m == "text":
            data[m] = samples[m]
        elif m == "audio":
            data[m], rate = log_mel_clips(samples[m])
        elif m == "points":
            data[m] = _points(samples[m], kept)
        else:
            data[m] = _resized(samples[m], size, torch.uint8 if m == "image" else torch.float32)
    labels, classes = _labels(table, kept)
    return PairedDataset(data=data, labels=labels, classes=classes, name=spec, split=split,
                         bad_files=bad, sample_rate=rate)


def _split_rows(table: PairTable, split: str) -> list[int]:
    if "split" not in table.columns:
        return [i for i in range(len(table.rows)) if ((i % 5 == 4) == (split == "test"))]
    chosen = []
    for i, row in enumerate(table.rows):
        if row["split"] not in ("train", "test"):
            raise PairFileError(f"{table.path}, row at line {table.lines[i]}: split must be train or "
                                f"test, got {row['split']!r}")
        if row["split"] == split:
            chosen.append(i)
    return chosen


def _read_rows(table: PairTable, rows: list[int], mods: list[str], strict: bool
               ) -> tuple[dict[str, list], list[int], list[str]]:
    base = table.path.parent
    samples: dict[str, list] = {m: [] for m in mods}
    kept, bad = [], []
    for i in rows:
        row, where = table.rows[i], f"row at line {table.lines[i]}"
        try:
            values = {m: _read_value(base, row[m], m) for m in mods}
        except (SimclipError, OSError, ValueError) as err:
            message = f"{str(err).rstrip('.')} ({where} of {table.path})"
            if strict:
                raise PairFileError(message) from None
            bad.append(message)
            continue
        for m in mods:
            samples[m].append(values[m])
        kept.append(i)
    return samples, kept, bad


def _read_value(base: Path, value: str, modality: str) -> object:
    if not value:
        raise PairFileError(f"empty {modality} column")
    if modality == "text":
        return value
    path = base / value
    if not path.is_file():
        raise PairFileError(f"{path} does not exist")
    return _READERS[modality](path)


def _resized(arrays: list[np.ndarray], size: int | None, dtype: torch.dtype) -> torch.Tensor:
    """``[N, C, S, S]`` (or the first sample's H x W without ``size``), bilinear where resized."""
    target = (size, size) if size else tuple(arrays[0].shape[1:])
    out = []
    for a in arrays:
        t = torch.from_numpy(np.ascontiguousarray(a))
        if tuple(t.shape[1:]) != target:
            r = F.interpolate(t[None].float(), size=target, mode="bilinear", antialias=True, align_corners=False)[0]
            t = r.round().clamp(0, 255) if dtype == torch.uint8 else r
        out.append(t.to(dtype))
    return torch.stack(out)


def log_mel_clips(clips: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, int]:
    """log-mel ``[N, 1, n_mels, frames]`` of float ``(samples [T], rate)`` clips brought to the first
    one's rate and length, and that rate."""
    rate, length = clips[0][1], len(clips[0][0])
    waves = []
    for samples, r in clips:
        if r != rate:  # linear resampling; the built-in world writes a single rate
            n = max(1, round(len(samples) * rate / r))
            samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples)
        waves.append(fit_length(samples.astype(np.float32), length))
    return log_mel(stack(waves, torch.float32), rate)[:, None], rate


def _points(clouds: list[np.ndarray], rows: list[int]) -> torch.Tensor:
    count = len(clouds[0])
    out = []
    for cloud, row in zip(clouds, rows):
        if len(cloud) != count:
            rng = np.random.default_rng([row, 1])
            pick = rng.permutation(len(cloud))[:count] if len(cloud) > count else rng.integers(len(cloud), size=count)
            cloud = cloud[pick]
        out.append(cloud)
    return stack(out, torch.float32)


def _labels(table: PairTable, kept: list[int]) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """Codes of each label column; the classes come from the whole table, so that both splits agree."""
    labels, classes = {}, {}
    for column in table.columns:
        if column in _NOT_LABELS:
            continue
        names = sorted({row[column] for row in table.rows})
        if len(names) > MAX_CLASSES or all(_is_number(name) for name in names):
            continue
        index = {name: k for k, name in enumerate(names)}
        labels[column] = torch.tensor([index[table.rows[i][column]] for i in kept], dtype=torch.int64)
        classes[column] = names
    return labels, classes


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
