"""Image encoders f: images ``[B, C, H, W]`` -> features ``[B, num_features]``.

Importing this package registers every encoder.
"""

from simclip.models.encoders import resnet, small_cnn, vit  # noqa: F401  (registration)
