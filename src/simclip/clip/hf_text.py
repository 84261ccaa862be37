"""A Hugging Face ``transformers`` model as CLIP's text tower: pretrained and locked (LiT, Zhai et
al. 2022: a pretrained tower kept frozen while the other learns to match it), partly or wholly
trained, or trained from a random start.

``LongTensor[B, L] -> [B, E]``: the model's last hidden states, pooled as its model card says
(``pooling``: the masked mean as sentence-transformers pools, Reimers & Gurevych 2019; the first
token; the model's own pooler output; or the last real token of a decoder-only model), then a new
projection to the CLIP embedding size (``proj_type``: linear, OpenCLIP's two-layer MLP, or none
when the widths agree). Pad tokens are masked out of attention and pooling inside ``forward``, so
callers pass token ids only. Any ``AutoModel`` works (BERT, RoBERTa, XLM-R, MPNet, T5's encoder,
GPT-2, Llama-type ...); :mod:`simclip.clip.hf_models` finds the model folder.

Weights: the pretrained ones are read from the model folder at construction and are part of the
state dict (``encoder.*``), so a checkpoint holds the tuned tower exactly and ``simclip.clip.load``
needs the folder only for the architecture (``config.json``) and the tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from simclip.clip.hf_models import (KNOWN_MODELS, POOLINGS, PROJ_TYPES, build_encoder, default_pooling,
                                    load_tokenizer, pad_token_id, resolve_hf_model, restore_buffers_,
                                    transformers_module)
from simclip.clip.locking import is_locked, keep_locked_eval_, lock_, unlock_

__all__ = ["HFTextTower", "KNOWN_MODELS", "POOLINGS", "masked_mean", "resolve_hf_model"]


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, D]`` states, ``[B, L]`` 0/1 mask -> ``[B, D]`` mean over the masked-in positions
    (the sum over at least 1e-9, as sentence-transformers divides)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, D]``, ``[B, L]`` 0/1 mask -> ``[B, D]`` the state at each row's last masked-in
    position (right or left padding alike)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    index = (positions * mask).argmax(1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


def build_projection(proj_type: str, width: int, embed_dim: int) -> nn.Module:
    """``linear``: ``Linear(width, E)``; ``mlp``: OpenCLIP's ``Linear -> GELU -> Linear`` through
    ``(width + E) // 2``; ``none``: identity (``width == E``). No biases."""
    if proj_type == "linear":
        return nn.Linear(width, embed_dim, bias=False)
    if proj_type == "mlp":
        hidden = (width + embed_dim) // 2
        return nn.Sequential(nn.Linear(width, hidden, bias=False), nn.GELU(),
                             nn.Linear(hidden, embed_dim, bias=False))
    if proj_type == "none":
        if width != embed_dim:
            raise ValueError(f"text.proj_type 'none' needs the model width ({width}) to equal "
                             f"embed_dim ({embed_dim})")
        return nn.Identity()
    raise ValueError(f"text.proj_type must be one of {PROJ_TYPES}, got {proj_type!r}")


def _layer_list(encoder: nn.Module, count: int) -> tuple[str, nn.ModuleList]:
    """The model's list of transformer blocks: the shallowest ``ModuleList`` of ``count`` modules."""
    found = [(name, m) for name, m in encoder.named_modules()
             if isinstance(m, nn.ModuleList) and len(m) == count]
    if not found:
        raise ValueError(f"{type(encoder).__name__}: no list of {count} transformer layers to lock")
    return min(found, key=lambda item: item[0].count("."))


class HFTextTower(nn.Module):
    """A ``transformers`` base model (``encoder``), pooling and ``proj``.

    Args:
        model_dir_or_name: a name of :data:`KNOWN_MODELS`, a model folder or a cached Hub id.
        embed_dim: output size ``E``.
        pooling: one of :data:`POOLINGS`; ``None``: ``"last"`` for decoder-only models, else ``"mean"``.
        unlocked_layers: top transformer layers that train; the embeddings and the layers below are
            locked (frozen, eval mode); all layers: the whole model trains. See :meth:`lock`.
        context_length: the tokenizer truncates to this many tokens (special tokens included).
        proj_type: ``"linear"``, ``"mlp"`` or ``"none"`` (:func:`build_projection`).
        pretrained: read the folder's weights (else a random start, or a checkpoint fills them).
    """

    def __init__(self, model_dir_or_name: str | Path, embed_dim: int, pooling: str | None = None,
                 unlocked_layers: int = 0, context_length: int = 77, proj_type: str = "linear",
                 pretrained: bool = True) -> None:
        super().__init__()
        tf = transformers_module()
        self.folder = resolve_hf_model(model_dir_or_name, weights=pretrained)
        self.hf_config = tf.AutoConfig.from_pretrained(self.folder)
        pooling = default_pooling(self.hf_config) if pooling is None else pooling
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        max_length = getattr(self.hf_config, "max_position_embeddings", None)
        if not 1 <= context_length <= (max_length or context_length):
            raise ValueError(f"context_length must be in [1, {max_length}] for {self.folder.name}, "
                             f"got {context_length}")
        self.pooling, self.context_length, self.proj_type = pooling, context_length, proj_type
        self.vocab_size = self.hf_config.vocab_size
        self.pad_id = pad_token_id(self.hf_config)
        self._tokenizer: Any = None
        on_meta = torch.empty(0).is_meta  # load() builds on "meta": a checkpoint fills every value
        self.encoder = build_encoder(tf, self.folder, self.hf_config, pooling, pretrained and not on_meta)
        width = self.hf_config.hidden_size
        self.proj = build_projection(proj_type, width, embed_dim)
        if not on_meta:
            for m in self.proj.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=m.in_features ** -0.5)
        self._layers_name, _ = _layer_list(self.encoder, self.hf_config.num_hidden_layers)
        self.lock(unlocked_layers)

    @property
    def layers(self) -> nn.ModuleList:
        """The transformer blocks, input to output."""
        layers = self.encoder.get_submodule(self._layers_name)
        assert isinstance(layers, nn.ModuleList)  # _layer_list found it as one
        return layers

    def lock(self, unlocked_layers: int = 0) -> None:
        """Lock the embeddings and all but the top ``unlocked_layers`` layers (0: the whole encoder;
        all layers: nothing). Locked parts have ``requires_grad=False`` and stay in eval mode
        (dropout off) in training; parts after the layers (a final norm, the pooler) train with
        the top layer; the projection always trains."""
        n = len(self.layers)
        if not isinstance(unlocked_layers, int) or isinstance(unlocked_layers, bool) \
                or not 0 <= unlocked_layers <= n:
            raise ValueError(f"unlocked_layers must be an integer in [0, {n}], got {unlocked_layers!r}")
        unlock_(self.encoder)
        if unlocked_layers == 0:
            lock_([self.encoder])
        elif unlocked_layers < n:
            path = self._layers_name.split(".")[0]
            embeddings = [m for name, m in self.encoder.named_children() if name != path and "embed" in name]
            lock_([*embeddings, *self.layers[:n - unlocked_layers]])
        self.unlocked_layers = unlocked_layers

    def train(self, mode: bool = True) -> HFTextTower:
        super().train(mode)
        keep_locked_eval_(self)
        return self

    def restore_buffers_(self) -> None:
        """Recompute the encoder's derived buffers after ``to_empty`` (see :func:`restore_buffers_`)."""
        restore_buffers_(self.encoder, self.folder, self.hf_config, self.pooling)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Strings -> ``LongTensor[B, L]`` ids of the model's own tokenizer, padded with the pad id
        to the longest row and truncated to ``context_length``."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, got a single str")
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.folder)
        ids: torch.Tensor = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self.context_length,
                                            return_tensors="pt")["input_ids"]
        return ids.long()

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, L]`` -> ``[B, hidden]`` pooled states, before the projection."""
        mask = (tokens != self.pad_id).long()
        out = self.encoder(input_ids=tokens, attention_mask=mask)
        if self.pooling == "pooler":
            pooler: torch.Tensor = out.pooler_output
            return pooler
        hidden: torch.Tensor = out.last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        return last_token(hidden, mask) if self.pooling == "last" else masked_mean(hidden, mask)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if is_locked(self.encoder):
            with torch.no_grad():  # nothing below needs a graph
                pooled = self.pooled(tokens)
        else:
            pooled = self.pooled(tokens)
        projected: torch.Tensor = self.proj(pooled)
        return projected

    def extra_repr(self) -> str:
        return (f"folder={self.folder.name}, pooling={self.pooling}, proj_type={self.proj_type}, "
                f"unlocked_layers={self.unlocked_layers}, context_length={self.context_length}")
