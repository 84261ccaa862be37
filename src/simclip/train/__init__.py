"""Training: typed configs, optimisers and schedules, checkpoints, objectives and the one loop."""

from simclip.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from simclip.train.config import ConfigError, OptimConfig, TrainConfig
from simclip.train.errors import TrainingError
from simclip.train.loop import train
from simclip.train.objectives import SimCLRObjective
from simclip.train.optim import LARS, build_optimizer
from simclip.train.step import forward_backward

__all__ = ["CheckpointError", "ConfigError", "LARS", "OptimConfig", "SimCLRObjective", "TrainConfig",
           "TrainingError", "build_optimizer", "forward_backward", "load_checkpoint", "save_checkpoint", "train"]
