"""CLIP presets: ``auto`` (the default, derived from the data and the run length) and named ones.

``auto`` — the rule, with S the image side, C the channels, N the image-caption pairs:

================  ==============================================================================
setting           rule
================  ==============================================================================
image tower       S <= 64, or any S on a CPU: the ``small-cnn`` tower of ``small-cnn-32`` at the
                  data's channels and side (at most 96 px on a CPU), normalised with the data's
                  own channel statistics; otherwise ``ViT-B-32`` at 224 px
text tower        ``small-cnn-32``'s (2 layers of width 128) with the smaller tower, ViT-B-32's
                  with ViT-B-32; context length = 95th percentile of caption length in tokens,
                  rounded up to a multiple of 8, within [16, 77]
batch_size        on a CPU 256 (128 under 4,000 pairs); on an accelerator 1,024 (512 under
                  20,000 pairs)
epochs            when neither epochs nor a time budget is given: about 2,000 steps
optimizer         AdamW, betas (0.9, 0.98), eps 1e-6 (CLIP, Table 19); lr 2e-3 and weight decay
                  0.1 for the small towers, lr 5e-4 and weight decay 0.2 for ViT-B-32; 5% warm-up
temperature       learnable, starting at 0.07 (logit scale ln(1/0.07)) as in the paper
================  ==============================================================================
"""

from __future__ import annotations

import math
from typing import Any

from simclip.recipes.presets import Recipe, put_optimizer, put_run_length, register_preset
from simclip.recipes.profile import DataProfile

SMALL = 64
BETAS, EPS = (0.9, 0.98), 1e-6  # CLIP, Table 19


def context_length(tokens: int | None) -> int:
    """Caption length in tokens rounded up to a multiple of 8, within [16, 77]."""
    if tokens is None:
        return 16
    return int(min(77, max(16, 8 * math.ceil(tokens / 8))))


@register_preset("clip", "auto", "derived from the data and the run length (the default; rule in "
                                 "simclip.recipes.clip_presets)")
def auto(p: DataProfile) -> Recipe:
    r = Recipe()
    length = context_length(p.caption_tokens)
    if p.image_size <= SMALL or not p.accelerator:
        side = p.image_size if p.image_size <= SMALL else min(p.image_size, 96)
        model: dict[str, Any] = {"name": "small-cnn-32",
                                 "vision": {"in_channels": p.channels, "image_size": side},
                                 "text": {"context_length": length}}
        if p.mean is not None and p.std is not None:
            model.update(image_mean=list(p.mean), image_std=list(p.std))
        r.put("model", model, f"{p.image_size}px images: small-cnn tower at {side}px, text of "
                              f"{length} tokens, the data's channel statistics")
        lr, wd = 2e-3, 0.1
    else:
        r.put("model", {"name": "ViT-B-32", "text": {"context_length": length}}, "accelerator, large images")
        lr, wd = 5e-4, 0.2
    if p.batch_size is not None:
        batch = p.batch_size
    elif p.accelerator:
        batch = 512 if p.n_images < 20_000 else 1024
    else:
        batch = 128 if p.n_images < 4000 else 256
    r.put("batch_size", batch, "given" if p.batch_size is not None else f"{p.n_images:,} pairs on {p.device}")
    put_run_length(r, p, batch, steps=2000)
    put_optimizer(r, "adamw", lr, "none", wd, 0.05, betas=BETAS, eps=EPS)
    return r


@register_preset("clip", "paper", "the CLIP paper's ViT-B/32 recipe: batch 32,768, AdamW lr 5e-4, "
                                  "weight decay 0.2, betas (0.9, 0.98), eps 1e-6, 32 epochs")
def paper(p: DataProfile) -> Recipe:
    r = Recipe()
    r.put("model", {"name": "ViT-B-32"})
    r.put("batch_size", 32_768)
    r.put("epochs", 32)
    put_optimizer(r, "adamw", 5e-4, "none", 0.2, 0.01, betas=BETAS, eps=EPS)
    return r


@register_preset("clip", "small", "CPU-sized towers (small-cnn-32) at batch 256, AdamW lr 2e-3, "
                                  "weight decay 0.1: the recipe of the shapes demo")
def small(p: DataProfile) -> Recipe:
    r = Recipe()
    r.put("model", {"name": "small-cnn-32" if p.channels == 3 else "small-cnn-28"})
    r.put("batch_size", 256)
    put_run_length(r, p, 256, steps=2000)
    put_optimizer(r, "adamw", 2e-3, "none", 0.1, 0.05, betas=BETAS, eps=EPS)
    return r
