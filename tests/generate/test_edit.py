"""Latent optimisation (StyleCLIP Eq. 1): it lowers the CLIP distance, stays near the start as
the L2 weight grows, and is reproducible; the CLIP loss reaches the latent through preprocessing."""

from __future__ import annotations

import pytest
import torch

from simclip.generate import LatentEditConfig, optimise_latents


def test_a_short_edit_lowers_the_clip_distance(generator, guide):
    start = generator.sample_latents(3, seed=0)
    r = optimise_latents(generator, guide, start, "a blue star", LatentEditConfig(steps=15, lr=0.1, l2_weight=0.0))
    assert r.steps == 15 and len(r.losses) == 15
    assert (r.distance_after < r.distance_before - 1e-3).all()
    assert r.losses[-1] < r.losses[0]
    assert r.after.shape == (3, 3, 16, 16) and 0 <= r.after.min() and r.after.max() <= 1


def test_the_l2_pull_keeps_the_latent_near_its_start(generator, guide):
    start = generator.sample_latents(2, seed=1)
    moves = [float((optimise_latents(generator, guide, start, "a red circle",
                                     LatentEditConfig(steps=10, l2_weight=w)).latents - start).norm())
             for w in (0.0, 10.0)]
    assert moves[1] < 0.5 * moves[0]


def test_the_same_seed_gives_the_same_edit(generator, guide):
    cfg = LatentEditConfig(steps=5)
    a = optimise_latents(generator, guide, generator.sample_latents(1, seed=7), "a green square", cfg)
    b = optimise_latents(generator, guide, generator.sample_latents(1, seed=7), "a green square", cfg)
    c = optimise_latents(generator, guide, generator.sample_latents(1, seed=8), "a green square", cfg)
    assert torch.equal(a.latents, b.latents) and torch.equal(a.after, b.after)
    assert not torch.equal(a.latents, c.latents)


def test_an_image_edited_in_a_batch_is_edited_as_alone(generator, guide):
    start = generator.sample_latents(3, seed=2)
    texts = ["a red star", "a blue circle", "a green cross"]
    together = optimise_latents(generator, guide, start, texts, LatentEditConfig(steps=5))
    alone = optimise_latents(generator, guide, start[1:2], texts[1], LatentEditConfig(steps=5))
    torch.testing.assert_close(together.latents[1:2], alone.latents, atol=1e-4, rtol=1e-4)


def test_gradients_reach_the_latent_through_clip_preprocessing(generator, guide):
    z = generator.sample_latents(2, seed=3).requires_grad_(True)
    guide.distance(generator.decode(z), guide.text_features(["a star"])).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_one_text_per_image_or_one_for_all(generator, guide):
    with pytest.raises(ValueError, match="one text or one per image: 2 texts for 3 images"):
        optimise_latents(generator, guide, generator.sample_latents(3, 0), ["a", "b"], LatentEditConfig(steps=1))
