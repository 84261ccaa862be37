"""Training curves of a run: loss, learning rate, throughput and any evaluation metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_training_curves(rows: list[dict[str, Any]], out_path: str | Path, title: str = "") -> Path:
    """One panel per numeric metric in ``rows`` (from ``metrics.jsonl``), against the step."""
    keys = sorted({k for r in rows for k, v in r.items()
                   if k != "step" and isinstance(v, (int, float))})
    out_path = Path(out_path)
    n = max(len(keys), 1)
    cols = min(n, 3)
    rows_n = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, lw=1.2)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
