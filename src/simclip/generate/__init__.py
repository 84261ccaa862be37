"""Steering a generator with CLIP (StyleCLIP, Patashnik et al. 2021).

A small VAE is the generator (``Generator``: ``encode`` an image to a latent, ``decode`` a latent to
an image, differentiably), trained by ``train_generator``; a CLIP model judges its images
(``ClipGuide``). Two edits: ``optimise_latents`` (latent optimisation, the paper's Eq. 1) and
``GlobalDirections`` (a latent direction from a neutral/target text pair, the paper's Sec. 6).

The names load on first use, so that the command line registers its commands without torch.
"""

from simclip.lazy import lazy_exports

_HOMES = {"ConfigError": "config", "GeneratorConfig": "config", "GeneratorTrainConfig": "config",
          "LatentEditConfig": "config", "DirectionConfig": "config", "Generator": "model",
          "train_generator": "train", "save_generator": "checkpoint", "load_generator": "checkpoint",
          "ClipGuide": "guide", "EditResult": "edit", "optimise_latents": "edit",
          "GlobalDirections": "directions", "before_after_figure": "figures",
          "strength_grid_figure": "figures"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
