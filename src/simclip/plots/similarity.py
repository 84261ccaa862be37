"""The text-image cosine similarity matrix with image thumbnails above its columns and captions beside
its rows, as in the figure of OpenAI's "Interacting with CLIP" notebook (Radford et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import Tensor  # noqa: E402

from simclip.eval._checks import check_features  # noqa: E402

TITLE = "Cosine similarity between text and image features"


def _check_inputs(image_features: Tensor, text_features: Tensor, images: Tensor,
                  captions: Sequence[str]) -> tuple[Tensor, Tensor]:
    image_features = check_features("image_features", image_features)
    text_features = check_features("text_features", text_features, dim=image_features.shape[1])
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4 \
            or images.shape[1] not in (1, 3) or images.shape[0] != image_features.shape[0]:
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be uint8 [{image_features.shape[0]}, C, H, W] (C 1 or 3), one per "
                         f"image feature, got {got}")
    if isinstance(captions, str) or not all(isinstance(c, str) for c in captions) \
            or len(captions) != text_features.shape[0]:
        raise ValueError(f"captions must be {text_features.shape[0]} strings, one per text feature")
    return image_features, text_features


def similarity_figure(image_features: Tensor, text_features: Tensor, images: Tensor,
                      captions: Sequence[str], title: str = TITLE) -> Figure:
    """The figure of :func:`plot_similarity_matrix` (one axes: the matrix and ``N`` thumbnails)."""
    image_features, text_features = _check_inputs(image_features, text_features, images, captions)
    sim = (F.normalize(text_features, dim=1) @ F.normalize(image_features, dim=1).T).numpy()
    rows, cols = sim.shape
    caption_width = 0.08 * max(len(c) for c in captions)  # inches for the row labels at 10 pt
    fig, ax = plt.subplots(figsize=(0.8 + 0.8 * cols + caption_width, 1.2 + 0.8 * (rows + 1)))
    ax.imshow(sim, cmap="viridis", vmin=float(sim.min()), vmax=float(sim.max()))
    threshold = (sim.min() + sim.max()) / 2
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, f"{sim[r, c]:.2f}", ha="center", va="center", fontsize=9,
                    color="black" if sim[r, c] > threshold else "white")
    for c, image in enumerate(images.cpu()):  # thumbnails in the row above the matrix
        pixels = image.permute(1, 2, 0).numpy()
        extent = (c - 0.5, c + 0.5, -0.6, -1.6)  # (left, right, bottom, top): the y axis points down
        if pixels.shape[2] == 1:
            ax.imshow(pixels[:, :, 0], extent=extent, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(pixels, extent=extent, interpolation="nearest")
    ax.set_yticks(range(rows), captions)
    ax.set_xticks([])
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -1.6)
    for side in ("left", "top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_similarity_matrix(image_features: Tensor, text_features: Tensor, images: Tensor,
                           captions: Sequence[str], out: str | Path,
                           title: str = TITLE) -> Path:
    """Write a PNG of the ``[M, N]`` cosine similarities between ``M`` texts and ``N`` images.

    Args:
        image_features: ``[N, E]``; text_features: ``[M, E]`` (normalised here).
        images: uint8 ``[N, C, H, W]``, shown above their columns.
        captions: the ``M`` texts, written beside their rows.
    """
    fig = similarity_figure(image_features, text_features, images, captions, title)
    out = Path(out)
    fig.savefig(out, dpi=110, bbox_inches="tight")  # row captions may reach past the axes
    plt.close(fig)
    return out
