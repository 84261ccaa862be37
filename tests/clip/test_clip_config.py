"""Config validation names the offending field."""

import pytest

from simclip.clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig, PreprocessConfig


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="mlp"), "vision.kind"),
    (dict(image_size=0), "vision.image_size"),
    (dict(image_size=30, patch_size=16), "multiple of vision.patch_size"),
    (dict(width=100, head_width=64), "vision.width"),
    (dict(kind="resnet", layers=(1, 2)), "four positive block counts"),
    (dict(kind="resnet", layers=(1, 1, 1, 1), image_size=100), "multiple of 32"),
    (dict(kind="encoder"), "vision.encoder"),
])
def test_vision_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CLIPVisionConfig(**kwargs)


def test_text_and_preprocess_validation():
    with pytest.raises(ValueError, match="text.width"):
        CLIPTextConfig(width=100, heads=3)
    with pytest.raises(ValueError, match="text.vocab_size"):
        CLIPTextConfig(vocab_size=-1)
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessConfig(interpolation="lanczos")
    with pytest.raises(ValueError, match="resize_mode"):
        PreprocessConfig(resize_mode="longest")
    with pytest.raises(ValueError, match="one value per channel"):
        PreprocessConfig(mean=(0.5,), std=(0.5, 0.5))


def test_channels_must_match_normalisation():
    with pytest.raises(ValueError, match="in_channels is 1"):
        CLIPConfig(vision=CLIPVisionConfig(in_channels=1))


def test_resnet_heads_and_round_trip():
    cfg = CLIPConfig(embed_dim=64, vision={"kind": "resnet", "layers": [1, 1, 1, 1], "width": 32,
                                           "image_size": 64}, logit_bias=True)
    assert cfg.vision.layers == (1, 1, 1, 1) and cfg.vision.heads == 16
    assert CLIPConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown field"):
        CLIPConfig.from_dict({**cfg.to_dict(), "extra": 1})
