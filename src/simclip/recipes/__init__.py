"""Recipes: how a method's run is assembled from a :class:`~simclip.train.TrainConfig`
(data, model, augmentation, objective, evaluation), and how a finished run is loaded back."""

from simclip.recipes.clip import (build_clip, clip_config, evaluate_clip, load_clip_model, load_clip_run,
                                   run_clip)
from simclip.recipes.simclr import build_simclr, handwriting_config, load_simclr_run, run_simclr, simclr_config

__all__ = ["build_clip", "build_simclr", "clip_config", "evaluate_clip", "handwriting_config", "load_clip_model",
           "load_clip_run", "load_simclr_run", "run_clip", "run_simclr", "simclr_config"]
