"""Shared helpers for the benchmarks: the dev data, text normalisation, error rates, peak memory.

Normalisation (stated once, used for every system):
  * English: Whisper's EnglishTextNormalizer (``whisper-normalizer``): lower case, punctuation
    removed, spellings and numbers standardised ("1,200" -> "1200", "Mr." -> "mister").
  * Mandarin: OpenCC traditional->simplified, then every character that is not a letter or
    digit is removed (punctuation, spaces); Latin letters lower-cased; numerals are NOT converted
    (Arabic "29" vs Chinese "二十九" counts as errors for every system alike).
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV = Path(os.environ.get("TINGSHUO_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))


def dev_rows(kind: str | None = None, langs=("en", "zh"), need_text: bool = True) -> list[dict]:
    """Rows of the dev manifest (strong transcripts only when ``need_text``)."""
    manifest = DEV / "manifest.jsonl"
    if not manifest.exists():
        sys.exit(f"dev data not found at {DEV}; set TINGSHUO_DEV_DATA to the folder holding manifest.jsonl")
    rows = []
    for line in open(manifest, encoding="utf-8"):
        r = json.loads(line)
        if kind and r["kind"] != kind:
            continue
        if langs and r["lang"] not in langs:
            continue
        if need_text and (not r.get("text") or r.get("text_quality")):
            continue
        r["path"] = str(DEV / r["audio"])
        rows.append(r)
    return rows


_en = None


def norm_en(text: str) -> str:
    global _en
    if _en is None:
        from whisper_normalizer.english import EnglishTextNormalizer

        _en = EnglishTextNormalizer()
    return " ".join(_en(text).split())


def norm_zh(text: str) -> str:
    from tingshuo.asr.text import to_script

    return re.sub(r"[\W_]+", "", to_script(text, "zh", "simplified")).lower()


def error_rate(lang: str, refs: list[str], hyps: list[str]) -> dict:
    """WER for English (words), CER for Mandarin (characters), pooled over all utterances."""
    import jiwer

    if lang == "zh":
        r = [norm_zh(x) for x in refs]
        h = [norm_zh(x) for x in hyps]
        keep = [i for i, x in enumerate(r) if x]
        out = jiwer.process_characters([r[i] for i in keep], [h[i] for i in keep])
        return {"metric": "cer", "value": round(out.cer, 4), "n_utts": len(keep),
                "n_ref_units": sum(len(r[i]) for i in keep)}
    r = [norm_en(x) for x in refs]
    h = [norm_en(x) for x in hyps]
    keep = [i for i, x in enumerate(r) if x]
    out = jiwer.process_words([r[i] for i in keep], [h[i] or "" for i in keep])
    return {"metric": "wer", "value": round(out.wer, 4), "n_utts": len(keep),
            "n_ref_units": sum(len(r[i].split()) for i in keep)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))
