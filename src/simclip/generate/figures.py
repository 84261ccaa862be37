"""PNG figures of edits: before/after pairs, and a grid over edit strength (StyleCLIP's Fig. 8 style)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def _show(ax, image: Tensor, title: str | None = None) -> None:
    pixels = image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    if pixels.shape[2] == 1:
        ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(pixels, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def before_after_figure(before: Tensor, after: Tensor, texts: Sequence[str], path: str | Path,
                        distances: tuple[Tensor, Tensor] | None = None) -> Path:
    """One row per edit: the image before and after; ``before``, ``after`` ``[B, C, S, S]`` in [0, 1],
    ``texts`` one per row (or one for all); ``distances`` (before, after) ``[B]`` add D_CLIP."""
    n = len(before)
    texts = list(texts) * n if len(texts) == 1 else list(texts)
    fig, axes = plt.subplots(n, 2, figsize=(4.2, 2.0 * n + 0.3), squeeze=False)
    for i in range(n):
        d0 = f"  D {float(distances[0][i]):.2f}" if distances else ""
        d1 = f"  D {float(distances[1][i]):.2f}" if distances else ""
        _show(axes[i, 0], before[i], f"before{d0}")
        _show(axes[i, 1], after[i], f'"{texts[i]}"{d1}')
    return _save(fig, path)


def strength_grid_figure(grid: Tensor, strengths: Sequence[float], path: str | Path,
                         title: str = "", row_labels: Sequence[str] | None = None) -> Path:
    """``grid`` ``[A, B, C, S, S]`` (``A`` strengths, ``B`` images): one row per image, one column
    per strength, labelled alpha."""
    n_strength, n_images = grid.shape[:2]
    fig, axes = plt.subplots(n_images, n_strength, figsize=(1.2 * n_strength + 1.0, 1.25 * n_images + 0.6),
                             squeeze=False)
    for j in range(n_images):
        for a in range(n_strength):
            _show(axes[j, a], grid[a, j], f"a={strengths[a]:g}" if j == 0 else None)
        if row_labels:
            axes[j, 0].set_ylabel(row_labels[j], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
