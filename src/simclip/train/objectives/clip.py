"""CLIP's objective (Radford et al. 2021): each image predicts its caption among the batch, and each
caption its image — the symmetric InfoNCE over the N x N image-text logits; or SigLIP's pairwise
sigmoid loss (Zhai et al. 2023)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from simclip.losses import LogitWorkspace, clip_loss, siglip_loss
from simclip.train.objectives.base import SeededObjective

LOSSES = ("clip", "siglip")


class CLIPObjective(SeededObjective):
    """``inputs``: uint8 images -> the model's preprocessed float tensor (optionally augmented),
    captions -> token ids; ``embed``: normalised image and text features ``[B, E]`` each;
    ``loss``: :func:`~simclip.losses.clip_loss` at ``exp(logit_scale)`` (or :func:`siglip_loss` with
    ``logit_bias``). ``after_step`` clamps the temperature, as the paper does after every step."""

    def __init__(self, tokenize: Callable[[list[str]], torch.Tensor],
                 preprocess: Callable[[torch.Tensor], torch.Tensor], loss: str = "clip",
                 augment: Callable[..., torch.Tensor] | None = None, seed: int = 0,
                 distributed: bool = False, channels_last: bool = False) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.tokenize, self.preprocess, self.loss_name = tokenize, preprocess, loss
        self.augment = augment
        self.distributed = distributed
        self.channels_last = channels_last
        super().__init__(seed)
        self.workspace = LogitWorkspace()  # the kept logits' memory, reused every step

    def inputs(self, batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        images, captions = batch[0], batch[1]
        with torch.autocast(images.device.type, enabled=False):
            if self.augment is not None:
                images = self.augment(images, generator=self.generator)
            pixels = self.preprocess(images)
        if self.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        return pixels, self.tokenize(list(captions)).to(pixels.device)

    def embed(self, model: nn.Module, inputs: tuple[torch.Tensor, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor]:
        image, text, _ = model(*inputs)  # forward(): normalised features (DDP sees every tower)
        return image, text

    def loss(self, model: nn.Module, reps: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, dict[str, Any]]:
        image, text = (r.float() for r in reps)
        scale = cast(torch.Tensor, model.logit_scale).exp()
        if self.loss_name == "siglip":
            bias = cast(torch.Tensor, model.logit_bias)
            loss = siglip_loss(image, text, scale, bias, distributed=self.distributed)
        else:
            loss = clip_loss(image, text, scale, distributed=self.distributed, workspace=self.workspace)
        return loss, {"logit_scale": float(scale.detach())}

    def after_step(self, model: nn.Module) -> None:
        cast(Any, model).clamp_logit_scale_()  # a CLIP model's method
