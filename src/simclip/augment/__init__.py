"""The SimCLR augmentation family, batched, with independent random parameters per sample.

Every op takes ``x: Tensor[B, C, H, W]`` (``uint8`` or float in ``[0, 1]``, CPU or CUDA) and a CPU
``torch.Generator`` at call time, and returns ``float32`` in ``[0, 1]``::

    policy = create_policy("simclr-cifar", size=32)
    g = torch.Generator().manual_seed(0)
    views = two_views(policy, images, generator=g)  # [2, B, 3, 32, 32]

Reference: Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations" (SimCLR), Sec. 3, Figure 4 and Appendix A.
"""

from simclip.augment.base import RandomOp
from simclip.augment.compose import Compose
from simclip.augment.cutout import Cutout
from simclip.augment.figure import PANEL_LABELS, augmentation_grid, augmentation_panels
from simclip.augment.filters import GaussianBlur, SobelFilter, gaussian_blur, sobel_magnitude
from simclip.augment.geometric import (
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomRotation90,
    resized_crop,
    sample_crop_boxes,
)
from simclip.augment.image_io import load_image
from simclip.augment.jitter import ColorJitter, RandomGrayscale
from simclip.augment.noise import GaussianNoise
from simclip.augment.policies import (
    PolicyConfig,
    build_policy,
    create_policy,
    list_policies,
    policy_config,
)
from simclip.augment.batch_views import BatchViews
from simclip.augment.views import n_views, two_views

__all__ = [
    "BatchViews",
    "ColorJitter",
    "Compose",
    "Cutout",
    "GaussianBlur",
    "GaussianNoise",
    "PANEL_LABELS",
    "PolicyConfig",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomOp",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomRotation90",
    "SobelFilter",
    "augmentation_grid",
    "augmentation_panels",
    "build_policy",
    "create_policy",
    "gaussian_blur",
    "list_policies",
    "load_image",
    "n_views",
    "policy_config",
    "resized_crop",
    "sample_crop_boxes",
    "sobel_magnitude",
    "two_views",
]
