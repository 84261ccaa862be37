"""Typed options of a paired run, read once from ``TrainConfig.model`` and ``TrainConfig.objective``
(plain dicts in ``config.json``); errors name ``model.KEY`` / ``objective.KEY``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from simclip.data.paired import MODALITIES
from simclip.train.config import ConfigError


def _from_dict(cls: type, d: Any, prefix: str) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix} must be a mapping of options, got {d!r}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(f'{prefix}.{k}' for k in unknown)}; known: {', '.join(known)}")
    return cls(**d)


@dataclass(frozen=True)
class PairObjectiveConfig:
    """``modalities``: the columns trained together (two or more of ``MODALITIES``); ``anchor``: the
    one every other is contrasted with (ImageBind binds all to images). Default anchor: the first."""

    modalities: list[str] = field(default_factory=lambda: ["image", "audio"])
    anchor: str | None = None

    def __post_init__(self) -> None:
        mods = self.modalities
        if not isinstance(mods, (list, tuple)) or len(mods) < 2 or len(set(mods)) != len(mods):
            raise ConfigError(f"objective.modalities must list two or more different modalities, got {mods!r}")
        unknown = [m for m in mods if m not in MODALITIES]
        if unknown:
            raise ConfigError(f"objective.modalities: unknown {', '.join(map(repr, unknown))}; "
                              f"choose from {', '.join(MODALITIES)}")
        if self.anchor is not None and self.anchor not in mods:
            raise ConfigError(f"objective.anchor {self.anchor!r} must be one of the modalities {', '.join(mods)}")
        object.__setattr__(self, "modalities", list(mods))

    @property
    def anchor_modality(self) -> str:
        return self.anchor or self.modalities[0]

    @classmethod
    def from_dict(cls, d: Any) -> PairObjectiveConfig:
        return _from_dict(cls, d, "objective")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "anchor": self.anchor_modality}


@dataclass(frozen=True)
class PairModelConfig:
    """``embed_dim``: the shared embedding width; ``towers``: per modality ``{"name": TOWER, **options}``
    (missing: the modality's default tower, see :data:`~simclip.pairs.towers.DEFAULT_TOWERS`);
    ``init_temperature``: the temperature every learnable logit scale starts at (CLIP's 0.07)."""

    embed_dim: int = 128
    towers: dict[str, dict[str, Any]] = field(default_factory=dict)
    init_temperature: float = 0.07

    def __post_init__(self) -> None:
        if isinstance(self.embed_dim, bool) or not isinstance(self.embed_dim, int) or self.embed_dim < 1:
            raise ConfigError(f"model.embed_dim must be a positive integer, got {self.embed_dim!r}")
        if not isinstance(self.towers, dict) or not all(isinstance(v, dict) for v in self.towers.values()):
            raise ConfigError(f"model.towers must map modalities to tower options, got {self.towers!r}")
        t = self.init_temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
            raise ConfigError(f"model.init_temperature must be in (0, 1), got {t!r}")

    @classmethod
    def from_dict(cls, d: Any) -> PairModelConfig:
        return _from_dict(cls, d, "model")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
