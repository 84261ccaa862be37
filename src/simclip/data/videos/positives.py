"""Temporal positives: the frames a SimCLR step takes its views from, for clips of a video dataset.

``frames:K`` (Sermanet et al. 2018's time-contrastive idea, as in Qian et al. 2021's CVRL): the
first view of each clip comes from a uniformly drawn frame, every other view from a frame at most
``K`` video frames away from it (drawn uniformly among the clip's sampled frames that are), each
then augmented on its own. Without positives (``None``) all views come from one drawn frame, which
is single-frame SimCLR on the clips' frames.
"""
from __future__ import annotations

import torch
from torch import Tensor

PREFIX = "frames:"


def parse_positives(text: str | None) -> int | None:
    """``"frames:K"`` -> ``K`` (an int >= 0); ``None`` -> ``None``; ``ValueError`` otherwise."""
    if text is None:
        return None
    gap = text[len(PREFIX):] if isinstance(text, str) and text.startswith(PREFIX) else ""
    if not gap.isdigit():
        raise ValueError(f"positives must be frames:K with K a whole number of frames (e.g. frames:4), "
                               f"got {text!r}")
    return int(gap)


def view_frames(index: Tensor, views: int, max_gap: int | None, generator: torch.Generator) -> Tensor:
    """int64 ``[views, B]``: positions along ``T`` of each view's frame, for frame numbers
    ``index [B, T]`` (see the module doc)."""
    index = index.cpu()  # small; the generator draws on the CPU
    b, t = index.shape
    first = torch.randint(t, (b,), generator=generator)
    if max_gap is None:
        return first.expand(views, b).clone()
    anchor = index.gather(1, first[:, None])  # [B, 1]
    allowed = ((index - anchor).abs() <= max_gap).float()  # [B, T]; the first frame itself is allowed
    others = torch.multinomial(allowed.repeat(views - 1, 1), 1, generator=generator).view(views - 1, b)
    return torch.cat([first[None], others])


def take_frames(clips: Tensor, positions: Tensor) -> Tensor:
    """``clips [B, T, C, S, S]`` and ``positions [B]`` -> ``[B, C, S, S]``."""
    return clips[torch.arange(len(clips), device=clips.device), positions.to(clips.device)]
