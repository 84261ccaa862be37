"""Generator training lowers the VAE loss, saves a run that reloads to the same function, and
names the field of a bad setting."""

from __future__ import annotations

import json

import pytest
import torch

from simclip.data.shapes import render_shapes
from simclip.generate import (ConfigError, Generator, GeneratorConfig, GeneratorTrainConfig, load_generator,
                              train_generator)
from simclip.generate.train import sobel, vae_loss

from .conftest import TINY_GENERATOR


def test_training_lowers_the_loss_and_the_run_reloads(tmp_path):
    images = render_shapes("train", n=128, seed=0, image_size=16).images
    cfg = GeneratorTrainConfig(out=str(tmp_path / "g"), epochs=3, batch_size=32, generator=TINY_GENERATOR)
    model, metrics = train_generator(cfg, images, log=None)
    history = [json.loads(line) for line in (tmp_path / "g" / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3] and metrics == history[-1]
    assert history[-1]["loss"] < history[0]["loss"]
    loaded = load_generator(tmp_path / "g")
    z = torch.randn(4, TINY_GENERATOR.latent_dim)
    torch.testing.assert_close(loaded.decode(z), model.decode(z), atol=0, rtol=0)
    bank = loaded.latent_bank  # seeds draw from the training images' latents, saved with the run
    assert bank.shape == (128, TINY_GENERATOR.latent_dim)
    with torch.no_grad():
        means = model.encode(images)[0]
    assert torch.cdist(bank, means).min(1).values.max() < 1e-3  # each is some training image's
    draws = loaded.sample_latents(5, seed=1)
    assert torch.equal(draws, loaded.sample_latents(5, seed=1))
    assert (draws[:, None] == bank[None]).all(-1).any(1).all()  # rows of the bank


def test_vae_loss_matches_its_definition():
    x, r = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    mean, log_var = torch.randn(2, 5), torch.randn(2, 5)
    loss, rec, kl = vae_loss(x, r, mean, log_var, beta=2.0)
    want_rec = sum(float(((x[i] - r[i]) ** 2).sum()) / 0.02 for i in range(2)) / 2
    want_kl = sum(float(0.5 * (mean[i] ** 2 + log_var[i].exp() - 1 - log_var[i]).sum()) for i in range(2)) / 2
    assert float(rec) == pytest.approx(want_rec, rel=1e-5) and float(kl) == pytest.approx(want_kl, rel=1e-5)
    assert float(loss) == pytest.approx(want_rec + 2 * want_kl, rel=1e-5)


def test_the_edge_term_sees_a_blurred_outline_and_not_a_flat_shift():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 2:6, 2:6] = 1.0
    mean, log_var = torch.zeros(1, 2), torch.zeros(1, 2)
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    shifted = x + 0.1  # the same outline, another brightness
    assert sobel(x).shape == (1, 2, 8, 8) and float(sobel(shifted - x).abs().max()) < 1e-6

    def edge(r):
        return float(vae_loss(x, r, mean, log_var, 0.0, 1.0)[1] - vae_loss(x, r, mean, log_var, 0.0)[1])

    assert edge(shifted) == pytest.approx(0.0, abs=1e-4) and edge(blurred) > 1.0


def test_encode_and_decode_check_shapes():
    model = Generator(TINY_GENERATOR)
    with pytest.raises(ValueError, match=r"images must be \[B, 3, 16, 16\], got \(1, 3, 32, 32\)"):
        model.encode(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"latents must be \[B, 4\]"):
        model.decode(torch.zeros(1, 5))
    assert torch.equal(model.sample_latents(2, seed=3), model.sample_latents(2, seed=3))


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 24}, "generator.image_size must be a power of two >= 16, got 24"),
    ({"channels": 2}, "generator.channels must be 1 or 3, got 2"),
    ({"latent_dim": 0}, "generator.latent_dim must be an int > 0, got 0"),
])
def test_bad_generator_settings_name_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GeneratorConfig(**kwargs)


def test_a_config_with_an_unknown_field_is_refused():
    with pytest.raises(ConfigError, match="unknown generator train config field.s.: wdith"):
        GeneratorTrainConfig.from_dict({"wdith": 3})


def test_images_of_the_wrong_size_are_refused(tmp_path):
    cfg = GeneratorTrainConfig(out=str(tmp_path / "g"), epochs=1, generator=TINY_GENERATOR)
    with pytest.raises(ConfigError, match=r"has images \(3, 32, 32\)"):
        train_generator(cfg, render_shapes("train", n=8, seed=0).images, log=None)


def test_a_missing_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a generator run: config.json is missing"):
        load_generator(tmp_path)


def test_split_all_trains_on_the_train_and_test_images():
    from simclip.data.shapes import HELD_OUT_PAIRS
    from simclip.generate.train import training_images

    train = training_images("shapes?n=12", "train")
    both = training_images("shapes?n=12", "all")
    assert train.dtype == torch.uint8 and train.shape == (12, 3, 32, 32)
    assert both.shape == (24, 3, 32, 32) and torch.equal(both[:12], train)
    assert torch.equal(both[12:], training_images("shapes?n=12", "test"))
    assert len(HELD_OUT_PAIRS) == 10  # what "all" adds for the built-in shapes
    assert training_images("shapes?n=4", "train", image_size=16).shape == (4, 3, 16, 16)
    with pytest.raises(ConfigError, match="split"):
        training_images("shapes?n=4", "val")
    with pytest.raises(ConfigError, match="train.split"):
        GeneratorTrainConfig(split="everything")
