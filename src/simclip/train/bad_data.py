"""How many unusable samples a run tolerates: undecodable files of an image folder (known before
training) and bad samples of streamed shards (counted as batches are drawn). Past the limit the
run stops with one error naming the first ones."""

from __future__ import annotations

from typing import Any

import torch

from simclip.data import steps_per_epoch
from simclip.train import distributed as dist_
from simclip.train.config import ConfigError, TrainConfig
from simclip.train.errors import TrainingError

MIN_JUDGED = 1000  # samples a streamed run draws before its share of bad ones is judged


def check_before_work(cfg: TrainConfig, dataset: Any, info: dist_.DistInfo) -> int:
    """Errors that need no run folder: the device, a dataset smaller than one batch, too many
    unusable files in an in-memory dataset. Returns the steps per epoch."""
    try:
        device = torch.device(cfg.device)
    except RuntimeError as err:
        raise ConfigError(f"device {cfg.device!r} is not a device name ({err})") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {cfg.device!r} is not available: this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s)")
    spe = steps_per_epoch(len(dataset), cfg.batch_size, drop_last=True, world_size=info.world_size)
    if spe < 1:
        raise TrainingError(f"dataset {cfg.data!r} has {len(dataset)} samples, fewer than one batch "
                            f"of {cfg.batch_size} x {info.world_size} process(es)")
    bad_files = getattr(dataset, "bad_files", None) or []
    total = len(bad_files) + len(dataset)
    if len(bad_files) > bad_limit(cfg) * total:
        raise TrainingError(too_many_bad(cfg, len(bad_files), total, bad_files))
    return spe


def bad_samples(dataset: Any) -> int:
    """Unusable samples the dataset skipped: files of an image folder, samples of shards."""
    return len(getattr(dataset, "bad_files", None) or []) + getattr(dataset, "bad_samples", 0)


def bad_limit(cfg: TrainConfig) -> float:
    """The share of unusable samples a run skips before it stops (``max_bad_fraction``)."""
    return cfg.max_bad_fraction


def too_many_bad(cfg: TrainConfig, bad: int, total: int, examples: list[str]) -> str:
    return (f"{cfg.data}: {bad} of {total} samples are unusable ({100 * bad / max(total, 1):.1f}%, "
            f"more than max_bad_fraction={bad_limit(cfg)}); first: {'; '.join(examples[:3])} — "
            "repair or remove them")


def judge_streamed_bad(cfg: TrainConfig, dataset: Any, trained: int, step: int, info: dist_.DistInfo,
                       device: torch.device) -> None:
    """A streamed dataset counts its bad samples as batches are drawn: judge their share of what
    this process drew (``trained`` steps since it started), on every rank together, once the
    count means something."""
    bad = getattr(dataset, "bad_samples", 0)
    drawn = bad + trained * cfg.batch_size
    over = drawn >= min(MIN_JUDGED, len(dataset)) and bad > bad_limit(cfg) * drawn
    if dist_.any_rank(over, info, device):
        examples = list(getattr(dataset, "bad_messages", []))
        raise TrainingError(f"{too_many_bad(cfg, bad, drawn, examples)}; stopped at step {step} with a "
                            "checkpoint saved")


__all__ = ["MIN_JUDGED", "bad_limit", "bad_samples", "check_before_work",
           "judge_streamed_bad", "too_many_bad"]
