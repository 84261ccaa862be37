"""The tokenizer that matches a CLIP model: its vocabulary and its context length.

As OpenCLIP's ``get_tokenizer(name)``: CLIP's own 77-token rows do not fit a model whose text tower
reads 16 tokens, and a run that learned its vocabulary from its captions reads only that one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from simclip.clip.config import CLIPConfig
from simclip.clip.factory import get_model_config
from simclip.clip.model import CLIP

if TYPE_CHECKING:
    from simclip.text import Tokenizer


def get_tokenizer(model: CLIP | CLIPConfig | str) -> Callable[[Sequence[str]], torch.Tensor]:
    """The tokenizer ``model`` reads, padding (and truncating) to its context length.

    ``model``: a :class:`CLIP` (from :func:`~simclip.clip.load` or :func:`~simclip.clip.create_model`),
    its config, or a name of :func:`~simclip.clip.list_models`. In order: the vocabulary a training
    run learned (``--tokenizer bpe:N``; :func:`~simclip.clip.load` attaches it from the run's
    ``tokenizer.json``), a pretrained text tower's own tokenizer (MiniLM), else CLIP's byte-level BPE.
    ``tokenizer(["a red circle", ...])`` returns ``LongTensor[B, context_length]``.
    """
    if isinstance(model, str):
        model = get_model_config(model)
    if isinstance(model, CLIPConfig):
        if model.text.kind != "transformer":  # the pretrained tower carries its tokenizer
            from simclip.clip.hf_models import hf_tokenize

            assert model.text.hf_model is not None  # CLIPTextConfig requires it for kind "hf"
            tokenize: Callable[[Sequence[str]], torch.Tensor] = hf_tokenize(model.text.hf_model,
                                                                           model.text.context_length)
            return tokenize
        return _clip_bpe(model)
    if not isinstance(getattr(model, "config", None), CLIPConfig):
        raise TypeError(f"model must be a simclip CLIP, its CLIPConfig or a model name, got "
                        f"{type(model).__name__}")
    length = model.config.text.context_length
    learned = getattr(model, "run_tokenizer", None)
    if learned is not None:
        _check_vocab(learned.vocab_size, model.config, "the run's learned tokenizer")
        return FixedLength(learned, length)
    own: Callable[[Sequence[str]], torch.Tensor] | None = getattr(model.text, "tokenize", None)
    if own is not None:
        return own
    return _clip_bpe(model.config)


def _clip_bpe(config: CLIPConfig) -> Tokenizer:
    from simclip.text import Tokenizer

    tokenizer = Tokenizer(context_length=config.text.context_length)
    _check_vocab(tokenizer.vocab_size, config, "CLIP's tokenizer")
    return tokenizer


def _check_vocab(vocab_size: int, config: CLIPConfig, what: str) -> None:
    if vocab_size > config.text.vocab_size:
        raise ValueError(f"{what} has {vocab_size} ids but the text tower embeds "
                         f"{config.text.vocab_size}: the model was trained with its own vocabulary; "
                         f"load it from its run folder (which holds tokenizer.json)")


class FixedLength:
    """A tokenizer whose rows default to ``context_length`` tokens; otherwise the tokenizer itself
    (``vocab_size``, ``encode``, ``decode``, ...)."""

    def __init__(self, tokenizer: Any, context_length: int) -> None:
        self.tokenizer = tokenizer
        self.context_length = context_length

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None,
                 truncate: str = "end") -> torch.Tensor:
        if not isinstance(texts, str):
            texts = list(texts)
        ids: torch.Tensor = self.tokenizer(texts, context_length=context_length or self.context_length,
                                           truncate=truncate)
        return ids

    def __getattr__(self, name: str) -> Any:
        if name == "tokenizer":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.tokenizer, name)
