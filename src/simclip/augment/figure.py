"""SimCLR's Figure 4 ("Illustrations of the studied data augmentation operators") for any image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.augment.batch import as_float_batch
from simclip.augment.compose import Compose
from simclip.augment.cutout import Cutout
from simclip.augment.filters import GaussianBlur, SobelFilter
from simclip.augment.geometric import RandomHorizontalFlip, RandomResizedCrop, RandomRotation90
from simclip.augment.jitter import ColorJitter, RandomGrayscale
from simclip.augment.noise import GaussianNoise

PANEL_LABELS = (
    "(a) Original",
    "(b) Crop and resize",
    "(c) Crop, resize (and flip)",
    "(d) Color distort. (drop)",
    "(e) Color distort. (jitter)",
    "(f) Rotate {90°, 180°, 270°}",
    "(g) Cutout",
    "(h) Gaussian noise",
    "(i) Gaussian blur",
    "(j) Sobel filtering",
)


def _square_batch(image: Tensor, size: int | None) -> Tensor:
    """``[C, H, W]`` (or ``[H, W]``) image -> float ``[1, C, S, S]``: centre square, resized."""
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor [C, H, W], got {type(image).__name__}")
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must have shape [C, H, W] with C 1 or 3, got {tuple(image.shape)}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ValueError(f"size must be None or a positive int, got {size!r}")
    x = as_float_batch(image.unsqueeze(0).cpu(), name="image")
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = x[:, :, top : top + side, left : left + side]
    if size is not None and size != side:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0.0, 1.0)


def augmentation_panels(image: Tensor, seed: int = 0, size: int | None = None) -> list[tuple[str, Tensor]]:
    """The ten panels of SimCLR's Figure 4 for one image.

    The image is centre-cropped to a square (rotations keep the shape) and resized to ``size``.
    Every operator is forced on (probability 1) so each panel shows its effect; otherwise the
    parameters are the paper's (crop scale (0.08, 1), jitter strength 1), except the blur,
    whose sigma is drawn from the upper half (1, 2) of the paper's range to be visible.

    Args:
        image: ``Tensor[C, H, W]`` (or ``[H, W]``), ``C`` 1 or 3, ``uint8`` or float in ``[0, 1]``.
        seed: seed of the generator shared by all panels.
        size: side of the panels; ``None`` keeps the shorter image side.

    Returns:
        ``[(label, Tensor[C, S, S] float in [0, 1])]`` in the order (a)..(j).
    """
    x = _square_batch(image, size)
    side = x.shape[-1]
    ops: list[Callable[..., Tensor]] = [
        Compose([]),
        RandomResizedCrop(side),
        Compose([RandomResizedCrop(side), RandomHorizontalFlip(p=1.0)]),
        RandomGrayscale(p=1.0),
        ColorJitter.from_strength(1.0, p=1.0),
        RandomRotation90(),
        Cutout(),
        GaussianNoise(std=0.1),
        GaussianBlur(sigma=(1.0, 2.0), p=1.0),
        SobelFilter(),
    ]
    generator = torch.Generator().manual_seed(seed)
    return [(label, op(x, generator=generator)[0]) for label, op in zip(PANEL_LABELS, ops)]


def augmentation_grid(
    image: Tensor, out_path: str | Path, seed: int = 0, size: int | None = None
) -> Path:
    """Write the ten labelled panels (a)..(j) of SimCLR's Figure 4 for ``image`` as a PNG.

    Args:
        image: ``Tensor[C, H, W]`` (or ``[H, W]``), ``C`` 1 or 3, ``uint8`` or float in ``[0, 1]``.
        out_path: PNG file to write; missing parent directories are created.
        seed: seed of the random parameters.
        size: side of the panels; ``None`` keeps the shorter image side.

    Returns:
        The path written.
    """
    # The object-oriented Agg API draws without pyplot's global state or a display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = augmentation_panels(image, seed=seed, size=size)
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise ValueError(f"out_path must name a .png file, got {out_path}")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    figure = Figure(figsize=(12.5, 5.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 5)
    for ax, (label, panel) in zip(axes.flat, panels):
        pixels = panel.permute(1, 2, 0).numpy()
        if pixels.shape[2] == 1:
            ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.imshow(pixels, interpolation="nearest")
        ax.set_axis_off()
        ax.text(0.5, -0.04, label, transform=ax.transAxes, ha="center", va="top", fontsize=11)
    figure.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.07, wspace=0.06, hspace=0.18)
    figure.savefig(out_path, format="png", dpi=100)
    return out_path
