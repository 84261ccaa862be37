"""Recipes: how a method's run is assembled from a :class:`~simclip.train.TrainConfig`
(data, model, augmentation, objective, evaluation), and how a finished run is loaded back."""

from simclip.recipes.simclr import build_simclr, load_simclr_run, run_simclr, simclr_config

__all__ = ["build_simclr", "load_simclr_run", "run_simclr", "simclr_config"]
