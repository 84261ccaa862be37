"""The text tower: CLIP's causal text transformer (:class:`simclip.clip.TextTransformer` semantics,
pooled at the end token) over CLIP's byte-level BPE tokens (:class:`simclip.text.Tokenizer`)."""

from __future__ import annotations

from torch import Tensor, nn

from simclip.clip.text_transformer import TextTransformer
from simclip.pairs.towers.registry import register_tower
from simclip.text import Tokenizer


class TextTower(nn.Module):
    """``list[str]`` (through ``prepare``: ``LongTensor [B, context_length]``) ``-> [B, embed_dim]``."""

    def __init__(self, embed_dim: int, context_length: int = 16, width: int = 128, heads: int = 2,
                 layers: int = 2) -> None:
        super().__init__()
        self.tokenizer = Tokenizer(context_length=context_length)
        self.transformer = TextTransformer(context_length, self.tokenizer.vocab_size, width, heads, layers, embed_dim)

    def prepare(self, raw: list[str] | Tensor) -> Tensor:
        if isinstance(raw, Tensor):  # already token ids
            return raw
        tokens: Tensor = self.tokenizer(list(raw))
        return tokens

    def forward(self, tokens: Tensor) -> Tensor:
        out: Tensor = self.transformer(tokens)
        return out


@register_tower("text-transformer", "text")
def text_transformer(embed_dim: int, context_length: int = 16, width: int = 128, heads: int = 2,
                     layers: int = 2) -> TextTower:
    return TextTower(embed_dim, context_length, width, heads, layers)
