"""Latent optimisation (StyleCLIP Eq. 1): it lowers the CLIP distance, stays near the start as
the L2 weight grows, and is reproducible; the CLIP loss reaches the latent through preprocessing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simclip.generate import LatentEditConfig, optimise_latents
from simclip.generate.config import PROMPT_SETS, ConfigError


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
                                     LatentEditConfig(steps=10, l2_weight=w, restarts=1)).latents - start).norm())
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


def test_the_prompt_ensemble_is_the_renormalised_mean_of_its_templates(guide):
    templates = ("{}", "{} on the left", "there is {} at the top")
    each = torch.cat([guide.text_features([t.replace("{}", text) for t in templates]).mean(0, keepdim=True)
                      for text in ("a blue star", "a red circle")])
    torch.testing.assert_close(guide.text_features(["a blue star", "a red circle"], templates),
                               torch.nn.functional.normalize(each, dim=-1))
    assert torch.equal(guide.text_features(["a blue star"], "plain"), guide.text_features(["a blue star"]))
    shapes = PROMPT_SETS["shapes"]
    assert shapes[0] == "{}" and "{} on the left" in shapes and "on the left, {}" in shapes
    assert guide.text_features(["a blue star"], "shapes").shape == (1, 16)


def test_prompts_name_a_set_or_hold_a_slot():
    assert LatentEditConfig(prompts="shapes").prompts == "shapes"
    assert LatentEditConfig(prompts="a photo of {}").prompts == "a photo of {}"
    with pytest.raises(ConfigError, match="prompts must be one of plain, shapes"):
        LatentEditConfig(prompts="nope")


def test_the_directional_term_turns_the_image_change_towards_the_text_change(generator, guide):
    start = generator.sample_latents(3, seed=0)
    t = guide.text_features(["a red star", "a blue star"])
    text_step = F.normalize(t[1] - t[0], dim=0)

    def along(weight: float) -> torch.Tensor:
        cfg = LatentEditConfig(steps=15, lr=0.1, direction_weight=weight, restarts=1)
        r = optimise_latents(generator, guide, start, "a blue star", cfg, neutral="a red star")
        assert all(math.isfinite(v) for v in r.losses)
        return F.normalize(guide.image_features(r.after) - guide.image_features(r.before), dim=-1) @ text_step

    assert (along(1.0) > along(0.0) + 0.1).all()
    without_neutral = optimise_latents(generator, guide, start, "a blue star",
                                       LatentEditConfig(steps=3, direction_weight=1.0))
    plain = optimise_latents(generator, guide, start, "a blue star", LatentEditConfig(steps=3))
    assert torch.equal(without_neutral.latents, plain.latents)  # no neutral text: the term is off


def test_an_ensembled_edit_lowers_the_clip_distance(generator, guide):
    start = generator.sample_latents(3, seed=0)
    r = optimise_latents(generator, guide, start, "a blue star", LatentEditConfig(steps=15, lr=0.1, prompts="shapes"))
    assert (r.distance_after < r.distance_before - 1e-3).all()


def test_restarts_keep_the_best_of_several_starts(generator, guide):
    start = generator.sample_latents(3, seed=4)
    texts = ["a red star", "a blue circle", "a green cross"]
    one = optimise_latents(generator, guide, start, texts, LatentEditConfig(steps=8, lr=0.1, restarts=1))
    cfg = LatentEditConfig(steps=8, lr=0.1, restarts=3, restart_noise=1.0)
    many = optimise_latents(generator, guide, start, texts, cfg)
    # the first start is the start latent itself, so the best of three is at least as good
    assert (many.distance_after <= one.distance_after + 1e-4).all()
    assert many.latents.shape == start.shape and many.after.shape == one.after.shape
    alone = optimise_latents(generator, guide, start[2:], texts[2], cfg)
    torch.testing.assert_close(many.latents[2:], alone.latents, atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="edit.restarts must be an int > 0"):
        LatentEditConfig(restarts=0)
