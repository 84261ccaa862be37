"""embed_video / mean_pool: CLIP4Clip's meanP formula against a float64 loop."""

import pytest
import torch

from simclip.clip import ImagePreprocess, preprocess_tensor
from simclip.video import embed_video, mean_pool, sample_frames

from .colour_model import ColourModel


def _naive_pool(features, weights):
    pooled = torch.zeros(features.shape[1], dtype=torch.float64)
    for f, w in zip(features.double(), weights):
        pooled += w * f / f.norm()
    pooled /= sum(weights)
    return pooled / pooled.norm()


def test_mean_pool_matches_the_formula():
    features = torch.randn(7, 16, generator=torch.Generator().manual_seed(0)) * 3
    weights = [0.5, 1.0, 0.0, 2.0, 1.0, 0.25, 3.0]
    assert torch.allclose(mean_pool(features).double(), _naive_pool(features, [1.0] * 7), atol=1e-6)
    assert torch.allclose(mean_pool(features, weights).double(), _naive_pool(features, weights), atol=1e-6)
    one_hot = [0.0] * 7
    one_hot[3] = 1.0
    assert torch.allclose(mean_pool(features, one_hot), features[3] / features[3].norm(), atol=1e-6)


def test_embed_video_is_mean_of_frame_embeddings(video_dir):
    model = ColourModel(gain=2.0)
    frames = sample_frames(video_dir / "shapes" / "red_square.mp4", 8)
    got = embed_video(model, frames, batch_size=3)  # batches of 3 must not change the result
    per_frame = model.encode_image(preprocess_tensor(frames, model.preprocess_cfg)).detach()
    assert torch.allclose(got.double(), _naive_pool(per_frame, [1.0] * 8), atol=1e-6)
    assert got.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert got.argmax() == 0  # red


def test_weights_and_pil_preprocess(video_dir):
    model = ColourModel()
    frames = sample_frames(video_dir / "clock.mp4", 4)
    first = embed_video(model, frames, weights=[1, 0, 0, 0])
    assert torch.allclose(first, embed_video(model, frames[:1]), atol=1e-6)
    by_pil = embed_video(model, frames, preprocess=ImagePreprocess(model.preprocess_cfg))
    assert torch.allclose(by_pil, embed_video(model, frames), atol=1e-3)


@pytest.mark.parametrize("weights, match", [([1.0, 2.0], "one value per frame"),
                                            ([-1.0, 1.0, 1.0], "non-negative"),
                                            ([0.0, 0.0, 0.0], "not all zero")])
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        mean_pool(torch.randn(3, 4), weights)


def test_bad_frames():
    with pytest.raises(ValueError, match="frames must be uint8"):
        embed_video(ColourModel(), torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="T >= 1"):
        embed_video(ColourModel(), torch.zeros(0, 3, 32, 32, dtype=torch.uint8))
