"""Zero-shot top-k bars: the horizontal probability bars under each image in the CLIP paper's
zero-shot examples (Radford et al. 2021, Figure 21) and OpenAI's "Multimodal Neurons" slides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

TRUE_COLOUR = "#2a9d4a"  # the correct label's bar, green as in the paper's figures
OTHER_COLOUR = "#e07b39"


def check_topk(labels: Sequence[str], probs: Sequence[float]) -> tuple[list[str], list[float]]:
    """``labels`` and ``probs`` as lists of equal, non-zero length with probabilities in [0, 1]."""
    if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
        raise TypeError("labels must be a list of str")
    probs = [float(p) for p in probs]
    if len(labels) != len(probs) or not labels:
        raise ValueError(f"labels ({len(labels)}) and probs ({len(probs)}) must be non-empty and "
                         f"of equal length")
    if any(not 0.0 <= p <= 1.0 for p in probs):
        raise ValueError(f"probs must lie in [0, 1], got {probs}")
    return list(labels), probs


def draw_topk_bars(ax: Axes, labels: Sequence[str], probs: Sequence[float],
                   true_label: str | None = None) -> None:
    """Draw one horizontal bar per label on ``ax``, first label on top, ``true_label`` in green."""
    labels, probs = check_topk(labels, probs)
    rows = range(len(labels))
    colours = [TRUE_COLOUR if label == true_label else OTHER_COLOUR for label in labels]
    ax.barh(rows, probs, color=colours, height=0.7)
    ax.set_yticks(list(rows), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for row, p in zip(rows, probs):
        ax.text(min(p + 0.02, 0.8), row, f"{100 * p:.1f}%", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)


def plot_topk_bars(labels: Sequence[str], probs: Sequence[float], out: str | Path,
                   true_label: str | None = None, title: str = "") -> Path:
    """Write a PNG of the top-k labels of one image with their probabilities.

    ``labels``/``probs`` are ranked best first (as :func:`simclip.eval.rank_labels` gives them, after
    mapping class indices to names); ``true_label``, if among them, is drawn in green.
    """
    labels, probs = check_topk(labels, probs)
    fig, ax = plt.subplots(figsize=(4.5, 0.45 * len(labels) + 1.0))
    draw_topk_bars(ax, labels, probs, true_label)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
