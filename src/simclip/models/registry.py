"""Encoder registry: ``@register_encoder`` names a builder, ``create_encoder`` builds by name.

Every encoder maps images ``[B, C, H, W]`` to features ``[B, F]`` and exposes ``num_features = F``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from simclip.errors import UnknownNameError

_ENCODERS: dict[str, Callable[..., nn.Module]] = {}


def register_encoder(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that registers an encoder builder under ``name``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _ENCODERS:
            raise ValueError(f"encoder {name!r} is registered twice")
        _ENCODERS[name] = builder
        return builder

    return wrap


def list_encoders() -> list[str]:
    """Names accepted by :func:`create_encoder`, sorted."""
    return sorted(_ENCODERS)


def create_encoder(name: str, in_channels: int = 3, **cfg) -> nn.Module:
    """Build the encoder ``name`` for images with ``in_channels`` channels.

    Extra keyword arguments go to the builder (e.g. ``cifar_stem=True`` for ResNets,
    ``image_size`` and ``patch_size`` for ViTs). The result maps ``[B, C, H, W] -> [B, num_features]``.
    """
    if name not in _ENCODERS:
        raise UnknownNameError(f"unknown encoder {name!r}; choose one of: {', '.join(list_encoders())}")
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
    try:
        return _ENCODERS[name](in_channels=in_channels, **cfg)
    except TypeError as err:  # an unknown keyword for this builder
        raise ValueError(f"bad option for encoder {name!r}: {err}") from None
