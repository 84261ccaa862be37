"""Latent optimisation (StyleCLIP Eq. 1): it lowers the CLIP distance, stays near the start as
the L2 weight grows, and is reproducible; the CLIP loss reaches the latent through preprocessing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simclip.generate import LatentEditConfig, optimise_latents
from simclip.generate.config import PROMPT_SETS, ConfigError
from simclip.generate.edit import random_views


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
        cfg = LatentEditConfig(steps=15, lr=0.1, direction_weight=weight, restarts=1, views=1)
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
    cfg = LatentEditConfig(steps=15, lr=0.1, prompts="shapes", views=1)
    r = optimise_latents(generator, guide, start, "a blue star", cfg)
    assert (r.distance_after < r.distance_before - 1e-3).all()


def test_restarts_keep_the_best_of_several_starts(generator, guide):
    start = generator.sample_latents(3, seed=4)
    texts = ["a red star", "a blue circle", "a green cross"]
    one = optimise_latents(generator, guide, start, texts, LatentEditConfig(steps=8, lr=0.1, restarts=1, views=1))
    cfg = LatentEditConfig(steps=8, lr=0.1, restarts=3, restart_noise=1.0, views=1)
    many = optimise_latents(generator, guide, start, texts, cfg)
    # the first start is the start latent itself, so the best of three is at least as good
    assert (many.distance_after <= one.distance_after + 1e-4).all()
    assert many.latents.shape == start.shape and many.after.shape == one.after.shape
    alone = optimise_latents(generator, guide, start[2:], texts[2], cfg)
    torch.testing.assert_close(many.latents[2:], alone.latents, atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="edit.restarts must be an int > 0"):
        LatentEditConfig(restarts=0)


def test_random_views_are_crops_and_flips_shared_by_rows_one_period_apart():
    images = torch.rand(4, 3, 8, 8, requires_grad=True)
    views = random_views(images, 3, torch.Generator().manual_seed(0), period=2)
    assert views.shape == (12, 3, 8, 8)
    for v in range(3):  # rows n and n + 2 (the same restart of two images) see the same crop
        row = views[4 * v:4 * v + 4]
        assert not torch.allclose(row[0], row[1])
        torch.testing.assert_close(random_views(images[2:3].expand(4, -1, -1, -1), 3,
                                                torch.Generator().manual_seed(0), period=2)[4 * v + 2], row[2])
    whole = random_views(images, 2, torch.Generator().manual_seed(1), scale=(1.0, 1.0))
    for v in whole.view(2, 4, 3, 8, 8):  # the whole image: itself or its mirror image
        assert torch.allclose(v, images, atol=1e-5) or torch.allclose(v, images.flip(-1), atol=1e-5)
    views.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_an_edit_read_through_several_views_lowers_the_distance_and_is_batch_independent(generator, guide):
    start = generator.sample_latents(3, seed=5)
    texts = ["a red star", "a blue circle", "a green cross"]
    cfg = LatentEditConfig(steps=8, lr=0.1, restarts=2, views=3)
    many = optimise_latents(generator, guide, start, texts, cfg)
    assert (many.distance_after < many.distance_before).all()
    alone = optimise_latents(generator, guide, start[1:2], texts[1], cfg)
    torch.testing.assert_close(many.latents[1:2], alone.latents, atol=1e-4, rtol=1e-4)
    one_view = optimise_latents(generator, guide, start, texts, LatentEditConfig(steps=8, lr=0.1, restarts=2, views=1))
    assert not torch.allclose(many.latents, one_view.latents)
    with pytest.raises(ConfigError, match="edit.views must be an int > 0"):
        LatentEditConfig(views=0)
