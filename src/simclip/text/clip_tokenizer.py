"""CLIP's tokenizer: byte-level BPE with 49,408 tokens (Radford et al. 2021).

Token ids agree with the reference implementation (openai/CLIP ``SimpleTokenizer``, OpenCLIP
``tokenize``), so captions encode exactly as pretrained CLIP text towers expect. One deliberate
difference: text that spells a special token (``<start_of_text>``, ``<end_of_text>``) is tokenized as
ordinary characters. The reference turns it into the special id, which lets a caption inject an
end-of-text token and move the position the text tower pools at.
"""

from __future__ import annotations

import gzip
import operator
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import regex
import torch

from simclip.text.byte_bpe import END_OF_WORD, apply_merges, byte_to_char
from simclip.text.cleaning import clean_text
from simclip.text.packing import as_text_list, pack_token_ids

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
NUM_MERGES = 49152 - 256 - 2  # the merges CLIP uses from the file (the rest are left out)
SOT_TOKEN, EOT_TOKEN = "<start_of_text>", "<end_of_text>"
_CACHE_LIMIT = 200_000

# Contractions, runs of letters, single digits, runs of other non-space symbols (as CLIP).
_WORD_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                              regex.IGNORECASE)


def default_vocab_path() -> Path:
    """Path of the BPE merge list shipped with simclip."""
    return Path(str(resources.files("simclip.text").joinpath(VOCAB_FILE)))


def _read_merges(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"BPE vocabulary file not found: {path}")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read BPE vocabulary file {path}: {err}") from None
    merges = [tuple(line.split()) for line in lines[1:NUM_MERGES + 1]]
    if len(merges) != NUM_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"BPE vocabulary file {path} does not hold {NUM_MERGES} merge pairs "
                         f"after its header line")
    return merges  # type: ignore[return-value]


class Tokenizer:
    """CLIP's byte-level BPE tokenizer.

    ``Tokenizer()(texts)`` gives ``LongTensor[B, context_length]`` rows ``[49406, ids..., 49407, 0...]``.

    Args:
        vocab_path: the gzip merge list; defaults to the copy shipped with simclip.
        context_length: default row length of ``__call__`` (77 for every OpenAI CLIP model).
    """

    def __init__(self, vocab_path: str | Path | None = None, context_length: int = 77) -> None:
        merges = _read_merges(Path(vocab_path) if vocab_path is not None else default_vocab_path())
        chars = list(byte_to_char().values())
        vocab = chars + [c + END_OF_WORD for c in chars] + ["".join(m) for m in merges]
        vocab += [SOT_TOKEN, EOT_TOKEN]
        self._encoder = {token: i for i, token in enumerate(vocab)}
        self._decoder = vocab
        self._ranks = {m: i for i, m in enumerate(merges)}
        self._byte_encoder = byte_to_char()
        self._byte_decoder = {c: b for b, c in self._byte_encoder.items()}
        self._cache: dict[str, list[int]] = {}
        self.context_length = context_length
        self.sot_token_id = self._encoder[SOT_TOKEN]
        self.eot_token_id = self._encoder[EOT_TOKEN]

    @property
    def vocab_size(self) -> int:
        """Number of token ids (49,408 with the shipped vocabulary)."""
        return len(self._decoder)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` after :func:`~simclip.text.clean_text`, without start/end tokens."""
        ids: list[int] = []
        for word in _WORD_PATTERN.findall(clean_text(text)):
            ids.extend(self._encode_word(word))
        return ids

    def _encode_word(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is None:
            chars = "".join(self._byte_encoder[b] for b in word.encode("utf-8"))
            cached = [self._encoder[s] for s in apply_merges(chars, self._ranks)]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = cached
        return cached

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text of ``ids``: a start token is skipped and decoding stops at the first end token (the
        rest of a packed row is padding). Words come back separated by single spaces; bytes that do
        not form valid UTF-8 become U+FFFD.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be one-dimensional, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        out = bytearray()
        for raw in ids:
            try:
                i = operator.index(raw)
            except TypeError:
                raise TypeError(f"token ids must be integers, got {raw!r}") from None
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is not in [0, {self.vocab_size})")
            if i == self.eot_token_id:
                break
            if i == self.sot_token_id:
                continue
            token = self._decoder[i]
            word_end = token.endswith(END_OF_WORD)
            out.extend(self._byte_decoder[c] for c in (token[:-len(END_OF_WORD)] if word_end else token))
            if word_end:
                out.extend(b" ")
        text = out.decode("utf-8", errors="replace")
        return text[:-1] if text.endswith(" ") else text

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None,
                 truncate: str = "end") -> torch.Tensor:
        """Tokenize ``texts`` into ``LongTensor[B, context_length]`` (``B = 1`` for one string).

        ``truncate="end"`` cuts a long text and keeps the end token last; ``"error"`` raises
        ``ValueError`` naming the text's index and length.
        """
        texts = as_text_list(texts)
        return pack_token_ids([self.encode(t) for t in texts], sot_id=self.sot_token_id,
                              eot_id=self.eot_token_id,
                              context_length=self.context_length if context_length is None
                              else context_length, truncate=truncate)
