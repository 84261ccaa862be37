"""The recipe rule on representative data shapes, and the preset registry."""

import pytest

from simclip.recipes import DataProfile, get_preset, list_presets
from simclip.recipes.clip_presets import context_length
from simclip.train.config import ConfigError

MNIST = DataProfile(channels=1, image_size=28, n_images=60_000)
CIFAR = DataProfile(channels=3, image_size=32, n_images=50_000)
PHOTOS = DataProfile(channels=3, image_size=224, n_images=1_281_167)


def simclr(profile, name="auto"):
    return get_preset("simclr", name).build(profile).settings()


def test_one_channel_28px_short_run():
    r = simclr(DataProfile(**{**MNIST.__dict__, "epochs": 1}))
    # one epoch at batch 128 is only 468 steps: the rule halves the batch for more updates
    assert r["batch_size"] == 64 and "epochs" not in r
    assert r["model.encoder"] == "small-cnn" and r["optim.name"] == "adamw" and r["optim.lr"] == 2e-3
    assert r["objective.view_size"] == 18 and r["objective.temperature"] == 0.15
    opts = r["objective.policy_options"]
    assert r["objective.policy"] == "simclr-gray" and opts["flip_p"] == 0.0 and opts["crop_scale"] == (0.25, 1.0)
    assert opts["rotation_p"] == 0.5 and opts["blur_p"] == 0.5


def test_time_budget_lets_the_budget_end_the_run():
    r = simclr(DataProfile(**{**MNIST.__dict__, "time_budget": 120.0}))
    assert r["batch_size"] == 128 and r["epochs"] == 10_000


def test_no_run_length_plans_about_3000_steps():
    r = simclr(MNIST)
    assert r["batch_size"] == 128 and r["epochs"] == 10  # 10 x 468 steps: the 10-epoch floor
    tiny = simclr(DataProfile(channels=1, image_size=28, n_images=1437))
    assert tiny["epochs"] * (1437 // tiny["batch_size"]) >= 3000


def test_rgb_32px():
    r = simclr(CIFAR)
    assert r["model.encoder"] == "small-cnn" and r["objective.view_size"] == 32
    assert r["objective.policy"] == "simclr-cifar" and r["objective.policy_options"]["flip_p"] == 0.5
    assert r["objective.policy_options"]["jitter_strength"] == 1.0


def test_gray_content_stored_as_rgb_is_treated_as_one_channel():
    r = simclr(DataProfile(**{**CIFAR.__dict__, "gray": True}))
    assert r["objective.policy"] == "simclr-gray" and r["objective.view_size"] == 20
    assert r["objective.policy_options"]["flip_p"] == 0.0


def test_rgb_224_on_cpu_and_accelerator():
    cpu = simclr(PHOTOS)
    assert cpu["model.encoder"] == "resnet18" and cpu["objective.view_size"] == 96
    assert cpu["objective.policy"] == "simclr" and cpu["objective.policy_options"]["crop_scale"] == (0.08, 1.0)
    gpu = simclr(DataProfile(**{**PHOTOS.__dict__, "device": "cuda"}))
    assert gpu["batch_size"] == 512 and gpu["objective.view_size"] == 224
    assert "model.encoder_options" not in gpu  # the ImageNet stem on large images


def test_small_images_on_an_accelerator_use_the_cifar_stem():
    r = simclr(DataProfile(**{**CIFAR.__dict__, "device": "cuda:0"}))
    assert r["model.encoder"] == "resnet18" and r["model.encoder_options"] == {"cifar_stem": True}


def test_lars_only_for_large_batches_and_long_runs():
    long_big = simclr(DataProfile(**{**PHOTOS.__dict__, "batch_size": 4096, "epochs": 800, "device": "cuda"}))
    assert long_big["optim.name"] == "lars" and long_big["optim.lr_scaling"] == "linear"
    short_big = simclr(DataProfile(**{**PHOTOS.__dict__, "batch_size": 4096, "epochs": 10, "device": "cuda"}))
    assert short_big["optim.name"] == "adamw"
    assert short_big["optim.lr"] == pytest.approx(2e-3 * (4096 / 128) ** 0.5, rel=1e-4)


def test_named_presets_are_listed_and_unknown_names_list_them():
    names = [p.name for p in list_presets("simclr")]
    assert names[0] == "auto" and {"imagenet", "cifar", "handwriting", "small-data"} <= set(names)
    assert {p.name for p in list_presets("clip")} >= {"auto", "paper", "small"}
    with pytest.raises(ConfigError, match="handwriting"):
        get_preset("simclr", "mnist-best")


def test_clip_rule_sizes_the_towers_from_the_data():
    small = get_preset("clip", "auto").build(DataProfile(channels=1, image_size=28, n_images=10_000,
                                                         caption_tokens=21, mean=(0.1,), std=(0.3,))).settings()
    model = small["model"]
    assert model["name"] == "small-cnn-32" and model["vision"] == {"in_channels": 1, "image_size": 28}
    assert model["text"] == {"context_length": 24} and model["image_mean"] == [0.1]
    assert small["batch_size"] == 256 and small["optim.lr"] == 2e-3
    big = get_preset("clip", "auto").build(DataProfile(channels=3, image_size=224, n_images=400_000,
                                                       device="cuda", caption_tokens=60)).settings()
    assert big["model"]["name"] == "ViT-B-32" and big["batch_size"] == 1024 and big["optim.lr"] == 5e-4
    assert [context_length(t) for t in (None, 3, 17, 200)] == [16, 16, 24, 77]


def test_profile_reads_size_channels_count_statistics_and_gray_content():
    import torch

    from simclip.data.image_dataset import ImageDataset
    from simclip.recipes import profile_dataset

    g = torch.Generator().manual_seed(0)
    gray = torch.randint(0, 256, (50, 1, 24, 24), generator=g, dtype=torch.uint8)
    as_rgb = ImageDataset(images=gray.expand(-1, 3, -1, -1).contiguous(), labels=None, classes=[], name="g",
                          split="train")
    p = profile_dataset(as_rgb, epochs=3)
    assert (p.channels, p.image_size, p.n_images, p.epochs, p.gray) == (3, 24, 50, 3, True)
    assert len(p.mean) == 3 and p.mean[0] == p.mean[2]
    colour = ImageDataset(images=torch.randint(0, 256, (50, 3, 24, 24), generator=g, dtype=torch.uint8),
                          labels=None, classes=[], name="c", split="train")
    assert not profile_dataset(colour).gray
