"""OpenCLIP checkpoints whose text tower is a Hugging Face model (``text_cfg.hf_model_name``: e.g.
``roberta-ViT-B-32``, ``xlm-roberta-base-ViT-B-32``, ``nllb-clip-base``).

OpenCLIP's ``HFTextEncoder`` holds the model as ``transformer`` and its projection as ``proj``;
simclip's :class:`~simclip.clip.hf_text.HFTextTower` as ``encoder`` and ``proj``. The pooler names map
as: ``mean_pooler`` -> ``"mean"``, ``cls_last_hidden_state_pooler`` -> ``"cls"``, ``cls_pooler`` ->
``"pooler"`` (the model's pooling layer; ``"cls"`` for a model without one, as OpenCLIP falls back).
OpenCLIP's ``max_pooler`` is refused: it masks the real tokens, not the padding.
"""

from __future__ import annotations

from typing import Any

import torch

from simclip.clip.config import CLIPConfig

POOLERS = {"mean_pooler": "mean", "cls_last_hidden_state_pooler": "cls", "cls_pooler": "pooler"}
DEFAULT_POOLERS = {"bert": "cls_pooler", "m2m_100": "cls_pooler"}  # OpenCLIP's arch_dict; else mean
_ENCODER, _OPEN_CLIP = "text.encoder.", "text.transformer."


def uses_hf_text(open_clip_config: dict[str, Any] | None) -> bool:
    """Whether an ``open_clip_config.json`` describes a Hugging Face text tower."""
    text_cfg = ((open_clip_config or {}).get("model_cfg") or {}).get("text_cfg") or {}
    return bool(text_cfg.get("hf_model_name"))


def check_text_cfg(text_cfg: dict[str, Any], origin: str) -> None:
    """Refuse settings of OpenCLIP's HF text tower that simclip does not compute."""
    pooler = text_cfg.get("hf_pooler_type")
    proj = text_cfg.get("hf_proj_type")
    if pooler is not None and pooler not in POOLERS:
        raise ValueError(f"{origin}: text_cfg.hf_pooler_type={pooler!r} is not supported; "
                         f"supported: {', '.join(POOLERS)}")
    if proj not in (None, "linear", "mlp"):
        raise ValueError(f"{origin}: text_cfg.hf_proj_type={proj!r} is not supported (linear, mlp)")


def hf_text_fields(text_cfg: dict[str, Any], embed_dim: int) -> dict[str, Any]:
    """``CLIPTextConfig`` fields of OpenCLIP's ``text_cfg`` (the model's sizes from its folder)."""
    from simclip.clip.hf_models import has_pooling_layer, hf_sizes, resolve_hf_model, transformers_module

    tf = transformers_module()
    name = text_cfg["hf_model_name"]
    hf = tf.AutoConfig.from_pretrained(resolve_hf_model(name, weights=False))
    sizes = hf_sizes(hf)
    pooler = text_cfg.get("hf_pooler_type") or DEFAULT_POOLERS.get(hf.model_type, "mean_pooler")
    pooling = POOLERS[pooler]
    if pooling == "pooler" and not has_pooling_layer(tf, hf):
        pooling = "cls"
    proj = text_cfg.get("hf_proj_type")
    context = min(int(text_cfg.get("context_length", 77)), getattr(hf, "max_position_embeddings", None) or 77)
    return dict(kind="hf", hf_model=name, pooling=pooling, hf_pretrained=False,
                proj_type=proj if proj is not None else "none", context_length=context,
                unlocked_layers=sizes["layers"], **sizes)  # OpenCLIP trains the whole tower


def infer_hf_config(sd: dict[str, torch.Tensor], quick_gelu: bool,
                    open_clip_config: dict[str, Any]) -> CLIPConfig:
    """The :class:`CLIPConfig` of an OpenCLIP model with an HF text tower: the image tower from the
    shapes, the text tower from ``text_cfg`` and the model's ``config.json``."""
    from simclip.clip.infer import infer_vision

    model_cfg = open_clip_config.get("model_cfg", {})
    pre = open_clip_config.get("preprocess_cfg", {})
    extra = {key: tuple(pre[src]) if key.startswith("image_") else pre[src]
             for key, src in (("image_mean", "mean"), ("image_std", "std"),
                              ("interpolation", "interpolation"), ("resize_mode", "resize_mode"))
             if src in pre}
    embed_dim = model_cfg.get("embed_dim")
    if not isinstance(embed_dim, int):
        raise ValueError("open_clip_config.json: model_cfg.embed_dim is needed for an HF text tower")
    return CLIPConfig.from_dict({"embed_dim": embed_dim,
                                 "vision": infer_vision(sd, model_cfg.get("vision_cfg", {})),
                                 "text": hf_text_fields(model_cfg["text_cfg"], embed_dim),
                                 "quick_gelu": quick_gelu, "logit_bias": "logit_bias" in sd, **extra})


def to_simclip_hf_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP's ``text.transformer.*`` -> simclip's ``text.encoder.*`` (other keys unchanged; a
    state dict already in simclip's layout is returned as is)."""
    if any(k.startswith(_ENCODER) for k in state):
        return state
    return {_ENCODER + k[len(_OPEN_CLIP):] if k.startswith(_OPEN_CLIP) else k: v for k, v in state.items()}
