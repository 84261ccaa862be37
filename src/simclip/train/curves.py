"""Training curves of a run: loss, learning rate, throughput and any evaluation metrics, as a PNG.

matplotlib is imported when a figure is drawn, not when the trainer is imported: training needs
neither the plotting library nor its global backend setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_training_curves(rows: list[dict[str, Any]], out_path: str | Path, title: str = "") -> Path:
    """Write :func:`training_curves_figure` of ``rows`` (from ``metrics.jsonl``) as a PNG."""
    import matplotlib.pyplot as plt

    fig = training_curves_figure(rows, title)
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def training_curves_figure(rows: list[dict[str, Any]], title: str = "") -> Figure:
    """One panel per numeric metric in ``rows``, against the step (a matplotlib ``Figure``).

    A metric with a single value (an evaluation run once, at the end) is drawn as a marker with
    its value written above it.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    keys = sorted({k for r in rows for k, v in r.items()
                   if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)})
    n = max(len(keys), 1)
    cols = min(n, 3)
    rows_n = (n + cols - 1) // cols
    # constrained layout keeps room for the suptitle (tight_layout let it overlap the panels)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n + (0.4 if title else 0)),
                             squeeze=False, layout="constrained")
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows
               if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, ms=7 if len(xs) == 1 else 4, lw=1.2)
        if len(xs) == 1:
            ax.annotate(f"{ys[0]:.4g}", (xs[0], ys[0]), xytext=(0, 8), textcoords="offset points",
                        ha="center", fontsize=11)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig
