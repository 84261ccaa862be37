import math

import pytest
import torch

from simclip.losses import CLIPLoss, clip_loss


def clip_reference(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Radford et al. Figure 3 written out: image->text and text->image cross-entropy, averaged."""
    n = image.shape[0]
    logit = [[scale * torch.dot(image[i], text[j]) for j in range(n)] for i in range(n)]
    image_to_text = sum(-logit[i][i] + torch.log(sum(torch.exp(logit[i][j]) for j in range(n))) for i in range(n))
    text_to_image = sum(-logit[j][j] + torch.log(sum(torch.exp(logit[i][j]) for i in range(n))) for j in range(n))
    return (image_to_text + text_to_image) / (2 * n)


def test_equals_reference_float64_with_scale_gradient(value_and_grads, assert_same):
    torch.manual_seed(0)
    image, text = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 5, dtype=torch.float64)
    scale = torch.tensor(2.5, dtype=torch.float64)
    want = value_and_grads(clip_reference, image, text, scale)
    assert_same(value_and_grads(clip_loss, image, text, scale), want, atol=1e-10)


@pytest.mark.parametrize("block_size", [None, 3, 2, 9, 100])
def test_float32_within_1e5(block_size, value_and_grads, assert_same):
    torch.manual_seed(1)
    image = torch.nn.functional.normalize(torch.randn(9, 6, dtype=torch.float64), dim=1)
    text = torch.nn.functional.normalize(torch.randn(9, 6, dtype=torch.float64), dim=1)
    scale = torch.tensor(14.0, dtype=torch.float64)
    want = value_and_grads(clip_reference, image, text, scale)
    got = value_and_grads(
        lambda i, t, s: clip_loss(i, t, s, block_size=block_size), image.float(), text.float(), scale.float()
    )
    assert_same(got, want, atol=1e-5)


def test_equals_open_clip(value_and_grads, assert_same):
    from open_clip.loss import ClipLoss

    torch.manual_seed(2)
    image = torch.nn.functional.normalize(torch.randn(16, 8), dim=1)
    text = torch.nn.functional.normalize(torch.randn(16, 8), dim=1)
    scale = torch.tensor(1 / 0.07)
    want = value_and_grads(ClipLoss(), image, text, scale)
    assert_same(value_and_grads(CLIPLoss(), image, text, scale), want, atol=1e-5)


def test_float_logit_scale_matches_tensor():
    torch.manual_seed(3)
    image, text = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.allclose(clip_loss(image, text, 3.0), clip_loss(image, text, torch.tensor([3.0])))


def test_large_scale_near_identical_features_is_finite(value_and_grads):
    torch.manual_seed(4)
    base = torch.nn.functional.normalize(torch.randn(1, 16), dim=1)
    image = base + 1e-4 * torch.randn(6, 16)
    text = base + 1e-4 * torch.randn(6, 16)
    for block_size in (None, 4):
        value, grads = value_and_grads(
            lambda i, t, s: clip_loss(i, t, s, block_size=block_size), image, text, torch.tensor(100.0)
        )
        assert torch.isfinite(value) and abs(value.item() - math.log(6)) < 0.1
        assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "image, text, scale, error, match",
    [
        (torch.randn(4, 3), torch.randn(5, 3), 1.0, ValueError, "same shape"),
        (torch.randn(4), torch.randn(4), 1.0, ValueError, "image_features must have 2 dimensions"),
        (torch.randn(4, 3), torch.ones(4, 3, dtype=torch.long), 1.0, TypeError, "text_features must be a floating"),
        (torch.randn(4, 3), torch.randn(4, 3), torch.ones(2), ValueError, "logit_scale must be a scalar"),
        (torch.randn(4, 3), torch.randn(4, 3), "x", TypeError, "logit_scale"),
        (torch.randn(4, 3), torch.randn(4, 3), float("nan"), ValueError, "logit_scale must be finite"),
        ([[1.0]], torch.randn(4, 3), 1.0, TypeError, "image_features must be a torch.Tensor"),
    ],
)
def test_bad_inputs(image, text, scale, error, match):
    with pytest.raises(error, match=match):
        clip_loss(image, text, scale)
