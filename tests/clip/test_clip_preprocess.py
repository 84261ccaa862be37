"""Preprocessing equals OpenCLIP's/OpenAI's transform on PIL images; the tensor version is close."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from simclip.clip import ImagePreprocess, PreprocessConfig, create_model, preprocess_tensor


def _image(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    # smooth content (a gradient plus noise) so bicubic resizing differences stay small
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1) * 200
    arr = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr).convert(mode)


@pytest.mark.parametrize("size, mode", [((320, 240), "RGB"), ((200, 500), "RGB"), ((300, 300), "L"),
                                        ((100, 80), "RGBA")])
def test_equals_open_clip_transform(size, mode):
    image = _image(*size, mode=mode)
    ours = ImagePreprocess(PreprocessConfig(image_size=224))(image)
    ref = open_clip.image_transform(224, is_train=False)(image)
    assert ours.shape == (3, 224, 224)
    assert torch.equal(ours, ref)


def test_squash_mode_equals_open_clip():
    image = _image(320, 240)
    cfg = PreprocessConfig(image_size=64, mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="bilinear",
                           resize_mode="squash")
    ref = open_clip.image_transform(64, is_train=False, mean=cfg.mean, std=cfg.std,
                                    interpolation="bilinear", resize_mode="squash")(image)
    assert torch.equal(ImagePreprocess(cfg)(image), ref)


def test_one_channel_model():
    preprocess = ImagePreprocess(create_model("small-cnn-28").preprocess_cfg)
    out = preprocess.batch([_image(28, 28), _image(40, 30, mode="L")])
    assert out.shape == (2, 1, 28, 28)
    grey = np.asarray(_image(28, 28).convert("L"), dtype=np.float32) / 255
    assert torch.allclose(out[0, 0], (torch.from_numpy(grey) - 0.1307) / 0.3081, atol=1e-6)


def test_tensor_version_close_to_pil():
    cfg = PreprocessConfig(image_size=96)
    images = [_image(160, 120, seed=s) for s in range(3)]
    pil = ImagePreprocess(cfg).batch(images)
    batch = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in images])
    from_uint8 = preprocess_tensor(batch, cfg)
    from_float = preprocess_tensor(batch.float() / 255, cfg)
    assert from_uint8.shape == pil.shape == (3, 3, 96, 96)
    # within a few grey levels (PIL and torch resample slightly differently), in normalised units
    assert (from_uint8 - pil).abs().mean() < 0.02 and (from_uint8 - pil).abs().max() < 0.2
    assert (from_float - from_uint8).abs().max() < 0.05


def test_tensor_channel_conversion_and_errors():
    cfg_grey = PreprocessConfig(image_size=8, mean=(0.0,), std=(1.0,))
    rgb = torch.rand(2, 3, 8, 8)
    luma = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert torch.allclose(preprocess_tensor(rgb, cfg_grey)[:, 0], luma, atol=1e-6)
    grey = torch.rand(2, 1, 8, 8)
    out = preprocess_tensor(grey, PreprocessConfig(image_size=8, mean=(0,) * 3, std=(1,) * 3))
    assert out.shape == (2, 3, 8, 8) and torch.allclose(out[:, 2], grey[:, 0])
    with pytest.raises(ValueError, match="2 channels"):
        preprocess_tensor(torch.rand(1, 2, 8, 8), cfg_grey)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        preprocess_tensor(torch.rand(3, 8, 8), cfg_grey)
    with pytest.raises(TypeError, match="PIL"):
        ImagePreprocess(cfg_grey)(torch.rand(1, 8, 8))
