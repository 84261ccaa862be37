"""Encoder registry: ``@register_encoder`` names a builder, ``create_encoder`` builds by name.

Besides the built-in names, ``timm:NAME`` builds any timm model (:mod:`.encoders.timm_encoder`)
and installed packages add names through the ``simclip.encoders`` entry points (:mod:`.plugins`).
Every encoder maps images ``[B, C, H, W]`` to features ``[B, F]`` and exposes ``num_features = F``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from simclip.errors import UnknownNameError, UsageError

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
    """Names accepted by :func:`create_encoder`, sorted: the built-in ones and those installed
    packages register (``timm:NAME`` is accepted too, for any timm model)."""
    from simclip.models.plugins import plugin_names

    return sorted(set(_ENCODERS) | set(plugin_names()))


def create_encoder(name: str, in_channels: int = 3, **cfg) -> nn.Module:
    """Build the encoder ``name`` for images with ``in_channels`` channels.

    Extra keyword arguments go to the builder (e.g. ``cifar_stem=True`` for ResNets,
    ``image_size`` and ``patch_size`` for ViTs, ``timm.create_model`` arguments for ``timm:NAME``).
    The result maps ``[B, C, H, W] -> [B, num_features]``.
    """
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
    from simclip.models.encoders.timm_encoder import create_timm_encoder, is_timm_name

    if is_timm_name(name):
        return create_timm_encoder(name, in_channels=in_channels, **cfg)
    builder = _ENCODERS.get(name)
    if builder is None:
        from simclip.models.plugins import find_plugin

        builder = find_plugin(name)
    if builder is None:
        raise UnknownNameError(f"unknown encoder {name!r}; choose one of: {', '.join(list_encoders())} "
                               f"or timm:NAME")
    try:
        encoder = builder(in_channels=in_channels, **cfg)
    except TypeError as err:  # an unknown keyword for this builder
        raise ValueError(f"bad option for encoder {name!r}: {err}") from None
    if not isinstance(getattr(encoder, "num_features", None), int):
        raise UsageError(f"encoder {name!r} does not expose an integer num_features")
    return encoder
