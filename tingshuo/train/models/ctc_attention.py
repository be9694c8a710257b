"""Joint CTC/attention ASR: Conformer (or Transformer) encoder, Transformer decoder, CTC head.

Training loss: ``ctc_weight * CTC + (1 - ctc_weight) * label-smoothed cross-entropy`` of the
decoder predicting each next token through cross-attention over the encoder output.
Decoding: greedy CTC, attention beam search, and CTC prefix beam search with the n-best
rescored by the attention decoder (joint CTC/attention rescoring).

    >>> model = CTCAttentionModel(ASRModelConfig(), vocab_size=30)       # doctest: +SKIP
    >>> out = model(feats, feat_lengths, tokens, token_lengths)          # doctest: +SKIP
    >>> model.greedy_ctc(feats, feat_lengths)                            # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import nn

from ..config import ASRModelConfig
from ..data import IGNORE_ID
from .layers import AudioEncoder, PositionalEncoding, TransformerBlock


class TransformerDecoder(nn.Module):
    def __init__(self, vocab: int, d_model: int, heads: int, layers: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = PositionalEncoding(d_model, dropout)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, heads, ff_mult, dropout, cross=True)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor) -> torch.Tensor:
        """``tokens (B, L)`` with ``token_mask (B, L)`` -> logits ``(B, L, vocab)``; causal."""
        L = tokens.size(1)
        causal = torch.tril(torch.ones(L, L, dtype=torch.bool, device=tokens.device))
        mask = token_mask.unsqueeze(1) & causal.unsqueeze(0)
        x = self.pos(self.embed(tokens))
        for blk in self.blocks:
            x = blk(x, mask, memory, memory_mask.unsqueeze(1))
        return self.out(self.norm(x))


class CTCAttentionModel(nn.Module):
    def __init__(self, cfg: ASRModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.vocab_size = vocab_size
        self.blank = 0
        self.sos = self.eos = vocab_size - 1
        self.encoder = AudioEncoder(cfg.n_mels, cfg.d_model, cfg.heads, cfg.encoder_layers, cfg.ff_mult,
                                    cfg.conv_kernel, cfg.dropout, cfg.encoder, cfg.subsampling,
                                    cfg.subsampling_channels)
        self.ctc = nn.Linear(cfg.d_model, vocab_size)
        self.decoder = (TransformerDecoder(vocab_size, cfg.d_model, cfg.heads, cfg.decoder_layers, cfg.ff_mult,
                                           cfg.dropout) if cfg.decoder_layers > 0 else None)

    # ------------------------------------------------------------------ training
    def forward(self, feats, feat_lengths, tokens, token_lengths) -> dict[str, torch.Tensor]:
        """Joint loss for a batch. ``tokens (B, L)`` padded with -1. Returns loss, ctc, att, acc."""
        enc, enc_lengths, enc_mask = self.encoder(feats, feat_lengths)
        b = feats.size(0)
        log_probs = torch.log_softmax(self.ctc(enc).float(), dim=-1)
        targets = tokens.clamp(min=0)
        ctc = nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, enc_lengths, token_lengths,
                                     blank=self.blank, reduction="sum", zero_infinity=True) / b
        out = {"ctc": ctc}
        w = self.cfg.ctc_weight
        if self.decoder is not None and w < 1.0:
            ys_in, in_mask, ys_out = self._add_sos_eos(tokens, token_lengths)
            logits = self.decoder(ys_in, in_mask, enc, enc_mask).float()
            ys_in_mask = ys_out != IGNORE_ID
            att = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ys_out.reshape(-1),
                                              ignore_index=IGNORE_ID, label_smoothing=self.cfg.label_smoothing,
                                              reduction="sum") / b
            acc = ((logits.argmax(-1) == ys_out) & ys_in_mask).sum().float() / ys_in_mask.sum().clamp(min=1)
            out.update(att=att, acc=acc, loss=w * ctc + (1 - w) * att)
        else:
            out["loss"] = ctc
        return out

    def _add_sos_eos(self, tokens: torch.Tensor, lengths: torch.Tensor):
        """-> decoder input ``[sos, y...]`` (padding reads as eos), its mask, and targets ``[y..., eos]``."""
        b, L = tokens.shape
        ys_in = torch.full((b, L + 1), self.eos, dtype=torch.long, device=tokens.device)
        ys_in[:, 0] = self.sos
        ys_in[:, 1:] = torch.where(tokens == IGNORE_ID, torch.full_like(tokens, self.eos), tokens)
        ys_out = torch.full((b, L + 1), IGNORE_ID, dtype=torch.long, device=tokens.device)
        ys_out[:, :L] = tokens
        ys_out[torch.arange(b), lengths] = self.eos
        in_mask = torch.arange(L + 1, device=tokens.device)[None, :] <= lengths[:, None]
        return ys_in, in_mask, ys_out

    # ------------------------------------------------------------------ inference
    def ctc_log_probs(self, feats, feat_lengths):
        """-> ``(log_probs (B, T', V), lengths (B,))``: what the ONNX export computes."""
        enc, lengths, _ = self.encoder(feats, feat_lengths)
        return torch.log_softmax(self.ctc(enc), dim=-1), lengths

    @torch.no_grad()
    def greedy_ctc(self, feats, feat_lengths) -> list[list[int]]:
        lp, lengths = self.ctc_log_probs(feats, feat_lengths)
        return [collapse_ctc(lp[i, : int(lengths[i])].argmax(-1).tolist(), self.blank) for i in range(lp.size(0))]

    @torch.no_grad()
    def _decoder_scores(self, hyps: list[list[int]], enc: torch.Tensor, enc_mask: torch.Tensor) -> torch.Tensor:
        """Sum of decoder log-probs of each full hypothesis (with eos), given one utterance's encoding."""
        n = len(hyps)
        L = max(len(h) for h in hyps) + 1
        ys_in = torch.full((n, L), self.eos, dtype=torch.long, device=enc.device)
        ys_out = torch.full((n, L), IGNORE_ID, dtype=torch.long, device=enc.device)
        mask = torch.zeros((n, L), dtype=torch.bool, device=enc.device)
        for i, h in enumerate(hyps):
            ys_in[i, 0] = self.sos
            ys_in[i, 1:len(h) + 1] = torch.tensor(h, dtype=torch.long)
            ys_out[i, :len(h)] = torch.tensor(h, dtype=torch.long)
            ys_out[i, len(h)] = self.eos
            mask[i, : len(h) + 1] = True
        logits = self.decoder(ys_in, mask, enc.expand(n, -1, -1), enc_mask.expand(n, -1))
        lp = torch.log_softmax(logits.float(), dim=-1)
        picked = lp.gather(-1, ys_out.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (picked * (ys_out != IGNORE_ID)).sum(-1)

    @torch.no_grad()
    def attention_beam_search(self, feats, feat_lengths, beam: int = 5, max_len_ratio: float = 1.0) -> list[list[int]]:
        """Left-to-right beam search with the decoder alone (one utterance at a time)."""
        if self.decoder is None:
            return self.greedy_ctc(feats, feat_lengths)
        enc, lengths, mask = self.encoder(feats, feat_lengths)
        results = []
        for i in range(enc.size(0)):
            e = enc[i:i + 1, : int(lengths[i])]
            m = mask[i:i + 1, : int(lengths[i])]
            max_len = max(1, int(int(lengths[i]) * max_len_ratio))
            beams: list[tuple[list[int], float]] = [([], 0.0)]
            finished: list[tuple[list[int], float]] = []
            for _ in range(max_len):
                n = len(beams)
                L = len(beams[0][0]) + 1
                ys = torch.full((n, L), self.sos, dtype=torch.long, device=e.device)
                for j, (h, _) in enumerate(beams):
                    if h:
                        ys[j, 1:] = torch.tensor(h, dtype=torch.long)
                logits = self.decoder(ys, torch.ones_like(ys, dtype=torch.bool), e.expand(n, -1, -1), m.expand(n, -1))
                lp = torch.log_softmax(logits[:, -1].float(), dim=-1)
                cand = []
                for j, (h, s) in enumerate(beams):
                    top = torch.topk(lp[j], beam)
                    for v, t in zip(top.values.tolist(), top.indices.tolist()):
                        cand.append((h + [t], s + v))
                cand.sort(key=lambda c: -c[1])
                beams = []
                for h, s in cand:
                    if h[-1] == self.eos:
                        finished.append((h[:-1], s))
                    elif h[-1] != self.blank:
                        beams.append((h, s))
                    if len(beams) >= beam:
                        break
                if not beams or (finished and max(f[1] for f in finished) > beams[0][1]):
                    break
            pool = finished or beams
            results.append(max(pool, key=lambda c: c[1])[0])
        return results

    @torch.no_grad()
    def joint_rescoring(self, feats, feat_lengths, beam: int = 10, ctc_weight: float = 0.5) -> list[list[int]]:
        """CTC prefix beam search for an n-best list, rescored by the attention decoder:
        ``score = ctc_weight * ctc + (1 - ctc_weight) * attention``."""
        enc, lengths, mask = self.encoder(feats, feat_lengths)
        lp_all = torch.log_softmax(self.ctc(enc).float(), dim=-1)
        results = []
        for i in range(enc.size(0)):
            t = int(lengths[i])
            nbest = ctc_prefix_beam_search(lp_all[i, :t], beam, self.blank)
            if self.decoder is None or not nbest:
                results.append(nbest[0][0] if nbest else [])
                continue
            att = self._decoder_scores([h or [] for h, _ in nbest], enc[i:i + 1, :t], mask[i:i + 1, :t])
            scores = [ctc_weight * c + (1 - ctc_weight) * float(a) for (_, c), a in zip(nbest, att)]
            results.append(nbest[max(range(len(nbest)), key=scores.__getitem__)][0])
        return results


def collapse_ctc(ids: list[int], blank: int = 0) -> list[int]:
    out, prev = [], None
    for i in ids:
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


def _logadd(*xs: float) -> float:
    m = max(xs)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(x - m) for x in xs))


def ctc_prefix_beam_search(log_probs: torch.Tensor, beam: int, blank: int = 0) -> list[tuple[list[int], float]]:
    """Prefix beam search over ``(T, V)`` CTC log-probs -> [(tokens, log-prob)] best first."""
    ninf = -math.inf
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, ninf)}  # prefix -> (p_blank, p_nonblank)
    lp = log_probs.tolist()
    k = min(beam, log_probs.size(-1))
    tops = torch.topk(log_probs, k, dim=-1).indices.tolist()
    for t, row in enumerate(lp):
        nxt: dict[tuple, list[float]] = defaultdict(lambda: [ninf, ninf])
        for s in tops[t]:
            p = row[s]
            for prefix, (pb, pnb) in beams.items():
                if s == blank:
                    e = nxt[prefix]
                    e[0] = _logadd(e[0], pb + p, pnb + p)
                    continue
                last = prefix[-1] if prefix else None
                new = prefix + (s,)
                e = nxt[new]
                if s == last:
                    e[1] = _logadd(e[1], pb + p)
                    same = nxt[prefix]
                    same[1] = _logadd(same[1], pnb + p)
                else:
                    e[1] = _logadd(e[1], pb + p, pnb + p)
        beams = dict(sorted(((k_, (v[0], v[1])) for k_, v in nxt.items()),
                            key=lambda kv: -_logadd(*kv[1]))[:beam])
    return [(list(p), _logadd(*v)) for p, v in sorted(beams.items(), key=lambda kv: -_logadd(*kv[1]))]


__all__ = ["CTCAttentionModel", "collapse_ctc", "ctc_prefix_beam_search"]
