"""``write_shards``: any dataset spec to WebDataset tar shards plus ``shards.json`` and ``sizes.json``.

Each sample ``KEY`` (the sample's 9-digit index in the source split) is stored as ``KEY.png``
(lossless, mode L or RGB) or ``KEY.jpg`` (``image_format="jpeg"``), ``KEY.cls`` (the label as
decimal text, when labelled) and ``KEY.txt`` (the captions, one per line, when written with
captions). Shards are named ``000000.tar``, ``000001.tar``, ... and take ``shard_size`` samples of
the source each (the last one the rest; fewer where images cannot be decoded and are skipped);
they are plain tar files that the ``webdataset`` package reads as well.

Memory stays flat: ``folder:`` and ``captions:`` sources are read file by file
(``write_source.py``), ``workers`` processes or threads encode a bounded number of samples ahead
(``pool.py``), and each sample goes to the open shard as soon as it is encoded.

Each shard is written under a temporary name and renamed when complete, so an interrupted run
never leaves a shard that looks complete but is not. ``.shard-job.json`` records the job (source,
split, sizes, format) and the shards done; running the same job again resumes it: complete shards
are kept, the one that was being written is written again. ``shards.json`` and ``sizes.json`` are
written last.
"""
from __future__ import annotations

import functools
import json
import os
import re
import tarfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simclip.data.shards.encode import FORMATS, EncodeOptions, Item, PixelStats, encode_items
from simclip.data.shards.errors import ShardError
from simclip.data.shards.index import INDEX_NAME, ShardIndex, write_index
from simclip.data.shards.pool import POOLS, ordered_map
from simclip.data.shards.sizes import SIZES_NAME, write_sizes
from simclip.data.shards.tar_samples import add_member
from simclip.data.shards.write_source import WriteSource, open_source
from simclip.data.spec import check_split
from simclip.errors import SimclipError, UsageError

SHARD_NAME = re.compile(r"^\d{6}\.tar$")
JOB_NAME = ".shard-job.json"
CHUNK = 32  # samples per task handed to a worker
_WARN_LISTED = 5


class ShardsExistError(SimclipError, FileExistsError):
    """The output folder already holds shards of another job, and ``overwrite`` was not given."""


@dataclass(frozen=True)
class ShardReport:
    """What a run of :func:`shard_dataset` did: ``images`` samples written in ``seconds`` into
    ``written`` shards, ``kept`` complete shards from an earlier run, ``bad`` samples skipped."""

    paths: list[Path]
    images: int
    written: int
    kept: int
    bad: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        """Samples written per second of this run."""
        return self.images / self.seconds if self.seconds > 0 else 0.0


def write_shards(spec: str, out_dir: str | os.PathLike, shard_size: int = 10_000,
                 split: str = "train", captions: bool | None = None, *, overwrite: bool = False,
                 image_format: str = "png", quality: int = 90, workers: int = 0,
                 pool: str = "process") -> list[Path]:
    """Write split ``split`` of the dataset ``spec`` as tar shards into ``out_dir``.

    Args:
        spec: any dataset spec (``digits``, ``shapes``, ``mnist:PATH``, ``captions:FILE``,
            ``folder:PATH``, ``wds:...`` to re-shard, ...).
        out_dir: folder for the shards, ``shards.json`` and ``sizes.json`` (created if missing).
        shard_size: source samples per shard; ``ceil(N / shard_size)`` shards are written.
        split: ``"train"`` or ``"test"``.
        captions: write a ``.txt`` field with each image's captions. None: for the sources with
            written captions (``captions:FILE``, ``shapes``); True: also for labelled sources,
            whose captions come from class-name templates (as ``load_caption_dataset`` makes them).
        overwrite: replace what ``out_dir`` holds. Without it, running the same job again
            resumes it, and shards of another job raise ``ShardsExistError``.
        image_format: ``"png"`` (lossless) or ``"jpeg"``.
        quality: JPEG quality, 1..95.
        workers: processes (or threads, ``pool="thread"``) that decode and encode images;
            0 encodes in this thread.
        pool: ``"process"`` or ``"thread"``.

    Returns:
        The shard paths, in order.
    """
    return shard_dataset(spec, out_dir, shard_size, split, captions, overwrite=overwrite,
                         image_format=image_format, quality=quality, workers=workers,
                         pool=pool).paths


def shard_dataset(spec: str, out_dir: str | os.PathLike, shard_size: int = 10_000,
                  split: str = "train", captions: bool | None = None, *, overwrite: bool = False,
                  image_format: str = "png", quality: int = 90, workers: int = 0,
                  pool: str = "process") -> ShardReport:
    """:func:`write_shards`, returning a :class:`ShardReport` (counts and images per second)."""
    _check_arguments(shard_size, captions, image_format, quality, workers, pool)
    check_split(split)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {str(out)!r} is a file, not a folder")
    started = time.perf_counter()
    source = open_source(spec, split, captions)
    job = {"source": spec, "split": split, "shard_size": shard_size, "captions": source.captioned,
           "format": image_format, "quality": quality, "items": len(source)}
    done = _resumable(out, job, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for name in (INDEX_NAME, SIZES_NAME):  # no index may describe half-written shards
        (out / name).unlink(missing_ok=True)
    _save_job(out, job, done)
    ranges = [range(lo, min(lo + shard_size, len(source))) for lo in range(0, len(source), shard_size)]
    todo = [s for s in range(len(ranges)) if not (_name(s) in done and (out / _name(s)).is_file())]
    options = EncodeOptions(source.image_size, source.channels, image_format, quality, source.strict)
    tasks = (_chunk(source, ranges[s], lo) for s in todo for lo in range(0, len(ranges[s]), CHUNK))
    results = ordered_map(functools.partial(encode_items, options=options), tasks, workers, pool)
    images, bad = 0, list(source.bad)
    try:
        for s in todo:
            chunks = (next(results) for _ in range(0, len(ranges[s]), CHUNK))
            count, stats, skipped = _write_shard(out / _name(s), chunks)
            done[_name(s)] = {"samples": count, "stats": stats.to_json() if stats.images else None}
            _save_job(out, job, done)
            images, bad = images + count, bad + skipped
    finally:
        results.close()  # stops the workers at once when a shard fails
    paths = [out / _name(s) for s in range(len(ranges))]
    _remove_stale(out, len(ranges))
    _finish(out, spec, split, source, done, paths, bad)
    return ShardReport(paths=paths, images=images, written=len(todo), kept=len(ranges) - len(todo),
                       bad=len(bad), seconds=time.perf_counter() - started)


def _check_arguments(shard_size: int, captions: bool | None, image_format: str, quality: int,
                     workers: int, pool: str) -> None:
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise UsageError(f"shard_size must be a positive int, got {shard_size!r}")
    if captions is not None and not isinstance(captions, bool):
        raise TypeError(f"captions must be a bool or None, got {type(captions).__name__}")
    if image_format not in FORMATS:
        raise UsageError(f"image_format must be one of {', '.join(FORMATS)}, got {image_format!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise UsageError(f"quality must be an int in 1..95, got {quality!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise UsageError(f"workers must be a non-negative int, got {workers!r}")
    if pool not in POOLS:
        raise UsageError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")


def _name(shard: int) -> str:
    return f"{shard:06d}.tar"


def _chunk(source: WriteSource, indices: range, lo: int) -> list[Item]:
    return [source.item(i) for i in indices[lo:lo + CHUNK]]


def _write_shard(path: Path, chunks: Iterator[tuple[list, PixelStats]]) -> tuple[int, PixelStats, list[str]]:
    """Write one shard from its encoded chunks under a temporary name, then rename it."""
    tmp = path.with_name(f".{path.name}.tmp")
    count, stats, bad = 0, PixelStats(), []
    try:
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for encoded, chunk_stats in chunks:
                stats.merge(chunk_stats)
                for item in encoded:
                    if item.bad is not None:
                        bad.append(item.bad)
                        continue
                    count += 1
                    for name, data in item.members:
                        add_member(tar, name, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return count, stats, bad


def _resumable(out: Path, job: dict, overwrite: bool) -> dict[str, dict]:
    """The shards done by an earlier run of ``job`` in ``out`` (empty when starting afresh)."""
    if overwrite or not out.is_dir():
        return {}
    saved = _read_job(out)
    if saved is not None and saved.get("job") == job:
        return dict(saved.get("done", {}))
    if saved is not None or _existing_shards(out):
        raise ShardsExistError(f"out_dir {str(out)!r} already holds shards of another job (source, "
                               "split, shard size, captions or format differ); pass "
                               "overwrite=True (--overwrite) to replace them")
    return {}


def _read_job(out: Path) -> dict | None:
    try:
        data = json.loads((out / JOB_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _save_job(out: Path, job: dict, done: dict[str, dict]) -> None:
    tmp = out / f"{JOB_NAME}.tmp"
    tmp.write_text(json.dumps({"job": job, "done": done}) + "\n", encoding="utf-8")
    os.replace(tmp, out / JOB_NAME)


def _existing_shards(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir()
                  if SHARD_NAME.match(p.name) or p.name in (INDEX_NAME, SIZES_NAME))


def _remove_stale(out: Path, shards: int) -> None:
    """Shards beyond the last of this job (from an overwritten one) and temporary files."""
    for path in out.iterdir():
        stale_shard = SHARD_NAME.match(path.name) and int(path.name[:6]) >= shards
        if stale_shard or (path.name.startswith(".") and path.name.endswith(".tar.tmp")):
            path.unlink()


def _finish(out: Path, spec: str, split: str, source: WriteSource, done: dict[str, dict],
            paths: list[Path], bad: list[str]) -> None:
    counts = {p.name: int(done[p.name]["samples"]) for p in paths}
    if bad:
        shown = "\n  ".join(bad[:_WARN_LISTED])
        more = f"\n  ... and {len(bad) - _WARN_LISTED} more" if len(bad) > _WARN_LISTED else ""
        warnings.warn(f"{spec}: skipped {len(bad)} samples that cannot be used:\n  {shown}{more}",
                      stacklevel=4)
    if sum(counts.values()) == 0:
        raise ShardError(f"{spec}: no usable images to write ({len(bad)} could not be used)")
    stats = PixelStats()
    for entry in done.values():
        if entry.get("stats"):
            stats.merge(PixelStats.from_json(entry["stats"]))
    mean_std = stats.mean_std()
    write_sizes(out, counts)
    write_index(out, ShardIndex(shards=counts, classes=list(source.classes),
                                channels=source.channels, image_size=source.image_size,
                                labels=source.labelled, captions=source.captioned, source=spec,
                                split=split, mean=mean_std[0] if mean_std else None,
                                std=mean_std[1] if mean_std else None))
