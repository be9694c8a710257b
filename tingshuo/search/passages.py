"""From a transcript to what the index stores: timed words, units (sentences) and overlapping passages.

    >>> doc = passages_of(transcript)                             # doctest: +SKIP
    >>> doc[0].start_s, doc[0].end_s, doc[0].text                 # doctest: +SKIP

Every word keeps its own start_s/end_s (the recogniser's word timestamps, or times spread over a
segment by character count when a transcript has none, as SRT/VTT sidecars do), so a hit can be
cut down to the words that matched. Words are grouped into *units* — sentences, cut at final
punctuation, pauses and a length limit — and a passage is two consecutive units (stride one
unit), so a sentence stays whole in at least one passage for lexical matching. Each unit is
embedded once, on its own (``unit_texts``): a sentence-length vector matches a paraphrase or a
translation of that sentence better than one of two sentences does (docs/search.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..types import Transcript, join_segment_texts
from .text import guess_language, raw_tokens

SENTENCE_END = re.compile(r"[.?!。？！；;…]['\"”’」』)）]*$")
# A comma or colon also ends a Mandarin unit: Whisper joins Mandarin utterances with commas ("设定29度,要求
# 国际奥委会停用。"), so a "sentence" often holds two or three things said; each clause is embedded alone (a
# clause shorter than MIN_UNIT joins the next). Not English: an English clause alone loses its sentence.
CLAUSE_END = re.compile(r"[,，、:：][\"”’」』)）]*$")
ZH_CLAUSES = True
PAUSE_S = 0.8  # a silence this long between two words ends a unit
MAX_UNIT = {"en": 30, "zh": 40}  # tokens (words, or Chinese characters) before a unit is cut
# A shorter unit joins the next one. Mandarin: 4 characters, so a short command (换一首歌, 设定29度) keeps
# a vector of its own instead of one diluted by the next sentence (tune + tune2: zh 8 -> 4 with clause cuts,
# paraphrase 0.86 -> 0.88, cross-lingual 0.85 -> 0.90, false hits unchanged; 3 gave the same, 6 less).
MIN_UNIT = {"en": 5, "zh": 4}
MAX_PASSAGE = {"en": 50, "zh": 70}  # two units longer than this make a passage of one
# Recorded with each indexed file; a file made with older units is made anew from its stored words by the
# next ``tingshuo index`` (no recognition). 2: Mandarin clauses, MIN_UNIT zh 4, digit runs also indexed
# joined (round 4); 1 (or none): sentences only.
UNITS_VERSION = 2


@dataclass(frozen=True)
class TimedWord:
    start_s: float
    end_s: float
    text: str  # as written in the transcript, with its leading space or punctuation


@dataclass(frozen=True)
class Passage:
    """Units ``unit_lo..unit_hi`` (inclusive) of one file: times, text, words, language."""

    start_s: float
    end_s: float
    text: str
    language: str
    words: tuple[TimedWord, ...]
    unit_lo: int
    unit_hi: int
    word_units: tuple[int, ...]  # the unit each word belongs to


def timed_words(transcript: Transcript) -> list[tuple[TimedWord, str | None, int]]:
    """Every word of the transcript with its segment's language and index; times spread by
    character count over a segment that has no word timestamps."""
    out = []
    for k, seg in enumerate(transcript.segments):
        lang = seg.language or transcript.language
        if seg.words:
            for w in seg.words:
                if w.text.strip():
                    out.append((TimedWord(float(w.start_s), float(max(w.end_s, w.start_s)), w.text), lang, k))
            continue
        pieces = _split_words(seg.text)
        total = sum(len(p.strip()) for p in pieces) or 1
        t, span = float(seg.start_s), max(0.0, float(seg.end_s) - float(seg.start_s))
        for p in pieces:
            d = span * len(p.strip()) / total
            out.append((TimedWord(round(t, 3), round(t + d, 3), p), lang, k))
            t += d
    return out


def _split_words(text: str) -> list[str]:
    """Latin words with their leading space and trailing punctuation; Chinese one character each."""
    return re.findall(r"\s*[\u3400-\u9fff\uf900-\ufaff][^\w\s]*|\s*[^\s\u3400-\u9fff\uf900-\ufaff]+", text)


def _size(words: list[TimedWord]) -> int:
    return sum(len(raw_tokens(w.text)) for w in words)


def units_of(transcript: Transcript) -> list[list[TimedWord]]:
    """Words grouped into sentence-like units."""
    items = timed_words(transcript)
    lang = transcript.language if transcript.language in ("en", "zh") else guess_language(transcript.text)
    units: list[list[TimedWord]] = []
    cur: list[TimedWord] = []
    prev_seg = None
    for w, _seg_lang, seg_k in items:
        if cur and (w.start_s - cur[-1].end_s >= PAUSE_S or (seg_k != prev_seg and _ends(cur))):
            units.append(cur)
            cur = []
        cur.append(w)
        prev_seg = seg_k
        if _ends(cur) or (ZH_CLAUSES and lang == "zh" and CLAUSE_END.search(w.text.strip())) or \
                _size(cur) >= MAX_UNIT.get(lang, 30):
            units.append(cur)
            cur = []
    if cur:
        units.append(cur)
    # Join units too short to mean much alone ("Yes.", "好的。") to the next one, or the last to the previous.
    merged: list[list[TimedWord]] = []
    for u in units:
        if merged and _size(merged[-1]) < MIN_UNIT.get(lang, 5) and \
                _size(merged[-1]) + _size(u) <= MAX_UNIT.get(lang, 30) and u[0].start_s - merged[-1][-1].end_s < 2 * PAUSE_S:
            merged[-1] = merged[-1] + u
        else:
            merged.append(list(u))
    if len(merged) > 1 and _size(merged[-1]) < MIN_UNIT.get(lang, 5) and \
            merged[-1][0].start_s - merged[-2][-1].end_s < 2 * PAUSE_S:
        last = merged.pop()  # (not ``merged[-2] += merged.pop()``: the target is indexed after the pop)
        merged[-1] = merged[-1] + last
    return merged


def _ends(words: list[TimedWord]) -> bool:
    return bool(SENTENCE_END.search(words[-1].text.strip()))


def join_words(words) -> str:
    """Words back into text: spaces between Latin words as written, none between Chinese characters."""
    return join_segment_texts([_W(w.text) for w in words]) if words else ""


@dataclass(frozen=True)
class _W:
    text: str


def passages_of(transcript: Transcript) -> list[Passage]:
    """Overlapping passages: units (i, i+1) for each unit i, a single unit where two are too long."""
    units = units_of(transcript)
    file_lang = transcript.language if transcript.language in ("en", "zh") else None
    out = []
    for i, u in enumerate(units):
        hi = i + 1 if i + 1 < len(units) else i
        if hi != i:
            limit = MAX_PASSAGE["zh" if _mostly_han(u) else "en"]
            if _size(u) + _size(units[hi]) > limit or units[hi][0].start_s - u[-1].end_s > 5 * PAUSE_S:
                hi = i
        if hi == i and i > 0 and out and out[-1].unit_hi == i:
            continue  # unit i is already whole in the previous passage and cannot pair forwards
        words = tuple(w for k in range(i, hi + 1) for w in units[k])
        word_units = tuple(k for k in range(i, hi + 1) for _w in units[k])
        text = join_words(words)
        lang = "zh" if _mostly_han(words) else (file_lang if file_lang == "en" else guess_language(text))
        out.append(Passage(words[0].start_s, words[-1].end_s, text, lang, words, i, hi, word_units))
    return out


def _mostly_han(words) -> bool:
    text = "".join(w.text for w in words)
    return guess_language(text) == "zh"


def unit_texts(passages) -> list[tuple[int, int, str]]:
    """Every unit once, as (index of the passage that owns it, unit, text): the owner is the first
    passage holding the unit, so a unit's vector is stored with a passage that contains it.

    ``passages``: Passage objects, or rows with ``words`` as [start_s, end_s, text, unit] lists.
    """
    out: list[tuple[int, int, str]] = []
    seen: set[int] = set()
    for k, p in enumerate(passages):
        if isinstance(p, Passage):
            items = [(u, w.text) for w, u in zip(p.words, p.word_units)]
        else:
            items = [(w[3], w[2]) for w in p.words]
        by: dict[int, list[str]] = {}
        for u, text in items:
            by.setdefault(u, []).append(text)
        for u, texts in sorted(by.items()):
            if u not in seen:
                seen.add(u)
                out.append((k, u, join_words([_W(t) for t in texts]).strip()))
    return out
