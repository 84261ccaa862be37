"""Global directions (StyleCLIP Sec. 6): channel effects are unit vectors measured once, the
direction keeps the channels that reach the threshold, strength 0 leaves the image unchanged."""

from __future__ import annotations

import pytest
import torch

from simclip.generate import DirectionConfig, GlobalDirections


@pytest.fixture(scope="module")
def directions(generator, guide):
    return GlobalDirections(generator, guide, DirectionConfig(samples=16, threshold=0.05))


def test_channel_effects_are_unit_vectors(directions, generator):
    assert directions.effects.shape == (generator.config.latent_dim, 16)
    torch.testing.assert_close(directions.effects.norm(dim=1), torch.ones(generator.config.latent_dim))


def test_the_direction_keeps_relevant_channels_only(directions):
    r = directions.relevance("a red star", "a blue star")
    d = directions.direction("a red star", "a blue star", threshold=0.05)
    kept = r.abs() >= 0.05
    assert torch.equal(d != 0, kept)
    torch.testing.assert_close(d[kept], r[kept] / r[kept].abs().max() * directions.spread[kept])
    assert (directions.direction("a red star", "a blue star", threshold=2.0) == 0).all()


def test_strength_zero_changes_nothing_and_the_grid_matches_apply(directions, generator):
    start = generator.sample_latents(2, seed=4)
    still = directions.apply(start, "a red star", "a blue star", strength=0.0)
    torch.testing.assert_close(still.after, still.before)
    moved = directions.apply(start, "a red star", "a blue star", strength=2.0)
    grid = directions.strength_grid(start, "a red star", "a blue star", [0.0, 2.0])
    torch.testing.assert_close(grid[1], moved.after)
    assert moved.steps == 0


def test_effects_can_be_measured_on_given_latents(generator, guide):
    latents = 3 * generator.sample_latents(8, seed=5)
    d = GlobalDirections(generator, guide, DirectionConfig(), latents=latents)
    torch.testing.assert_close(d.spread, latents.std(0))
    with pytest.raises(ValueError, match=r"latents must be \[N >= 2, 4\], got \(1, 4\)"):
        GlobalDirections(generator, guide, DirectionConfig(), latents=latents[:1])


def test_the_text_pairs_must_match_the_images(directions, generator):
    with pytest.raises(ValueError, match="one .neutral, target. pair or one per image"):
        directions.apply(generator.sample_latents(3, 0), ["a", "b"], ["c", "d"])
