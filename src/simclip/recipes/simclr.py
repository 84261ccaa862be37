"""SimCLR runs: data -> augmentation policy -> SimCLR model -> NT-Xent objective -> the loop."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from simclip.augment import create_policy
from simclip.data import load_dataset
from simclip.data.videos import VideoDataset
from simclip.eval import CLASSIFICATION_PROTOCOLS, evaluate
from simclip.models import SimCLRModel, SimCLRModelConfig
from simclip.models.encoders.timm_encoder import is_timm_name
from simclip.models.weights import load_encoder_weights
from simclip.train import SimCLRObjective, TrainConfig, train
from simclip.train.checkpoint import load_checkpoint, load_weights_into
from simclip.train.config import ConfigError, check_protocols, read_run_config
from simclip.train.distributed import setup as setup_distributed
from simclip.train.objectives.config import SimCLRObjectiveConfig
from simclip.recipes.profile import channel_stats

# Keys of TrainConfig.objective understood by SimCLR, with their defaults (SimCLRObjectiveConfig's).
OBJECTIVE_DEFAULTS: dict[str, Any] = SimCLRObjectiveConfig().to_dict()


def simclr_config(**overrides: Any) -> TrainConfig:
    """A bare SimCLR TrainConfig: the dataclass defaults with ``overrides`` replacing whole fields,
    no recipe applied. :func:`simclip.recipes.resolve_config` gives a run its recipe (``auto``
    chooses the values from the data and the run length)."""
    cfg = TrainConfig(method="simclr")
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown config field {key!r}")
        setattr(cfg, key, value)
    return cfg


def default_policy(channels: int, size: int) -> str:
    """``simclr-gray`` for one channel, ``simclr-cifar`` for small colour images, else ``simclr``."""
    if channels == 1:
        return "simclr-gray"
    return "simclr-cifar" if size <= 64 else "simclr"


def check_simclr_options(cfg: TrainConfig) -> None:
    """Objective, model and evaluation settings that can be checked before any data is read."""
    SimCLRObjectiveConfig.from_dict(cfg.objective)
    for key in ("proj_dim", "proj_hidden_dim", "proj_layers"):
        value = cfg.model.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"model.{key} must be a positive integer, got {value!r}")
    check_protocols(cfg.eval_protocols, CLASSIFICATION_PROTOCOLS)


def build_simclr(cfg: TrainConfig, dataset) -> tuple[SimCLRModel, SimCLRObjective]:
    """The model and objective for ``cfg``; fills the resolved model/objective settings into ``cfg``
    so that ``config.json`` describes the run completely."""
    obj = SimCLRObjectiveConfig.from_dict(cfg.objective)
    policy_name = obj.policy or default_policy(dataset.channels, dataset.image_size)
    obj = replace(obj, policy=policy_name)
    if obj.positives is not None and not isinstance(dataset, VideoDataset):
        raise ConfigError(f"objective.positives={obj.positives!r} takes views from frames of clips; {cfg.data} "
                          "holds images (use a video folder, --data videos:DIR)")
    if obj.view_size is not None and obj.view_size > dataset.image_size:
        raise ConfigError(f"objective.view_size {obj.view_size} is larger than the images of {cfg.data} "
                          f"({dataset.image_size}x{dataset.image_size}); views are crops of the images")
    model_cfg = dict(cfg.model)
    model_cfg.setdefault("in_channels", dataset.channels)
    if is_timm_name(model_cfg.get("encoder", "")) and "image_size" not in model_cfg.get("encoder_options", {}):
        # timm models with a built-in size (ViTs) are built for the data's images, recorded in the
        # run's config so that it reloads the same architecture
        model_cfg["encoder_options"] = {**model_cfg.get("encoder_options", {}), "image_size": dataset.image_size}
    if "mean" not in model_cfg:
        model_cfg["mean"], model_cfg["std"] = channel_stats(dataset)
    try:
        mcfg = SimCLRModelConfig(**model_cfg)
    except TypeError as err:
        raise ConfigError(f"bad model option: {err}") from None
    cfg.model, cfg.objective = _plain(mcfg.__dict__), obj.to_dict()
    model = SimCLRModel(mcfg)
    policy = create_policy(policy_name, size=obj.view_size or dataset.image_size, channels=dataset.channels,
                           **obj.policy_options)
    info = setup_distributed(cfg.device)
    # each process draws its own augmentations; rank 0 keeps the seed of a single-process run
    objective = SimCLRObjective(policy, temperature=obj.temperature, n_views=obj.n_views,
                                seed=cfg.seed + 7919 * info.rank, channels_last=cfg.channels_last,
                                distributed=info.enabled, max_gap=obj.max_gap)
    return model, objective


def run_simclr(cfg: TrainConfig, resume: bool = False, dataset=None) -> dict[str, Any]:
    """Train SimCLR as ``cfg`` says (continuing ``cfg.out`` when ``resume``); returns final metrics,
    including the configured evaluation protocols on the dataset's test split. ``dataset``: the
    training split when already loaded (e.g. by :func:`~simclip.recipes.resolve_config`)."""
    cfg.validate()
    check_simclr_options(cfg)
    if dataset is None:
        dataset = load_dataset(cfg.data, split="train", strict=cfg.strict)
    torch.manual_seed(cfg.seed)  # the model's initial weights are part of the seeded run
    model, objective = build_simclr(cfg, dataset)
    if not resume and cfg.init_from:  # a resumed run reloads its own checkpoint instead
        from simclip.recipes.init_from import init_weights_

        init_weights_(model, "simclr", cfg.init_from)
    if not resume and model.cfg.encoder_weights:
        load_encoder_weights(model.encoder, model.cfg.encoder_weights)
    run_eval = None
    if cfg.eval_protocols:
        test = load_dataset(cfg.data, split="test", strict=cfg.strict)

        def run_eval(m: SimCLRModel) -> dict[str, float]:
            return evaluate(m, cfg.eval_protocols, train=dataset, test=test, device=cfg.device)
    return train(cfg, model, objective, dataset, evaluate=run_eval, resume=resume)


def load_simclr_run(run_dir: str | Path, device: str = "cpu",
                    random_init: bool = False) -> tuple[SimCLRModel, TrainConfig]:
    """The trained model of a run (newest checkpoint) and its config. ``random_init`` gives the same
    architecture at its seeded random initialisation instead (the baseline a probe is compared to)."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir, "simclr")
    torch.manual_seed(cfg.seed)
    model = SimCLRModel(SimCLRModelConfig(**cfg.model))
    if not random_init:
        weights, _, step = load_checkpoint(run_dir)
        load_weights_into(model, weights, f"checkpoint step {step} of {run_dir}")
    return model.to(device).eval(), cfg


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
