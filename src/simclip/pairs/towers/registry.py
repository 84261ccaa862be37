"""Tower registry: ``@register_tower`` names a builder, ``create_tower`` builds one by name.

A tower maps one modality's batch to embeddings ``[B, embed_dim]`` (not normalised) and has
``prepare(raw) -> Tensor``: what a batch entry becomes before ``forward`` (uint8 images to floats,
captions to token ids). ``DEFAULT_TOWERS`` names the tower each modality gets unless a run says
otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from simclip.errors import UnknownNameError
from simclip.train.config import ConfigError

_TOWERS: dict[str, tuple[str, Callable[..., nn.Module]]] = {}
DEFAULT_TOWERS = {"image": "image-cnn", "depth": "depth-cnn", "audio": "audio-cnn", "points": "pointnet",
                  "text": "text-transformer"}


def register_tower(name: str, modality: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that registers a tower builder ``(embed_dim, **options) -> nn.Module`` for ``modality``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _TOWERS:
            raise ValueError(f"tower {name!r} is registered twice")
        _TOWERS[name] = (modality, builder)
        return builder

    return wrap


def list_towers(modality: str | None = None) -> list[str]:
    """Tower names (of one ``modality``, or all), sorted."""
    return sorted(n for n, (m, _) in _TOWERS.items() if modality is None or m == modality)


def create_tower(modality: str, embed_dim: int, name: str | None = None, **options: Any) -> nn.Module:
    """The tower ``name`` (default ``DEFAULT_TOWERS[modality]``) for ``modality`` with output
    ``[B, embed_dim]``; ``options`` go to its builder (a bad one is a ``ConfigError``)."""
    name = name or DEFAULT_TOWERS.get(modality)
    if name is None or name not in _TOWERS:
        raise UnknownNameError(f"unknown tower {name!r} for {modality}; choose one of: "
                               f"{', '.join(list_towers(modality)) or '(none)'}")
    kind, builder = _TOWERS[name]
    if kind != modality:
        raise ConfigError(f"tower {name!r} reads {kind}, not {modality}")
    try:
        return builder(embed_dim=embed_dim, **options)
    except TypeError as err:  # an unknown keyword for this builder
        raise ConfigError(f"bad option for tower {name!r}: {err}") from None
