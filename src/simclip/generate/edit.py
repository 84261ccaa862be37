"""StyleCLIP latent optimisation (Patashnik et al. 2021, Sec. 4, Eq. 1): move one image's latent so
that the generated image matches a text under CLIP, pulled back towards where it started.

    z* = argmin_z  D_CLIP(G(z), t) + lambda_L2 * ||z - z_s||^2

(the paper's identity loss, a face recogniser, has no counterpart here). Each image of a batch is
its own problem: the loss is summed over the batch, so the images do not interact, and the result
for one image is the same whether it is edited alone or with others (up to float rounding).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from simclip.generate.config import LatentEditConfig
from simclip.generate.guide import ClipGuide
from simclip.generate.model import Generator


@dataclass
class EditResult:
    """What an edit produced.

    Attributes:
        start, latents: ``[B, D]`` latents before and after.
        before, after: images ``[B, C, S, S]``, float in [0, 1].
        distance_before, distance_after: ``D_CLIP`` to the text per image ``[B]``.
        losses: the objective (mean over the batch) at each step; empty for global directions.
        steps, seconds: optimisation steps and wall-clock seconds for the whole batch.
    """

    start: Tensor
    latents: Tensor
    before: Tensor
    after: Tensor
    distance_before: Tensor
    distance_after: Tensor
    losses: list[float]
    steps: int
    seconds: float


def _text_targets(guide: ClipGuide, texts: str | Sequence[str], batch: int) -> Tensor:
    texts = [texts] if isinstance(texts, str) else list(texts)
    if len(texts) not in (1, batch):
        raise ValueError(f"give one text or one per image: {len(texts)} texts for {batch} images")
    return guide.text_features(texts).expand(batch, -1)


def optimise_latents(generator: Generator, guide: ClipGuide, start: Tensor, texts: str | Sequence[str],
                     cfg: LatentEditConfig | None = None) -> EditResult:
    """Edit the images ``G(start)`` (``start`` ``[B, D]``) towards ``texts`` (one, or one per image).

    Deterministic: no randomness is drawn, so the same start and text give the same result.
    """
    cfg = cfg or LatentEditConfig()
    begin = time.perf_counter()
    generator.eval().requires_grad_(False)
    start = start.detach().float()
    target = _text_targets(guide, texts, len(start))
    z = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    losses = []
    for _ in range(cfg.steps):
        clip_term = guide.distance(generator.decode(z), target)
        pull = ((z - start) ** 2).sum(1)
        loss = (clip_term + cfg.l2_weight * pull).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item() / len(start))
    with torch.no_grad():
        before, after = generator.decode(start), generator.decode(z)
        result = EditResult(start=start, latents=z.detach(), before=before, after=after,
                            distance_before=guide.distance(before, target),
                            distance_after=guide.distance(after, target), losses=losses,
                            steps=cfg.steps, seconds=time.perf_counter() - begin)
    return result
