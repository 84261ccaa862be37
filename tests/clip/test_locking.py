"""Locked towers (LiT): frozen parts leave the optimiser, stay in eval mode and stay bit-identical
through training steps of the one loop; the recipe's ``lock_image``/``lock_text`` options apply them."""

from __future__ import annotations

import pytest
import torch

from simclip.clip import CLIP, CLIPConfig, create_model
from simclip.clip.locking import text_groups, vision_groups
from simclip.data import CaptionDataset
from simclip.recipes.clip import build_clip, build_model, clip_config
from simclip.train import OptimConfig, build_optimizer, train
from simclip.train.config import ConfigError

TINY_RESNET = CLIPConfig(embed_dim=16, vision={"kind": "resnet", "layers": [1, 1, 1, 1], "width": 8,
                                               "image_size": 32, "head_width": 8},
                         text={"context_length": 8, "width": 16, "heads": 2, "layers": 1})


def _trainable(module: torch.nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if p.requires_grad}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("model", ["tiny-vit", "small-cnn-28", TINY_RESNET],
                         ids=["vit", "encoder", "resnet"])
def test_locking_all_groups_freezes_every_image_parameter(model):
    model = create_model(model)
    model.lock_image_tower()
    assert _trainable(model.visual) == set()
    assert _trainable(model.text) == {n for n, _ in model.text.named_parameters()}
    assert "logit_scale" in _trainable(model)
    model.lock_image_tower(len(vision_groups(model.visual)))  # every group unlocked again
    assert _trainable(model.visual) == {n for n, _ in model.visual.named_parameters()}


def test_unlocked_groups_count_from_the_output():
    model = create_model("tiny-vit")
    model.lock_image_tower(unlocked_groups=1)
    assert _trainable(model.visual) == {"ln_post.weight", "ln_post.bias", "proj"}
    model.lock_image_tower(unlocked_groups=2)
    last = len(model.visual.transformer.resblocks) - 1
    assert {n.split(".")[2] for n in _trainable(model.visual) if n.startswith("transformer.")} == {str(last)}
    model.lock_text_tower(unlocked_layers=1)
    assert _trainable(model.text) == {"ln_final.weight", "ln_final.bias", "text_projection"}
    model.lock_text_tower()  # the config's text.unlocked_layers, 0
    assert _trainable(model.text) == set()
    assert len(text_groups(model.text)) == model.config.text.layers + 2


@pytest.mark.parametrize("bad", [-1, 9, 1.5, True])
def test_bad_group_counts_are_named(bad):
    model = create_model("tiny-vit")
    with pytest.raises(ValueError, match=r"unlocked_groups must be an integer in \[0, 8\]"):
        model.lock_image_tower(bad)


def test_locked_parts_stay_in_eval_mode():
    model = create_model("small-cnn-28")
    model.lock_image_tower()
    model.train()
    assert not any(m.training for m in model.visual.modules())
    assert all(m.training for m in model.text.modules())
    model.eval().train()
    assert not model.visual.training and model.text.training


def test_optimizer_skips_frozen_parameters():
    model = create_model("small-cnn-28")
    model.lock_text_tower()
    optimizer = build_optimizer(model, OptimConfig(name="adamw", lr=1e-3))
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in in_optimizer for p in model.text.parameters())
    assert all(id(p) in in_optimizer for p in model.visual.parameters())


def _tiny_captions(n: int = 32) -> CaptionDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 4
    words = ["zero", "one", "two", "three"]
    return CaptionDataset(images=images, captions=[[f"a handwritten {words[y]}"] for y in labels.tolist()],
                          name="tiny", split="train", labels=labels, classes=words)


@pytest.mark.parametrize("lock", ["lock_image", "lock_text"])
def test_frozen_tower_is_bit_identical_after_training(lock, tmp_path):
    torch.manual_seed(0)
    data = _tiny_captions()
    cfg = clip_config(out=str(tmp_path), data="tiny", model={"name": "small-cnn-28", lock: True},
                      batch_size=16, epochs=1, progress=False, eval_protocols=(), precision="fp32")
    model, objective = build_clip(cfg, data)
    frozen, trained = (model.visual, model.text) if lock == "lock_image" else (model.text, model.visual)
    before_frozen, before_trained = _state(frozen), _state(trained)
    result = train(cfg, model, objective, data)
    assert result["steps"] == 2
    after = frozen.state_dict()
    assert all(torch.equal(before_frozen[k], after[k]) for k in before_frozen)  # BN statistics too
    changed = [k for k, v in trained.state_dict().items() if not torch.equal(before_trained[k], v)]
    assert changed  # the other tower did learn


def test_recipe_lock_options():
    model = build_model({"name": "tiny-vit", "lock_image": True, "lock_text": False})
    assert isinstance(model, CLIP) and _trainable(model.visual) == set() and _trainable(model.text)
    config = create_model("tiny-vit").config.to_dict()
    model = build_model({"config": config, "lock_text": True})
    assert _trainable(model.text) == set() and _trainable(model.visual)
    with pytest.raises(ConfigError, match="model.lock_image must be true or false"):
        build_model({"name": "tiny-vit", "lock_image": "yes"})
