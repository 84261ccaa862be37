"""simclip's own checkpoints carry their config, so they load exactly with no hints."""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import save_file

from simclip.clip import checkpoint_metadata, create_model, load, save


@pytest.mark.parametrize("name, suffix", [("tiny-vit", ".safetensors"), ("small-cnn-28", ".pt")])
def test_save_then_load_is_exact(name, suffix, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, quick_gelu=True, logit_bias=True).eval()
    path = save(model, tmp_path / f"model{suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the activation is known from the file
        loaded, preprocess = load(path)
    assert loaded.config == model.config
    assert preprocess.cfg == model.preprocess_cfg
    v = model.config.vision
    images = torch.randn(2, v.in_channels, v.image_size, v.image_size)
    tokens = torch.randint(0, 49407, (2, model.config.text.context_length))
    tokens[:, -1] = 49407
    with torch.no_grad():
        for a, b in zip(model(images, tokens), loaded(images, tokens)):
            assert torch.equal(a, b)
    assert torch.equal(loaded.logit_bias, model.logit_bias)


def test_training_checkpoint_with_metadata(tmp_path):
    # how a training loop can write self-describing weights with safetensors directly
    model = create_model("tiny-vit")
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp_path / "step.safetensors"), metadata=checkpoint_metadata(model.config))
    loaded, _ = load(tmp_path / "step.safetensors")
    assert loaded.config == model.config


def test_invalid_stored_config_is_named(tmp_path):
    model = create_model("tiny-vit")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "bad.safetensors"),
              metadata={"clip_config": '{"embed_dim": 128, "bogus": 1}'})
    with pytest.raises(ValueError, match="bad.safetensors.*invalid.*bogus"):
        load(tmp_path / "bad.safetensors")
