"""The CLIP dual encoder (Radford et al. 2021): one interface for every image and text tower.

Downstream code uses only ``encode_image``, ``encode_text``, ``forward``, ``logit_scale``,
``logit_bias`` and ``clamp_logit_scale_``; ``config`` (a :class:`CLIPConfig`) and ``preprocess_cfg``
travel with the weights. Training set-up may lock either tower (``lock_image_tower``,
``lock_text_tower``: LiT, Zhai et al. 2022).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

from simclip.clip.config import CLIPConfig, PreprocessConfig
from simclip.clip.encoder_tower import EncoderTower
from simclip.clip.locking import keep_locked_eval_, lock_last_groups_, text_groups, vision_groups
from simclip.clip.modified_resnet import ModifiedResNet
from simclip.clip.text_transformer import TextTransformer
from simclip.clip.vision_transformer import VisionTransformer

if TYPE_CHECKING:
    from simclip.clip.timm_tower import TimmTower
    from simclip.text import BPETokenizer

MAX_LOGIT_SCALE = math.log(100.0)
# The image towers: each maps [B, C, H, W] images to [B, embed_dim] and has set_image_size.
VisionTower: TypeAlias = "VisionTransformer | ModifiedResNet | EncoderTower | TimmTower"


def build_vision_tower(cfg: CLIPConfig) -> VisionTower:
    """The image tower ``cfg.vision`` describes, projecting to ``cfg.embed_dim``."""
    v = cfg.vision  # CLIPVisionConfig checked the fields of its kind: an int or four layer counts, an encoder
    if v.kind == "vit":
        assert isinstance(v.layers, int)
        return VisionTransformer(v.image_size, v.patch_size, v.width, v.layers, v.heads, cfg.embed_dim,
                                 v.mlp_ratio, cfg.quick_gelu, v.in_channels)
    if v.kind == "resnet":
        assert isinstance(v.layers, tuple)
        return ModifiedResNet(v.layers, cfg.embed_dim, v.heads, v.image_size, v.width, v.in_channels)
    assert v.encoder is not None
    if v.kind == "timm":
        from simclip.clip.timm_tower import TimmTower

        return TimmTower(v.encoder, cfg.embed_dim, v.image_size, v.in_channels, **v.encoder_kwargs)
    return EncoderTower(v.encoder, cfg.embed_dim, v.in_channels, v.image_size, v.encoder_kwargs)


def build_text_tower(cfg: CLIPConfig) -> nn.Module:
    """The text tower ``cfg.text`` describes, projecting to ``cfg.embed_dim``."""
    t = cfg.text
    if t.kind == "transformer":
        return TextTransformer(t.context_length, t.vocab_size, t.width, t.heads, t.layers,
                               cfg.embed_dim, t.mlp_ratio, cfg.quick_gelu)
    from simclip.clip.hf_text import HFTextTower

    from simclip.clip.hf_models import hf_sizes

    assert t.hf_model is not None  # CLIPTextConfig requires it for kind "hf"
    tower = HFTextTower(t.hf_model, cfg.embed_dim, t.pooling, t.unlocked_layers, t.context_length,
                        t.proj_type, t.hf_pretrained)
    actual = hf_sizes(tower.hf_config)
    wrong = {k: v for k, v in actual.items() if getattr(t, k) != v}
    if wrong:
        raise ValueError(f"text config does not match the pretrained model {t.hf_model!r}: "
                         + ", ".join(f"text.{k}={getattr(t, k)!r} but the model has {v!r}"
                                     for k, v in wrong.items()))
    return tower


class CLIP(nn.Module):
    """Image tower ``visual``, text tower ``text``, learned temperature ``logit_scale``.

    ``logit_scale`` is the log of the inverse temperature, ln(1/0.07) at start (ln(10) in SigLIP mode,
    where ``logit_bias`` starts at -10); ``logit_bias`` is ``None`` otherwise.
    """

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        if not isinstance(config, CLIPConfig):
            raise TypeError(f"config must be a CLIPConfig, got {type(config).__name__}")
        self.config = config
        self.visual = build_vision_tower(config)
        self.text = build_text_tower(config)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init))
        self.logit_bias = (nn.Parameter(torch.tensor(float(config.init_logit_bias)))
                           if config.logit_bias else None)
        # the vocabulary a training run learned (``--tokenizer bpe:N``), which get_tokenizer prefers
        self.run_tokenizer: BPETokenizer | None = None

    @property
    def preprocess_cfg(self) -> PreprocessConfig:
        """Image size, mean/std, interpolation and resize mode this model's inputs need."""
        return self.config.preprocess

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``[B, C, H, W]`` float images (already preprocessed) -> ``[B, E]`` features."""
        self._check_images(images)
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``LongTensor[B, L]`` token ids (``L <= context_length``) -> ``[B, E]`` features."""
        self._check_tokens(tokens)
        features = self.text(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, images: torch.Tensor, tokens: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """L2-normalised ``[B, E]`` image and ``[B', E]`` text features, and ``exp(logit_scale)``."""
        return (self.encode_image(images, normalize=True), self.encode_text(tokens, normalize=True),
                self.logit_scale.exp())

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Keep ``logit_scale`` in [0, ln 100] (inverse temperature <= 100), as Radford et al. 2021 do
        to stabilise training; call after every optimiser step."""
        self.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)

    def lock_image_tower(self, unlocked_groups: int = 0) -> None:
        """Freeze the image tower except its last ``unlocked_groups`` parameter groups (LiT, Zhai et
        al. 2022; groups in :mod:`simclip.clip.locking`). Frozen parts keep ``requires_grad=False``
        and stay in eval mode (batch-norm statistics fixed) when the model trains."""
        lock_last_groups_(self.visual, vision_groups(self.visual), unlocked_groups, "unlocked_groups")

    def lock_text_tower(self, unlocked_layers: int | None = None) -> None:
        """Freeze the text tower except its last ``unlocked_layers`` groups (``None``: the config's
        ``text.unlocked_layers``). A pretrained (``kind="hf"``) tower counts transformer layers and
        keeps its new projection trainable; CLIP's text transformer counts the groups of
        :mod:`simclip.clip.locking`."""
        unlocked = self.config.text.unlocked_layers if unlocked_layers is None else unlocked_layers
        lock = getattr(self.text, "lock", None)
        if lock is not None:
            lock(unlocked)
        else:
            lock_last_groups_(self.text, text_groups(self.text), unlocked, "unlocked_layers")

    def train(self, mode: bool = True) -> CLIP:
        """Training mode for everything but the locked parts, which stay in eval mode."""
        super().train(mode)
        keep_locked_eval_(self)
        return self

    def set_image_size(self, image_size: int) -> None:
        """Adapt to another input size: positional embeddings are resampled bicubically on the grid
        (ViT and ResNet attention pool; the leading token is kept) and ``config`` is updated. Build
        the preprocessing again afterwards (``ImagePreprocess(model.preprocess_cfg)``)."""
        self.visual.set_image_size(image_size)
        vision = dataclasses.replace(self.config.vision, image_size=image_size)
        self.config = dataclasses.replace(self.config, vision=vision)

    def _check_images(self, images: torch.Tensor) -> None:
        v = self.config.vision
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor [B, {v.in_channels}, H, W], got {shape}")
        if images.shape[1] != v.in_channels:
            raise ValueError(f"images have {images.shape[1]} channels, the model expects {v.in_channels}")
        if v.kind != "encoder" and tuple(images.shape[2:]) != (v.image_size, v.image_size):
            raise ValueError(f"images are {tuple(images.shape[2:])}, the model expects "
                             f"{v.image_size}x{v.image_size} (see preprocess_cfg or set_image_size)")

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        t = self.config.text
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.is_floating_point():
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise ValueError(f"tokens must be an integer tensor [B, L], got {shape}")
        if tokens.shape[1] > t.context_length:
            raise ValueError(f"tokens have length {tokens.shape[1]} > context_length {t.context_length}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= t.vocab_size):
            raise ValueError(f"token ids must be in [0, {t.vocab_size}), got "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
