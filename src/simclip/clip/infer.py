"""Recovering a CLIP architecture from the tensor shapes of its state dict (as openai/CLIP's
``build_model`` does), so that any OpenAI/OpenCLIP-native checkpoint loads without a named config.

What shapes cannot tell comes from an ``open_clip_config.json`` when there is one, else from the
conventions of the released models: attention heads of width 64, except OpenCLIP's ViT-H/g/bigG
image towers (head widths 80, 88, 104).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from simclip.clip.config import CLIPConfig

VISION_HEAD_WIDTHS = {1280: 80, 1408: 88, 1664: 104}  # ViT-H-14, ViT-g-14, ViT-bigG-14
_BLOCK = "transformer.resblocks."


def _shape(sd: dict[str, torch.Tensor], key: str) -> torch.Size:
    if key not in sd:
        raise ValueError(f"state dict has no {key!r}: not a CLIP checkpoint of a supported layout")
    return sd[key].shape


def _square_grid(sd: dict[str, torch.Tensor], key: str) -> int:
    rows = _shape(sd, key)[0] - 1
    grid = math.isqrt(rows)
    if grid * grid != rows:
        raise ValueError(f"{key} has {rows} grid positions, not a square grid: non-square image "
                         f"sizes are not supported")
    return grid


def _count_blocks(sd: dict[str, torch.Tensor], prefix: str) -> int:
    ids = {k[len(prefix):].split(".", 1)[0] for k in sd if k.startswith(prefix)}
    return len(ids)


def infer_vision(sd: dict[str, torch.Tensor], cfg: dict[str, Any]) -> dict[str, Any]:
    """Vision fields of :class:`CLIPVisionConfig` from ``visual.*`` shapes (simclip key layout)."""
    if cfg.get("timm_model_name"):  # OpenCLIP's timm tower: the config names it, shapes cannot
        from simclip.clip.timm_tower import timm_vision_fields

        return timm_vision_fields(cfg)
    if "visual.proj" in sd:  # ViT
        width, in_channels, patch, _ = _shape(sd, "visual.conv1.weight")
        grid = _square_grid(sd, "visual.positional_embedding")
        hidden = _shape(sd, f"visual.{_BLOCK}0.mlp.c_fc.weight")[0]
        return dict(kind="vit", image_size=patch * grid, patch_size=patch, width=width,
                    in_channels=in_channels, layers=_count_blocks(sd, f"visual.{_BLOCK}"),
                    head_width=cfg.get("head_width", VISION_HEAD_WIDTHS.get(width, 64)),
                    mlp_ratio=hidden / width)
    if "visual.attnpool.positional_embedding" in sd:  # ModifiedResNet
        layers = [_count_blocks(sd, f"visual.layer{i}.") for i in range(1, 5)]
        grid = _square_grid(sd, "visual.attnpool.positional_embedding")
        return dict(kind="resnet", image_size=32 * grid, layers=layers,
                    width=_shape(sd, "visual.layer1.0.conv1.weight")[0],
                    in_channels=_shape(sd, "visual.conv1.weight")[1],
                    head_width=cfg.get("head_width", 64))
    raise ValueError("cannot tell the image tower from the state dict (neither 'visual.proj' of a "
                     "ViT nor 'visual.attnpool' of a ModifiedResNet); a simclip checkpoint with an "
                     "encoder tower needs its config")


def infer_text(sd: dict[str, torch.Tensor], cfg: dict[str, Any]) -> dict[str, Any]:
    """Text fields of :class:`CLIPTextConfig` from ``text.*`` shapes (simclip key layout)."""
    vocab_size, width = _shape(sd, "text.token_embedding.weight")
    hidden = _shape(sd, f"text.{_BLOCK}0.mlp.c_fc.weight")[0]
    return dict(context_length=_shape(sd, "text.positional_embedding")[0], vocab_size=vocab_size,
                width=width, heads=cfg.get("heads", width // 64),
                layers=_count_blocks(sd, f"text.{_BLOCK}"), mlp_ratio=hidden / width)


def infer_config(sd: dict[str, torch.Tensor], quick_gelu: bool,
                 open_clip_config: dict[str, Any] | None = None) -> CLIPConfig:
    """The :class:`CLIPConfig` whose parameters have the shapes of ``sd`` (simclip key layout).

    ``open_clip_config`` (the JSON next to an OpenCLIP checkpoint) supplies head counts and the
    preprocessing (mean, std, interpolation, resize mode).
    """
    model_cfg = (open_clip_config or {}).get("model_cfg", {})
    pre = (open_clip_config or {}).get("preprocess_cfg", {})
    extra = {key: tuple(pre[src]) if key.startswith("image_") else pre[src]
             for key, src in (("image_mean", "mean"), ("image_std", "std"),
                              ("interpolation", "interpolation"), ("resize_mode", "resize_mode"))
             if src in pre}
    return CLIPConfig.from_dict({"embed_dim": _shape(sd, "text.text_projection")[1],
                                 "vision": infer_vision(sd, model_cfg.get("vision_cfg", {})),
                                 "text": infer_text(sd, model_cfg.get("text_cfg", {})),
                                 "quick_gelu": quick_gelu, "logit_bias": "logit_bias" in sd, **extra})
