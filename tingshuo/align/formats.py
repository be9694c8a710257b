"""Alignment writers: JSON, Praat TextGrid, CTM, and SRT/VTT subtitles made from the given text.

    >>> print(render(alignment, "ctm"))                 # doctest: +SKIP
    talk 1 0.520 0.360 Hello 0.93

Subtitles use the text as written (punctuation and all), one cue per sentence or line of the
text, split at word boundaries when a sentence is too long to read (``tingshuo.asr.formats``
does the splitting and line breaking, as for transcripts).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..types import Segment, Transcript, Word
from ..util import json_text
from .base import Alignment
from .text import units

FORMATS = ("json", "textgrid", "ctm", "srt", "vtt")
SUFFIX = {"json": "json", "textgrid": "TextGrid", "ctm": "ctm", "srt": "srt", "vtt": "vtt"}


def to_json(a: Alignment) -> str:
    return json_text(a.to_dict(), indent=2) + "\n"


def to_ctm(a: Alignment) -> str:
    """NIST CTM: ``<recording> <channel> <start> <duration> <word> <confidence>``, one word a line."""
    rec = _recording_id(a.audio)
    lines = []
    for w in a.words:
        token = re.sub(r"\s+", "_", w.text.strip()) or "_"
        lines.append(f"{rec} 1 {w.start_s:.3f} {max(0.0, w.end_s - w.start_s):.3f} {token} {w.score:.3f}")
    return "\n".join(lines) + ("\n" if lines else "")


def _recording_id(audio: str | None) -> str:
    return re.sub(r"\s+", "_", Path(audio).stem) if audio else "audio"


def _tg_text(s: str) -> str:
    return s.replace('"', '""').replace("\n", " ")


def _interval_tier(name: str, spans: list[tuple[float, float, str]], xmax: float) -> list[str]:
    """An IntervalTier covering [0, xmax]: the spans, with empty intervals between them."""
    intervals: list[tuple[float, float, str]] = []
    t = 0.0
    for s, e, label in sorted(spans):
        s, e = round(max(s, t), 3), round(min(e, xmax), 3)
        if e - s < 0.001:
            continue
        if s - t >= 0.001:
            intervals.append((t, s, ""))
        intervals.append((s, e, label))
        t = e
    if xmax - t >= 0.001 or not intervals:
        intervals.append((t, xmax, ""))
    out = ['        class = "IntervalTier"', f'        name = "{name}"', "        xmin = 0",
           f"        xmax = {xmax:.3f}", f"        intervals: size = {len(intervals)}"]
    for k, (s, e, label) in enumerate(intervals, 1):
        out += [f"        intervals [{k}]:", f"            xmin = {s:.3f}", f"            xmax = {e:.3f}",
                f'            text = "{_tg_text(label)}"']
    return out


def to_textgrid(a: Alignment) -> str:
    """Praat TextGrid (long text format): tiers ``words``, ``sentences`` and ``unaligned``."""
    xmax = round(max([a.duration_s] + [w.end_s for w in a.words] + [u.end_s for u in a.unaligned]), 3)
    tiers = [("words", [(w.start_s, w.end_s, w.text) for w in a.words]),
             ("sentences", [(s.start_s, s.end_s, s.text) for s in sentences(a)]),
             ("unaligned", [(u.start_s, u.end_s, ("[not said] " if u.kind == "text" else "[not in text] ") + u.text)
                            for u in a.unaligned if u.end_s - u.start_s >= 0.001])]
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {xmax:.3f}",
           "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for k, (name, spans) in enumerate(tiers, 1):
        out.append(f"    item [{k}]:")
        out += _interval_tier(name, spans, xmax)
    return "\n".join(out) + "\n"


def sentences(a: Alignment) -> list[Segment]:
    """The text's sentences (and lines) that were said, as written, with their times and words."""
    if not a.text or not a.words:
        return []
    by_offset = {w.offset: w for w in a.words}
    out: list[Segment] = []
    cur: list[tuple] = []  # (unit, word)

    def close() -> None:
        if not cur:
            return
        first, last = cur[0][0], cur[-1][0]
        text = " ".join(a.text[first.start:last.end].split())
        words = tuple(Word(w.start_s, w.end_s, a.text[u.start:u.end], w.score) for u, w in cur)
        out.append(Segment(cur[0][1].start_s, cur[-1][1].end_s, text, words=words, language=a.language))
        cur.clear()

    for u in units(a.text, a.language):
        w = by_offset.get(u.core_start)
        if w is not None:
            cur.append((u, w))
        if u.sentence_end or u.paragraph_end:
            close()
    close()
    return out


def _as_transcript(a: Alignment) -> Transcript:
    segs = tuple(sentences(a))
    return Transcript.from_segments(segs, language=a.language, language_probability=1.0,
                                    duration_s=a.duration_s, source=a.audio)


def to_srt(a: Alignment) -> str:
    from ..asr.formats import to_srt as srt

    return srt(_as_transcript(a))


def to_vtt(a: Alignment) -> str:
    from ..asr.formats import to_vtt as vtt

    return vtt(_as_transcript(a))


WRITERS: dict[str, Callable[[Alignment], str]] = {
    "json": to_json, "textgrid": to_textgrid, "ctm": to_ctm, "srt": to_srt, "vtt": to_vtt,
}


def render(a: Alignment, fmt: str) -> str:
    try:
        return WRITERS[fmt](a)
    except KeyError:
        raise InputError(f"Unknown output format '{fmt}'; choose from: {', '.join(FORMATS)}.") from None


def parse_formats(spec: str) -> list[str]:
    """'json,textgrid' -> ['json', 'textgrid']; 'all' -> every format. Case does not matter."""
    from ..asr.formats import parse_format_list

    return parse_format_list(spec, list(FORMATS), example="json,textgrid")
