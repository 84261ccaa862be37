"""Geometric augmentations: random resized crop, horizontal flip, rotation by multiples of 90
and by small angles.

SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations", Sec. 3 and Appendix A) crops a random region of random area and aspect ratio,
resizes it to the output size and flips it horizontally with probability 0.5. Rotation is one of
the operators of its Figure 4 ablation, not of the training policy.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.augment.base import RandomOp
from simclip.augment.batch import check_size
from simclip.augment.sampling import check_range, randint_inclusive, uniform


def sample_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None,
    attempts: int = 10,
) -> Tensor:
    """Draw one crop box per sample, as torchvision's ``RandomResizedCrop`` does for one image.

    Each sample tries ``attempts`` (area fraction ~ U(scale), log aspect ~ U(log ratio)) pairs
    and keeps the first whose rounded box fits; a sample with no fitting try gets the central
    crop of the image with its aspect clamped into ``ratio``. The offset is uniform over the
    positions where the box fits.

    Returns:
        ``int64`` ``Tensor[batch, 4]`` of ``(top, left, height, width)`` on the CPU.
    """
    area = float(height * width)
    target = uniform((batch, attempts), scale[0], scale[1], generator).double() * area
    aspect = uniform((batch, attempts), math.log(ratio[0]), math.log(ratio[1]), generator).double().exp()
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)

    in_ratio = width / height
    if in_ratio < ratio[0]:
        fw, fh = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        fw, fh = int(round(height * ratio[1])), height
    else:
        fw, fh = width, height
    found = fits.any(dim=1)
    w = torch.where(found, w, float(fw)).to(torch.int64)
    h = torch.where(found, h, float(fh)).to(torch.int64)
    top = randint_inclusive(height - h, generator)
    left = randint_inclusive(width - w, generator)
    top = torch.where(found, top, (height - fh) // 2)
    left = torch.where(found, left, (width - fw) // 2)
    return torch.stack([top, left, h, w], dim=1)


def _pixel_centres(n: int, device: torch.device) -> Tensor:
    """Centres of ``n`` pixels in normalised ``[-1, 1]`` coordinates (``align_corners=False``)."""
    return (torch.arange(n, device=device, dtype=torch.float32) * 2 + 1) / n - 1


def resized_crop(x: Tensor, boxes: Tensor, size: tuple[int, int], mirror: Tensor | None = None) -> Tensor:
    """Crop a different box from each sample and resize it bilinearly, in one ``grid_sample``.

    Output pixel centres are mapped onto the box with ``align_corners=False`` semantics, so a box
    covering the whole image at the input size reproduces the input exactly. Samples falling
    just outside a box are clamped to its edge pixels: the values of cropping the box and
    resizing the crop (torchvision's ``resized_crop``). Downscaling is not antialiased.

    Args:
        x: ``float32`` ``Tensor[B, C, H, W]``.
        boxes: ``Tensor[B, 4]`` of ``(top, left, height, width)`` in pixels.
        size: output ``(height, width)``.
        mirror: optional ``bool Tensor[B]``: those samples come out flipped left-right (their
            grid read right to left: the values of ``.flip(-1)`` without another pass).

    Returns:
        ``Tensor[B, C, size[0], size[1]]``.
    """
    b, _, height, width = x.shape
    top, left, h, w = boxes.to(device=x.device, dtype=torch.float32).unbind(1)
    # The map is a per-sample scale and shift along each axis, so the grid is an outer sum of
    # two 1-D coordinate sets; F.affine_grid would spend a batched matmul on it.
    centres_y = _pixel_centres(size[0], x.device)
    centres_x = _pixel_centres(size[1], x.device)
    grid_y = torch.addcmul(((2 * top + h) / height - 1).unsqueeze(1), (h / height).unsqueeze(1), centres_y)
    grid_x = torch.addcmul(((2 * left + w) / width - 1).unsqueeze(1), (w / width).unsqueeze(1), centres_x)
    # clamp to the centres of the box's first and last pixels
    grid_y = grid_y.clamp_(((2 * top + 1) / height - 1).unsqueeze(1), ((2 * (top + h) - 1) / height - 1).unsqueeze(1))
    grid_x = grid_x.clamp_(((2 * left + 1) / width - 1).unsqueeze(1), ((2 * (left + w) - 1) / width - 1).unsqueeze(1))
    if mirror is not None and bool(mirror.any()):
        flipped = mirror.to(x.device).unsqueeze(1)
        grid_x = torch.where(flipped, grid_x.flip(1), grid_x)
    grid = torch.empty(b, size[0], size[1], 2, device=x.device, dtype=grid_x.dtype)
    grid[..., 0] = grid_x.unsqueeze(1)  # broadcast copies: a third of torch.stack's time on the CPU
    grid[..., 1] = grid_y.unsqueeze(2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resized_crop_uint8(
    x: Tensor, boxes: Tensor, size: tuple[int, int], mirror: Tensor | None = None, sources: Tensor | None = None
) -> Tensor:
    """:func:`resized_crop` of ``uint8`` images on the CPU, by torch's 8-bit bilinear resampling of
    each crop: the same sampling positions, the values rounded to 8 bits (within one gray level of
    :func:`resized_crop` of ``x / 255``), and only the ``size`` pixels of the output ever made
    float, at about half the time of sampling a float image.

    Args:
        x: ``uint8`` ``Tensor[N, C, H, W]`` on the CPU.
        boxes: ``Tensor[B, 4]`` of ``(top, left, height, width)`` in pixels.
        size: output ``(height, width)``.
        mirror: optional ``bool Tensor[B]``: those samples come out flipped left-right.
        sources: optional ``int64 Tensor[B]``: sample ``k`` crops image ``sources[k]`` of ``x``
            (default: image ``k``).

    Returns:
        ``float32`` ``Tensor[B, C, size[0], size[1]]`` in ``[0, 1]``.
    """
    out = torch.empty(boxes.shape[0], x.shape[1], *size)
    flipped = [False] * boxes.shape[0] if mirror is None else mirror.tolist()
    images = range(boxes.shape[0]) if sources is None else sources.tolist()
    for k, ((top, left, h, w), image) in enumerate(zip(boxes.tolist(), images)):
        crop = x[image : image + 1, :, top : top + h, left : left + w]
        try:
            y = F.interpolate(crop, size=size, mode="bilinear", align_corners=False, antialias=False)[0]
        except (RuntimeError, NotImplementedError):  # a torch without 8-bit bilinear resampling
            y = F.interpolate(crop.float(), size=size, mode="bilinear", align_corners=False)[0].round_()
        out[k].copy_(y.flip(-1) if flipped[k] else y)
    return out.div_(255.0)


class RandomResizedCrop(RandomOp):
    """Crop a random box per sample (area fraction in ``scale``, aspect in ``ratio``) and resize.

    Defaults are SimCLR's ImageNet values (Inception-style crop: scale ``(0.08, 1)``, ratio
    ``(3/4, 4/3)``). Always applied; the output has spatial size ``size`` (an int means a square;
    ``None`` keeps the input's size). Resizing is bilinear, as torchvision's; SimCLR's TensorFlow
    code resizes bicubically and tries up to 100 boxes instead of 10.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
    ) -> None:
        super().__init__(p=1.0)
        self.size = None if size is None else check_size(size)
        self.scale = check_range(scale, "scale", low=0.0)
        if self.scale[1] <= 0.0:
            raise ValueError(f"scale must have a positive max, got {scale!r}")
        self.ratio = check_range(ratio, "ratio", low=0.0)
        if self.ratio[0] <= 0.0:
            raise ValueError(f"ratio must be positive, got {ratio!r}")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.size if self.size is not None else (height, width)

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        boxes = sample_crop_boxes(shape[0], shape[2], shape[3], self.scale, self.ratio, generator)
        return {"boxes": boxes}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return resized_crop(x, params["boxes"], self.output_size(x.shape[2], x.shape[3]), params.get("mirror"))

    def run_uint8(self, x: Tensor, params: dict[str, Tensor], sources: Tensor) -> Tensor:
        """The crops of ``uint8`` CPU images ``x`` ``[N, C, H, W]`` (sample ``k`` from image
        ``sources[k]``, every sample cropped: ``p`` is 1) as float ``[B, C, S, S]``, by
        :func:`resized_crop_uint8`."""
        size = self.output_size(x.shape[2], x.shape[3])
        return resized_crop_uint8(x, params["boxes"], size, params.get("mirror"), sources)

    def repr_fields(self) -> dict[str, Any]:
        return {"size": self.size, "scale": self.scale, "ratio": self.ratio}


class RandomHorizontalFlip(RandomOp):
    """Mirror each sample left-right with probability ``p`` (SimCLR: 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x.flip(-1)

    def apply_row_(self, x: Tensor, params: dict[str, Tensor]) -> None:
        x.copy_(x.flip(-1))


_ROTATIONS = (90, 180, 270)


class RandomRotation90(RandomOp):
    """Rotate each sample counter-clockwise by an angle drawn uniformly from ``angles``.

    SimCLR Figure 4(f): rotation by one of {90, 180, 270} degrees. Needs square images when
    ``angles`` holds 90 or 270 (the batch keeps one shape).
    """

    def __init__(self, angles: tuple[int, ...] = _ROTATIONS, p: float = 1.0) -> None:
        super().__init__(p)
        angles = tuple(int(a) for a in angles)
        if not angles or any(a not in _ROTATIONS for a in angles):
            raise ValueError(f"angles must be a non-empty subset of {_ROTATIONS}, got {angles!r}")
        self.angles = angles

    def check_input(self, x: Tensor) -> None:
        if x.shape[2] != x.shape[3] and (90 in self.angles or 270 in self.angles):
            raise ValueError(
                f"RandomRotation90 with angles {self.angles} needs square images, got H={x.shape[2]}, "
                f"W={x.shape[3]}; use angles=(180,) or crop to a square first"
            )

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        choice = torch.randint(len(self.angles), (shape[0],), generator=generator)
        quarter_turns = torch.tensor([a // 90 for a in self.angles])[choice]
        return {"quarter_turns": quarter_turns}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        b, c, h, w = x.shape
        # One gather for the whole batch: row k of `sources` lists, for each output pixel, the
        # input pixel that rot90 by k quarter turns puts there.
        flat = torch.arange(h * w, device=x.device).view(h, w)
        sources = torch.stack([torch.rot90(flat, k, dims=(0, 1)).reshape(-1) for k in range(4)])
        index = sources[params["quarter_turns"]].unsqueeze(1).expand(b, c, h * w)
        return x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)

    def repr_fields(self) -> dict[str, Any]:
        return {"angles": self.angles, "p": self.p}


class RandomRotation(RandomOp):
    """Rotate each sample counter-clockwise about its centre by an angle drawn uniformly from
    ``degrees`` (a number d means ``(-d, d)``), bilinear, filling uncovered pixels with 0.

    The same transform as torchvision's ``RandomRotation(degrees, fill=0)`` (and lightly's
    ``rr_degrees``), but with an angle per sample. Not one of SimCLR's ten operators: small
    rotations are the invariance that handwriting (MNIST's slant) asks for, where the 90-degree
    ones would turn a 6 into a 9.
    """

    def __init__(self, degrees: float | tuple[float, float] = 15.0, p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(degrees, (int, float)) and not isinstance(degrees, bool):
            if degrees < 0:
                raise ValueError(f"degrees must be >= 0 when a single number, got {degrees!r}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = check_range(degrees, "degrees")

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        return {"angles": uniform(shape[0], self.degrees[0], self.degrees[1], generator)}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        b, _, h, w = x.shape
        radians = params["angles"].to(device=x.device, dtype=torch.float32) * (math.pi / 180.0)
        cos, sin = radians.cos(), radians.sin()
        # Output pixel p (pixel units about the centre, y down) samples the input at R(theta) p,
        # which turns the image by theta counter-clockwise on screen; affine_grid wants that map
        # in coordinates normalised by the half-width and half-height.
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        grid = F.affine_grid(theta, [b, x.shape[1], h, w], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def repr_fields(self) -> dict[str, Any]:
        return {"degrees": self.degrees, "p": self.p}
