"""Training curves of a run; the implementation lives with the trainer, which draws them."""

from simclip.train.curves import plot_training_curves

__all__ = ["plot_training_curves"]
