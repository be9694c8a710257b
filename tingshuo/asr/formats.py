"""Transcript writers: txt, srt, vtt, json, tsv — as the subtitle and ASR tools write them.

    >>> print(to_srt(transcript))                  # doctest: +SKIP
    1
    00:00:00,000 --> 00:00:02,500
    Hello there.
"""

from __future__ import annotations

import json
from typing import Callable

from ..errors import InputError
from ..types import Segment, Transcript, join_segment_texts

MAX_LINE_CHARS = 42  # the usual subtitle line limit (Netflix, BBC); CJK lines take half
MAX_CUE_S = 7.0


def timestamp(seconds: float, sep: str = ",", hours: bool = True) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (VTT).

    >>> timestamp(3723.5)
    '01:02:03,500'
    """
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return (f"{h:02d}:" if hours or h else "") + f"{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(transcript: Transcript) -> list[Segment]:
    """Segments split at word boundaries when they are too long to read as one subtitle."""
    out: list[Segment] = []
    for seg in transcript.segments:
        text = seg.text.strip()
        if not text:
            continue
        limit = MAX_LINE_CHARS // 2 if _mostly_cjk(text) else MAX_LINE_CHARS
        if len(text) <= 2 * limit and seg.end_s - seg.start_s <= MAX_CUE_S or not seg.words:
            out.append(seg)
            continue
        words, start = [], seg.words[0].start_s
        for w in seg.words:
            piece = join_segment_texts([*words, w]) if words else w.text.strip()
            if words and (len(piece) > 2 * limit or w.end_s - start > MAX_CUE_S):
                out.append(Segment(start, words[-1].end_s, join_segment_texts(words), tuple(words)))
                words, start = [], w.start_s
            words.append(w)
        if words:
            out.append(Segment(start, words[-1].end_s, join_segment_texts(words), tuple(words)))
    return out


def _mostly_cjk(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk * 2 > len(text)


def _wrap(text: str) -> str:
    """Break a cue into at most two lines near the middle, at a space when there is one."""
    limit = MAX_LINE_CHARS // 2 if _mostly_cjk(text) else MAX_LINE_CHARS
    if len(text) <= limit:
        return text
    mid = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - mid)) if spaces else mid
    return text[:cut].rstrip() + "\n" + text[cut:].lstrip()


def _cue_text(text: str) -> str:
    """One cue's text on at most two lines: a blank line inside it would end the cue early (the rest read
    as a broken cue by players), so whitespace runs, newlines included, become one space first."""
    return _wrap(" ".join(text.split())).replace("-->", "->")


def to_srt(transcript: Transcript) -> str:
    blocks = []
    for n, cue in enumerate(_cues(transcript), 1):
        text = _cue_text(cue.text)
        blocks.append(f"{n}\n{timestamp(cue.start_s)} --> {timestamp(max(cue.end_s, cue.start_s + 0.001))}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for cue in _cues(transcript):
        # WebVTT cue text is markup: '&' and '<' must be escaped or 'R&D' and 'x <b> y' render wrongly.
        text = _cue_text(cue.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{timestamp(cue.start_s, '.')} --> {timestamp(max(cue.end_s, cue.start_s + 0.001), '.')}\n{text}\n")
    return "\n".join(blocks)


def to_txt(transcript: Transcript) -> str:
    return transcript.text + "\n"


def to_json(transcript: Transcript) -> str:
    from ..util import json_text

    return json_text(transcript.to_dict(), indent=2) + "\n"


def to_tsv(transcript: Transcript) -> str:
    """Whisper's TSV: start and end in integer milliseconds, then the text."""
    lines = ["start\tend\ttext"]
    for seg in transcript.segments:
        text = seg.text.strip().replace("\t", " ").replace("\n", " ")
        lines.append(f"{int(round(seg.start_s * 1000))}\t{int(round(seg.end_s * 1000))}\t{text}")
    return "\n".join(lines) + "\n"


WRITERS: dict[str, Callable[[Transcript], str]] = {
    "txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json, "tsv": to_tsv,
}


def render(transcript: Transcript, fmt: str) -> str:
    try:
        return WRITERS[fmt](transcript)
    except KeyError:
        raise InputError(f"Unknown output format '{fmt}'; choose from: {', '.join(WRITERS)}.") from None


def parse_formats(spec: str) -> list[str]:
    """'srt,json' -> ['srt', 'json']; 'all' -> every format."""
    return parse_format_list(spec, list(WRITERS), example="srt,json")


def parse_format_list(spec: str, names: list[str], *, example: str) -> list[str]:
    """A ``--format`` value: comma-separated names (any case, a leading dot allowed) in order, without
    repeats; 'all' -> ``names``. Unknown or no name: one ``InputError`` sentence (``example`` shows one)."""
    if spec.strip().lower() == "all":
        return list(names)
    fmts = [f.strip().lower().lstrip(".") for f in spec.split(",") if f.strip()]
    for f in fmts:
        if f not in names:
            raise InputError(f"Unknown output format '{f}'; choose from: {', '.join(names)}, or all.")
    if not fmts:
        raise InputError(f"Give at least one output format, e.g. --format {example}.")
    return list(dict.fromkeys(fmts))
