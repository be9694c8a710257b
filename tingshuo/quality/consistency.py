"""Transcript checks: does the given text match the audio? (needs the recogniser's hypothesis)

Input to each check is a ``TextClip``: the transcript and declared language, our recogniser's
hypothesis and detected language, and the clip's signal metrics (speech duration, trailing
speech). English is scored in words (WER), Chinese/Japanese in characters (CER).

    >>> error_rate("the cat sat", "the cat", "en")
    (0.3333333333333333, 1)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .checks import Rule, check

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]")
_ZH_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


@dataclass(frozen=True)
class TextClip:
    text: str
    lang: str | None  # declared (normalised), or None
    hyp: str | None = None  # recogniser's text; None when ASR was off or failed
    hyp_lang: str | None = None
    hyp_lang_prob: float = 0.0
    metrics: dict = field(default_factory=dict)


def text_language(text: str) -> str | None:
    """'zh' when CJK characters outnumber Latin-script words ("想听歌曲Because Of You" is zh), 'en' for
    Latin script, else None."""
    cjk = len(_CJK.findall(text))
    latin = sum(1 for w in _WORD.findall(text) if w.isascii() and not w.isdigit())
    if not cjk and not latin:
        return None
    return "zh" if cjk >= latin else "en"


def units(text: str, lang: str | None) -> list[str]:
    """Words (lower case, punctuation dropped) or, for CJK text, characters (simplified)."""
    text = unicodedata.normalize("NFKC", text or "")
    if (lang or text_language(text)) in ("zh", "ja", "yue") or _CJK.search(text):
        from ..asr.text import to_script

        text = to_script(text, "zh", "simplified").translate(_ZH_DIGITS)  # 2014 -> 二零一四
        out = []
        for tok in _WORD.findall(text.casefold()):
            out.extend(list(tok) if _CJK.search(tok) else [tok])
        return out
    return [w for tok in _WORD.findall(text.casefold()) for w in _spell(tok)]


def _spell(tok: str) -> list[str]:
    """'3' -> ['three'] (so digits and words compare equal), when num2words is installed."""
    if not tok.isdigit() or len(tok) > 6:
        return [tok]
    try:
        from num2words import num2words
    except ImportError:
        return [tok]
    return _WORD.findall(num2words(int(tok)).replace("-", " ").casefold())


FULL_TABLE_CELLS = 4_000_000  # larger pairs (hour-long transcripts) never hold the whole table
TAIL_UNITS = 1500  # ... and find their last exact match within the last this many units


def _rows(ref: list[str], hyp: list[str], free_start: bool = False) -> Iterator[np.ndarray]:
    """Rows of the edit-distance table: row i holds the distances of ref[:i] to every hyp[:j].

    One row at a time (O(len(hyp)) memory), each computed by numpy: the insertion chain
    ``cur[j] = min(base[j], cur[j-1] + 1)`` is a running minimum of ``base[j] - j``, plus j.
    ``free_start``: the hypothesis may begin anywhere (row 0 is all zeros).
    """
    vocab: dict[str, int] = {}
    h = np.array([vocab.setdefault(t, len(vocab)) for t in hyp], np.int64)
    r = [vocab.get(t, -1) for t in ref]
    j = np.arange(h.size + 1, dtype=np.int64)
    prev = np.zeros_like(j) if free_start else j.copy()
    yield prev
    base = np.empty(h.size + 1, np.int64)
    for i, unit in enumerate(r, 1):
        base[0] = i
        np.minimum(prev[:-1] + (h != unit), prev[1:] + 1, out=base[1:])
        cur = np.minimum.accumulate(base - j) + j
        yield cur
        prev = cur


def align(ref: list[str], hyp: list[str], free_start: bool = False) -> tuple[int, int]:
    """(edit distance, index after the last reference unit matched exactly).

    ``free_start``: the reference may align to any stretch of the hypothesis that runs to its end.
    """
    n, m = len(ref), len(hyp)
    if (n + 1) * (m + 1) > FULL_TABLE_CELLS:
        return _align_long(ref, hyp)
    rows = np.stack(list(_rows(ref, hyp, free_start)))
    # backtrace for the last matched reference unit
    i, j, last = n, m, 0
    while i > 0 and j > 0:
        if ref[i - 1] == hyp[j - 1] and rows[i, j] == rows[i - 1, j - 1]:
            last = i
            break
        if rows[i, j] == rows[i - 1, j] + 1:
            i -= 1
        elif rows[i, j] == rows[i, j - 1] + 1:
            j -= 1
        else:
            i, j = i - 1, j - 1
    return int(rows[n, m]), last


def _align_long(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """``align`` for long transcripts: the distance row by row, the last match from the tails alone."""
    dist = 0
    for row in _rows(ref, hyp):
        dist = int(row[-1])
    n, m = len(ref), len(hyp)
    w = min(n, TAIL_UNITS)
    wh = min(m, FULL_TABLE_CELLS // (w + 1) - 1)
    _, last = align(ref[n - w:], hyp[m - wh:], free_start=True)  # the tail, wherever it starts in hyp
    return dist, (n - w + last) if last else 0


def error_rate(ref_text: str, hyp_text: str, lang: str | None) -> tuple[float, int]:
    ref, hyp = units(ref_text, lang), units(hyp_text, lang)
    if not ref:
        return (0.0 if not hyp else 1.0), 0
    dist, _ = align(ref, hyp)
    return dist / len(ref), len(ref)


@check("asr_consistency", Rule("asr_wer", "recogniser word error rate vs the transcript"),
       Rule("asr_cer", "recogniser character error rate vs the transcript"), stage="text", needs=("asr",))
def asr_consistency(clip: TextClip) -> dict:
    if clip.hyp is None:
        return {}
    ref, hyp = units(clip.text, clip.lang), units(clip.hyp, clip.lang)
    if not ref:
        return {}
    dist, last = align(ref, hyp)
    cjk = bool(_CJK.search(clip.text))
    rate = min(dist / len(ref), 2.0)
    return {"asr_error_rate": rate, "asr_cer" if cjk else "asr_wer": rate, "asr_metric": "cer" if cjk else "wer",
            "asr_ref_units": len(ref), "asr_hypothesis": clip.hyp}


@check("speaking_rate", Rule("words_per_s", "speaking rate", " words/s"),
       Rule("chars_per_s", "speaking rate", " chars/s"), stage="text")
def speaking_rate(clip: TextClip) -> dict:
    """Transcript length over the VAD's speech time: words/s (Latin) or characters/s (CJK)."""
    speech = clip.metrics.get("speech_s") or 0.0
    u = units(clip.text, clip.lang)
    if speech < 0.3 or not u:
        return {}
    key = "chars_per_s" if _CJK.search(clip.text) else "words_per_s"
    return {key: len(u) / speech}


@check("language", Rule("language_mismatch", "language mismatch"), stage="text")
def language(clip: TextClip) -> dict:
    """Declared language vs the transcript's script and vs the language the recogniser hears."""
    from ..asr.text import normalize_language

    declared = normalize_language(clip.lang) if clip.lang else None
    script = text_language(clip.text)
    m: dict = {"text_language": script}
    mismatch = 0
    if declared and script and declared in ("en", "zh") and script != declared:
        mismatch = 1
    if clip.hyp_lang:
        m["detected_language"] = clip.hyp_lang
        m["detected_language_prob"] = clip.hyp_lang_prob
        said = declared or script
        if said and clip.hyp_lang_prob >= 0.6 and clip.hyp_lang != said:
            mismatch = 1
    m["language_mismatch"] = mismatch
    return m


def prefix_distances(ref: list[str], hyp: list[str]) -> list[int]:
    """d[i] = edit distance between ref[:i] and the whole hypothesis, for i = 0..len(ref)."""
    return [int(row[-1]) for row in _rows(ref, hyp)]


@check("truncation", Rule("truncated", "speech cut off before the transcript ends"), stage="text",
       needs=("asr",))
def truncation(clip: TextClip) -> dict:
    """The hypothesis matches a beginning of the transcript well, and the rest of it is missing.

    The covered prefix is the one closest to the whole hypothesis (edit distance); it must match
    with at most 40% errors, and at least 15% of the transcript (>= 2 words / 3 characters) must be
    left over — or 10% (>= 1 unit) when the audio stops mid-speech.
    """
    if clip.hyp is None:
        return {}
    ref, hyp = units(clip.text, clip.lang), units(clip.hyp, clip.lang)
    if len(ref) < 3 or not hyp:
        return {}
    d = prefix_distances(ref, hyp)
    covered = min(range(1, len(ref) + 1), key=lambda i: (d[i], -i))  # the longest closest prefix
    head_err = d[covered] / covered
    missing = len(ref) - covered
    frac = missing / len(ref)
    cjk = bool(_CJK.search(clip.text))
    m = clip.metrics
    ends_in_speech = (m.get("end_speech_prob") or 0.0) >= 0.5 and (m.get("trailing_silence_s") or 0.0) < 0.1
    clear = missing >= (3 if cjk else 2) and frac >= 0.15
    # Audio that stops mid-speech needs less evidence: the recogniser tends to guess the cut word
    # ("extremely distant" -> "extremely beautiful"), so count what follows the last exact match.
    _, last = align(ref, hyp)
    after_last = len(ref) - last
    cut = ends_in_speech and last > 0 and after_last >= 1 and after_last / len(ref) >= 0.1 \
        and d[last] / last <= 0.4
    truncated = int((clear and head_err <= 0.4) or cut)
    return {"tail_missing_fraction": max(frac, after_last / len(ref) if ends_in_speech else 0.0),
            "truncated": truncated, "ends_in_speech": int(ends_in_speech)}


TEXT_CHECKS = ("asr_consistency", "speaking_rate", "language", "truncation")


def measure_text(clip: TextClip, asr_on: bool = True) -> dict:
    from .checks import CHECKS

    out: dict = {}
    for name in TEXT_CHECKS:
        if "asr" in CHECKS[name].needs and not asr_on:
            continue
        out.update(CHECKS[name].measure(clip))
    return out
