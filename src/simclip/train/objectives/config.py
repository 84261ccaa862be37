"""Typed options of each objective: what ``TrainConfig.objective`` (a plain dict in ``config.json``)
means for SimCLR and for CLIP, checked once where a run reads it. Errors name ``objective.KEY``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from simclip.augment import list_policies
from simclip.data.videos.positives import parse_positives
from simclip.train.config import ConfigError

CLIP_LOSSES = ("clip", "siglip")


def _known_keys(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _reject_unknown(cls: type, d: dict[str, Any], method: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"objective must be a mapping of options, got {d!r}")
    unknown = sorted(set(d) - set(_known_keys(cls)))
    if unknown:
        raise ConfigError(f"unknown objective option(s) for {method}: "
                          f"{', '.join('objective.' + k for k in unknown)}; known: {', '.join(_known_keys(cls))}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_policy(policy: Any, options: Any) -> None:
    if policy is not None:
        if not isinstance(policy, str):
            raise ConfigError(f"objective.policy must be a policy name or null, got {policy!r}")
        if policy not in list_policies():
            raise ConfigError(f"objective.policy: unknown augmentation policy {policy!r}; "
                              f"valid names: {', '.join(list_policies())}")
    if not isinstance(options, dict):
        raise ConfigError(f"objective.policy_options must be a mapping, got {options!r}")


@dataclass(frozen=True)
class SimCLRObjectiveConfig:
    """SimCLR's objective options. ``temperature``: of NT-Xent (Chen et al. 2020 use 0.5 for
    CIFAR-10). ``n_views``: augmented views per image. ``policy``: augmentation policy name (None:
    chosen from the data, see :func:`simclip.recipes.simclr.default_policy`), ``policy_options``: its
    overrides. ``view_size``: side of the augmented views (None: the dataset's image size); views
    smaller than the images evaluated later make each step cheaper. ``positives``: for video data,
    ``"frames:K"`` takes the views of a clip from frames at most K apart (temporal positives,
    :mod:`simclip.data.videos.positives`); None takes them from one frame."""

    temperature: float = 0.5
    n_views: int = 2
    policy: str | None = None
    policy_options: dict[str, Any] = field(default_factory=dict)
    view_size: int | None = None
    positives: str | None = None

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise ConfigError(f"objective.temperature must be a positive finite number, got {t!r}")
        if not _is_int(self.n_views) or self.n_views < 2:
            raise ConfigError(f"objective.n_views must be an integer >= 2, got {self.n_views!r}")
        if self.view_size is not None and (not _is_int(self.view_size) or self.view_size < 1):
            raise ConfigError(f"objective.view_size must be a positive integer, got {self.view_size!r}")
        _check_policy(self.policy, self.policy_options)
        self.max_gap  # noqa: B018 -- validates positives

    @property
    def max_gap(self) -> int | None:
        """K of ``positives="frames:K"``; None for single-frame views."""
        try:
            return parse_positives(self.positives)
        except ValueError as err:
            raise ConfigError(f"objective.{err}") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any], method: str = "simclr") -> SimCLRObjectiveConfig:
        """The options of ``d`` (missing keys take the defaults); ``ConfigError`` naming
        ``objective.KEY`` for an unknown key or a bad value."""
        _reject_unknown(cls, d, method)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """The plain dict written to ``config.json`` (``from_dict`` reads it back); ``positives``
        only where set, so that image runs write the configs they always have."""
        d = asdict(self)
        if d["positives"] is None:
            del d["positives"]
        return d


@dataclass(frozen=True)
class CLIPObjectiveConfig:
    """CLIP's objective options. ``loss``: ``clip`` (softmax InfoNCE, Radford et al. 2021) or
    ``siglip`` (sigmoid, Zhai et al. 2023). ``policy`` / ``policy_options``: an optional image
    augmentation. ``templates``: zero-shot prompt templates (None: the test set's own).
    ``tokenizer``: ``clip`` (CLIP's vocabulary) or ``bpe:N`` (a BPE of at most N ids learned from
    the run's captions)."""

    loss: str = "clip"
    policy: str | None = None
    policy_options: dict[str, Any] = field(default_factory=dict)
    templates: list[str] | None = None
    tokenizer: str = "clip"

    def __post_init__(self) -> None:
        if self.loss not in CLIP_LOSSES:
            raise ConfigError(f"objective.loss must be one of {', '.join(CLIP_LOSSES)}, got {self.loss!r}")
        _check_policy(self.policy, self.policy_options)
        if self.templates is not None and (not isinstance(self.templates, (list, tuple))
                                           or not all(isinstance(t, str) for t in self.templates)):
            raise ConfigError(f"objective.templates must be a list of strings or null, got {self.templates!r}")
        kind, _, size = str(self.tokenizer).partition(":")
        if not isinstance(self.tokenizer, str) or not (self.tokenizer == "clip" or (kind == "bpe" and size.isdigit())):
            raise ConfigError(f"objective.tokenizer must be 'clip' or 'bpe:VOCAB_SIZE', got {self.tokenizer!r}")

    @property
    def bpe_vocab_size(self) -> int | None:
        """N of ``bpe:N``; None for CLIP's own vocabulary."""
        return None if self.tokenizer == "clip" else int(self.tokenizer.partition(":")[2])

    @classmethod
    def from_dict(cls, d: dict[str, Any], method: str = "clip") -> CLIPObjectiveConfig:
        """The options of ``d`` (missing keys take the defaults); ``ConfigError`` naming
        ``objective.KEY`` for an unknown key or a bad value."""
        _reject_unknown(cls, d, method)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """The plain dict written to ``config.json`` (``from_dict`` reads it back)."""
        return asdict(self)


OBJECTIVE_CONFIGS: dict[str, type[SimCLRObjectiveConfig] | type[CLIPObjectiveConfig]] = {
    "simclr": SimCLRObjectiveConfig, "clip": CLIPObjectiveConfig}


def objective_config(d: dict[str, Any], method: str) -> SimCLRObjectiveConfig | CLIPObjectiveConfig:
    """``TrainConfig.objective`` read as the typed options of ``method`` (``simclr`` or ``clip``)."""
    if method not in OBJECTIVE_CONFIGS:
        raise ConfigError(f"unknown method {method!r}; known: {', '.join(OBJECTIVE_CONFIGS)}")
    return OBJECTIVE_CONFIGS[method].from_dict(d, method)
