"""Encoders from timm (Wightman, pytorch-image-models): ``timm:NAME`` is any
``timm.create_model(NAME, num_classes=0, in_chans=C)``, its pooled features the representation.

timm is an optional dependency (``pip install simclip[timm]``); nothing here downloads weights (see
:mod:`simclip.models.weights` for a pretrained starting point from a file or the Hugging Face cache).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from simclip.errors import MissingDependencyError, UnknownNameError, UsageError

PREFIX = "timm:"


def is_timm_name(name: str) -> bool:
    """Whether ``name`` names a timm model (``"timm:resnet18"``)."""
    return isinstance(name, str) and name.startswith(PREFIX)


def import_timm() -> Any:
    try:
        import timm
    except ImportError:
        raise MissingDependencyError("timm encoders need timm: pip install 'simclip[timm]'") from None
    return timm


def create_timm_encoder(name: str, in_channels: int = 3, image_size: int | None = None,
                        **timm_kwargs: Any) -> nn.Module:
    """``timm:NAME`` -> a timm model without classifier, ``[B, C, H, W] -> [B, num_features]``.

    ``image_size``: the side of the images the encoder sees. Models whose size is part of the
    architecture (ViTs and other ``img_size`` models) are built for it, with ``dynamic_img_size``
    where the model has it, so views smaller than the images (SimCLR's crops) work too; models that
    pool globally (ResNets, ConvNeXts) ignore it. ``timm_kwargs`` go to ``timm.create_model``
    (e.g. ``patch_size=4``, ``drop_path_rate=0.1``, ``global_pool="avg"``).
    """
    timm = import_timm()
    arch = name[len(PREFIX):] if is_timm_name(name) else name
    if not timm.is_model(arch):
        raise UnknownNameError(f"unknown timm model {arch!r} (encoder {name!r}); "
                               f"'python -c \"import timm; print(timm.list_models())\"' lists them")
    kwargs: dict[str, Any] = {"num_classes": 0, "in_chans": in_channels, **timm_kwargs}
    if image_size is not None and "img_size" not in timm_kwargs:
        sized = {"img_size": image_size, **kwargs}
        model = (_try_create(timm, arch, {"dynamic_img_size": True, **sized})
                 or _try_create(timm, arch, sized) or _create(timm, arch, kwargs, name))
    else:
        model = _create(timm, arch, kwargs, name)
    if not isinstance(getattr(model, "num_features", None), int):
        raise UsageError(f"timm model {arch!r} has no integer num_features; it cannot be an encoder")
    return model


def _try_create(timm: Any, arch: str, kwargs: dict[str, Any]) -> nn.Module | None:
    """The model, or None when it does not take one of the (size) arguments."""
    try:
        return timm.create_model(arch, **kwargs)
    except TypeError:
        return None


def _create(timm: Any, arch: str, kwargs: dict[str, Any], name: str) -> nn.Module:
    try:
        return timm.create_model(arch, **kwargs)
    except TypeError as err:
        raise UsageError(f"bad option for encoder {name!r}: {err}") from None
