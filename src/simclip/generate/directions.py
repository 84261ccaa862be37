"""StyleCLIP global directions (Patashnik et al. 2021, Sec. 6): a text pair (neutral, target) gives
one latent direction that edits any image, with no optimisation per image.

1. The text direction ``dt = normalise(E_T(target) - E_T(neutral))``.
2. Once per generator and CLIP model: each latent channel ``c``'s effect on CLIP's image embedding,
   ``di_c = normalise(mean_z [E_I(G(z + p s_c e_c)) - E_I(G(z - p s_c e_c))])`` over ``samples``
   latents ``z`` drawn by :meth:`Generator.sample_latents` (or given latents, e.g. encoded
   images), ``p`` = ``probe`` and ``s_c`` the channel's standard deviation over those latents (the
   paper probes by the channel's std).
3. The relevance ``r_c = di_c . dt``; the direction keeps the channels with ``|r_c| >= threshold``
   (beta), ``d_c = s_c r_c / max |r|``, and an edit is ``z + strength * d`` (alpha, in channel
   standard deviations).

A VAE leaves some latent channels unused (its decoder ignores them); normalising their near-zero
effect would give them a random direction and a random relevance, so channels whose raw effect is
below ``INACTIVE`` of the largest one's are dropped. The paper's generator, StyleGAN2, has no such
channels among those it manipulates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.generate.config import DirectionConfig
from simclip.generate.edit import EditResult
from simclip.generate.guide import ClipGuide
from simclip.generate.model import Generator

INACTIVE = 0.05


class GlobalDirections:
    """The channel effects of one (generator, CLIP) pair, measured at construction; then
    :meth:`direction` and :meth:`apply` for any text pair, in milliseconds."""

    def __init__(self, generator: Generator, guide: ClipGuide, cfg: DirectionConfig | None = None,
                 latents: Tensor | None = None, batch_size: int = 256) -> None:
        """``latents`` ``[N, D]``: where the channel effects are measured (default: ``cfg.samples``
        draws of :meth:`Generator.sample_latents`, seeded by ``cfg.seed``, which follow the
        training images' latent statistics)."""
        self.cfg = cfg or DirectionConfig()
        self.generator, self.guide = generator.eval(), guide
        begin = time.perf_counter()
        if latents is None:
            latents = generator.sample_latents(self.cfg.samples, self.cfg.seed)
        dim = generator.config.latent_dim
        if latents.ndim != 2 or latents.shape[1] != dim or len(latents) < 2:
            raise ValueError(f"latents must be [N >= 2, {dim}], got {tuple(latents.shape)}")
        self.spread = latents.float().std(0)  # s_c, [D]
        self.effects, self.active = self._channel_effects(latents.float(), batch_size)
        self.seconds_to_measure = time.perf_counter() - begin

    @torch.no_grad()
    def _channel_effects(self, z: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
        """Unit-norm effects ``[D, E]`` and whether each channel is active ``[D]`` (bool)."""
        dim = self.generator.config.latent_dim
        spread = z.std(0)
        raw: list[Tensor] = []
        for c in range(dim):
            step = torch.zeros(dim)
            step[c] = self.cfg.probe * spread[c]
            total = torch.zeros(())
            for chunk in z.split(batch_size):
                plus = self.guide.image_features(self.generator.decode(chunk + step))
                minus = self.guide.image_features(self.generator.decode(chunk - step))
                total = total + (plus - minus).sum(0)
            raw.append(total / len(z))
        effects = torch.stack(raw)
        size = effects.norm(dim=1)
        return F.normalize(effects, dim=1), size >= INACTIVE * size.max()

    def text_direction(self, neutral: str, target: str) -> Tensor:
        """``dt`` ``[E]``: the unit change of the text embedding from ``neutral`` to ``target``."""
        t = self.guide.text_features([neutral, target])
        return F.normalize(t[1] - t[0], dim=0)

    def relevance(self, neutral: str, target: str) -> Tensor:
        """``r_c = di_c . dt`` per latent channel ``[D]`` (0 for inactive channels)."""
        return (self.effects @ self.text_direction(neutral, target)) * self.active

    def direction(self, neutral: str, target: str, threshold: float | None = None) -> Tensor:
        """The latent direction ``[D]``: ``s_c r_c / max |r|`` on the channels that reach the
        threshold, 0 elsewhere (all zero when none does)."""
        beta = self.cfg.threshold if threshold is None else threshold
        r = self.relevance(neutral, target)
        d = torch.where(r.abs() >= beta, r, torch.zeros_like(r))
        peak = d.abs().max()
        return d / peak * self.spread if peak > 0 else d

    @torch.no_grad()
    def apply(self, start: Tensor, neutral: str | Sequence[str], target: str | Sequence[str],
              strength: float | None = None) -> EditResult:
        """Edit ``G(start)`` (``start`` ``[B, D]``) by ``strength`` along the direction of each
        ``(neutral, target)`` pair (one pair for all, or one per image)."""
        begin = time.perf_counter()
        alpha = self.cfg.strength if strength is None else strength
        neutrals = [neutral] if isinstance(neutral, str) else list(neutral)
        targets = [target] if isinstance(target, str) else list(target)
        if len(neutrals) != len(targets) or len(targets) not in (1, len(start)):
            raise ValueError(f"give one (neutral, target) pair or one per image: {len(neutrals)} neutral "
                             f"and {len(targets)} target texts for {len(start)} images")
        dirs = torch.stack([self.direction(n, t) for n, t in zip(neutrals, targets)])
        latents = start.float() + alpha * dirs
        before, after = self.generator.decode(start.float()), self.generator.decode(latents)
        text = self.guide.text_features(targets).expand(len(start), -1)
        return EditResult(start=start.float(), latents=latents, before=before, after=after,
                          distance_before=self.guide.distance(before, text),
                          distance_after=self.guide.distance(after, text), losses=[], steps=0,
                          seconds=time.perf_counter() - begin)

    @torch.no_grad()
    def strength_grid(self, start: Tensor, neutral: str, target: str, strengths: Sequence[float]) -> Tensor:
        """Images ``[len(strengths), B, C, S, S]``: ``G(start + alpha * d)`` for each alpha."""
        d = self.direction(neutral, target)
        return torch.stack([self.generator.decode(start.float() + a * d) for a in strengths])
