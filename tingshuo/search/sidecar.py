"""Transcripts that already exist next to the audio: our JSON, SRT and VTT (then no recognition runs).

    >>> find_sidecar("talk.mp3")          # talk.json (ours), else talk.srt, else talk.vtt  # doctest: +SKIP
    >>> read_transcript("talk.srt")       # a Transcript; segments without word times  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from pathlib import Path

from ..errors import InputError
from ..types import Segment, Transcript, Word
from .text import guess_language

SIDECAR_SUFFIXES = (".json", ".srt", ".vtt")
END_SLACK_S = 1.0  # a cue may start this long after the audio's end (rounding, a trailing credit) before the
# transcript is taken for another recording's; times past the end are clipped to it
# More words than anyone says: a transcript this dense is not this recording's (a 10 MB subtitle file beside an
# 11 s clip made 1.2 M words to embed, minutes of work and a useless index). Fast speech is ~5 English words or
# ~8 Chinese characters a second; the floor keeps a short clip with a long caption.
MAX_TOKENS_PER_S = 25
MIN_TOKEN_LIMIT = 300
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+")
_CUE_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")
_ARROW = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")  # <i>, <v Bob>, and SSA overrides such as {\an8} in an SRT


def find_sidecar(audio: str | Path) -> Path | None:
    """The first existing transcript beside ``audio``: same stem, .json (ours), .srt or .vtt."""
    p = Path(audio)
    for suffix in SIDECAR_SUFFIXES:
        cand = p.with_suffix(suffix)
        if cand != p and cand.is_file():
            if suffix == ".json" and not _is_our_json(cand):
                continue
            return cand
    return None


def _is_our_json(path: Path) -> bool:
    """A JSON object with a list of segments (as 'tingshuo transcribe --format json' writes); other JSON
    beside an audio file (metadata, say) is not a transcript, and the audio is transcribed instead."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read(1) != "{":
                return False
            fh.seek(0)
            data = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("segments"), list)


def read_transcript(path: str | Path, duration_s: float | None = None) -> Transcript:
    """A Transcript from our JSON (segments, words), an SRT or a VTT file.

    ``duration_s``: the audio's length, when known. Times past it are clipped to it; a cue or segment
    that starts more than ``END_SLACK_S`` after it is an error (a 99:59:59 cue on a 2 s file would be
    a hit nobody can play and 100 hours in the library's total)."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: the transcript cannot be read ({exc}); fix or remove it.") from None
    if p.suffix.lower() == ".json":
        t = _from_json(p, raw)
        if duration_s is None:  # the container does not say: the transcript's own end must do
            _check_density(p, t.segments, max((x.end_s for x in t.segments), default=0.0))
            return t
        segs = _fit(p, t.segments, duration_s)
        return Transcript.from_segments(segs, language=t.language, language_probability=1.0,
                                        duration_s=duration_s, source=t.source, model=t.model)
    segments = _cues(p, raw)
    if duration_s is not None:
        segments = _fit(p, tuple(segments), duration_s)
    else:
        _check_density(p, segments, max((x.end_s for x in segments), default=0.0))
    text = " ".join(s.text for s in segments)
    lang = guess_language(text) if text else None
    segments = tuple(Segment(s.start_s, s.end_s, s.text, language=lang) for s in segments)
    end = max((s.end_s for s in segments), default=0.0)
    return Transcript.from_segments(segments, language=lang, language_probability=1.0,
                                    duration_s=end if duration_s is None else duration_s, source=str(p),
                                    model=f"sidecar:{p.suffix[1:]}")


def _clock(t: float) -> str:
    h, rest = divmod(max(t, 0.0), 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def _fit(p: Path, segments: tuple[Segment, ...], duration_s: float) -> tuple[Segment, ...]:
    """Segments (and their words) within [0, duration_s]: ends clipped, a start past the end refused, and
    more words than the audio could hold refused."""
    _check_density(p, segments, duration_s)
    late = [s for s in segments if s.start_s > duration_s + END_SLACK_S]
    late += [s for s in segments for w in s.words if w.start_s > duration_s + END_SLACK_S][:1]
    if late:
        raise InputError(f"{p}: a cue starts at {_clock(late[0].start_s)}, after the audio ends "
                         f"({_clock(duration_s)}); the transcript is not this recording's or its times are off — "
                         "fix or remove it (the audio is then transcribed).")

    def clip(t: float) -> float:
        return min(max(t, 0.0), duration_s)

    return tuple(dataclasses.replace(
        s, start_s=clip(s.start_s), end_s=clip(s.end_s),
        words=tuple(dataclasses.replace(w, start_s=clip(w.start_s), end_s=clip(w.end_s)) for w in s.words))
        for s in segments)


def _check_density(p: Path, segments, duration_s: float) -> None:
    """More words than anyone could say in ``duration_s``: not this recording's transcript."""
    limit = max(MIN_TOKEN_LIMIT, MAX_TOKENS_PER_S * duration_s)
    n = 0
    for s in segments:
        n += len(_TOKEN.findall(s.text))
        if n > limit:
            raise InputError(f"{p}: the transcript holds more than {int(limit)} words for {_clock(duration_s)} of "
                             f"audio (over {MAX_TOKENS_PER_S} a second, more than anyone says); it is not this "
                             "recording's — fix or remove it (the audio is then transcribed).")


def _time(value) -> float:
    """A time in seconds: a finite number (JSON may hold NaN and Infinity, which the index cannot store)."""
    t = float(value)
    if not math.isfinite(t):
        raise ValueError(f"a time is {value!r}, not a number of seconds")
    return t


def _from_json(p: Path, raw: str) -> Transcript:
    try:
        data = json.loads(raw)
        segs = []
        for s in data["segments"]:
            words = tuple(Word(_time(w["start"]), _time(w["end"]), str(w["word"]), float(w.get("probability", 1.0)))
                          for w in s.get("words") or ())
            segs.append(Segment(_time(s["start"]), _time(s["end"]), str(s["text"]), words,
                                language=s.get("language") or data.get("language")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{p}: not a tingshuo JSON transcript ({type(exc).__name__}: {exc}); "
                         "remove it or write it with 'tingshuo transcribe --format json'.") from None
    text = data.get("text") or ""
    lang = data.get("language") or (guess_language(text) if text else None)
    return Transcript.from_segments(tuple(segs), language=lang, language_probability=1.0,
                                    duration_s=float(data.get("duration") or 0.0), source=str(p),
                                    model=data.get("model") or "sidecar:json")


def _seconds(stamp: str) -> float | None:
    m = _CUE_TIME.fullmatch(stamp.strip())
    if not m:
        return None
    h, mi, s, ms = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _cues(p: Path, raw: str) -> list[Segment]:
    """Cues of an SRT or VTT file (times, text without tags); a file with none is an error."""
    out = []
    for block in re.split(r"\n\s*\n", raw.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            m = _ARROW.match(line)
            if not m:
                continue
            start, end = _seconds(m.group(1)), _seconds(m.group(2))
            if start is None or end is None:
                break
            # entities decoded after the tags are gone (VTT writes &amp; &lt; &nbsp;: "AT&amp;T" is AT&T)
            text = " ".join(html.unescape(_TAG.sub("", t)).strip() for t in lines[i + 1:] if t.strip())
            if text:
                out.append(Segment(start, max(end, start), text))
            break
    if not out and raw.strip():
        raise InputError(f"{p}: no subtitle cues found; fix the file or remove it so the audio is transcribed.")
    return sorted(out, key=lambda s: s.start_s)
