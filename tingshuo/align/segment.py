"""Cut an aligned recording into training clips at pauses, each with its exact text.

1. ``plan_clips``: the pauses between aligned words (at least ``min_pause_s``) are the places a
   clip may start or end. A dynamic programme picks the cuts that keep the most audio in clips
   of ``min_s``..``max_s``, preferring sentence ends; a stretch holding text that was not said
   or speech not in the text is never inside a clip. Everything left out has a reason.
2. ``check_clips``: each clip is recognised again; a clip whose recognition differs from its
   text by more than ``max_error`` (word error rate for English, character error rate for
   Chinese, on normalised text) is dropped.
3. ``write_clips``: the kept clips are cut from the original audio (its own sample rate) and
   written with a manifest (ours or NeMo) that ``tingshuo inspect`` and ``tingshuo train`` read.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..options import opt
from .base import Alignment
from .text import HAN_RE, keys_of, units

DROP_UNALIGNED = "text not said or speech not in the text"
DROP_NO_PAUSE = "no pause to cut at within the length range"
DROP_SHORT = "too short between pauses"
DROP_DISAGREE = "re-recognition disagrees with the text"
SENTENCE_BONUS = 1.0  # a clip ending at a sentence end (or a line end) counts as if it held this much more speech
CLIP_COST = 0.2  # ... and every clip as if it held this much less: no cuts at commas without need
DEFAULT_MAX_ERROR = {"en": 0.2, "zh": 0.3}  # Mandarin: whisper-base's own CER on clean read speech is ~20 %


@dataclass(frozen=True)
class SegmentOptions:
    """How to cut clips. Each default is stated here once; CLI flags derive from it."""

    min_s: float = opt(2.0, "shortest clip, seconds", metavar="SECONDS", flag="--min-clip-s")
    max_s: float = opt(20.0, "longest clip, seconds", metavar="SECONDS", flag="--max-clip-s")
    min_pause_s: float = opt(0.2, "shortest pause a clip may be cut at, seconds", metavar="SECONDS")
    pad_s: float = opt(0.15, "silence kept before and after a clip's words (at most half the pause)",
                       metavar="SECONDS")
    max_error: float | None = opt(None, "keep a clip only if re-recognising it differs from its text by at most "
                                        "this (WER English, CER Chinese); 1 keeps all",
                                  metavar="RATE", shown="0.2 English, 0.3 Chinese")
    clip_format: str = opt("wav", "audio format of the clips", choices=("wav", "flac"))
    manifest_format: str = opt("tingshuo", "manifest of the clips: ours (audio, text, lang, duration_s) or NeMo "
                                           "(audio_filepath, text, duration)", choices=("tingshuo", "nemo"))

    def __post_init__(self) -> None:
        if not 0.2 <= self.min_s < self.max_s:
            raise ValueError("the clip length range must have 0.2 <= min < max seconds.")
        if self.max_s > 60:
            raise ValueError("clips longer than 60 s are not useful for training; lower the longest clip length.")
        if self.max_error is not None and not 0.0 <= self.max_error <= 1.0:
            raise ValueError("max_error must be between 0 and 1.")
        # (qa5: a negative pad or pause was accepted and gave negative minutes in the summary)
        if not 0.0 <= self.pad_s <= 5.0:
            raise ValueError(f"pad_s must be between 0 and 5 seconds, not {self.pad_s}.")
        if not 0.0 < self.min_pause_s <= 10.0:
            raise ValueError(f"min_pause_s must be more than 0 and at most 10 seconds, not {self.min_pause_s}.")

    def error_limit(self, language: str) -> float:
        return self.max_error if self.max_error is not None else DEFAULT_MAX_ERROR.get(language, 0.2)


@dataclass(frozen=True)
class Clip:
    start_s: float
    end_s: float
    text: str  # exactly as written in the text (whitespace tidied)
    score: float  # mean word score
    n_words: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class ClipPlan:
    clips: list[Clip]
    dropped: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, reason)


def plan_clips(a: Alignment, options: SegmentOptions) -> ClipPlan:
    """Where to cut (see the module docstring)."""
    words = list(a.words)
    if not words:
        return ClipPlan([], [(0.0, a.duration_s, DROP_UNALIGNED)] if a.duration_s else [])
    by_offset = {u.core_start: u for u in units(a.text, a.language)} if a.text else {}
    n = len(words)
    # boundaries between words k-1 and k (k = 1..n-1); blocked ones hold unaligned text or speech
    blocked = np.zeros(n + 1, bool)
    starts = np.array([w.start_s for w in words])
    offsets = np.array([w.offset for w in words])
    for u in a.unaligned:
        if u.kind == "text" and u.offset >= 0:
            k = int(np.searchsorted(offsets, u.offset))
        else:
            k = int(np.searchsorted(starts, (u.start_s + u.end_s) / 2))
        blocked[min(max(k, 0), n)] = True
    gap = np.array([words[k].start_s - words[k - 1].end_s for k in range(1, n)])
    cut_at = [0] + [k for k in range(1, n) if gap[k - 1] >= options.min_pause_s] + [n]
    # elementary stretches between consecutive cuts; bad when a blocked boundary lies inside
    bad = [bool(blocked[cut_at[j] + 1:cut_at[j + 1]].any()) for j in range(len(cut_at) - 1)]
    # a cut after a sentence (or a line of the text) is worth more than one elsewhere
    cut_bonus = [0.0] * (n + 1)
    for k, w in enumerate(words):
        u = by_offset.get(w.offset)
        if u is not None and (u.sentence_end or u.paragraph_end):
            cut_bonus[k + 1] = SENTENCE_BONUS
    cum_speech = np.concatenate([[0.0], np.cumsum([w.end_s - w.start_s for w in words])])

    def span(j0: int, j1: int) -> tuple[float, float]:
        first, last = cut_at[j0], cut_at[j1] - 1
        before = gap[first - 1] if first > 0 else options.pad_s * 2
        after = gap[last] if last < n - 1 else options.pad_s * 2
        return (max(0.0, words[first].start_s - min(options.pad_s, before / 2)),
                min(a.duration_s, words[last].end_s + min(options.pad_s, after / 2)))

    m = len(cut_at)
    best = np.full(m, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, bool]] = [(0, False)] * m  # (previous cut, clip between them?)
    for j1 in range(1, m):
        best[j1], back[j1] = best[j1 - 1], (j1 - 1, False)  # drop the stretch before this cut
        for j0 in range(j1 - 1, -1, -1):
            if bad[j0]:
                break
            s, e = span(j0, j1)
            if e - s > options.max_s:
                break
            if e - s < options.min_s:
                continue
            # what counts is the speech kept (word time), so cutting at a pause costs nothing
            score = best[j0] + cum_speech[cut_at[j1]] - cum_speech[cut_at[j0]] + cut_bonus[cut_at[j1]] - CLIP_COST
            if score > best[j1]:
                best[j1], back[j1] = score, (j0, True)
    chosen: list[tuple[int, int]] = []
    j = m - 1
    while j > 0:
        j0, is_clip = back[j]
        if is_clip:
            chosen.append((j0, j))
        j = j0
    chosen.reverse()
    clips = []
    covered = np.zeros(m - 1, bool)
    for j0, j1 in chosen:
        covered[j0:j1] = True
        s, e = span(j0, j1)
        first, last = cut_at[j0], cut_at[j1] - 1
        ws = words[first:last + 1]
        clips.append(Clip(round(s, 3), round(e, 3), _clip_text(a, by_offset, ws), float(np.mean([w.score for w in ws])),
                          len(ws)))
    dropped = []
    for j in range(m - 1):
        if covered[j]:
            continue
        s, e = span(j, j + 1)
        reason = DROP_UNALIGNED if bad[j] else (DROP_NO_PAUSE if e - s > options.max_s else DROP_SHORT)
        if dropped and dropped[-1][2] == reason and abs(dropped[-1][1] - s) < 1.0:
            dropped[-1] = (dropped[-1][0], round(e, 3), reason)
        else:
            dropped.append((round(s, 3), round(e, 3), reason))
    return ClipPlan(clips, dropped)


def _clip_text(a: Alignment, by_offset: dict, ws) -> str:
    first, last = by_offset.get(ws[0].offset), by_offset.get(ws[-1].offset)
    if first is None or last is None:  # no text offsets (never from the aligner): the words
        return " ".join(w.text for w in ws)
    return tidy_text(a.text[first.start:last.end])


def tidy_text(text: str) -> str:
    """Whitespace collapsed to single spaces, none left between Chinese characters (line breaks)."""
    text = " ".join(text.split())
    return re.sub(rf"(?<=[{HAN_RE.pattern[1:-1]}，。、；：！？]) (?=[{HAN_RE.pattern[1:-1]}])", "", text)


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    """Word (English) or character (Chinese) error rate on normalised matching keys."""
    from rapidfuzz.distance import Levenshtein

    from .text import _normalize

    ref = keys_of(_normalize(reference, language), language)
    hyp = keys_of(_normalize(hypothesis, language), language)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(list(ref), list(hyp)) / len(ref)


def replace(options: SegmentOptions, **changes) -> SegmentOptions:
    return dataclasses.replace(options, **changes)


def clip_name(stem: str, k: int, fmt: str) -> str:
    safe = re.sub(r"[^\w.-]+", "_", stem)[:80]
    return f"{safe}-{k:05d}.{fmt}"


def cut_audio(source, clips: list[Clip]):
    """Yield ``(clip, samples, sample_rate)`` for each clip (in time order), cut from the audio at its
    own rate, streaming the file once."""
    from ..audio.io import iter_audio, probe
    from ..types import Audio

    if isinstance(source, Audio):
        rate = source.sample_rate
    elif isinstance(source, np.ndarray):
        rate = 16000
    else:
        rate = probe(source).sample_rate
        if hasattr(source, "seek"):
            source.seek(0)
    order = sorted(range(len(clips)), key=lambda i: clips[i].start_s)
    buf = np.zeros(0, np.float32)
    buf_start = 0
    k = 0
    for block in iter_audio(source, sample_rate=rate if not isinstance(source, np.ndarray) else 16000,
                            block_s=30.0):
        buf = np.concatenate([buf, block]) if buf.size else block
        while k < len(order):
            c = clips[order[k]]
            a, b = int(c.start_s * rate) - buf_start, int(c.end_s * rate) - buf_start
            if b > buf.size:
                break
            yield c, buf[max(0, a):b].copy(), rate
            k += 1
        keep = int(clips[order[k]].start_s * rate) - buf_start if k < len(order) else buf.size
        keep = max(0, min(keep, buf.size))
        buf, buf_start = buf[keep:], buf_start + keep
    while k < len(order):  # the last clip may end past the decoded audio by a rounding
        c = clips[order[k]]
        a = int(c.start_s * rate) - buf_start
        yield c, buf[max(0, a):].copy(), rate
        k += 1


@dataclass(frozen=True)
class CheckedClips:
    """Which planned clips of one recording passed re-recognition, and what was left out: small, no
    audio (it is cut again when the clips are written), so a Ray actor can make it for the driver."""

    kept: tuple[tuple[Clip, float, str], ...]  # (clip, error rate, what was heard), in time order
    dropped: tuple[tuple[str, float], ...]  # (reason, seconds)


def check_clips(source, alignment: Alignment, options: SegmentOptions, transcriber) -> CheckedClips:
    """Steps 1 and 2 for one recording: plan the clips, recognise each again (``transcriber()`` gives
    the recogniser, loaded only when there is a clip), keep those that agree."""
    from ..audio.resample import resample

    plan = plan_clips(alignment, options)
    dropped = [(reason, e - s) for s, e, reason in plan.dropped]
    limit = options.error_limit(alignment.language)
    kept: list[tuple[Clip, float, str]] = []
    pending: list[tuple[Clip, np.ndarray, int]] = []

    def verify() -> None:
        if not pending:
            return
        heard: dict[int, str] = {}
        arrays = [resample(x, r, 16000) if r != 16000 else x for _, x, r in pending]
        for i, res in transcriber().transcribe_many(arrays, languages=[alignment.language] * len(arrays)):
            heard[i] = "" if isinstance(res, Exception) else res.text
        for i, (clip, _samples, _rate) in enumerate(pending):
            err = error_rate(clip.text, heard.get(i, ""), alignment.language)
            if err > limit:
                dropped.append((DROP_DISAGREE, clip.duration_s))
            else:
                kept.append((clip, err, heard.get(i, "")))
        pending.clear()

    for clip, samples, rate in cut_audio(source, plan.clips):
        pending.append((clip, samples, rate))
        if len(pending) >= 16:
            verify()
    verify()
    return CheckedClips(tuple(kept), tuple(dropped))


@dataclass
class SegmentReport:
    """Totals for a run of ``--segment`` (seconds), and why audio was left out."""

    kept_s: float = 0.0
    clips: int = 0
    dropped_s: dict = field(default_factory=dict)  # reason -> seconds
    dropped_clips: dict = field(default_factory=dict)  # reason -> count
    recordings: int = 0

    def drop(self, reason: str, seconds: float, n: int = 1) -> None:
        self.dropped_s[reason] = self.dropped_s.get(reason, 0.0) + seconds
        self.dropped_clips[reason] = self.dropped_clips.get(reason, 0) + n

    def to_dict(self) -> dict:
        total = self.kept_s + sum(self.dropped_s.values())
        return {"recordings": self.recordings, "clips": self.clips, "hours_kept": round(self.kept_s / 3600, 4),
                "hours_dropped": round(sum(self.dropped_s.values()) / 3600, 4),
                "share_kept": round(self.kept_s / total, 4) if total else 0.0,
                "dropped": {r: {"hours": round(s / 3600, 4), "stretches": self.dropped_clips.get(r, 0)}
                            for r, s in sorted(self.dropped_s.items())}}


class Segmenter:
    """Cuts aligned recordings into verified clips under one output folder, writing as it goes."""

    def __init__(self, out_dir: str | Path, options: SegmentOptions | None = None, *, model: str | None = None,
                 cpu_threads: int = 0) -> None:
        from ..data.manifest import JsonlAppender

        self.options = options or SegmentOptions()
        self.out = Path(out_dir)
        self.clip_dir = self.out / "clips"
        self.clip_dir.mkdir(parents=True, exist_ok=True)
        self.report = SegmentReport()
        self.done_sources: set[str] = set()  # recordings already cut in an earlier run (resume)
        self._next = 1
        self._resume()
        self.manifest = JsonlAppender(self.out / "manifest.jsonl")
        self._model, self._threads = model, cpu_threads
        self._transcriber = None

    def _resume(self) -> None:
        """Continue an earlier run in the same folder: its totals, clip numbers and recordings."""
        import json

        summary = self.out / "summary.json"
        if summary.is_file():
            try:
                d = json.loads(summary.read_text(encoding="utf-8"))
                self.report.kept_s = float(d.get("hours_kept", 0.0)) * 3600
                self.report.clips = int(d.get("clips", 0))
                self.report.recordings = int(d.get("recordings", 0))
                for reason, v in d.get("dropped", {}).items():
                    self.report.drop(reason, float(v["hours"]) * 3600, int(v["stretches"]))
            except (ValueError, KeyError, TypeError):
                pass  # an unreadable summary: totals start again, clips are kept
        manifest = self.out / "manifest.jsonl"
        if manifest.is_file():
            for line in open(manifest, encoding="utf-8"):
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                self.done_sources.add(str(row.get("source")))
                m = re.search(r"-(\d+)\.\w+$", str(row.get("audio", row.get("audio_filepath", ""))))
                if m:
                    self._next = max(self._next, int(m.group(1)) + 1)

    def transcriber(self):
        if self._transcriber is None:
            from ..asr.pipeline import Transcriber

            self._transcriber = Transcriber(self._model, cpu_threads=self._threads)
        return self._transcriber

    def add(self, source, alignment: Alignment, stem: str) -> list[dict]:
        """Plan, verify and write the clips of one recording; returns the manifest rows written."""
        return self.write_checked(source, alignment, check_clips(source, alignment, self.options, self.transcriber),
                                  stem)

    def write_checked(self, source, alignment: Alignment, checked: "CheckedClips", stem: str) -> list[dict]:
        """Write the clips ``check_clips`` kept (cut from the audio again) and count what it dropped."""
        self.report.recordings += 1
        for reason, seconds in checked.dropped:
            self.report.drop(reason, seconds)
        kept = {id(c): (err, heard) for c, err, heard in checked.kept}
        return [self._write(clip, samples, rate, alignment, stem, *kept[id(clip)])
                for clip, samples, rate in cut_audio(source, [c for c, _e, _h in checked.kept])]

    def _write(self, clip: Clip, samples: np.ndarray, rate: int, a: Alignment, stem: str, err: float,
               heard: str) -> dict:
        import soundfile as sf

        name = clip_name(stem, self._next, self.options.clip_format)
        self._next += 1
        path = self.clip_dir / name
        tmp = path.with_name("." + path.name + ".part")
        sf.write(str(tmp), samples, rate, format=self.options.clip_format.upper(), subtype="PCM_16")
        tmp.replace(path)
        self.report.clips += 1
        self.report.kept_s += clip.duration_s
        rel = f"clips/{name}"
        if self.options.manifest_format == "nemo":
            row = {"audio_filepath": rel, "text": clip.text, "duration": round(clip.duration_s, 3),
                   "lang": a.language}
        else:
            row = {"audio": rel, "text": clip.text, "lang": a.language, "duration_s": round(clip.duration_s, 3)}
        row.update({"source": a.audio, "start_s": clip.start_s, "end_s": clip.end_s,
                    "score": round(clip.score, 3), "error": round(err, 3), "heard": heard})
        self.manifest.write(row)
        return row

    def close(self) -> dict:
        """Finish: the summary (also written to summary.json)."""
        import json

        from ..util import atomic_write_text, json_text

        self.manifest.close()
        summary = self.report.to_dict()
        summary["options"] = {k: v for k, v in dataclasses.asdict(self.options).items()}
        atomic_write_text(self.out / "summary.json", json_text(summary, indent=2) + "\n")
        return summary
