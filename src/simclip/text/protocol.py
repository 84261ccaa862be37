"""The interface every tokenizer of simclip offers to training, evaluation and serving code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TextTokenizer(Protocol):
    """Turns captions into the ``LongTensor[B, L]`` a CLIP text tower reads.

    Rows are ``[sot_token_id, ids..., eot_token_id, 0, ...]`` and ``eot_token_id == vocab_size - 1``
    is the largest id, the position the text tower pools at.
    """

    @property
    def vocab_size(self) -> int: ...

    sot_token_id: int
    eot_token_id: int
    context_length: int

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None,
                 truncate: str = "end") -> torch.Tensor: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str: ...


def get_tokenizer(spec: str | Path | None = "clip", context_length: int = 77) -> TextTokenizer:
    """``"clip"`` (or ``None``) gives CLIP's BPE tokenizer; a path gives a tokenizer trained with
    :func:`~simclip.text.train_bpe_tokenizer` and saved there.
    """
    from simclip.text.clip_tokenizer import Tokenizer
    from simclip.text.trained_bpe import load_bpe_tokenizer

    if spec is None or spec == "clip":
        return Tokenizer(context_length=context_length)
    if isinstance(spec, (str, Path)):
        return load_bpe_tokenizer(spec, context_length=context_length)
    raise TypeError(f"tokenizer spec must be 'clip', None or a path, got {type(spec).__name__}")
