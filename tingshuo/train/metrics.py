"""Error rates for validation: edit distance over characters (CER) and words (WER), pooled."""

from __future__ import annotations

from typing import Sequence


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    if not ref:
        return len(hyp)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def error_rates(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, float]:
    """``{"cer", "wer"}`` pooled over utterances: errors / reference units. Texts are taken as
    given (normalise first); CER counts characters without spaces, so English and Mandarin
    CER mean the same thing."""
    ce = cn = we = wn = 0
    for r, h in zip(refs, hyps):
        rc, hc = r.replace(" ", ""), h.replace(" ", "")
        ce += edit_distance(rc, hc)
        cn += len(rc)
        rw, hw = r.split(), h.split()
        we += edit_distance(rw, hw)
        wn += len(rw)
    return {"cer": ce / max(1, cn), "wer": we / max(1, wn)}


__all__ = ["edit_distance", "error_rates"]
