"""Spatial filters: Gaussian blur with a per-sample sigma, and Sobel edge magnitude.

SimCLR (Chen et al. 2020, Appendix A): "We blur the image 50% of the time using a Gaussian
kernel. We randomly sample sigma in [0.1, 2.0], and the kernel size is set to be 10% of the image
height/width." Sobel filtering is one of the operators of its Figure 4 ablation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.augment.base import RandomOp
from simclip.augment.sampling import check_range, uniform


def blur_kernel_size(height: int, width: int) -> int:
    """SimCLR's kernel size for an image: 10% of the shorter side, made odd, at least 3.

    Follows the official code: ``radius = (side // 10) // 2``, size ``2 * radius + 1``.
    """
    radius = max(1, (min(height, width) // 10) // 2)
    return 2 * radius + 1


# Taps further than this many sigmas from the centre are dropped: their weight is below e^-8 of
# the centre's and their total (about 6e-5 of the kernel) moves no pixel by more than that.
TRUNCATE_SIGMAS = 4.0


def blur_radius(sigma: Tensor, kernel_size: int) -> Tensor:
    """Each sample's kernel radius: ``ceil(4 * sigma)`` taps, at least 1, at most ``kernel_size // 2``.

    Args:
        sigma: ``Tensor[B]`` of standard deviations in pixels.
        kernel_size: odd number of taps of the widest kernel.

    Returns:
        ``int64 Tensor[B]``.
    """
    widest = max(1, kernel_size // 2)
    return torch.ceil(TRUNCATE_SIGMAS * sigma.double()).clamp_(1, widest).to(torch.int64)


def gaussian_kernels(sigma: Tensor, kernel_size: int, truncate: bool = False) -> Tensor:
    """Normalised 1-D Gaussian kernels, one per sample.

    Args:
        sigma: ``Tensor[B]`` of standard deviations in pixels, ``> 0``.
        kernel_size: odd number of taps.
        truncate: zero the taps beyond each sample's :func:`blur_radius` before normalising
            (the kernels :func:`gaussian_blur` applies).

    Returns:
        ``Tensor[B, kernel_size]`` whose rows sum to 1, on ``sigma``'s device and dtype.
    """
    radius = kernel_size // 2
    taps = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    weights = torch.exp(-0.5 * (taps / sigma.unsqueeze(1)) ** 2)
    if truncate:
        reach = blur_radius(sigma, kernel_size).to(sigma.device).unsqueeze(1)
        weights = weights * (taps.abs().unsqueeze(0) <= reach).to(weights.dtype)
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Blur each sample with its own separable Gaussian, truncated at ``ceil(4 sigma)`` taps.

    ``kernel_size`` is the widest kernel (SimCLR's 10% of the side); a sample with a smaller
    sigma uses only the taps within 4 sigma (:func:`blur_radius`), renormalised, which moves no
    pixel by more than about 1e-4 from the full kernel (``tests/augment/test_filters.py`` states
    the bound) at a fraction of the work. Borders are reflected (as torchvision), so a constant
    image stays constant; SimCLR's TensorFlow code pads with zeros, which darkens the border.

    On the CPU each sample is blurred on its own as sums of shifted slices (symmetric taps
    paired), so a sample's view does not depend on the batch around it; elsewhere one grouped
    convolution with the truncated kernels blurs the whole batch.

    Args:
        x: ``float32`` ``Tensor[B, C, H, W]`` with ``kernel_size // 2 < min(H, W)``.
        sigma: ``Tensor[B]`` of standard deviations in pixels.
        kernel_size: odd number of taps.

    Returns:
        ``Tensor[B, C, H, W]``.
    """
    if x.device.type != "cpu":
        return _grouped_blur(x, sigma, kernel_size)
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        _blur_sample(x[i : i + 1], sigma[i : i + 1], kernel_size, out=out[i])
    return out


def _blur_sample(x: Tensor, sigma: Tensor, kernel_size: int, out: Tensor) -> None:
    """Blur one sample ``x`` (``[1, C, H, W]``) into ``out`` (``[C, H, W]``; may be ``x[0]``:
    both passes read padded copies)."""
    h, w = x.shape[-2:]
    radius = int(blur_radius(sigma, kernel_size)[0])
    taps = gaussian_kernels(sigma.double(), 2 * radius + 1)[0, radius:].tolist()
    rows = _symmetric_taps(F.pad(x, (0, 0, radius, radius), mode="reflect")[0], taps, h, -2)
    _symmetric_taps(F.pad(rows.unsqueeze(0), (radius, radius, 0, 0), mode="reflect")[0], taps, w, -1, out=out)


def _grouped_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """:func:`gaussian_blur` as one grouped convolution per direction (each of the ``B * C``
    planes its own group, with its sample's truncated kernel): one call for the whole batch,
    the way for accelerators."""
    b, c, h, w = x.shape
    radius = kernel_size // 2
    kernels = gaussian_kernels(sigma.to(x.dtype), kernel_size, truncate=True).repeat_interleave(c, dim=0)
    planes = x.reshape(1, b * c, h, w)
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode="reflect"),
                      kernels.view(b * c, 1, kernel_size, 1), groups=b * c)
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="reflect"),
                      kernels.view(b * c, 1, 1, kernel_size), groups=b * c)
    return planes.view(b, c, h, w)


def _symmetric_taps(padded: Tensor, taps: list[float], length: int, dim: int,
                    out: Tensor | None = None) -> Tensor:
    """``sum_j taps[|j|] * padded[centre + j]`` along ``dim``, for ``j`` in ``-r..r``, where
    ``padded`` has ``r = len(taps) - 1`` extra entries at each end of ``dim``."""
    radius = len(taps) - 1
    centre = padded.narrow(dim, radius, length)
    result = torch.mul(centre, taps[0], out=out) if out is not None else centre * taps[0]
    for j in range(1, radius + 1):
        result.add_(padded.narrow(dim, radius - j, length), alpha=taps[j])
        result.add_(padded.narrow(dim, radius + j, length), alpha=taps[j])
    return result


class GaussianBlur(RandomOp):
    """Gaussian blur with sigma ~ U(``sigma``) per sample, applied with probability ``p``.

    Args:
        kernel_size: odd number of taps; ``None`` uses 10% of the image side
            (:func:`blur_kernel_size`), computed from each batch.
        sigma: range of the standard deviation in pixels (SimCLR: ``(0.1, 2.0)``).
        p: probability per sample (SimCLR: 0.5).
    """

    def __init__(
        self,
        kernel_size: int | None = None,
        sigma: tuple[float, float] = (0.1, 2.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        if kernel_size is not None and (
            not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0
        ):
            raise ValueError(f"kernel_size must be a positive odd int or None, got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.sigma = check_range(sigma, "sigma", low=0.0)
        if self.sigma[0] <= 0.0:
            raise ValueError(f"sigma must be positive, got {sigma!r}")

    def _size_for(self, height: int, width: int) -> int:
        return self.kernel_size if self.kernel_size is not None else blur_kernel_size(height, width)

    def check_input(self, x: Tensor) -> None:
        size = self._size_for(x.shape[2], x.shape[3])
        if size // 2 >= min(x.shape[2], x.shape[3]):
            raise ValueError(
                f"GaussianBlur kernel_size={size} is too large for images of size "
                f"{x.shape[2]}x{x.shape[3]} (reflect padding needs kernel_size // 2 < min(H, W))"
            )

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        return {"sigma": uniform(shape[0], self.sigma[0], self.sigma[1], generator)}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return gaussian_blur(x, params["sigma"], self._size_for(x.shape[2], x.shape[3]))

    def apply_row_(self, x: Tensor, params: dict[str, Tensor]) -> None:
        _blur_sample(x, params["sigma"], self._size_for(x.shape[2], x.shape[3]), out=x[0])

    def repr_fields(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "sigma": self.sigma, "p": self.p}


# A unit step edge gives a Sobel response of 4; dividing by it maps such an edge to 1.
_SOBEL_STEP = 4.0


def sobel_magnitude(x: Tensor) -> Tensor:
    """Per-channel Sobel gradient magnitude, ``sqrt(gx^2 + gy^2) / 4`` clamped to ``[0, 1]``.

    ``gx`` is the central difference along x smoothed by ``[1, 2, 1]`` along y, and ``gy`` the
    transpose (the 3x3 Sobel kernels, computed as shifted slices: a 2-output convolution of
    ``B * C`` one-channel planes is far slower on the CPU). Borders replicate the edge pixels, so
    a constant image maps to exactly 0.

    Args:
        x: ``float32`` ``Tensor[B, C, H, W]``.

    Returns:
        ``Tensor[B, C, H, W]``.
    """
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    diff_x = padded[..., 2:] - padded[..., :-2]  # [B, C, H + 2, W]
    gx = diff_x[..., 1 : h + 1, :].mul(2.0).add_(diff_x[..., :h, :]).add_(diff_x[..., 2:, :])
    diff_y = padded[..., 2:, :] - padded[..., :-2, :]  # [B, C, H, W + 2]
    gy = diff_y[..., 1 : w + 1].mul(2.0).add_(diff_y[..., :w]).add_(diff_y[..., 2:])
    return gx.square_().add_(gy.square_()).sqrt_().div_(_SOBEL_STEP).clamp_(0.0, 1.0)


class SobelFilter(RandomOp):
    """Replace each sample by its Sobel edge magnitude (SimCLR Figure 4(j)), with probability ``p``."""

    def __init__(self, p: float = 1.0) -> None:
        super().__init__(p)

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return sobel_magnitude(x)
