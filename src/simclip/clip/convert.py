"""Key layouts of CLIP state dicts: OpenAI/OpenCLIP keep the text tower at the top level
(``token_embedding.weight``, ``transformer.resblocks...``), simclip under ``text.`` (as OpenCLIP's
``CustomTextCLIP`` does). Image-tower keys (``visual.``) and ``logit_scale``/``logit_bias`` are shared.
"""

from __future__ import annotations

import torch

TOP_LEVEL_KEYS = ("logit_scale", "logit_bias")
DERIVED_KEYS = ("attn_mask",)  # the causal mask, stored by some OpenCLIP versions; rebuilt, not loaded


def to_simclip_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI/OpenCLIP keys -> simclip keys; a state dict already in simclip layout is returned as is
    (derived causal-mask entries are dropped either way)."""
    state = {k: v for k, v in state_dict.items() if k.rsplit(".", 1)[-1] not in DERIVED_KEYS}
    if any(k.startswith("text.") for k in state):
        return state
    return {k if k.startswith("visual.") or k in TOP_LEVEL_KEYS else f"text.{k}": v
            for k, v in state.items()}


def to_openai_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """simclip keys -> OpenAI/OpenCLIP keys (for ``open_clip`` or openai/CLIP to load)."""
    return {k[len("text."):] if k.startswith("text.") else k: v for k, v in state_dict.items()}
