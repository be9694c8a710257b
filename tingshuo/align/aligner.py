"""Align a recording of any length with its text: listen, plan, force-align window by window.

    >>> a = Aligner()                                                   # doctest: +SKIP
    >>> result = a.align("chapter.mp3", open("chapter.txt").read())     # doctest: +SKIP
    >>> result.words[0]                                                 # doctest: +SKIP
    AlignedWord(text='Chapter', start_s=1.02, end_s=1.41, score=0.97, offset=0)

Memory is bounded for any length: both passes stream the file in blocks; the first keeps the
recognised words and 10 ms frame features, the second holds one batch of windows (at most
``batch_size`` x 30 s). ``Aligner.align`` is a plain function of (audio, text) -> ``Alignment``
with no output side effects, so that any executor (local, Ray) can run it per item.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ..audio.io import Source, iter_audio, probe
from ..errors import InputError
from .base import AlignedWord, Alignment, AlignOptions, Unaligned
from .forced import ForcedWindow, WhisperForcedAligner
from .listen import SAMPLE_RATE, Heard, listen
from .plan import Item, Plan, Window, make_plan, make_windows
from .recover import Thresholds, accepted, plan_second_pass, unlike_heard
from .refine import (at_pause, edges_to_pauses, pack_pauses, pause_runs, silence_mask, snap, split_at_pauses,
                     unpack_time, vad_frames, widen_short)
from .text import Unit, detect_language, is_blank, is_cjk_language, join_texts, units, without_format_chars

LISTEN_SHARE = 0.8  # of the progress bar: the recognition pass takes most of the time
DOUBT_MIN_S = 0.07  # a doubtful unit aligned shorter than this was not said ...
DOUBT_MIN_P = 0.05  # ... nor one the forced decoder found this improbable
TEST_RUN_MAX = 2  # at most this many unheard units in a row are tested as possibly not said
HEARD_IN_TEXT_MIN = 0.5  # share of the recognised words found in the text that rules out a mismatch
UNSAID_MARGIN = 4.0  # log-probability a unit's window must gain without it to call the unit not said
ProgressFn = Callable[[float], None]  # fraction of the work done, 0..1


class Aligner:
    """Loads the models once; ``align`` each (audio, text) pair."""

    def __init__(self, options: AlignOptions | None = None) -> None:
        from ..asr.pipeline import load_engine

        self.options = options or AlignOptions()
        self.engine = load_engine(self.options.model, self.options.cpu_threads)
        if not hasattr(self.engine, "tokenizer"):
            raise InputError(f"Model {self.engine.name} cannot force-align (it is not a Whisper model); "
                             "use whisper-base or whisper-tiny.en.")
        self.forced = WhisperForcedAligner(self.engine)
        self.thresholds = Thresholds()

    # ------------------------------------------------------------------ one item
    def align(self, source: Source, text: str, *, language: str | None = None, label: str | None = None,
              on_progress: ProgressFn | None = None) -> Alignment:
        """Word (character) times of ``text`` in ``source``; raises ``InputError`` for bad input."""
        o = self.options
        label = label or _label(source)
        if not isinstance(text, str) or is_blank(text):
            raise InputError(f"The text for {label} is empty; give the words that were said.")
        language = _language(language or o.language, text, self.engine, source)
        text_units = units(text, language)
        if not text_units:
            raise InputError(f"The text for {label} has no words to align (only punctuation or symbols).")
        total_s = _duration(source)
        progress = _Progress(on_progress, total_s)
        heard = listen(self.engine, source, language, beam_size=o.beam_size, batch_size=o.batch_size,
                       on_progress=progress.listened)
        if not heard.regions:
            raise InputError(f"{label}: no speech found ({heard.duration_s:.1f} s of audio); "
                             "check that the file holds the recording of the text.")
        if not heard.words:
            raise InputError(_mismatch_message(label, language, 0.0, heard, self.engine))
        min_anchor = o.min_anchor or (3 if is_cjk_language(language) else 2)
        plan = make_plan(text_units, heard, language, min_anchor=min_anchor, unspoken_ratio=o.unspoken_ratio)
        n_keys = sum(len(u.keys) for u in text_units)
        # little of the text heard is a mismatch, unless most of what was heard is in the text (a
        # long text, say a whole book, of which the recording reads a part: the rest is reported)
        # (a short text is too short for that share: it is a mismatch when none of it was heard)
        if (plan.heard_share < HEARD_IN_TEXT_MIN
                and (plan.matched_share < o.min_match if n_keys >= 4 else plan.any_heard_share == 0)):
            raise InputError(_mismatch_message(label, language, plan.matched_share, heard, self.engine))
        silent = silence_mask(heard) if o.snap else None
        pauses = pause_runs(silent, 0.1) if silent is not None else []
        windows = make_windows(plan, heard, o.max_window_s, pauses)
        windows = self._fit_tokens(plan, windows, language)
        times = self._force(source, plan, windows, language, progress, silent)
        if o.recover:
            self._recover(source, plan, times, text_units, heard, language, silent)
        result = _assemble(text, text_units, plan, times, heard, silent, o, label, language)
        progress.done()
        return result

    # ------------------------------------------------------------------ pass two
    def _fit_tokens(self, plan: Plan, windows: list[Window], language: str) -> list[Window]:
        """Split any window whose text is over the decoder's token budget (very dense text)."""
        out = []
        for w in windows:
            stack = [w]
            while stack:
                cur = stack.pop()
                pieces = [without_format_chars(plan.items[i].text, plan.items[i].core)[0] for i in cur.items]
                if self.forced.max_tokens_ok(pieces, language):
                    out.append(cur)
                    continue
                if len(cur.items) <= 1:
                    # one "word" longer than the decoder's window (hundreds of combining marks, a
                    # run of symbols): not aligned, so reported as text not aligned (qa5: it was an
                    # "unexpected RuntimeError: no position encodings for positions >= 448")
                    continue
                mid = len(cur.items) // 2
                a, b = plan.items[cur.items[mid - 1]], plan.items[cur.items[mid]]
                cut = (a.t1 + b.t0) / 2
                stack.append(Window(cut, cur.end_s, cur.items[mid:]))
                stack.append(Window(cur.start_s, cut, cur.items[:mid]))
        assert all(len(w.items) for w in out)
        return out if out == windows else sorted(out, key=lambda w: w.start_s)

    def _force(self, source: Source, plan: Plan, windows: list[Window], language: str,
               progress: "_Progress", silent: np.ndarray | None) -> dict[int, tuple[float, float, float]]:
        """Item index -> (start_s, end_s, probability) in file time; the audio is streamed again.

        Pauses (``silent`` 10 ms frames) are cut out of each window before alignment.
        """
        out: dict[int, tuple[float, float, float]] = {}
        batch: list[tuple[Window, np.ndarray]] = []

        def flush() -> None:
            packed = [pack_pauses(samples, w.start_s, silent) if silent is not None else (samples, [(0, samples.size)])
                      for w, samples in batch]
            fws = []
            for (w, _), (p, _) in zip(batch, packed):
                pieces = [without_format_chars(plan.items[i].text, plan.items[i].core) for i in w.items]
                fws.append(ForcedWindow(p, tuple(t for t, _ in pieces), tuple(c for _, c in pieces), language,
                                        drop=_to_test([plan.items[i] for i in w.items])))
            for (w, _), (_, kept), res in zip(batch, packed, self.forced.align(fws)):
                for i, t in zip(w.items, res):
                    if not math.isnan(t.start_s):
                        out[i] = (w.start_s + unpack_time(t.start_s, kept, False),
                                  w.start_s + unpack_time(t.end_s, kept, True), t.probability,
                                  t.next_with, t.next_without)
            if batch:
                progress.aligned(batch[-1][0].end_s)
            batch.clear()

        k = 0
        buf = np.zeros(0, np.float32)
        buf_start = 0  # file sample of buf[0]
        for block in iter_audio(source, block_s=30.0):
            buf = np.concatenate([buf, block]) if buf.size else block
            end = buf_start + buf.size
            while k < len(windows) and int(windows[k].end_s * SAMPLE_RATE) <= end:
                w = windows[k]
                a = max(0, int(w.start_s * SAMPLE_RATE) - buf_start)
                b = int(w.end_s * SAMPLE_RATE) - buf_start
                batch.append((w, buf[a:b].copy()))
                k += 1
                if len(batch) >= self.options.batch_size:
                    flush()
            keep = int(windows[k].start_s * SAMPLE_RATE) - buf_start if k < len(windows) else buf.size
            keep = max(0, min(keep, buf.size))
            buf, buf_start = buf[keep:], buf_start + keep
        while k < len(windows):  # windows that end past the decoded audio (rounding)
            w = windows[k]
            a = max(0, int(w.start_s * SAMPLE_RATE) - buf_start)
            batch.append((w, buf[a:].copy()))
            k += 1
        flush()
        return out

    def _recover(self, source: Source, plan: Plan, times: dict, text_units: list[Unit], heard: Heard,
                 language: str, silent: np.ndarray | None) -> None:
        """Second pass (``recover.py``): align each run of text the first pass left out again
        between its aligned neighbours; the units found said join ``plan`` and ``times`` in place."""
        kept = {it.unit: times[i] for i, it in enumerate(plan.items)
                if it.unit >= 0 and i in times and _kept(it, times[i])}
        if not kept or len(kept) == len(text_units):
            return
        best: dict[int, tuple] = {}
        edited_for: dict[int, int] = {}  # aligned neighbour -> the found unit whose alignment moved its edge
        retry: set[int] | None = None
        extra = [it for it in plan.items if it.unit < 0]  # speech not in the text, at the heard times
        cjk = is_cjk_language(language)
        for _ in range(2):  # the runs; then the units of short runs that failed together, one by one
            plan2, windows2, cands = plan_second_pass(text_units, kept, heard, silent, plan.key_s, singles=retry)
            # a window over the decoder's token budget (a "word" of thousands of characters) is not tried
            windows2 = [w for w in windows2 if self.forced.max_tokens_ok(
                [without_format_chars(plan2.items[i].text, plan2.items[i].core)[0] for i in w.items], language)]
            if not windows2:
                break
            times2 = self._force(source, plan2, windows2, language, _Progress(None, None), silent)
            for c in cands:
                t = times2.get(c.item)
                if (accepted(c, t, silent, heard, self.thresholds) and (c.unit not in best or t[2] > best[c.unit][2])
                        and not unlike_heard(c, t, text_units[c.unit], extra, cjk)):
                    best[c.unit] = (t[0], t[1], t[2], None, None)
                    # the neighbours' edges next to it come from this alignment too: with the word back
                    # in the text they no longer stretch over its speech (their far edges stay)
                    for u, i in c.neighbours:
                        if i in times2 and u not in best:
                            old, new = kept[u], times2[i]
                            t0, t1 = (old[0], new[1]) if u < c.unit else (new[0], old[1])
                            if t1 > t0:
                                best[u] = (t0, t1, old[2], None, None)
                                edited_for[u] = c.unit
            if retry is not None:
                break
            # (a run of which a unit was found keeps its other units out: they would get its speech)
            found_runs = {c.run for c in cands if c.unit in best}
            retry = {c.unit for c in cands if c.whole and c.run[1] - c.run[0] >= 2 and c.run not in found_runs}
            if not retry:
                break
        if best:
            _merge(plan, times, _in_time_order(best, kept, edited_for), text_units)


def _in_time_order(best: dict[int, tuple], kept: dict[int, tuple], edited_for: dict[int, int]) -> dict[int, tuple]:
    """The found units whose times keep the text's order, with the neighbour edges they moved.

    The two ends of a long run are tried in the same gap (recover.plan_second_pass), each in its own
    window: both can be found in the same speech (a sentence written more often than it was said),
    and a later unit would then come before an earlier one. Walking in text order, a found unit that
    starts before the unit before it ends, or ends after the next first-pass unit starts, is dropped,
    and so are the neighbour edges its alignment moved."""
    tol = 0.02
    found = {u: t for u, t in best.items() if u not in kept}
    order = sorted(set(kept) | set(found))
    dropped: set[int] = set()
    while True:
        times = {u: best[u] if u in best and edited_for.get(u) not in dropped else kept[u] for u in kept}
        times.update((u, t) for u, t in found.items() if u not in dropped)
        prev_end, bad = -1.0, None
        next_kept = {}
        nxt = None
        for u in reversed(order):
            next_kept[u] = nxt
            if u in kept:
                nxt = u
        for u in order:
            if u in dropped:
                continue
            t0, t1 = times[u][0], times[u][1]
            if u in found and (t0 < prev_end - tol or
                               (next_kept[u] is not None and t1 > times[next_kept[u]][0] + tol)):
                bad = u
                break
            prev_end = max(prev_end, t1)
        if bad is None:
            break
        dropped.add(bad)
    if not dropped:
        return best
    return {u: t for u, t in best.items() if u not in dropped and edited_for.get(u) not in dropped}


# ---------------------------------------------------------------------------------- assembly

def _merge(plan: Plan, times: dict, found: dict[int, tuple], text_units: list[Unit]) -> None:
    """Put units found by the second pass into ``plan.items`` (in text order) and ``times``;
    speech-not-in-text items they overlap are dropped (the speech was these words)."""
    old_items, old_times = plan.items, dict(times)
    items: list[Item] = []
    times.clear()
    todo = sorted(found)
    k = 0

    def add(it: Item, t: tuple | None) -> None:
        if t is not None:
            times[len(items)] = t
        items.append(it)

    for i, it in enumerate(old_items):
        if it.unit >= 0:
            while k < len(todo) and todo[k] < it.unit:
                u = text_units[todo[k]]
                add(Item(todo[k], u.text, (u.core_start - u.start, u.core_end - u.start), 0.0, 0.0, True),
                    found[todo[k]])
                k += 1
            if it.unit in found:
                add(dataclasses.replace(it, anchored=True), found[it.unit])
                k += 1  # todo[k] is it.unit (the loop above stopped there)
                continue
        t = old_times.get(i)
        if it.unit < 0 and t is not None and any(
                min(t[1], f[1]) - max(t[0], f[0]) > 0.5 * max(1e-3, t[1] - t[0]) for f in found.values()):
            t = None
        add(it, t)
    for u_i in todo[k:]:
        u = text_units[u_i]
        add(Item(u_i, u.text, (u.core_start - u.start, u.core_end - u.start), 0.0, 0.0, True), found[u_i])
    plan.items = items


def _assemble(text: str, text_units: list[Unit], plan: Plan, times: dict, heard: Heard, silent,
              o: AlignOptions, label: str, language: str) -> Alignment:
    order = [i for i in range(len(plan.items)) if i in times]
    spans = [[times[i][0], times[i][1]] for i in order]
    runs = pause_runs(silent) if silent is not None else []
    if silent is not None:
        ends = [it.unit >= 0 and _ends_phrase(text_units[it.unit]) for it in (plan.items[i] for i in order)]
        split_at_pauses(spans, runs, ends, speech=heard.speech_share,
                        heard=[plan.items[i].heard_s for i in order])
        placed0, placed1 = edges_to_pauses(spans, runs, vad=vad_frames(heard))
    else:
        placed0 = placed1 = [False] * len(spans)
    aligned: dict[int, tuple[float, float, float]] = {}  # unit -> times
    extra: list[tuple[float, float, str]] = []
    doubtful_out = [it.unit for i, it in enumerate(plan.items) if i not in times and it.unit >= 0]
    for i, (t0, t1), at0, at1 in zip(order, spans, placed0, placed1):
        it = plan.items[i]
        p = times[i][2]
        s0, s1, moved0, moved1 = snap(t0, t1, silent) if silent is not None else (t0, t1, False, False)
        if o.shift_s:  # the DTW's bias, on edges inside speech only (an edge at a pause is measured)
            if not (moved0 or at0) and not _by_pause(s0, runs, silent, after=True):
                s0 += o.shift_s
            if not (moved1 or at1) and not _by_pause(s1, runs, silent, after=False):
                s1 += o.shift_s
        s0, s1 = max(0.0, s0), min(heard.duration_s, max(s1, s0 + 0.01))
        if it.unit < 0:
            extra.append((s0, s1, it.text[it.core[0]:it.core[1]]))
            continue
        if not _kept(it, times[i]):
            doubtful_out.append(it.unit)
            continue
        aligned[it.unit] = (s0, s1, p)
    keys = sorted(aligned)
    spans2 = [list(aligned[k][:2]) for k in keys]
    widen_short(spans2)
    for k, (s0, s1) in zip(keys, spans2):
        aligned[k] = (s0, s1, aligned[k][2])
    # monotonic, non-overlapping word times (a snapped edge never crosses a neighbour)
    for a, b in zip(keys[:-1], keys[1:]):
        if aligned[b][0] < aligned[a][1]:
            mid = (aligned[a][1] + aligned[b][0]) / 2
            aligned[a] = (aligned[a][0], max(aligned[a][0], mid), aligned[a][2])
            aligned[b] = (min(mid, aligned[b][1]), aligned[b][1], aligned[b][2])
    words = tuple(AlignedWord(text[u.core_start:u.core_end], round(float(aligned[i][0]), 3),
                              round(float(aligned[i][1]), 3), float(aligned[i][2]), offset=u.core_start)
                  for i, u in enumerate(text_units) if i in aligned)
    unaligned = _unaligned_text(text, text_units, plan, aligned, doubtful_out, heard)
    unaligned += _unaligned_speech(extra, language)
    unaligned.sort(key=lambda u: (u.start_s, u.offset))
    return Alignment(audio=label, language=language, words=words, unaligned=tuple(unaligned),
                     duration_s=round(heard.duration_s, 3), text=text)


def _kept(it: Item, raw: tuple) -> bool:
    """Whether the forced alignment ``raw`` of text item ``it`` stands (not "not said")."""
    if it.anchored:
        return True
    p = raw[2]
    return not ((it.doubtful and ((raw[1] - raw[0]) < DOUBT_MIN_S or p < DOUBT_MIN_P)) or _unsaid_by_test(raw))


def _to_test(items: list[Item]) -> tuple[int, ...]:
    """Items whose words may not have been said: text the recogniser did not hear, alone or in
    pairs between heard words (a longer unheard run is misrecognised speech, not inserted text).
    They are tested by aligning the window without them too."""
    out: list[int] = []
    run: list[int] = []
    for k, it in enumerate([*items, None]):
        if it is not None and it.unit >= 0 and not it.anchored and not it.heard:
            run.append(k)
            continue
        if 0 < len(run) <= TEST_RUN_MAX:
            out.extend(run)
        run = []
    return tuple(out)


def _unsaid_by_test(raw: tuple) -> bool:
    """A unit was not said when the text without it explains the audio better: the forced decoder's
    probability of the unit, times that of the unit after it, is below that of the unit after it
    when the unit is left out."""
    p, with_next, without_next = raw[2], raw[3], raw[4]
    if with_next is None or without_next is None:
        return False
    return np.log(max(p, 1e-6)) + with_next + UNSAID_MARGIN < without_next


def _by_pause(t: float, runs: list[tuple[float, float]], silent, after: bool, tol_s: float = 0.04) -> bool:
    """Whether ``t`` is where a pause ends (``after``) or begins: an edge measured, not estimated."""
    import bisect

    if silent is None:
        return False
    if at_pause(t, silent, before=after):
        return True
    if not runs:
        return False
    k = bisect.bisect_left(runs, (t - 1.0,))
    for a, b in runs[k:k + 64]:
        if a > t + tol_s:
            break
        if (after and abs(t - b) <= tol_s) or (not after and abs(t - a) <= tol_s):
            return True
    return False


def _ends_phrase(u: Unit) -> bool:
    """The text has a pause due after this unit (sentence or clause mark, end of line)."""
    return u.sentence_end or u.clause_end or u.paragraph_end


def _unaligned_text(text, text_units, plan: Plan, aligned: dict, doubtful_out: list[int],
                    heard: Heard) -> list[Unaligned]:
    missing = sorted({u for lo, hi, _, _ in plan.unspoken for u in range(lo, hi)} | set(doubtful_out))
    missing = [u for u in missing if u not in aligned]
    out = []
    runs: list[list[int]] = []
    for u in missing:
        if runs and u == runs[-1][-1] + 1:
            runs[-1].append(u)
        else:
            runs.append([u])
    keys = sorted(aligned)
    for run in runs:
        lo, hi = run[0], run[-1]
        before = [k for k in keys if k < lo]
        after = [k for k in keys if k > hi]
        t0 = aligned[before[-1]][1] if before else 0.0
        t1 = aligned[after[0]][0] if after else heard.duration_s
        span = text[text_units[lo].core_start:text_units[hi].core_end]
        out.append(Unaligned(span, round(t0, 3), round(max(t0, t1), 3), "text", offset=text_units[lo].core_start))
    return out


def _unaligned_speech(extra: list[tuple[float, float, str]], language: str) -> list[Unaligned]:
    out: list[Unaligned] = []
    run: list[tuple[float, float, str]] = []
    for e in sorted(extra):
        if run and e[0] - run[-1][1] > 0.5:
            out.append(Unaligned(join_texts([r[2] for r in run]), run[0][0], run[-1][1], "speech"))
            run = []
        run.append(e)
    if run:
        out.append(Unaligned(join_texts([r[2] for r in run]), run[0][0], run[-1][1], "speech"))
    return out


# ---------------------------------------------------------------------------------- helpers

class _Progress:
    def __init__(self, fn: ProgressFn | None, total_s: float | None) -> None:
        self.fn, self.total = fn, total_s

    def _report(self, fraction: float) -> None:
        if self.fn is not None:
            self.fn(min(1.0, max(0.0, fraction)))

    def listened(self, t: float) -> None:
        if self.total:
            self._report(LISTEN_SHARE * t / self.total)

    def aligned(self, t: float) -> None:
        if self.total:
            self._report(LISTEN_SHARE + (1 - LISTEN_SHARE) * t / self.total)

    def done(self) -> None:
        self._report(1.0)


def _duration(source: Source) -> float | None:
    from ..types import Audio

    if isinstance(source, Audio):
        return source.duration_s
    if isinstance(source, np.ndarray):
        return source.shape[0] / SAMPLE_RATE
    try:
        info = probe(source)
        if hasattr(source, "seek"):
            source.seek(0)
        return info.duration_s
    except Exception:  # the first pass reports unreadable audio in its own words
        if hasattr(source, "seek"):
            source.seek(0)
        return None


MIXED_SHARE = 0.2  # a text whose Latin words and Chinese characters each make this share of it is mixed


def _language(language: str | None, text: str, engine, source: Source | None = None) -> str:
    """The language to align in: the one given; else the text's, or for a text that mixes
    English and Chinese (each ``MIXED_SHARE`` of it or more), the recording's (its first 30 s).
    A mostly-English text with a Chinese name in it was aligned as Chinese and refused as a
    mismatch (qa5)."""
    from ..asr.text import normalize_language

    code = normalize_language(language)
    if code is None:
        code = detect_language(text)
        if source is not None and engine.multilingual and _mixed(text):
            spoken = _audio_language(source, engine)
            if spoken in ("en", "zh"):
                code = spoken
    if code not in engine.languages:
        if not engine.multilingual:
            raise InputError(f"Model {engine.name} is English-only; it cannot align '{code}' text. "
                             "Use --model whisper-base.")
        raise InputError(f"Unknown language '{language}'; use a code such as en or zh.")
    return code


def _mismatch_message(label: str, language: str, share: float, heard: Heard, engine) -> str:
    spoken = _spoken_language(heard, engine)
    names = {"en": "English", "zh": "Chinese"}
    hint = ""
    if spoken and spoken != language:
        hint = (f" The speech sounds like {names.get(spoken, spoken)} but the text is "
                f"{names.get(language, language)}.")
    return (f"{label}: the text does not match the speech (only {share:.0%} of it was heard).{hint} "
            "Check that the text belongs to this recording, or pass --language.")


def _mixed(text: str) -> bool:
    import re

    from ..tts.text import HAN_RE

    sample = text[:20000]
    n_han = len(HAN_RE.findall(sample))
    n_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]+", sample))
    total = n_han + n_words
    return total > 0 and min(n_han, n_words) >= MIXED_SHARE * total


def _audio_language(source: Source, engine) -> str | None:
    """The language Whisper detects in the recording's first 30 s (None when it cannot tell)."""
    try:
        block = next(iter(iter_audio(source, block_s=30.0)), None)
    except Exception:  # unreadable audio is reported by the recognition pass, with its own message
        return None
    return _detect(block, engine) if block is not None and block.size else None


def _spoken_language(heard: Heard, engine) -> str | None:
    """The language the recogniser detects on the first recognised stretch (for error messages)."""
    return _detect(heard.first_chunk, engine)


def _detect(samples: np.ndarray | None, engine) -> str | None:
    """The language Whisper detects in the first 30 s of ``samples`` (the recogniser's own encode and
    language detection), None when it cannot tell."""
    from ..asr.whisper import FULL_FRAMES

    try:
        if samples is None or not engine.multilingual:
            return None
        with engine._lock:
            return engine._detect(engine._encode([samples[: 30 * SAMPLE_RATE]], FULL_FRAMES))[0][0][0]
    except Exception:  # only a hint: never fail the error message on it
        return None


def _label(source) -> str:
    import os

    from ..types import Audio

    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, Audio) and source.source:
        return source.source
    return "<audio>"


def replace(options: AlignOptions, **changes) -> AlignOptions:
    return dataclasses.replace(options, **changes)


__all__ = ["Aligner", "Item"]
