"""The first pass over a recording: what the recogniser hears, where there is speech, how loud.

The audio is streamed in blocks (never held whole): the VAD cuts speech regions, which are
packed into chunks and recognised in batches with word times (greedy by default: the words
only need to be good enough to anchor the text). Alongside, the VAD's frame probabilities
(32 ms) and the log energy of every 10 ms frame are kept for the whole file — a few MB for an
hour — to place window cuts in pauses and to move word edges out of silence.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..asr.base import TranscribeOptions
from ..asr.chunking import SpeechRegions, pack
from ..audio.io import iter_audio
from ..audio.vad import FRAME_S, SileroVAD, VADOptions

SAMPLE_RATE = 16000
ENERGY_HOP = 160  # 10 ms frames
ENERGY_FRAME_S = ENERGY_HOP / SAMPLE_RATE
VAD_OPTIONS = VADOptions(min_silence_s=0.3, speech_pad_s=0.2)
BLOCK_S = 30.0
LONG_WORD_S = 2.5  # a heard word this long: the chunk is recognised again from it (see _chunk_words)


@dataclass(frozen=True)
class HeardWord:
    start_s: float
    end_s: float
    text: str  # as the recogniser wrote it (leading space for English words)
    probability: float


@dataclass(frozen=True, eq=False)
class Heard:
    """Pass-one results for one recording (file time throughout)."""

    words: tuple[HeardWord, ...]
    duration_s: float
    vad_probs: np.ndarray  # speech probability per 32 ms frame
    energy_db: np.ndarray  # log energy per 10 ms frame
    regions: tuple[tuple[float, float], ...]  # speech regions (padded), seconds
    first_chunk: np.ndarray | None = None  # the first recognised chunk's audio (language hints)

    def speech_share(self, t0: float, t1: float) -> float:
        """Mean VAD speech probability between ``t0`` and ``t1`` (0..1)."""
        a, b = int(t0 / FRAME_S), max(int(t0 / FRAME_S) + 1, int(np.ceil(t1 / FRAME_S)))
        p = self.vad_probs[a:b]
        return float(p.mean()) if p.size else 0.0

    def speech_s(self, t0: float, t1: float) -> float:
        """Seconds of speech (VAD) between ``t0`` and ``t1``."""
        if t1 <= t0:
            return 0.0
        a, b = int(t0 / FRAME_S), int(np.ceil(t1 / FRAME_S))
        return float(np.count_nonzero(self.vad_probs[a:b] >= 0.5)) * FRAME_S


class _RecordingVAD:
    """The VAD, keeping every frame probability it hands out."""

    def __init__(self, vad: SileroVAD) -> None:
        self.vad = vad
        self.probs: list[np.ndarray] = []

    def reset(self) -> None:
        self.vad.reset()
        self.probs = []

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        p = self.vad.probabilities(samples)
        self.probs.append(p)
        return p


class _Energy:
    """Log energy (dB) of consecutive 10 ms frames of a stream."""

    def __init__(self) -> None:
        self.rest = np.zeros(0, np.float32)
        self.out: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        x = np.concatenate([self.rest, block]) if self.rest.size else block
        n = x.size // ENERGY_HOP
        self.rest = x[n * ENERGY_HOP:].copy()
        if n:
            frames = x[: n * ENERGY_HOP].reshape(n, ENERGY_HOP).astype(np.float64)
            self.out.append((10 * np.log10(np.mean(frames * frames, axis=1) + 1e-10)).astype(np.float32))

    def finish(self) -> np.ndarray:
        self.push(np.zeros((-self.rest.size) % ENERGY_HOP, np.float32)) if self.rest.size else None
        return np.concatenate(self.out) if self.out else np.zeros(0, np.float32)


def listen(engine, source, language: str, *, beam_size: int = 1, batch_size: int = 8,
           on_progress: Callable[[float], None] | None = None) -> Heard:
    """Recognise ``source`` in ``language`` with word times; VAD and energy alongside (one pass)."""
    options = TranscribeOptions(language=language, beam_size=beam_size, word_timestamps=True,
                                batch_size=batch_size)
    vad = _RecordingVAD(SileroVAD())
    chunk_s = engine.max_chunk_s - 0.5
    limit = int(chunk_s * SAMPLE_RATE)
    regions = SpeechRegions(vad, VAD_OPTIONS, window_s=chunk_s)
    energy = _Energy()
    queue: deque = deque()
    queued = 0
    words: list[HeardWord] = []
    spans: list[tuple[float, float]] = []
    first: list[np.ndarray] = []

    def decode(final: bool) -> None:
        nonlocal queued
        while queue and (final or queued >= batch_size * limit):
            batch = []
            while queue and len(batch) < batch_size:
                plan, samples = pack(queue, limit)
                queued -= samples.size
                batch.append((plan, samples))
            if not first:
                first.append(batch[0][1])
            results = engine.transcribe_batch([b[1] for b in batch], options, [language] * len(batch))
            for (plan, samples), res in zip(batch, results):
                for w in _chunk_words(engine, samples, res, options, language):
                    words.append(HeardWord(plan.to_original(w.start_s), plan.to_original(w.end_s, True),
                                           w.text, float(w.probability)))
            if on_progress:
                on_progress(max(plan.regions[-1][1] for plan, _ in batch) / SAMPLE_RATE)

    for block in iter_audio(source, block_s=BLOCK_S):
        energy.push(block)
        for piece in regions.push(block):
            queue.append(piece)
            queued += piece.samples.size
            spans.append((piece.start / SAMPLE_RATE, piece.end / SAMPLE_RATE))
        decode(final=False)
    for piece in regions.finish():
        queue.append(piece)
        queued += piece.samples.size
        spans.append((piece.start / SAMPLE_RATE, piece.end / SAMPLE_RATE))
    decode(final=True)
    duration_s = regions.n_samples / SAMPLE_RATE
    words.sort(key=lambda w: w.start_s)
    probs = np.concatenate(vad.probs) if vad.probs else np.zeros(0, np.float32)
    return Heard(tuple(words), duration_s, probs.astype(np.float32), energy.finish(), tuple(spans),
                 first[0] if first else None)


@dataclass(frozen=True)
class _Word:
    start_s: float
    end_s: float
    text: str
    probability: float


def _chunk_words(engine, samples: np.ndarray, res, options: TranscribeOptions, language: str) -> list:
    """A chunk's words (chunk times). When one lasts longer than LONG_WORD_S, the chunk from that word
    on is recognised again on its own: Whisper now and then skips a stretch of a clear sentence and
    stretches the word before it over the gap ("during the [next fifteen or twenty years not only by
    Schoeffer, seven of clubs] He": "the" for 4.9 s), and those said words then had no anchor. The
    new words are kept only if there are more of them and fewer long ones (a first word that took
    the pause before it is heard the same again and stays)."""
    words = [w for seg in res.segments for w in seg.words]
    k = next((i for i, w in enumerate(words) if w.end_s - w.start_s > LONG_WORD_S), None)
    if k is None:
        return words
    t0 = words[k].start_s
    rest = samples[int(t0 * SAMPLE_RATE):]
    if rest.size < SAMPLE_RATE:
        return words
    again = engine.transcribe_batch([rest], options, [language])[0]
    new = [_Word(w.start_s + t0, w.end_s + t0, w.text, float(w.probability)) for seg in again.segments
           for w in seg.words]

    def n_long(ws):
        return sum(w.end_s - w.start_s > LONG_WORD_S for w in ws)

    if len(new) > len(words) - k and n_long(new) < n_long(words[k:]):
        return words[:k] + new
    return words


def with_words(heard: Heard, words) -> Heard:
    return dataclasses.replace(heard, words=tuple(words))
