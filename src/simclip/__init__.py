"""simclip: contrastive representation learning (SimCLR and CLIP) on one exact core."""

__version__ = "0.1.0"
