"""Gaussian blur and Sobel filtering: defining properties, torchvision and float64 references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from simclip.augment import GaussianBlur, SobelFilter, gaussian_blur, sobel_magnitude
from simclip.augment.filters import _grouped_blur, blur_kernel_size, blur_radius, gaussian_kernels
from tests.augment.conftest import seeded


def test_blur_keeps_a_constant_image_constant():
    x = torch.full((4, 3, 20, 20), 0.37)
    out = GaussianBlur(p=1.0)(x, generator=seeded(0))
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


def test_blur_roughly_preserves_the_mean_and_lowers_the_variance():
    x = torch.rand(8, 3, 40, 40, generator=seeded(1))
    out = GaussianBlur(sigma=(1.5, 2.0), p=1.0)(x, generator=seeded(2))
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=5e-3, rtol=0)
    assert bool((out.std(dim=(1, 2, 3)) < 0.6 * x.std(dim=(1, 2, 3))).all())


def test_blur_matches_torchvision_with_each_samples_sigma():
    x = torch.rand(5, 3, 30, 30, generator=seeded(3))
    sigma = torch.tensor([0.1, 0.5, 1.0, 1.7, 2.0])
    out = gaussian_blur(x, sigma, 5)
    reference = torch.stack([TF.gaussian_blur(x[i], [5, 5], [float(s), float(s)]) for i, s in enumerate(sigma)])
    torch.testing.assert_close(out, reference, atol=1e-6, rtol=0)


def test_blur_kernel_is_ten_percent_of_the_side_and_odd():
    assert blur_kernel_size(224, 224) == 23  # SimCLR's ImageNet blur: radius 11
    assert blur_kernel_size(100, 120) == 11
    assert blur_kernel_size(32, 32) == 3
    assert blur_kernel_size(8, 8) == 3


def test_blur_probability_gates_whole_samples():
    x = torch.rand(64, 1, 12, 12, generator=seeded(4))
    out = GaussianBlur(p=0.5)(x, generator=seeded(5))
    kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(64)])
    assert 16 < int(kept.sum()) < 48


def test_blur_rejects_kernel_larger_than_image_and_even_kernels():
    with pytest.raises(ValueError, match="too large"):
        GaussianBlur(kernel_size=9, p=1.0)(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="odd"):
        GaussianBlur(kernel_size=4)


def test_sobel_of_a_constant_image_is_zero():
    x = torch.full((3, 3, 9, 7), 0.8)
    assert torch.equal(SobelFilter()(x, generator=seeded(0)), torch.zeros_like(x))


def test_sobel_matches_float64_convolution_reference():
    x = torch.rand(3, 2, 11, 8, generator=seeded(6))
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
    weight = torch.stack([kx, kx.T]).unsqueeze(1)
    padded = F.pad(x.double().reshape(6, 1, 11, 8), (1, 1, 1, 1), mode="replicate")
    grad = F.conv2d(padded, weight)
    reference = (grad.square().sum(dim=1).sqrt() / 4).clamp(0, 1).view(3, 2, 11, 8)
    torch.testing.assert_close(sobel_magnitude(x).double(), reference, atol=1e-6, rtol=0)


def test_sobel_marks_a_step_edge_and_nothing_else():
    x = torch.zeros(1, 1, 6, 8)
    x[..., 4:] = 1.0
    out = sobel_magnitude(x)[0, 0]
    assert torch.equal(out[:, 3:5], torch.ones(6, 2))  # the two columns beside the step
    assert torch.equal(out[:, :3], torch.zeros(6, 3)) and torch.equal(out[:, 5:], torch.zeros(6, 3))


def test_blur_of_a_batch_in_pieces_equals_each_sample_blurred_alone():
    x = torch.rand(9, 3, 12, 12, generator=seeded(31))
    sigma = torch.linspace(0.2, 2.0, 9)
    out = gaussian_blur(x, sigma, 5)
    for i in range(9):
        torch.testing.assert_close(out[i : i + 1], gaussian_blur(x[i : i + 1], sigma[i : i + 1], 5), rtol=0, atol=1e-7)
    assert not torch.allclose(out, x, atol=1e-3)  # a blur, not the identity


def _full_kernel_blur_float64(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Naive reference: every sample convolved with its untruncated kernel, in float64."""
    radius = kernel_size // 2
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    out = []
    for i in range(x.shape[0]):
        k = torch.exp(-0.5 * (taps / float(sigma[i])) ** 2)
        k = k / k.sum()
        planes = x[i].double().unsqueeze(1)
        planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
        planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
        out.append(planes[:, 0])
    return torch.stack(out)


def test_truncated_blur_stays_within_1e_4_of_the_full_kernel_on_the_worst_images():
    # Hard step edges and checkerboards put the most weight on the dropped tails.
    x = torch.zeros(6, 3, 40, 40)
    x[:, :, :, 20:] = 1.0
    x[3:, :, ::2, ::2] = 1.0 - x[3:, :, ::2, ::2]
    sigma = torch.tensor([0.1, 0.7, 1.3, 2.0, 1.99, 0.26])
    out = gaussian_blur(x, sigma, blur_kernel_size(224, 224))
    reference = _full_kernel_blur_float64(x, sigma, 23)
    torch.testing.assert_close(out.double(), reference, atol=1e-4, rtol=0)


def test_truncation_radius_is_four_sigma_within_the_kernel():
    radius = blur_radius(torch.tensor([0.1, 0.25, 0.26, 1.0, 2.0, 5.0]), 23)
    assert radius.tolist() == [1, 1, 2, 4, 8, 11]
    kernels = gaussian_kernels(torch.tensor([1.0, 2.0]), 23, truncate=True)
    assert int((kernels[0] > 0).sum()) == 9 and int((kernels[1] > 0).sum()) == 17
    torch.testing.assert_close(kernels.sum(dim=1), torch.ones(2))


def test_grouped_convolution_blur_equals_the_per_sample_blur():
    # the accelerator path, run here on the CPU
    x = torch.rand(5, 3, 30, 30, generator=seeded(32))
    sigma = torch.tensor([0.1, 0.6, 1.1, 1.6, 2.0])
    torch.testing.assert_close(_grouped_blur(x, sigma, 7), gaussian_blur(x, sigma, 7), atol=1e-6, rtol=0)
