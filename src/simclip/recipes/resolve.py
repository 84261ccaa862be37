"""From what a user said to a complete run config: base config <- preset <- user's values.

The one path by which ``simclip simclr train``, ``simclip clip train``, ``simclip demo`` and the
benchmarks turn (recipe name, data, user values) into the :class:`TrainConfig` that is trained and
written to ``config.json``.
"""

from __future__ import annotations

from typing import Any

from simclip.recipes.overrides import apply_overrides
from simclip.recipes.presets import METHODS, Recipe, get_preset
from simclip.recipes.profile import DataProfile, profile_dataset
from simclip.train.config import ConfigError, OptimConfig, TrainConfig

DEFAULT_DATA = {"simclr": "digits", "clip": "shapes"}


def base_config(method: str) -> TrainConfig:
    """The fields no preset sets: output folder, data, and for CLIP its evaluation protocols."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    cfg = TrainConfig(method=method, out=f"runs/{method}", data=DEFAULT_DATA[method])
    if method == "clip":
        cfg.eval_protocols = ("zeroshot", "retrieval")
        cfg.optim = OptimConfig(name="adamw", lr=5e-4, lr_scaling="none", weight_decay=0.2, betas=(0.9, 0.98),
                                eps=1e-6)
    return cfg


def load_training_data(method: str, spec: str, strict: bool = False) -> Any:
    from simclip.data import load_caption_dataset, load_dataset

    loader = load_caption_dataset if method == "clip" else load_dataset
    return loader(spec, split="train", strict=strict)


def resolve_config(method: str, overrides: dict[str, Any] | None = None, recipe: str | None = None,
                   dataset: Any = None) -> tuple[TrainConfig, Recipe, DataProfile, Any]:
    """The complete config of a new run.

    Args:
        method: ``"simclr"`` or ``"clip"``.
        overrides: the user's values by dotted key (``{"data": "mnist:PATH", "optim.lr": 1e-3}``),
            from a config file, flags and ``--set``, in increasing priority; they win over the preset.
        recipe: preset name (default: ``overrides["recipe"]``, else ``"auto"``).
        dataset: the training split when already loaded (else read from the config's ``data``).

    Returns:
        ``(config, recipe values with reasons, data profile, training dataset)``; the config records
        the preset's name in ``config.recipe``.
    """
    overrides = dict(overrides or {})
    name = recipe or overrides.pop("recipe", None) or "auto"
    overrides.pop("recipe", None)
    preset = get_preset(method, name)
    cfg = apply_overrides(base_config(method), {k: v for k, v in overrides.items()
                                                 if k in ("data", "strict", "device")}, "config")
    # the user's values alone, checked before any data is read (types and ranges, naming the field)
    apply_overrides(base_config(method), overrides, "config").validate()
    if dataset is None:
        dataset = load_training_data(method, cfg.data, cfg.strict)
    profile = profile_dataset(dataset, device=cfg.device, epochs=overrides.get("epochs"),
                              time_budget=overrides.get("time_budget"), batch_size=overrides.get("batch_size"))
    values = preset.build(profile)
    if "model.encoder" in overrides and "model.encoder_options" not in overrides:
        values.pop("model.encoder_options", None)  # options of the preset's encoder, not the user's
    apply_overrides(cfg, values.settings(), f"recipe {name}")
    apply_overrides(cfg, overrides, "config")
    if method == "simclr" and "mean" not in cfg.model and profile.mean is not None and profile.std is not None:
        # the model's input statistics, measured once for the profile (a streamed dataset would
        # otherwise be read into memory a second time by build_simclr)
        cfg.model["mean"], cfg.model["std"] = list(profile.mean), list(profile.std)
    cfg.recipe = name
    if cfg.method != method:
        raise ConfigError(f"the config describes a {cfg.method!r} run, not {method}")
    return cfg, values, profile, dataset


def describe(cfg: TrainConfig, values: Recipe, profile: DataProfile, overrides: dict[str, Any]) -> str:
    """The resolved recipe as printed at the start of a run: each value the preset chose, with its
    reason, and the user's own values marked as given."""
    lines = [f"recipe {cfg.recipe}: {profile.describe()}"]
    for key, (value, why) in values.items():
        if key in overrides:
            continue
        lines.append(f"  {key:<36} {_show(value):<24} {why}".rstrip())
    for key, value in overrides.items():
        if key not in ("recipe",):
            lines.append(f"  {key:<36} {_show(value):<24} given")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
