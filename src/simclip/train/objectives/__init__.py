"""Per-method objectives: ``(model, batch) -> (loss, metrics)``, the only part of training that
differs between methods."""

from simclip.train.objectives.clip import CLIPObjective
from simclip.train.objectives.config import CLIPObjectiveConfig, SimCLRObjectiveConfig, objective_config
from simclip.train.objectives.simclr import SimCLRObjective

__all__ = ["CLIPObjective", "CLIPObjectiveConfig", "SimCLRObjective", "SimCLRObjectiveConfig", "objective_config"]
