"""``PairModel``: one tower per modality into one embedding space, with a learnable temperature
for each modality paired with the anchor."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclip.pairs.config import PairModelConfig, PairObjectiveConfig
from simclip.pairs.towers import create_tower

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps exp(logit_scale) at 100


class PairModel(nn.Module):
    """Towers ``{modality: [B, ...] -> [B, embed_dim]}`` and ``logit_scale[m]`` (log of the
    multiplier, from ``ln(1 / init_temperature)``) for every modality ``m`` but the anchor.

    ``forward(*inputs)`` takes one prepared input per modality, in ``modalities`` order, and returns
    their L2-normalised embeddings ``[B, embed_dim]`` in the same order (one call, so that DDP sees
    every tower). ``encode(modality, x)`` embeds one modality; ``prepare(modality, raw)`` turns a
    batch entry (uint8 images, captions) into that tower's input.
    """

    def __init__(self, model_cfg: PairModelConfig, objective_cfg: PairObjectiveConfig) -> None:
        super().__init__()
        self.modalities = tuple(objective_cfg.modalities)
        self.anchor = objective_cfg.anchor_modality
        self.embed_dim = model_cfg.embed_dim
        self.towers = nn.ModuleDict()
        for m in self.modalities:
            options = dict(model_cfg.towers.get(m, {}))
            self.towers[m] = create_tower(m, model_cfg.embed_dim, options.pop("name", None), **options)
        start = math.log(1.0 / model_cfg.init_temperature)
        self.logit_scale = nn.ParameterDict({m: nn.Parameter(torch.tensor(start)) for m in self.modalities
                                             if m != self.anchor})

    def prepare(self, modality: str, raw: Any) -> Tensor:
        out: Tensor = self.towers[modality].prepare(raw)  # type: ignore[operator]
        return out

    def encode(self, modality: str, x: Tensor, normalize: bool = True) -> Tensor:
        z: Tensor = self.towers[modality](x)
        return F.normalize(z, dim=-1) if normalize else z

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        if len(inputs) != len(self.modalities):
            raise ValueError(f"expected {len(self.modalities)} inputs ({', '.join(self.modalities)}), "
                             f"got {len(inputs)}")
        return tuple(self.encode(m, x) for m, x in zip(self.modalities, inputs))

    def scales(self) -> dict[str, Tensor]:
        """``{modality: exp(logit_scale)}`` for every non-anchor modality."""
        return {m: p.exp() for m, p in self.logit_scale.items()}

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        for p in self.logit_scale.values():
            p.clamp_(0.0, MAX_LOGIT_SCALE)
