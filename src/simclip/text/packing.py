"""Packing token-id sequences into the fixed-length batch that a CLIP text tower reads.

Each row is ``[sot, ids..., eot, 0, 0, ...]``. The text tower pools at the end-of-text token, found as
the position of the largest id (Radford et al. 2021), so every tokenizer used with it gives its
end-of-text token the largest id of its vocabulary, and padding uses id 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

TRUNCATE_POLICIES = ("end", "error")


def as_text_list(texts: str | Iterable[str]) -> list[str]:
    """One string or an iterable of strings -> a list of strings; anything else is a ``TypeError``."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise TypeError(f"texts must be a str or an iterable of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
    return texts


def pack_token_ids(sequences: Sequence[Sequence[int]], *, sot_id: int, eot_id: int,
                   context_length: int, truncate: str = "end") -> torch.Tensor:
    """Frame each id sequence with ``sot_id``/``eot_id`` and pad it with zeros.

    Args:
        sequences: ``B`` sequences of token ids, without start/end tokens.
        sot_id, eot_id: the start-of-text and end-of-text ids.
        context_length: ``L``, the row length; at least 2.
        truncate: what to do with a sequence longer than ``L`` once framed: ``"end"`` cuts it to
            ``L`` tokens and makes the last one ``eot_id`` (as the reference tokenizer does);
            ``"error"`` raises ``ValueError`` naming the text's index and length.

    Returns:
        ``LongTensor[B, L]``.
    """
    if truncate not in TRUNCATE_POLICIES:
        raise ValueError(f"truncate must be one of {TRUNCATE_POLICIES}, got {truncate!r}")
    if not isinstance(context_length, int) or isinstance(context_length, bool) or context_length < 2:
        raise ValueError(f"context_length must be an integer >= 2 (room for start and end tokens), "
                         f"got {context_length!r}")
    out = torch.zeros(len(sequences), context_length, dtype=torch.long)
    for i, ids in enumerate(sequences):
        row = [sot_id, *ids, eot_id]
        if len(row) > context_length:
            if truncate == "error":
                raise ValueError(f"text {i} is {len(row)} tokens long with start and end tokens, "
                                 f"more than context_length={context_length}")
            row = row[:context_length - 1] + [eot_id]
        out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out
