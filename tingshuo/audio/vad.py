"""Voice activity detection: a model scores frames, one state machine turns scores into speech.

The backend (Silero VAD v6 on onnxruntime, the file shipped inside faster-whisper) only answers
``speech_probability``; ``VADSegmenter`` owns the start/end logic for both offline and live use.

    >>> vad = SileroVAD()                                        # doctest: +SKIP
    >>> detect_speech(audio.samples, vad=vad)                    # doctest: +SKIP
    [(0.42, 3.9), (4.6, 9.1)]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..registry import register

FRAME_SAMPLES = 512  # 32 ms at 16 kHz
SAMPLE_RATE = 16000
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


class VADModel(Protocol):
    """A VAD backend scores 32 ms frames; it keeps its own recurrent state between calls."""

    def probabilities(self, samples: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class VADOptions:
    """How frame scores become speech regions (times in seconds)."""

    threshold: float = 0.5  # a frame at or above this starts or continues speech
    neg_threshold: float | None = None  # below this a frame counts as silence; default threshold - 0.15
    min_speech_s: float = 0.25  # shorter bursts are dropped (clicks, coughs)
    min_silence_s: float = 0.5  # a pause this long ends a region
    speech_pad_s: float = 0.3  # added on each side of a region
    max_speech_s: float = 28.0  # longer regions are split at their longest recent pause

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("VAD threshold must be between 0 and 1.")
        if self.max_speech_s <= 1.0:
            raise ValueError("max_speech_s must be above 1 second.")

    @property
    def silence_threshold(self) -> float:
        return self.neg_threshold if self.neg_threshold is not None else max(self.threshold - 0.15, 0.01)


_SESSIONS: dict[str, object] = {}
_SESSIONS_LOCK = threading.Lock()


@register("vad", "silero")
class SileroVAD:
    """Silero VAD v6 (MIT) via onnxruntime, one thread; stateful across calls."""

    context_samples = 64

    def __init__(self, model_path: str | None = None) -> None:
        import onnxruntime

        if model_path is None:
            from .. import models

            model_path = str(models.resolve("silero-vad") / "silero_vad_v6.onnx")
        with _SESSIONS_LOCK:  # one session per model file, shared: the recurrent state lives here
            if model_path not in _SESSIONS:
                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                opts.log_severity_level = 4
                _SESSIONS[model_path] = onnxruntime.InferenceSession(
                    model_path, providers=["CPUExecutionProvider"], sess_options=opts)
        self._session = _SESSIONS[model_path]
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(self.context_samples, np.float32)
        self._tail = np.zeros(0, np.float32)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each whole 512-sample frame; a partial last frame is kept for later."""
        samples = np.concatenate([self._tail, np.asarray(samples, np.float32)])
        n = samples.size // FRAME_SAMPLES
        self._tail = samples[n * FRAME_SAMPLES:].copy()
        if n == 0:
            return np.zeros(0, np.float32)
        frames = samples[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
        ctx = np.empty((n, self.context_samples), np.float32)
        ctx[0] = self._context
        ctx[1:] = frames[:-1, -self.context_samples:]
        batch = np.concatenate([ctx, frames], axis=1)
        out = []  # (onnxruntime sessions may run from several threads at once)
        for i in range(0, n, 4096):
            probs, self._h, self._c = self._session.run(None, {"input": batch[i:i + 4096], "h": self._h, "c": self._c})
            out.append(probs.reshape(-1))
        self._context = frames[-1, -self.context_samples:].copy()
        return np.concatenate(out).astype(np.float32)

    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability that one 512-sample frame is speech (state carries to the next call)."""
        if frame.size != FRAME_SAMPLES:
            raise ValueError(f"Silero VAD frames are {FRAME_SAMPLES} samples at 16 kHz.")
        return float(self.probabilities(frame)[0])


@dataclass(frozen=True)
class SpeechEvent:
    """``kind`` is 'start' (speech confirmed; ``start_s`` set) or 'end' (a finished region)."""

    kind: str
    start_s: float
    end_s: float | None = None


class VADSegmenter:
    """Turns frame probabilities into speech regions, incrementally.

    Feed probabilities in order with ``push``; it returns events as they become certain.
    A 'start' event fires once speech has lasted ``min_speech_s``; an 'end' event carries the
    region (unpadded) once ``min_silence_s`` of silence follows it, or when it reaches
    ``max_speech_s`` (then split at the last pause of at least 100 ms, if there was one).
    """

    def __init__(self, options: VADOptions | None = None, frame_s: float = FRAME_S) -> None:
        self.options = options or VADOptions()
        self.frame_s = frame_s
        self._i = 0  # index of the next frame
        self._start: int | None = None  # first frame of the current region
        self._confirmed = False
        self._silence_from: int | None = None  # first silent frame after speech
        self._last_pause: int | None = None  # end of the latest pause >= 100 ms inside speech
        self._pause_resume: int | None = None  # where speech resumed after that pause

    @property
    def in_speech(self) -> bool:
        return self._start is not None and self._confirmed

    @property
    def position_s(self) -> float:
        """Time of the end of the frames pushed so far."""
        return self._i * self.frame_s

    @property
    def pause_start_s(self) -> float | None:
        """Inside a region, where the silence that may end it began (None while speech goes on)."""
        return None if self._start is None or self._silence_from is None else self._silence_from * self.frame_s

    @property
    def pending_start_s(self) -> float | None:
        """Start of a region that has begun but not ended (confirmed or not), else None."""
        return None if self._start is None else self._start * self.frame_s

    def push(self, probs: np.ndarray) -> list[SpeechEvent]:
        o = self.options
        off = o.silence_threshold
        min_speech = max(1, int(round(o.min_speech_s / self.frame_s)))
        min_silence = max(1, int(round(o.min_silence_s / self.frame_s)))
        max_speech = int(o.max_speech_s / self.frame_s)
        short_pause = max(1, int(round(0.1 / self.frame_s)))
        events: list[SpeechEvent] = []
        for p in np.asarray(probs, np.float32):
            i = self._i
            self._i += 1
            if self._start is None:
                if p >= o.threshold:
                    self._start, self._confirmed, self._silence_from = i, False, None
                    self._last_pause = self._pause_resume = None
                continue
            if p >= o.threshold:
                if self._silence_from is not None:
                    if i - self._silence_from >= short_pause:
                        self._last_pause, self._pause_resume = self._silence_from, i
                    self._silence_from = None
            elif p < off and self._silence_from is None:
                self._silence_from = i
            speech_end = self._silence_from if self._silence_from is not None else i + 1
            if not self._confirmed and speech_end - self._start >= min_speech:
                self._confirmed = True
                events.append(SpeechEvent("start", self._start * self.frame_s))
            if self._silence_from is not None and i + 1 - self._silence_from >= min_silence:
                events.extend(self._close(self._silence_from, min_speech))
                continue
            if i + 1 - self._start >= max_speech:
                if self._last_pause is not None and self._last_pause > self._start:
                    end, resume = self._last_pause, self._pause_resume
                else:
                    end, resume = i + 1, i + 1
                events.extend(self._close(end, min_speech))
                if resume is not None and resume <= i:
                    self._start, self._confirmed = resume, True
                    events.append(SpeechEvent("start", resume * self.frame_s))
        return events

    def _close(self, end: int, min_speech: int) -> list[SpeechEvent]:
        start, confirmed = self._start, self._confirmed
        self._start, self._confirmed, self._silence_from = None, False, None
        self._last_pause = self._pause_resume = None
        if start is None or end - start < min_speech:
            return []
        out = [] if confirmed else [SpeechEvent("start", start * self.frame_s)]
        return out + [SpeechEvent("end", start * self.frame_s, end * self.frame_s)]

    def flush(self) -> list[SpeechEvent]:
        """Close a region still open at the end of the input."""
        if self._start is None:
            return []
        end = self._silence_from if self._silence_from is not None else self._i
        min_speech = max(1, int(round(self.options.min_speech_s / self.frame_s)))
        return self._close(end, min_speech)


def pad_regions(regions: list[tuple[float, float]], pad_s: float, duration_s: float) -> list[tuple[float, float]]:
    """Widen each region by ``pad_s`` without crossing the midpoint of the gap to its neighbour."""
    out = []
    for k, (start, end) in enumerate(regions):
        lo = 0.0 if k == 0 else (regions[k - 1][1] + start) / 2
        hi = duration_s if k == len(regions) - 1 else (end + regions[k + 1][0]) / 2
        out.append((round(max(lo, start - pad_s), 3), round(min(hi, end + pad_s), 3)))
    return out


def detect_speech(samples: np.ndarray, options: VADOptions | None = None, *,
                  vad: VADModel | None = None, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Padded speech regions ``[(start_s, end_s), ...]`` of a whole 16 kHz signal."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError("detect_speech takes 16 kHz audio; resample first.")
    options = options or VADOptions()
    vad = vad or SileroVAD()
    vad.reset()
    seg = VADSegmenter(options)
    padded = np.concatenate([samples, np.zeros((-samples.size) % FRAME_SAMPLES, np.float32)])
    events = seg.push(vad.probabilities(padded)) + seg.flush()
    duration = samples.size / sample_rate
    regions = [(e.start_s, min(e.end_s, duration)) for e in events if e.kind == "end"]
    return pad_regions(regions, options.speech_pad_s, duration)
