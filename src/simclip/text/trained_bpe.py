"""A byte-level BPE tokenizer trained on one's own captions, with CLIP's calling convention.

Training uses the Hugging Face ``tokenizers`` library. Captions are cleaned and split into words as
CLIP does (:func:`~simclip.text.clean_text`, then contractions / letter runs / single digits / symbol
runs); each word is byte-mapped with a leading space marker, so every input is covered without an
unknown token. The file written is a plain ``tokenizers`` JSON file. Its start-of-text and end-of-text
ids are the two ids after the learned vocabulary (``V`` and ``V + 1``): the end token then has the
largest id, which is where a CLIP text tower pools. They are never matched in the text itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from simclip.text.cleaning import clean_text
from simclip.text.packing import as_text_list, pack_token_ids

WORD_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
NUM_SPECIAL = 2  # start-of-text, end-of-text
MIN_VOCAB_SIZE = 256 + NUM_SPECIAL  # every byte, then the two special ids


def _pipeline():
    """An untrained ``tokenizers.Tokenizer`` with the CLIP-style pre-tokenizer and a byte decoder."""
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    tok = HFTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


class BPETokenizer:
    """A trained byte-level BPE tokenizer; same calls as :class:`~simclip.text.Tokenizer`.

    Build it with :func:`train_bpe_tokenizer` or :func:`load_bpe_tokenizer`.
    """

    def __init__(self, backend, context_length: int = 77, path: Path | None = None) -> None:
        self._backend = backend
        self.path = path
        self.context_length = context_length
        base = backend.get_vocab_size(with_added_tokens=True)
        self.sot_token_id = base
        self.eot_token_id = base + 1

    @property
    def vocab_size(self) -> int:
        """Number of token ids, the two special ones included (the text tower's ``vocab_size``)."""
        return self.eot_token_id + 1

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` after cleaning, without start/end tokens."""
        return self._backend.encode(clean_text(text), add_special_tokens=False).ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text of ``ids``; a start token is skipped and decoding stops at the first end token."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be one-dimensional, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        kept: list[int] = []
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"token id {i} is not in [0, {self.vocab_size})")
            if i == self.eot_token_id:
                break
            if i != self.sot_token_id:
                kept.append(int(i))
        return self._backend.decode(kept).lstrip(" ")

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None,
                 truncate: str = "end") -> torch.Tensor:
        """Tokenize ``texts`` into ``LongTensor[B, context_length]``; see :func:`pack_token_ids`."""
        texts = as_text_list(texts)
        encoded = self._backend.encode_batch([clean_text(t) for t in texts], add_special_tokens=False)
        return pack_token_ids([e.ids for e in encoded], sot_id=self.sot_token_id,
                              eot_id=self.eot_token_id,
                              context_length=self.context_length if context_length is None
                              else context_length, truncate=truncate)


def train_bpe_tokenizer(captions: Sequence[str], vocab_size: int, out_path: str | Path, *,
                        min_frequency: int = 2, context_length: int = 77) -> BPETokenizer:
    """Learn a byte-level BPE vocabulary of at most ``vocab_size`` ids from ``captions``.

    The learned vocabulary holds the 256 byte symbols and up to ``vocab_size - 258`` merges of pairs
    seen at least ``min_frequency`` times; a small corpus may give fewer ids than asked, so read
    ``.vocab_size`` of the result. The tokenizer is written to ``out_path`` (JSON) and returned.
    """
    from tokenizers import pre_tokenizers, trainers

    if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
        raise TypeError("captions must be a sequence of str")
    if len(captions) == 0:
        raise ValueError("captions is empty: nothing to learn a vocabulary from")
    if not isinstance(vocab_size, int) or vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"vocab_size must be an integer >= {MIN_VOCAB_SIZE}, got {vocab_size!r}")
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"out_path's folder does not exist: {out_path.parent}")
    backend = _pipeline()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - NUM_SPECIAL, min_frequency=min_frequency,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    backend.train_from_iterator((clean_text(c) for c in captions), trainer, length=len(captions))
    backend.save(str(out_path))
    return BPETokenizer(backend, context_length=context_length, path=out_path)


def load_bpe_tokenizer(path: str | Path, context_length: int = 77) -> BPETokenizer:
    """Load a tokenizer written by :func:`train_bpe_tokenizer`."""
    from tokenizers import Tokenizer as HFTokenizer

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {path}")
    try:
        backend = HFTokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on malformed JSON
        raise ValueError(f"{path} is not a tokenizers JSON file: {err}") from None
    if type(backend.model).__name__ != "BPE":
        raise ValueError(f"{path} holds a {type(backend.model).__name__} model, not a BPE tokenizer")
    return BPETokenizer(backend, context_length=context_length, path=path)
