"""A video's embedding as the mean of its frames' CLIP image embeddings: CLIP4Clip's parameter-free
"meanP" similarity (Luo et al. 2021, sec. 3.3), which needs no video training."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from simclip.clip.preprocess import preprocess_tensor

if TYPE_CHECKING:
    from simclip.clip.model import CLIP


def mean_pool(frame_features: Tensor, weights: Tensor | Sequence[float] | None = None) -> Tensor:
    """``[T, E]`` frame features -> unit ``[E]``: ``normalize(sum_t w_t f_t / sum_t w_t)`` with
    ``f_t`` the L2-normalised frame features, as CLIP4Clip normalises each frame before pooling.

    ``weights``: ``T`` non-negative numbers, not all zero; ``None`` weighs every frame alike.
    """
    if not isinstance(frame_features, Tensor) or frame_features.ndim != 2 or frame_features.shape[0] == 0:
        got = (tuple(frame_features.shape) if isinstance(frame_features, Tensor)
               else type(frame_features).__name__)
        raise ValueError(f"frame_features must be a float tensor [T, E] with T >= 1, got {got}")
    if not frame_features.is_floating_point():
        raise ValueError(f"frame_features must be floating point, got {frame_features.dtype}")
    frames = F.normalize(frame_features, dim=-1)
    if weights is None:
        return F.normalize(frames.mean(dim=0), dim=0)
    w = torch.as_tensor(weights, dtype=frames.dtype, device=frames.device)
    if w.shape != (frames.shape[0],):
        raise ValueError(f"weights must have one value per frame ({frames.shape[0]}), got shape "
                         f"{tuple(w.shape)}")
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    return F.normalize((w[:, None] * frames).sum(dim=0) / w.sum(), dim=0)


def _preprocess_frames(frames: Tensor, cfg, preprocess: Callable[[Image.Image], Tensor] | None) -> Tensor:
    if preprocess is None:
        return preprocess_tensor(frames, cfg)
    pixels = frames.permute(0, 2, 3, 1).cpu().numpy()
    return torch.stack([preprocess(Image.fromarray(p.squeeze(-1) if p.shape[-1] == 1 else p))
                        for p in pixels])


@torch.inference_mode()
def embed_video(model: CLIP, frames: Tensor, weights: Tensor | Sequence[float] | None = None,
                *, preprocess: Callable[[Image.Image], Tensor] | None = None, batch_size: int = 64,
                device: str | torch.device = "cpu") -> Tensor:
    """Unit ``[E]`` embedding of a video from its uint8 frames ``[T, C, H, W]``.

    Each frame goes through the model's image preprocessing (``preprocess_tensor`` with
    ``model.preprocess_cfg``, or ``preprocess``, a ``PIL.Image -> [C, S, S]`` callable such as the
    one :func:`simclip.clip.load` returns, which the image index also uses) and
    ``model.encode_image``; the frames are then pooled by :func:`mean_pool`.
    """
    if not isinstance(frames, Tensor) or frames.dtype != torch.uint8 or frames.ndim != 4 \
            or frames.shape[0] == 0:
        got = f"{frames.dtype} {tuple(frames.shape)}" if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"frames must be uint8 [T, C, H, W] with T >= 1, got {got}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    features = []
    for chunk in frames.split(batch_size):
        x = _preprocess_frames(chunk, model.preprocess_cfg, preprocess).to(device)
        features.append(model.encode_image(x, normalize=True).float().cpu())
    return mean_pool(torch.cat(features), weights)
