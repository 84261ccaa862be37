"""Pre-LN transformer shared by CLIP's image (ViT) and text towers (Vaswani et al. 2017; Radford et al.
2019). Parameter names follow OpenAI's CLIP so checkpoints load key for key:
``ln_1, attn.{in_proj_weight, in_proj_bias, out_proj}, ln_2, mlp.{c_fc, c_proj}``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation OpenAI's CLIP weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def activation(quick_gelu: bool) -> nn.Module:
    """QuickGELU or exact (erf) GELU."""
    return QuickGELU() if quick_gelu else nn.GELU()


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` over ``[B, H, N, d]`` (Vaswani et al. 2017), causal if asked.

    On the CPU in bf16/fp16, PyTorch's fused (flash) kernel has a slow backward at CLIP's sequence
    lengths: 82 ms forward+backward against 34 ms for the unfused kernel at B=128, 3 heads, N=65,
    d=64 (17 vs 8 ms for the causal text shape), with errors against float64 no larger. Its forward
    is the faster one, so the unfused kernel is taken only when a gradient will be needed.
    """
    if (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16)
            and torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def self_attention(x: torch.Tensor, in_proj_weight: torch.Tensor, in_proj_bias: torch.Tensor,
                   out_proj: nn.Linear, heads: int, causal: bool) -> torch.Tensor:
    """Multi-head self-attention, ``[B, N, D] -> [B, N, D]``; packed ``[3D, D]`` q/k/v projection."""
    b, n, d = x.shape
    qkv = F.linear(x, in_proj_weight, in_proj_bias).view(b, n, 3, heads, d // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, N, D/H]
    out = attention(q, k, v, causal)
    projected: torch.Tensor = out_proj(out.transpose(1, 2).reshape(b, n, d))
    return projected


class SelfAttention(nn.Module):
    """Holds the parameters of :func:`self_attention` under the names ``nn.MultiheadAttention`` uses."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        return self_attention(x, self.in_proj_weight, self.in_proj_bias, self.out_proj, self.heads, causal)


def _linear(module: nn.Module | torch.Tensor) -> nn.Linear:
    """``module`` as the ``nn.Linear`` it is (``Sequential`` children are typed as any module)."""
    assert isinstance(module, nn.Linear), type(module)
    return module


class ResidualAttentionBlock(nn.Module):
    """``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, quick_gelu: bool) -> None:
        super().__init__()
        hidden = round(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, hidden))
        self.mlp.add_module("gelu", activation(quick_gelu))
        self.mlp.add_module("c_proj", nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal=causal)
        out: torch.Tensor = x + self.mlp(self.ln_2(x))
        return out


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock`, ``[B, N, D] -> [B, N, D]``."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float = 4.0,
                 quick_gelu: bool = False) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, mlp_ratio, quick_gelu) for _ in range(layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """OpenAI's initialisation: residual projections scaled down by ``sqrt(2 * layers)``."""
        attn_std = self.width ** -0.5
        proj_std = attn_std * (2 * self.layers) ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.resblocks:
            assert isinstance(block, ResidualAttentionBlock)
            c_fc, c_proj = _linear(block.mlp.c_fc), _linear(block.mlp.c_proj)
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(c_fc.weight, std=fc_std)
            nn.init.normal_(c_proj.weight, std=proj_std)
            for linear in (c_fc, c_proj):
                bound = 1 / math.sqrt(linear.in_features)
                nn.init.uniform_(linear.bias, -bound, bound)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, causal=causal)
        return x
