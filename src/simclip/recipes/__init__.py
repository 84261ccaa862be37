"""Recipes: how a method's run is assembled from a :class:`~simclip.train.TrainConfig`
(data, model, augmentation, objective, evaluation), the named presets a config is resolved from
(``auto`` derives the values from the data and the run length), and how a finished run is loaded back."""

from simclip.recipes.clip import build_clip, clip_config, load_clip_model, load_clip_run, run_clip
from simclip.recipes import clip_presets, simclr_presets  # noqa: F401  (register the built-in presets)
from simclip.recipes.presets import Preset, Recipe, get_preset, list_presets, register_preset
from simclip.recipes.profile import DataProfile, profile_dataset
from simclip.recipes.resolve import resolve_config
from simclip.recipes.simclr import build_simclr, load_simclr_run, run_simclr, simclr_config

__all__ = ["DataProfile", "Preset", "Recipe", "build_clip", "build_simclr", "clip_config", "get_preset",
           "list_presets", "load_clip_model", "load_clip_run", "load_simclr_run", "profile_dataset",
           "register_preset", "resolve_config", "run_clip", "run_simclr", "simclr_config"]
