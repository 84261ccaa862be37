"""CLIP's text tower (Radford et al. 2021): a causal transformer pooled at the end-of-text token.

``LongTensor[B, L] -> [B, E]`` with ``L <= context_length``: token + positional embedding, causal
pre-LN transformer, ``ln_final``, the features at the end-of-text position (the largest token id, as
OpenAI's tokenizer gives the end token the largest id), then ``@ text_projection``. The causal mask
makes features at a position independent of the padding after it, so shorter rows give the same result.
"""

from __future__ import annotations

import torch
from torch import nn

from simclip.clip.transformer import Transformer


def pool_at_end_token(x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``[B, L, D]`` features, ``[B, L]`` ids -> ``[B, D]`` at each row's largest id (first if tied)."""
    return x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]


class TextTransformer(nn.Module):
    """Parameter names follow OpenAI's CLIP (there at the top level of the model)."""

    def __init__(self, context_length: int, vocab_size: int, width: int, heads: int, layers: int,
                 output_dim: int, mlp_ratio: float = 4.0, quick_gelu: bool = False) -> None:
        super().__init__()
        self.context_length, self.vocab_size = context_length, vocab_size
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = Transformer(width, layers, heads, mlp_ratio, quick_gelu)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, output_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:length]
        x = self.ln_final(self.transformer(x, causal=True))
        return pool_at_end_token(x, tokens) @ self.text_projection
