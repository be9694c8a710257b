"""Whisper forced alignment: known text, cross-attention DTW, per-unit times and probabilities.

The recogniser's encoder reads a window of audio (at most 30 s); the decoder is *given* the
text's tokens instead of choosing them (CTranslate2's ``Whisper.align``, which is how
faster-whisper times words), and dynamic time warping over the alignment heads' cross-attention
gives each token its frames. No recognition error can enter: the tokens are the text's.
Each token's probability under the decoder is the unit's confidence.

    >>> aligner = WhisperForcedAligner(load_engine())                       # doctest: +SKIP
    >>> aligner.align([ForcedWindow(samples, ("Hello", "world."), "en")])  # doctest: +SKIP
    [[UnitTime(start_s=0.52, end_s=0.88, probability=0.91), ...]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..tts.text import HAN_RE

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame (10 ms)
TIME_PRECISION = 0.02  # seconds per encoder position
MAX_WINDOW_S = 30.0  # Whisper's window
MAX_TEXT_TOKENS = 440  # the decoder holds 448 positions, the start sequence included
WINDOW_PAD_S = 1.0  # silence after the audio inside the encoder window
WINDOW_STEP_S = 5.0  # encoder windows come in these steps so that windows batch together
WINDOW_MIN_S = 10.0
TEST_NEXT = 3  # pieces after a tested one whose probabilities count
CJK_CLOSERS = "。，、；：！？」』）"  # no space after these either
BATCH_FRAMES = 8 * 3000  # encoder frames per batch: bounds memory like the recogniser does


@dataclass(frozen=True, eq=False)
class ForcedWindow:
    """Audio (16 kHz float32, at most 30 s) and the pieces of text said in it, in order."""

    samples: np.ndarray
    pieces: tuple[str, ...]  # one per unit, as written (punctuation included)
    cores: tuple[tuple[int, int], ...]  # the timed part of each piece: (start, end) within the piece
    language: str
    drop: tuple[int, ...] = ()  # pieces to test: aligned again without them, on the same encoding


@dataclass(frozen=True)
class UnitTime:
    """Window-relative times of one unit and the mean probability of its tokens."""

    start_s: float
    end_s: float
    probability: float
    # for a piece in ``drop``: the log-probability of the pieces after it with and without it in the text
    next_with: float | None = None
    next_without: float | None = None


def encoder_frames(n_samples: int) -> int:
    """Encoder window (mel frames) for ``n_samples`` of audio: rounded up in steps, 10-30 s."""
    need_s = n_samples / SAMPLE_RATE + WINDOW_PAD_S
    window_s = min(MAX_WINDOW_S, max(WINDOW_MIN_S, math.ceil(need_s / WINDOW_STEP_S) * WINDOW_STEP_S))
    return int(window_s * 100)


def join_pieces(pieces: Sequence[str]) -> tuple[str, list[int]]:
    """The window's text and where each piece starts in it (a space between words, none by Chinese)."""
    text, starts = "", []
    for p in pieces:
        if text and not (HAN_RE.match(text[-1]) or HAN_RE.match(p[:1] or " ") or text[-1] in CJK_CLOSERS):
            text += " "
        starts.append(len(text))
        text += p
    return text, starts


class WhisperForcedAligner:
    """Forced alignment with a loaded ``tingshuo.asr.whisper.WhisperEngine``."""

    def __init__(self, engine, median_filter_width: int = 7) -> None:
        self.engine = engine
        self.median_filter_width = median_filter_width

    def max_tokens_ok(self, pieces: Sequence[str], language: str) -> bool:
        return len(self._tokens(join_pieces(pieces)[0], language)[0]) <= MAX_TEXT_TOKENS

    def _tokens(self, text: str, language: str) -> tuple[list[int], list[tuple[int, int]]]:
        tok = self.engine.tokenizer(language, "transcribe")
        enc = tok.tokenizer.encode(" " + text if not HAN_RE.match(text[:1] or " ") else text,
                                   add_special_tokens=False)
        shift = 0 if HAN_RE.match(text[:1] or " ") else 1
        return list(enc.ids), [(a - shift, b - shift) for a, b in enc.offsets]

    def align(self, windows: Sequence[ForcedWindow]) -> list[list[UnitTime]]:
        """Times of each window's units (window-relative seconds), in the order given."""
        out: list[list[UnitTime] | None] = [None] * len(windows)
        groups: dict[tuple[int, str], list[int]] = {}
        for i, w in enumerate(windows):
            if w.samples.size > MAX_WINDOW_S * SAMPLE_RATE:
                raise ValueError("a forced-alignment window is longer than 30 s")
            groups.setdefault((encoder_frames(w.samples.size), w.language), []).append(i)
        for (frames, language), idx in sorted(groups.items()):
            step = max(1, BATCH_FRAMES // frames)
            for k in range(0, len(idx), step):
                part = idx[k:k + step]
                for i, times in zip(part, self._align_batch([windows[i] for i in part], frames, language)):
                    out[i] = times
        return [o or [] for o in out]

    def _features(self, samples: np.ndarray, frames: int) -> np.ndarray:
        n = frames * HOP
        padded = np.zeros(n, np.float32)
        padded[: min(n, samples.size)] = samples[:n]
        from ..asr.whisper import one_blas_thread

        with one_blas_thread():  # the same features under any OMP_NUM_THREADS (Ray sets it): same scores
            feats = self.engine.features(padded, padding=0)
        if feats.shape[1] < frames:
            feats = np.pad(feats, ((0, 0), (0, frames - feats.shape[1])), constant_values=feats.min())
        return feats[:, :frames]

    def _align_batch(self, windows: list[ForcedWindow], frames: int, language: str) -> list[list[UnitTime]]:
        import ctranslate2

        tok = self.engine.tokenizer(language, "transcribe")
        texts = [join_pieces(w.pieces) for w in windows]
        tokens, offsets = zip(*[self._tokens(t, language) for t, _ in texts])
        feats = np.stack([self._features(w.samples, frames) for w in windows])
        with self.engine._lock:  # one model call at a time, as the recogniser does
            encoded = self.engine.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats)))
            num_frames = [max(2, min(frames, w.samples.size // HOP)) for w in windows]
            results = self.engine.model.align(encoded, list(tok.sot_sequence) + [tok.no_timestamps],
                                              [list(t) for t in tokens], num_frames,
                                              median_filter_width=self.median_filter_width)
        out = []
        for w, (text, starts), toks, offs, res in zip(windows, texts, tokens, offsets, results):
            out.append(_unit_times(w, text, starts, toks, offs, res))
        tested = [k for k, w in enumerate(windows) if w.drop and len(w.drop) < len(w.pieces)]
        if tested:
            self._test_drops([windows[k] for k in tested], [out[k] for k in tested],
                             np.asarray(encoded)[tested], [num_frames[k] for k in tested], language)
        return out

    def _test_drops(self, windows, outs, encoded: np.ndarray, num_frames, language: str) -> None:
        """Align each window again without its ``drop`` pieces; note how the piece after each
        dropped one fares with and without it (a word that was not said lowers the next one)."""
        import ctranslate2

        tok = self.engine.tokenizer(language, "transcribe")
        reduced, kept_idx = [], []
        for w in windows:
            keep = [i for i in range(len(w.pieces)) if i not in set(w.drop)]
            kept_idx.append(keep)
            reduced.append(ForcedWindow(w.samples, tuple(w.pieces[i] for i in keep),
                                        tuple(w.cores[i] for i in keep), w.language))
        texts = [join_pieces(w.pieces) for w in reduced]
        tokens, offsets = zip(*[self._tokens(t, language) for t, _ in texts])
        with self.engine._lock:
            results = self.engine.model.align(ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)),
                                              list(tok.sot_sequence) + [tok.no_timestamps],
                                              [list(t) for t in tokens], list(num_frames),
                                              median_filter_width=self.median_filter_width)
        for w, rw, units, keep, (text, starts), toks, offs, res in zip(windows, reduced, outs, kept_idx, texts,
                                                                       tokens, offsets, results):
            without = dict(zip(keep, _unit_times(rw, text, starts, toks, offs, res)))
            for d in w.drop:
                nxt = [i for i in range(d + 1, len(w.pieces)) if i not in set(w.drop)][:TEST_NEXT]
                if not nxt:
                    continue
                units[d] = UnitTime(units[d].start_s, units[d].end_s, units[d].probability,
                                    _log_sum(units[i].probability for i in nxt),
                                    _log_sum(without[i].probability for i in nxt))


def _log_sum(probs) -> float:
    return float(sum(np.log(max(p, 1e-6)) for p in probs))


def _unit_times(w: ForcedWindow, text: str, starts: list[int], tokens, offsets, result) -> list[UnitTime]:
    """Spread token times over the units whose cores they overlap (a token over two Chinese
    characters is split between them by characters)."""
    n_tok = len(tokens)
    text_idx = np.array([p[0] for p in result.alignments])
    time_idx = np.array([p[1] for p in result.alignments])
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] * TIME_PRECISION
    probs = np.asarray(result.text_token_probs, np.float64)
    if jump_times.size < n_tok + 1:  # malformed path: spread the window evenly (never seen, kept safe)
        jump_times = np.linspace(0.0, w.samples.size / SAMPLE_RATE, n_tok + 2)
    t0, t1 = jump_times[:n_tok], jump_times[1:n_tok + 1]
    trimmed = []
    for oa, ob in offsets:  # a token's leading space is not part of any unit
        oa, ob = max(0, oa), max(0, ob)
        if not text[oa:ob].strip():  # a token of spaces alone belongs to the word it precedes
            oa, ob = ob, ob + 1
        while oa < ob - 1 and text[oa].isspace():
            oa += 1
        trimmed.append((oa, ob))
    offsets = trimmed
    units = []
    for (cs, ce), s, piece in zip(w.cores, starts, w.pieces):
        # the start is the word's own; the end takes in the punctuation after it, whose token tends
        # to take the word's last frames (measured: sentence ends 20 ms late instead of 150 ms early)
        a, b = s + cs, s + len(piece)
        lo, hi, ps = math.inf, -math.inf, []
        for k, (oa, ob) in enumerate(offsets):
            ov = min(ob, b) - max(oa, a)
            if ov <= 0:
                continue
            span = max(1, ob - oa)
            # the share of this token's time that falls on the unit's characters
            ta = t0[k] + (t1[k] - t0[k]) * max(0, a - oa) / span
            tb = t0[k] + (t1[k] - t0[k]) * min(span, b - oa) / span
            lo, hi = min(lo, ta), max(hi, tb)
            if k < probs.size:
                ps.append(probs[k])
        if not ps:
            units.append(UnitTime(float("nan"), float("nan"), 0.0))
            continue
        units.append(UnitTime(float(lo), float(hi), float(np.exp(np.mean(np.log(np.maximum(ps, 1e-6)))))))
    # the end-of-text token tends to start early: the last unit runs to the end of the audio
    # (windows end in pauses or at a word boundary; edges in silence are moved back later)
    for k in range(len(units) - 1, -1, -1):
        if not math.isnan(units[k].start_s):
            units[k] = UnitTime(units[k].start_s, max(units[k].end_s, w.samples.size / SAMPLE_RATE),
                                units[k].probability)
            break
    return units
