"""PNG figures (matplotlib, Agg backend)."""

from simclip.plots.curves import plot_training_curves

__all__ = ["plot_training_curves"]
