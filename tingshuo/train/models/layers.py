"""Building blocks shared by the models: conv subsampling, attention, Conformer/Transformer blocks.

Attention is written out (matmul + softmax) rather than fused, so the ONNX export is plain.
Masks are bool, True on real positions; shapes are ``(batch, time, d_model)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Sinusoidal absolute positions, added after scaling by sqrt(d_model)."""

    def __init__(self, d_model: int, dropout: float, max_len: int = 5000) -> None:
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        pos = torch.arange(max_len).unsqueeze(1).float()
        div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)
        self.scale = math.sqrt(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x * self.scale + self.pe[:, : x.size(1)])


class Conv2dSubsampling(nn.Module):
    """``(B, T, n_mels)`` -> ``(B, T', d_model)`` with T' = T/4, T/6 or T/8 (valid convolutions)."""

    def __init__(self, n_mels: int, d_model: int, factor: int = 4, channels: int | None = None) -> None:
        super().__init__()
        if factor == 4:
            specs = [(3, 2), (3, 2)]
        elif factor == 6:
            specs = [(3, 2), (5, 3)]
        else:
            specs = [(3, 2), (3, 2), (3, 2)]
        channels = channels or d_model
        layers, ch, f = [], 1, n_mels
        for k, s in specs:
            layers += [nn.Conv2d(ch, channels, k, s), nn.ReLU()]
            ch = channels
            f = (f - k) // s + 1
        self.conv = nn.Sequential(*layers)
        self.out = nn.Linear(channels * f, d_model)
        self.specs = specs

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for k, s in self.specs:
            lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
        return lengths.clamp(min=0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        return x, self.output_lengths(lengths)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.h = heads
        self.d_k = d_model // heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        """``mask``: bool, broadcastable to ``(B, T_q, T_k)``, True where attention is allowed."""
        b = query.size(0)
        q = self.q(query).view(b, -1, self.h, self.d_k).transpose(1, 2)
        k = self.k(key).view(b, -1, self.h, self.d_k).transpose(1, 2)
        v = self.v(value).view(b, -1, self.h, self.d_k).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            m = mask.unsqueeze(1)
            scores = scores.masked_fill(~m, -1e4 if scores.dtype == torch.float16 else -1e9)
            attn = torch.softmax(scores, dim=-1).masked_fill(~m, 0.0)
        else:
            attn = torch.softmax(scores, dim=-1)
        x = torch.matmul(self.dropout(attn), v).transpose(1, 2).reshape(b, -1, self.h * self.d_k)
        return self.o(x)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, mult: int, dropout: float, activation=nn.SiLU) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_model * mult), activation(), nn.Dropout(dropout),
                                 nn.Linear(d_model * mult, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution: pointwise + GLU, depthwise, LayerNorm (robust to padding), SiLU, pointwise."""

    def __init__(self, d_model: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.pw1 = nn.Conv1d(d_model, 2 * d_model, 1)
        self.dw = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.norm = nn.LayerNorm(d_model)
        self.pw2 = nn.Conv1d(d_model, d_model, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0).transpose(1, 2)
        x = nn.functional.glu(self.pw1(x), dim=1)
        x = self.dw(x).transpose(1, 2)
        x = nn.functional.silu(self.norm(x)).transpose(1, 2)
        return self.dropout(self.pw2(x).transpose(1, 2))


class ConformerBlock(nn.Module):
    def __init__(self, d_model: int, heads: int, ff_mult: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_mult, dropout)
        self.ff2 = FeedForward(d_model, ff_mult, dropout)
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.conv = ConvModule(d_model, kernel, dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = self.norms
        x = x + 0.5 * self.dropout(self.ff1(n[0](x)))
        h = n[1](x)
        x = x + self.dropout(self.attn(h, h, h, mask.unsqueeze(1)))
        x = x + self.conv(n[2](x), mask)
        x = x + 0.5 * self.dropout(self.ff2(n[3](x)))
        return n[4](x)


class TransformerBlock(nn.Module):
    """Pre-norm self-attention (+ optional cross-attention) + feed-forward."""

    def __init__(self, d_model: int, heads: int, ff_mult: int, dropout: float, cross: bool = False) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.cross = MultiHeadAttention(d_model, heads, dropout) if cross else None
        self.ff = FeedForward(d_model, ff_mult, dropout, activation=nn.ReLU)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3 if cross else 2))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, memory: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask``: ``(B, T, T)`` or ``(B, 1, T)``; ``memory_mask``: ``(B, 1, S)``."""
        h = self.norms[0](x)
        x = x + self.dropout(self.attn(h, h, h, mask))
        if self.cross is not None:
            h = self.norms[1](x)
            x = x + self.dropout(self.cross(h, memory, memory, memory_mask))
        return x + self.dropout(self.ff(self.norms[-1](x)))


class AudioEncoder(nn.Module):
    """Conv subsampling + positional encoding + Conformer or Transformer blocks + final norm."""

    def __init__(self, n_mels: int, d_model: int, heads: int, layers: int, ff_mult: int = 4, kernel: int = 15,
                 dropout: float = 0.1, kind: str = "conformer", subsampling: int = 4,
                 conv_channels: int | None = None) -> None:
        super().__init__()
        self.embed = Conv2dSubsampling(n_mels, d_model, subsampling, conv_channels)
        self.pos = PositionalEncoding(d_model, dropout)
        if kind == "conformer":
            self.blocks = nn.ModuleList(ConformerBlock(d_model, heads, ff_mult, kernel, dropout) for _ in range(layers))
        else:
            self.blocks = nn.ModuleList(TransformerBlock(d_model, heads, ff_mult, dropout) for _ in range(layers))
        self.kind = kind
        self.norm = nn.LayerNorm(d_model)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> ``(encoded (B, T', d), lengths (B,), mask (B, T'))``."""
        x, lengths = self.embed(feats, lengths)
        x = self.pos(x)
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
        for blk in self.blocks:
            x = blk(x, mask) if self.kind == "conformer" else blk(x, mask.unsqueeze(1))
        return self.norm(x), lengths, mask
