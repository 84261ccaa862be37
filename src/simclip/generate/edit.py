"""StyleCLIP latent optimisation (Patashnik et al. 2021, Sec. 4, Eq. 1): move one image's latent so
that the generated image matches a text under CLIP, pulled back towards where it started.

    z* = argmin_z  D_CLIP(G(z), t) + lambda_L2 * ||z - z_s||^2

(the paper's identity loss, a face recogniser, has no counterpart here). The text embedding ``t``
may be a prompt ensemble, with a neutral text a directional term may join the objective, and the
objective is optimised from several starts per image, the lowest kept, and CLIP may read each
image through several random crops (:class:`LatentEditConfig`).
Each image of a batch is its own problem: the loss is summed over the batch, so the images do not
interact, and the result for one image is the same whether it is edited alone or with others (up
to float rounding).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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


def _text_targets(guide: ClipGuide, texts: str | Sequence[str], batch: int,
                  prompts: str | Sequence[str] = "plain", what: str = "text") -> Tensor:
    texts = [texts] if isinstance(texts, str) else list(texts)
    if len(texts) not in (1, batch):
        raise ValueError(f"give one {what} or one per image: {len(texts)} {what}s for {batch} images")
    return guide.text_features(texts, prompts).expand(batch, -1)


def optimise_latents(generator: Generator, guide: ClipGuide, start: Tensor, texts: str | Sequence[str],
                     cfg: LatentEditConfig | None = None,
                     neutral: str | Sequence[str] | None = None) -> EditResult:
    """Edit the images ``G(start)`` (``start`` ``[B, D]``) towards ``texts`` (one, or one per image).

    ``neutral`` (one text, or one per image: what the start shows) is used only by the directional
    term, when ``cfg.direction_weight`` is above 0; without it the term is off. Deterministic: the
    restarts' offsets and CLIP's crops (``cfg.views``) are drawn under ``cfg.restart_seed``, so the
    same start and text give the same result.
    """
    cfg = cfg or LatentEditConfig()
    begin = time.perf_counter()
    generator.eval().requires_grad_(False)
    start = start.detach().float()
    batch, k = len(start), cfg.restarts
    target = _text_targets(guide, texts, batch, cfg.prompts)
    text_step = None
    if cfg.direction_weight > 0 and neutral is not None:
        text_step = F.normalize(target - _text_targets(guide, neutral, batch, cfg.prompts, "neutral text"), dim=-1)
        text_step = text_step.repeat_interleave(k, 0)
        with torch.no_grad():
            start_features = guide.image_features(generator.decode(start)).repeat_interleave(k, 0)
    anchor, goal = start.repeat_interleave(k, 0), target.repeat_interleave(k, 0)  # [B * K, ...]

    crops = torch.Generator().manual_seed(cfg.restart_seed)

    def objective(z: Tensor, step: int) -> Tensor:
        """Eq. 1 (and the directional term) per row ``[B * K]``."""
        images = generator.decode(z)
        if cfg.views > 1:  # CLIP's distance averaged over random crops and flips of each image
            seen = guide.image_features(random_views(images, cfg.views, crops, k)).view(cfg.views, len(z), -1)
            each = 1 - (seen * goal).sum(-1).mean(0)
            features = F.normalize(seen.mean(0), dim=-1)
        else:
            features = guide.image_features(images)
            each = 1 - (features * goal).sum(-1)
        each = each + cfg.l2_weight * ((z - anchor) ** 2).sum(1)
        if text_step is not None and step > 0:  # at the start the image has not moved: no direction yet
            image_step = F.normalize(features - start_features, dim=-1, eps=1e-6)
            each = each + cfg.direction_weight * (1 - (image_step * text_step).sum(-1))
        return each

    z = (anchor + _restart_offsets(generator, cfg).repeat(batch, 1)).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    losses = []
    for step in range(cfg.steps):
        loss = objective(z, step).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item() / len(z))
    with torch.no_grad():
        if k > 1:  # each image keeps the start whose optimised objective is lowest
            best = objective(z, cfg.steps).view(batch, k).argmin(1)
            z = z.view(batch, k, -1)[torch.arange(batch), best]
        before, after = generator.decode(start), generator.decode(z)
        result = EditResult(start=start, latents=z.detach(), before=before, after=after,
                            distance_before=guide.distance(before, target),
                            distance_after=guide.distance(after, target), losses=losses,
                            steps=cfg.steps, seconds=time.perf_counter() - begin)
    return result


def random_views(images: Tensor, views: int, generator: torch.Generator, period: int = 1,
                 scale: tuple[float, float] = (0.8, 1.0)) -> Tensor:
    """``[V * N, C, S, S]``: ``views`` random crops of ``images`` ``[N, C, S, S]`` (area ``scale``
    of the image, anywhere inside it), resized back to ``S`` and flipped with probability 0.5;
    differentiable in ``images``. View ``v`` of row ``n`` is row ``v * N + n``. Rows ``n`` and
    ``n + period`` get the same crops (``N`` a multiple of ``period``), so that an image edited in
    a batch sees the crops it would see alone."""
    n = views * period
    side = torch.empty(n).uniform_(*scale, generator=generator).sqrt_()
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (1 - side)[:, None]
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = side * flip, side
    theta[:, :, 2] = shift
    theta = theta.view(views, 1, period, 2, 3).expand(-1, len(images) // period, -1, -1, -1).reshape(-1, 2, 3)
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, [len(theta), *images.shape[1:]], align_corners=False)
    return F.grid_sample(images.repeat(views, 1, 1, 1), grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def _restart_offsets(generator: Generator, cfg: LatentEditConfig) -> Tensor:
    """``[K, D]``: where each of the ``cfg.restarts`` optimisations starts, relative to the start
    latent: 0 for the first, then ``restart_noise`` times a normal draw (the same for every image,
    seeded) scaled by each latent channel's spread over the generator's latent bank."""
    dim = generator.config.latent_dim
    bank = generator.latent_bank.float().cpu()
    spread = bank.std(0) if len(bank) > 1 else torch.ones(dim)
    draws = torch.randn(cfg.restarts - 1, dim, generator=torch.Generator().manual_seed(cfg.restart_seed))
    offsets = torch.cat([torch.zeros(1, dim), cfg.restart_noise * draws * spread])
    return offsets.to(generator.latent_bank.device)
