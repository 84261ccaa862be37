import pytest
import torch

from simclip.losses import SigLIPLoss, siglip_loss


def siglip_reference(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Zhai et al. Algorithm 1 written out: -sum_ij log sigmoid(z_ij (t x_i . y_j + b)) / N."""
    n = image.shape[0]
    total = torch.zeros((), dtype=image.dtype)
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            total = total - torch.log(torch.sigmoid(z * (scale * torch.dot(image[i], text[j]) + bias)))
    return total / n


def test_equals_reference_float64_with_scale_and_bias_gradients(value_and_grads, assert_same):
    torch.manual_seed(0)
    image, text = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    scale, bias = torch.tensor(3.0, dtype=torch.float64), torch.tensor(-2.0, dtype=torch.float64)
    want = value_and_grads(siglip_reference, image, text, scale, bias)
    assert_same(value_and_grads(siglip_loss, image, text, scale, bias), want, atol=1e-10)


@pytest.mark.parametrize("block_size", [None, 4, 3, 1])
def test_float32_within_1e5(block_size, value_and_grads, assert_same):
    torch.manual_seed(1)
    image = torch.nn.functional.normalize(torch.randn(8, 5, dtype=torch.float64), dim=1)
    text = torch.nn.functional.normalize(torch.randn(8, 5, dtype=torch.float64), dim=1)
    scale, bias = torch.tensor(10.0, dtype=torch.float64), torch.tensor(-10.0, dtype=torch.float64)
    want = value_and_grads(siglip_reference, image, text, scale, bias)
    got = value_and_grads(
        lambda *a: siglip_loss(*a, block_size=block_size), image.float(), text.float(), scale.float(), bias.float()
    )
    assert_same(got, want, atol=1e-5)


def test_equals_open_clip(value_and_grads, assert_same):
    from open_clip.loss import SigLipLoss

    torch.manual_seed(2)
    image = torch.nn.functional.normalize(torch.randn(12, 8), dim=1)
    text = torch.nn.functional.normalize(torch.randn(12, 8), dim=1)
    scale, bias = torch.tensor(10.0), torch.tensor(-10.0)
    want = value_and_grads(SigLipLoss(), image, text, scale, bias)
    assert_same(value_and_grads(SigLIPLoss(), image, text, scale, bias), want, atol=1e-5)


def test_float_scale_and_bias():
    torch.manual_seed(3)
    image, text = torch.randn(5, 4), torch.randn(5, 4)
    got = siglip_loss(image, text, 2.0, -1.0)
    assert torch.allclose(got, siglip_reference(image.double(), text.double(), 2.0, -1.0).float(), atol=1e-5)


@pytest.mark.parametrize(
    "image, text, scale, bias, error, match",
    [
        (torch.randn(4, 3), torch.randn(4, 2), 1.0, 0.0, ValueError, "same shape"),
        (torch.randn(4, 3), torch.randn(4, 3), 1.0, torch.zeros(3), ValueError, "logit_bias must be a scalar"),
        (torch.randn(4, 3), torch.randn(4, 3), None, 0.0, TypeError, "logit_scale"),
        (torch.randn(0, 3), torch.randn(0, 3), 1.0, 0.0, ValueError, "image_features must not be empty"),
    ],
)
def test_bad_inputs(image, text, scale, bias, error, match):
    with pytest.raises(error, match=match):
        siglip_loss(image, text, scale, bias)
