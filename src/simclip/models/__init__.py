"""Models: the encoder registry, the projection head and the SimCLR model."""

from simclip.models import encoders  # noqa: F401  (registers the encoders)
from simclip.models.head import ProjectionHead
from simclip.models.registry import create_encoder, list_encoders, register_encoder
from simclip.models.simclr import SimCLRModel, SimCLRModelConfig

__all__ = ["ProjectionHead", "SimCLRModel", "SimCLRModelConfig", "create_encoder", "list_encoders",
           "register_encoder"]
