"""Paired-modality runs: a ``pairs:`` table -> one tower per modality -> the anchored CLIP objective
-> the one training loop (:func:`simclip.train.train`), evaluated on the held-out objects.

The run folder is the loop's: ``config.json`` (``method: "pair"``; ``model`` holds
:class:`PairModelConfig`, ``objective`` :class:`PairObjectiveConfig`), ``metrics.jsonl``,
``checkpoints/``; ``--resume`` continues it exactly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from simclip.data.paired import PairedDataset, load_paired_dataset
from simclip.data.spec import parse_spec
from simclip.data.videos import load_video_pairs
from simclip.pairs.config import PairModelConfig, PairObjectiveConfig
from simclip.pairs.evaluate import evaluate_pairs
from simclip.pairs.model import PairModel
from simclip.train import OptimConfig, TrainConfig, train
from simclip.train.checkpoint import load_checkpoint, load_weights_into
from simclip.train.config import ConfigError, read_run_config
from simclip.train.distributed import setup as setup_distributed
from simclip.train.objectives.pairs import PairObjective

METHOD = "pair"
TRAIN_PROTOCOLS = ("retrieval",)  # evaluated at the end of training; 'simclip pair eval' runs all


def pair_config(**overrides: Any) -> TrainConfig:
    """A paired run's config: AdamW lr 2e-3 (no batch scaling), weight decay 0.1 on weights,
    betas (0.9, 0.98), eps 1e-6 (CLIP's, Radford et al. 2021, Table 19, with the small towers' lr),
    5% warm-up then cosine; batch 128; float32 (bf16 autocast slows small CPU convolutions)."""
    cfg = TrainConfig(method=METHOD, out="runs/pair", data="", batch_size=128, epochs=30,
                      optim=OptimConfig(name="adamw", lr=2e-3, lr_scaling="none", weight_decay=0.1,
                                        betas=(0.9, 0.98), eps=1e-6, warmup_fraction=0.05),
                      precision="fp32", channels_last=False, eval_protocols=TRAIN_PROTOCOLS,
                      objective=PairObjectiveConfig().to_dict(), model=PairModelConfig().to_dict())
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown config field {key!r}")
        setattr(cfg, key, value)
    return cfg


def epochs_for_steps(steps: int, samples: int, batch_size: int) -> int:
    """The whole epochs that cover ``steps`` optimiser steps (the loop ends runs at epoch ends)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    per_epoch = samples // batch_size
    if per_epoch < 1:
        raise ConfigError(f"{samples} training samples give no full batch of {batch_size}")
    return math.ceil(steps / per_epoch)


def build_pair(cfg: TrainConfig) -> tuple[PairModel, PairObjective]:
    """The model and objective of ``cfg``, with the typed options written back into ``cfg``."""
    obj, model_cfg = PairObjectiveConfig.from_dict(cfg.objective), PairModelConfig.from_dict(cfg.model)
    cfg.objective, cfg.model = obj.to_dict(), model_cfg.to_dict()
    model = PairModel(model_cfg, obj)
    info = setup_distributed(cfg.device)
    objective = PairObjective(model.modalities, model.anchor, model.prepare, seed=cfg.seed + 7919 * info.rank,
                              distributed=info.enabled)
    return model, objective


def load_pair_data(cfg: TrainConfig, split: str) -> PairedDataset:
    """Split ``split`` of the run's ``data`` with its modalities."""
    modalities = PairObjectiveConfig.from_dict(cfg.objective).modalities
    return load_pairs(cfg.data, split, modalities, strict=cfg.strict)


def load_pairs(spec: str, split: str, modalities: list[str] | tuple[str, ...], strict: bool = False) -> PairedDataset:
    """Split ``split`` of a ``pairs:`` table, or of a ``videos:`` folder as frame/audio pairs."""
    if parse_spec(spec).kind == "videos":
        return load_video_pairs(spec, split, modalities, strict=strict)
    return load_paired_dataset(spec, split, modalities, strict=strict)


def run_pairs(cfg: TrainConfig, resume: bool = False, dataset: PairedDataset | None = None) -> dict[str, Any]:
    """Train as ``cfg`` says (``dataset``: the training split when already loaded); the returned
    metrics include the end-of-run evaluation on the test split (``cfg.eval_protocols``)."""
    if cfg.method != METHOD:
        raise ConfigError(f"the config describes a {cfg.method!r} run, not {METHOD}")
    cfg.validate()
    PairObjectiveConfig.from_dict(cfg.objective)  # before any data is read
    PairModelConfig.from_dict(cfg.model)
    if dataset is None:
        dataset = load_pair_data(cfg, "train")
    torch.manual_seed(cfg.seed)  # the initial weights are part of the seeded run
    model, objective = build_pair(cfg)
    run_eval = None
    if cfg.eval_protocols:
        test = load_pair_data(cfg, "test")

        def run_eval(m: torch.nn.Module) -> dict[str, float]:
            assert isinstance(m, PairModel)
            return evaluate_pairs(m, dataset, test, cfg.eval_protocols, device=cfg.device)
    return train(cfg, model, objective, dataset, evaluate=run_eval, resume=resume)  # type: ignore[arg-type]


def load_pair_run(run_dir: str | Path, device: str = "cpu") -> tuple[PairModel, TrainConfig]:
    """The trained model of a paired run (its newest checkpoint) and the run's config."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir, METHOD)
    model = PairModel(PairModelConfig.from_dict(cfg.model), PairObjectiveConfig.from_dict(cfg.objective))
    weights, _, step = load_checkpoint(run_dir)
    load_weights_into(model, weights, f"checkpoint step {step} of {run_dir}")
    return model.to(device).eval(), cfg
