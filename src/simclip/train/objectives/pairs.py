"""The paired-modality objective: CLIP's symmetric InfoNCE between an anchor modality and each other
one (ImageBind, Girdhar et al. 2023), each pair with its own learnable temperature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from simclip.losses.anchored import pairwise_clip_losses
from simclip.train.objectives.base import SeededObjective


class PairObjective(SeededObjective):
    """``inputs``: a batch (one entry per modality, in ``modalities`` order) -> each entry through
    ``prepare(modality, entry)``; ``embed``: ``model(*inputs)``, normalised ``[B, E]`` per modality;
    ``loss``: the mean over non-anchor modalities m of ``clip_loss(anchor, m, exp(logit_scale[m]))``
    (``model.scales()``), with each pair's loss and scale as metrics. ``after_step`` clamps the scales."""

    def __init__(self, modalities: tuple[str, ...] | list[str], anchor: str,
                 prepare: Callable[[str, Any], torch.Tensor], seed: int = 0, distributed: bool = False) -> None:
        if anchor not in modalities or len(modalities) < 2:
            raise ValueError(f"anchor {anchor!r} must be one of two or more modalities, got {list(modalities)}")
        self.modalities, self.anchor, self.prepare = tuple(modalities), anchor, prepare
        self.distributed = distributed
        super().__init__(seed)

    def inputs(self, batch: tuple) -> tuple[torch.Tensor, ...]:
        if len(batch) != len(self.modalities):
            raise ValueError(f"a batch of {len(batch)} entries for {len(self.modalities)} modalities")
        prepared = [self.prepare(m, x) for m, x in zip(self.modalities, batch)]
        device = next((p.device for p in prepared if p.device.type != "cpu"), torch.device("cpu"))
        return tuple(p.to(device) for p in prepared)

    def embed(self, model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        reps: tuple[torch.Tensor, ...] = model(*inputs)
        return reps

    def loss(self, model: nn.Module, reps: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, Any]]:
        embeddings = {m: r.float() for m, r in zip(self.modalities, reps)}
        scales = cast(dict[str, torch.Tensor], cast(Any, model).scales())
        losses = pairwise_clip_losses(embeddings, scales, self.anchor, distributed=self.distributed)
        total = torch.stack(list(losses.values())).mean()
        metrics: dict[str, Any] = {f"loss_{m}": float(v.detach()) for m, v in losses.items()}
        metrics.update({f"logit_scale_{m}": float(s.detach()) for m, s in scales.items()})
        return total, metrics

    def after_step(self, model: nn.Module) -> None:
        cast(Any, model).clamp_logit_scale_()
