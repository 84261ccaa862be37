"""The image tower of OpenCLIP models whose ``vision_cfg`` names a ``timm_model_name``: a timm trunk
and a head, laid out as OpenCLIP's ``TimmModel`` is (``visual.trunk.*``, ``visual.head.proj.*``), so
their checkpoints load key for key.

In a :class:`~simclip.clip.config.CLIPVisionConfig` it is ``kind="timm"``, ``encoder`` the timm
model name and ``encoder_kwargs`` OpenCLIP's head settings: ``pool`` (timm's ``global_pool``,
default ``"avg"``), ``proj`` (``"linear"``, ``"mlp"``, ``""`` or ``"none"``), ``proj_bias``, ``drop``,
``drop_path``. (``simclip clip train --image-tower timm:NAME`` builds simclip's own encoder tower
instead, for any channel count and image size.)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

# OpenCLIP vision_cfg key -> TimmTower option, with OpenCLIP's defaults
OPEN_CLIP_KEYS = {"timm_pool": ("pool", "avg"), "timm_proj": ("proj", "linear"),
                  "timm_proj_bias": ("proj_bias", False), "timm_drop": ("drop", 0.0),
                  "timm_drop_path": ("drop_path", None)}
PROJS = ("linear", "mlp", "", "none")
ATTENTION_POOLS = ("abs_attn", "rot_attn")


class TimmTower(nn.Module):
    """``[B, 3, H, W] -> trunk (pooled) -> head -> [B, embed_dim]``, as OpenCLIP builds it.

    With a projection (``proj`` ``"linear"``/``"mlp"``) the trunk is built with its classifier and
    then reset to none with ``global_pool=pool``; with ``proj=""`` the trunk's own classifier, sized
    ``embed_dim``, is the projection, with ``"none"`` there is none (the trunk's features are the
    embeddings). Weights are never downloaded: they come from the checkpoint being loaded.
    """

    def __init__(self, model_name: str, embed_dim: int, image_size: int = 224, in_channels: int = 3,
                 pool: str = "avg", proj: str = "linear", proj_bias: bool = False, drop: float = 0.0,
                 drop_path: float | None = None) -> None:
        super().__init__()
        from simclip.models.encoders.timm_encoder import import_timm

        timm = import_timm()
        if pool in ATTENTION_POOLS:
            raise ValueError(f"vision.encoder_kwargs.pool={pool!r}: OpenCLIP's attention pools are not "
                             f"implemented for timm towers")
        if proj not in PROJS:
            raise ValueError(f"vision.encoder_kwargs.proj must be one of {PROJS}, got {proj!r}")
        self.image_size = image_size
        # in_chans=3 is every timm model's default: OpenCLIP's trunks are built the same way
        extra: dict[str, Any] = {"in_chans": in_channels}
        if drop_path is not None:
            extra["drop_path_rate"] = drop_path
        head: OrderedDict[str, nn.Module] = OrderedDict()
        if proj in ("", "none"):
            self.trunk = timm.create_model(model_name, num_classes=0 if proj else embed_dim,
                                           global_pool=pool, **extra)
        else:
            self.trunk = timm.create_model(model_name, **extra)
            self.trunk.reset_classifier(0, **({"global_pool": pool} if pool else {}))
            width = self.trunk.num_features
            if proj == "linear":
                head["drop"] = nn.Dropout(drop)
                head["proj"] = nn.Linear(width, embed_dim, bias=proj_bias)
            else:
                from timm.layers import Mlp

                head["mlp"] = Mlp(width, 2 * embed_dim, embed_dim, drop=(drop, 0), bias=(True, proj_bias))
        self.head = nn.Sequential(head)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[B, 3, H, W]`` (normalised) -> embeddings ``[B, embed_dim]``."""
        out: torch.Tensor = self.head(self.trunk(images))
        return out

    def set_image_size(self, image_size: int) -> None:
        """A new input size, passed on to the trunk when it has a size (timm ViTs)."""
        self.image_size = image_size
        if hasattr(self.trunk, "set_input_size"):
            self.trunk.set_input_size(img_size=image_size)


def timm_vision_fields(vision_cfg: dict[str, Any]) -> dict[str, Any]:
    """The :class:`~simclip.clip.config.CLIPVisionConfig` fields of an OpenCLIP ``vision_cfg`` with a
    ``timm_model_name``; settings this tower does not implement raise ``ValueError``."""
    kwargs = {option: vision_cfg.get(key, default) for key, (option, default) in OPEN_CLIP_KEYS.items()}
    kwargs["proj"] = kwargs["proj"] or ""  # None as OpenCLIP reads it: the trunk's classifier projects
    if kwargs["pool"] in ATTENTION_POOLS:
        raise ValueError(f"vision_cfg.timm_pool={kwargs['pool']!r}: OpenCLIP's attention pools are not "
                         f"implemented for timm towers")
    image_size = vision_cfg.get("image_size", 224)
    if isinstance(image_size, (list, tuple)):
        if len(set(image_size)) != 1:
            raise ValueError(f"vision_cfg.image_size={image_size!r}: only square images are supported")
        image_size = image_size[0]
    return {"kind": "timm", "encoder": vision_cfg["timm_model_name"], "image_size": int(image_size),
            "encoder_kwargs": kwargs}
