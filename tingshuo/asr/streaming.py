"""Live recognition: feed PCM as it arrives, get partial and final results with VAD endpointing.

    >>> rec = StreamingRecognizer()                                 # doctest: +SKIP
    >>> for pcm in microphone_chunks():                             # doctest: +SKIP
    ...     for event in rec.accept(pcm):
    ...         print(event.kind, event.text)                       # speech_start, partial, final
    >>> rec.finish()                                                # doctest: +SKIP

``accept`` does the recognition work in the caller's thread; async callers run it in a worker
thread. Times are seconds from the start of the stream.

Speculative finals: once a pause inside an utterance has lasted the speech padding, the utterance
as it would be cut there is decoded in a background thread while the endpoint silence is still
being waited out. If the pause does end the utterance, the final is that decode (the same audio,
so the same text), ready or nearly so when the endpoint fires; if the caller goes on speaking,
it is dropped. This takes the recogniser's time out of the caller's wait for an answer.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..audio.vad import FRAME_SAMPLES, SileroVAD, VADOptions, VADSegmenter
from ..types import Segment, join_segment_texts
from .base import TranscribeOptions

SAMPLE_RATE = 16000
STREAM_VAD = VADOptions(min_silence_s=0.5, speech_pad_s=0.2, max_speech_s=28.0)


@dataclass(frozen=True)
class StreamEvent:
    """kind: 'speech_start' | 'partial' (text so far, may change) | 'final' (an utterance) ."""

    kind: str
    start_s: float
    end_s: float | None = None
    text: str = ""
    segments: tuple[Segment, ...] = ()
    language: str | None = None
    speech_end_s: float | None = None  # finals: where the speech itself ended (before the silence wait)
    t_endpoint: float = 0.0  # finals: perf_counter stamp when the end of the utterance was detected

    def to_dict(self) -> dict:
        d = {"type": self.kind, "start": round(self.start_s, 3),
             "end": None if self.end_s is None else round(self.end_s, 3), "text": self.text}
        if self.language:
            d["language"] = self.language
        if self.segments:
            d["segments"] = [s.to_dict() for s in self.segments]
        return d


class StreamingRecognizer:
    """VAD-endpointed recognition over a PCM stream (16 kHz mono float32, or int16).

    ``partial_interval_s`` sets how often the utterance so far is decoded again (greedy) for a
    partial result; 0 turns partials off. Finals use the full ``options`` (beam search).
    ``speculate`` decodes a final ahead during the end-of-turn silence (see the module's notes).
    """

    def __init__(self, engine=None, options: TranscribeOptions | None = None, *,
                 vad_options: VADOptions = STREAM_VAD, partial_interval_s: float = 0.8, model: str | None = None,
                 vad: SileroVAD | None = None, speculate: bool = True) -> None:
        if engine is None:
            from .pipeline import load_engine

            engine = load_engine(model)
        self.engine = engine
        self.options = options or TranscribeOptions()
        self._partial_opts = dataclasses.replace(self.options, beam_size=1, word_timestamps=False)
        self.vad_options = vad_options
        self.partial_interval_s = partial_interval_s
        self.vad = vad or SileroVAD()
        self.speculate = speculate
        self._pool: ThreadPoolExecutor | None = None
        self.speculated = 0  # finals that came from a decode made ahead (for telemetry and tests)
        self.reset()

    def reset(self) -> None:
        self.vad.reset()
        self._seg = VADSegmenter(self.vad_options)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # stream sample of self._buf[0]
        self._n = 0
        self._utt_start: int | None = None  # stream sample where the current utterance starts
        self._last_partial = 0
        self._spec: tuple[int, int, Future] | None = None  # (start, end, decode) made ahead of a final

    def close(self) -> None:
        """Let the background decoding thread go (the recogniser can still be used afterwards)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    @property
    def position_s(self) -> float:
        return self._n / SAMPLE_RATE

    @property
    def in_speech(self) -> bool:
        return self._utt_start is not None

    def accept(self, pcm: np.ndarray | bytes) -> list[StreamEvent]:
        """Feed more audio; returns the events it completed."""
        samples = _as_float(pcm)
        self._buf = np.concatenate([self._buf, samples])
        self._n += samples.size
        events: list[StreamEvent] = []
        for ev in self._seg.push(self.vad.probabilities(samples)):
            events.extend(self._on_vad(ev))
        if self.speculate:
            self._speculate()
        if (self._utt_start is not None and self.partial_interval_s > 0
                and self._n - self._last_partial >= self.partial_interval_s * SAMPLE_RATE):
            self._last_partial = self._n
            events.extend(self._decode(self._utt_start, self._n, final=False))
        self._trim()
        return events

    def finish(self) -> list[StreamEvent]:
        """End of stream: finish an utterance in progress."""
        events: list[StreamEvent] = []
        tail = (-self._n) % FRAME_SAMPLES
        if tail:
            for ev in self._seg.push(self.vad.probabilities(np.zeros(tail, np.float32))):
                events.extend(self._on_vad(ev))
        for ev in self._seg.flush():
            events.extend(self._on_vad(ev))
        return events

    # ------------------------------------------------------------------ internals
    def _on_vad(self, ev) -> list[StreamEvent]:
        pad = int(self.vad_options.speech_pad_s * SAMPLE_RATE)
        if ev.kind == "start":
            self._utt_start = max(self._buf_start, int(ev.start_s * SAMPLE_RATE) - pad)
            self._last_partial = self._n
            return [StreamEvent("speech_start", ev.start_s)]
        start = self._utt_start if self._utt_start is not None else max(self._buf_start, int(ev.start_s * SAMPLE_RATE) - pad)
        end = min(self._n, int(ev.end_s * SAMPLE_RATE) + pad)
        self._utt_start = None
        return self._decode(start, end, final=True, speech_end_s=ev.end_s)

    def _speculate(self) -> None:
        """In a pause of the current utterance, decode it as it would end there (once per pause)."""
        pause = self._seg.pause_start_s
        if self._utt_start is None or pause is None:
            self._spec = None  # no utterance, or the caller went on speaking: a decode made ahead is stale
            return
        end = int(pause * SAMPLE_RATE) + int(self.vad_options.speech_pad_s * SAMPLE_RATE)  # as _on_vad cuts it
        if self._n < end or (self._spec is not None and self._spec[:2] == (self._utt_start, end)):
            return
        audio = self._buf[self._utt_start - self._buf_start:end - self._buf_start].copy()
        if audio.size < FRAME_SAMPLES:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="tingshuo-speculate")
        self._spec = (self._utt_start, end, self._pool.submit(self._run, audio, self.options))

    def _run(self, audio: np.ndarray, opts: TranscribeOptions):
        # Each utterance gets its own language guess: callers switch between Mandarin and English.
        return self.engine.transcribe_batch([audio], opts, [self.options.language])[0]

    def _decode(self, start: int, end: int, final: bool, speech_end_s: float | None = None) -> list[StreamEvent]:
        t_endpoint = time.perf_counter()
        audio = self._buf[start - self._buf_start:end - self._buf_start]
        spec = None
        if final:
            spec, self._spec = self._spec, None
        if audio.size < FRAME_SAMPLES:
            return []
        if spec is not None and spec[:2] == (start, end) and not spec[2].cancelled():
            out = spec[2].result()
            self.speculated += 1
        else:
            out = self._run(audio, self.options if final else self._partial_opts)
        offset = start / SAMPLE_RATE
        segments = tuple(s.shifted(offset) for s in out.segments)
        text = join_segment_texts(segments)
        kind = "final" if final else "partial"
        if final:
            self._drop_before(end)
        if not text and not final:
            return []
        return [StreamEvent(kind, offset, end / SAMPLE_RATE, text, segments if final else (), out.language,
                            speech_end_s, t_endpoint)]

    def _drop_before(self, sample: int) -> None:
        if sample > self._buf_start:
            self._buf = self._buf[sample - self._buf_start:]
            self._buf_start = sample

    def _trim(self) -> None:
        """Keep only audio an utterance may still need (the padding before a start)."""
        if self._utt_start is not None:
            keep = self._utt_start
        else:
            pending = self._seg.pending_start_s
            first = pending if pending is not None else self._seg.position_s
            keep = int(first * SAMPLE_RATE) - int(self.vad_options.speech_pad_s * SAMPLE_RATE) - FRAME_SAMPLES
        self._drop_before(max(self._buf_start, keep))


def _as_float(pcm) -> np.ndarray:
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float32) / 32768.0
    arr = np.asarray(pcm)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / 32768.0
    return arr.astype(np.float32, copy=False).reshape(-1)
