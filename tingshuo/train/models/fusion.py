"""Multimodal quality classifier: does this clip's audio match its text, and how good is it?

An audio encoder (conv subsampling + Conformer blocks over log-mel features) and a text encoder
(character embeddings + Transformer blocks) read the two sides. Cross-attention lets each audio
frame look at the text (and each character at the audio); a gated fusion layer mixes each
side with what it attended to, ``h = g * x + (1 - g) * attended`` with ``g = sigmoid(W [x; attended])``.
Masked mean pooling of both fused sides feeds two heads: the grade (high / medium / low,
softmax) and one sigmoid per defect (noise, clipping, silence, ...).

    >>> model = QualityModel(QualityModelConfig(), n_chars=100, defects=("noise", "clipping"))   # doctest: +SKIP
    >>> out = model(feats, feat_lengths, chars, char_lengths)   # {"grade": (B, 3), "defects": (B, 2)}
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import QualityModelConfig
from .layers import AudioEncoder, MultiHeadAttention, PositionalEncoding, TransformerBlock

GRADES = ("high", "medium", "low")


class GatedFusion(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * d_model, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(torch.cat([x, attended], dim=-1)))
        return self.norm(g * x + (1 - g) * attended)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class QualityModel(nn.Module):
    def __init__(self, cfg: QualityModelConfig, n_chars: int, defects: tuple[str, ...]) -> None:
        super().__init__()
        self.cfg = cfg
        self.defects = tuple(defects)
        d = cfg.d_model
        self.audio = AudioEncoder(cfg.n_mels, d, cfg.heads, cfg.audio_layers, 4, 15, cfg.dropout, "conformer", 4,
                                  conv_channels=32)
        self.char_embed = nn.Embedding(n_chars, d, padding_idx=0)
        self.text_pos = PositionalEncoding(d, cfg.dropout)
        self.text_blocks = nn.ModuleList(TransformerBlock(d, cfg.heads, 4, cfg.dropout) for _ in range(cfg.text_layers))
        self.text_norm = nn.LayerNorm(d)
        self.audio_to_text = MultiHeadAttention(d, cfg.heads, cfg.dropout)
        self.text_to_audio = MultiHeadAttention(d, cfg.heads, cfg.dropout)
        self.fuse_audio = GatedFusion(d)
        self.fuse_text = GatedFusion(d)
        self.has_text = nn.Parameter(torch.zeros(d))  # added when the clip has no text at all
        self.head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Dropout(cfg.dropout))
        self.grade_head = nn.Linear(d, len(GRADES))
        self.defect_head = nn.Linear(d, max(1, len(self.defects)))

    def forward(self, feats, feat_lengths, chars, char_lengths) -> dict[str, torch.Tensor]:
        """``feats (B, T, n_mels)``, ``chars (B, L)`` (0 = padding) -> grade logits ``(B, 3)``,
        defect logits ``(B, n_defects)``."""
        a, _, a_mask = self.audio(feats, feat_lengths)
        L = chars.size(1)
        t_mask = torch.arange(L, device=chars.device)[None, :] < char_lengths[:, None]
        t = self.text_pos(self.char_embed(chars))
        for blk in self.text_blocks:
            t = blk(t, t_mask.unsqueeze(1))
        t = self.text_norm(t)
        no_text = (char_lengths == 0)
        # a clip without text attends to nothing; keep the softmax finite by letting it see position 0
        t_mask_safe = t_mask | (no_text[:, None] & (torch.arange(L, device=chars.device)[None, :] == 0))
        a_att = self.audio_to_text(a, t, t, t_mask_safe.unsqueeze(1))
        t_att = self.text_to_audio(t, a, a, a_mask.unsqueeze(1))
        a_f = self.fuse_audio(a, a_att)
        t_f = self.fuse_text(t, t_att)
        pooled_t = masked_mean(t_f, t_mask) + no_text[:, None].to(a.dtype) * self.has_text
        h = self.head(torch.cat([masked_mean(a_f, a_mask), pooled_t], dim=-1))
        return {"grade": self.grade_head(h), "defects": self.defect_head(h)}


__all__ = ["GRADES", "GatedFusion", "QualityModel", "masked_mean"]
