"""CLIP as a differentiable judge of generated images: embeddings and the CLIP distance.

Generated images (float in [0, 1]) go through the checkpoint's own preprocessing in torch
(:func:`simclip.clip.preprocess_tensor`: resize, channel match, normalise), so gradients reach the
generator's latent; PIL is never involved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor

from simclip.clip.model import CLIP
from simclip.clip.preprocess import preprocess_tensor
from simclip.clip.tokenizer import get_tokenizer
from simclip.eval.zeroshot import zero_shot_classifier
from simclip.generate.config import resolve_prompts


class ClipGuide:
    """A CLIP model (frozen, eval mode) and its tokenizer, as used by both StyleCLIP edits."""

    def __init__(self, model: CLIP, tokenizer: Callable[[list[str]], Tensor] | None = None) -> None:
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer or get_tokenizer(model)

    def image_features(self, images: Tensor) -> Tensor:
        """``[B, C, S, S]`` float in [0, 1] -> unit-norm ``[B, E]``; differentiable in ``images``."""
        x = preprocess_tensor(images, self.model.preprocess_cfg)
        return F.normalize(self.model.encode_image(x).float(), dim=-1)

    def text_features(self, texts: Sequence[str], templates: str | Sequence[str] = "plain") -> Tensor:
        """Unit-norm ``[T, E]`` for ``texts``. With several ``templates`` (a ``PROMPT_SETS`` name,
        or templates with ``{}`` where the text goes) each text's embedding is the renormalised mean
        of its unit-norm embeddings under every template: prompt ensembling, as CLIP's zero-shot
        classifiers are built."""
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError(f"texts must be a non-empty list of non-empty strings, got {texts!r}")
        device = next(self.model.parameters()).device
        features = zero_shot_classifier(self.model.encode_text, self.tokenizer, list(texts),
                                        resolve_prompts(templates), device=device)
        return features.to(device)

    def distance(self, images: Tensor, text_features: Tensor) -> Tensor:
        """``D_CLIP = 1 - cos(E_I(image), E_T(text))`` per image ``[B]``; ``text_features`` ``[B, E]``
        or ``[1, E]`` (one text for all)."""
        return 1 - (self.image_features(images) * text_features).sum(-1)
