"""One pass over a file, block by block: every signal measurement sees each block once, in order.

Memory is bounded whatever the file's length: a block of decoded audio (``BLOCK_S``), the
resampler's and the VAD's state, and each meter's fixed-size accumulators. Nothing keeps the
whole signal, or a per-frame array that grows with it.

    >>> from tingshuo.quality.stream import ClipAudio, run_stream
    >>> clip = ClipAudio.load("talk.wav")                                 # doctest: +SKIP
    >>> state = run_stream(clip, [])                                      # doctest: +SKIP
    >>> state.duration_s, state.timeline.n_regions                        # doctest: +SKIP
    (3605.2, 912)

Files are read with libsndfile when they are plain PCM WAV/FLAC (several times faster than
FFmpeg on short clips) and with the project's decoder (``tingshuo.audio.io``, FFmpeg) otherwise.
The decoder's verdict on a file (corrupt, truncated, no audio) is the inspector's: a WAV whose
header claims more data than is present, or a FLAC that stops early, is decoded again by the
decoder, which says what is wrong in its own words.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .accumulate import sumsq as _sumsq

SR = 16000
BLOCK_S = 10.0  # seconds of audio decoded at a time (at the file's own rate)
FRAME = 320  # 20 ms at 16 kHz: level statistics
PROGRESS_EVERY_S = 2.0  # wall seconds between progress reports on long files


class StreamError(Exception):
    """The file cannot be measured; ``str()`` is the one-sentence reason (from the decoder)."""


@dataclass(frozen=True)
class ClipAudio:
    """What a signal check reads: a file, or samples already in memory (``from_array``).

    Nothing is decoded until a check runs; then the audio streams through in blocks.
    """

    path: str
    samples: np.ndarray | None = field(default=None, repr=False)  # float32 mono, for from_array
    sample_rate: int = SR

    @classmethod
    def load(cls, path: str) -> "ClipAudio":
        return cls(str(path))

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int = SR, path: str = "<array>") -> "ClipAudio":
        return cls(path, np.asarray(samples, np.float32).reshape(-1), int(sample_rate))

    @property
    def regions(self) -> list[tuple[float, float]]:
        """Unpadded speech regions in seconds, as the checks see them (runs the VAD over the clip)."""
        state = run_stream(self, [], keep_regions=True)
        if state.error:
            raise StreamError(state.error)
        return list(state.timeline.all_regions)


@dataclass(frozen=True)
class StreamInfo:
    container: str
    codec: str
    channels: int
    sample_rate: int


# ------------------------------------------------------------------------------------ reading

class _Refused(Exception):
    """The fast reader will not judge this file; the decoder must."""


def _soundfile_blocks(path: str, block_s: float):
    """(info, blocks) for plain PCM WAV/FLAC through libsndfile; raises _Refused for anything else."""
    if Path(path).suffix.lower() not in (".wav", ".flac"):
        raise _Refused()
    try:
        import soundfile as sf

        f = sf.SoundFile(path)
    except Exception:  # anything odd goes through FFmpeg, which gives the precise error
        raise _Refused() from None
    from ..audio import io as audio_io
    from ..audio.truncation import pcm_sizes

    if (f.subtype not in ("PCM_16", "PCM_24", "PCM_32", "FLOAT") or f.frames == 0
            or not 1 <= f.channels <= audio_io.MAX_CHANNELS
            or not audio_io.MIN_SAMPLE_RATE <= f.samplerate <= audio_io.MAX_SAMPLE_RATE):
        f.close()
        raise _Refused()  # the decoder takes it, or rejects it in its own words
    if f.format == "WAV":
        declared, present = pcm_sizes(path)  # the decoder's own header-vs-data comparison
        if declared and present is not None and present < 0.98 * declared:
            f.close()
            raise _Refused()  # truncated: the decoder says so
    container = {"WAV": "wav", "FLAC": "flac"}.get(f.format, f.format.lower())
    codec = "flac" if container == "flac" else {"PCM_16": "pcm_s16le", "PCM_24": "pcm_s24le",
                                                "PCM_32": "pcm_s32le", "FLOAT": "pcm_f32le"}[f.subtype]
    info = StreamInfo(container, codec, f.channels, f.samplerate)
    declared_frames = f.frames

    def blocks():
        n = 0
        try:
            step = max(1, int(block_s * f.samplerate))
            while True:
                x = f.read(step, dtype="float32", always_2d=True)
                if x.shape[0] == 0:
                    break
                n += x.shape[0]
                if not np.isfinite(x).all():  # NaN/Inf floats: the decoder rejects the file
                    raise _Refused()
                yield x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
        except _Refused:
            raise
        except Exception:
            raise _Refused() from None
        finally:
            f.close()
        if n < declared_frames:  # a FLAC that stops early
            raise _Refused()

    return info, blocks()


def _check_path(path: str) -> None:
    """The decoder's verdict on what is not a readable regular file (missing, a folder, a pipe, empty)."""
    from ..audio.io import check_path as check
    from ..errors import TingshuoError

    try:
        check(Path(path), path)
    except TingshuoError as exc:
        raise StreamError(str(exc)) from None


def _decoder_blocks(path: str, block_s: float):
    from ..audio.io import iter_audio, probe
    from ..errors import TingshuoError

    try:
        p = probe(path)
    except TingshuoError as exc:
        raise StreamError(str(exc)) from None
    info = StreamInfo(p.container, p.codec, p.channels, p.sample_rate)

    def blocks():
        try:
            yield from iter_audio(path, None, block_s=block_s)
        except TingshuoError as exc:
            raise StreamError(str(exc)) from None

    return info, blocks()


def _array_blocks(clip: ClipAudio, block_s: float):
    x = clip.samples
    step = max(1, int(block_s * clip.sample_rate))
    return StreamInfo("", "", 1, clip.sample_rate), (x[i:i + step] for i in range(0, x.size, step))


# ------------------------------------------------------------------------------------ speech

class SpeechTimeline:
    """Silero VAD over the 16 kHz stream, and its speech regions as they become certain.

    ``decided_s``: every time before it is known to be inside or outside a closed region (a
    region still open can end at most ``max_speech_s`` later, so that lag is bounded).
    ``closed`` holds only the regions that consumers may still ask about (``prune``).
    """

    def __init__(self, keep_all: bool = False) -> None:
        from ..audio.vad import VADOptions, VADSegmenter

        self.vad = _vad()
        self.vad.reset()
        self.seg = VADSegmenter(VADOptions(min_speech_s=0.1, min_silence_s=0.3, speech_pad_s=0.0))
        self.closed: deque = deque()
        self.all_regions: list | None = [] if keep_all else None
        self.n_regions = 0
        self.speech_s = 0.0
        self.first_start_s: float | None = None
        self.last_end_s: float | None = None
        self.last_probs = np.zeros(0, np.float32)  # the last 3 frame probabilities
        self.finished = False

    def push(self, x16: np.ndarray) -> None:
        if x16.size:
            self._take(self.vad.probabilities(x16))

    def finish(self, n16: int) -> None:
        """End of input: the VAD's last frame is padded with zeros (as for a whole clip)."""
        from ..audio.vad import FRAME_SAMPLES

        pad = (-n16) % FRAME_SAMPLES
        if pad and n16:
            self._take(self.vad.probabilities(np.zeros(pad, np.float32)))
        self._events(self.seg.flush(), n16 / SR)
        self.finished = True

    def _take(self, probs: np.ndarray) -> None:
        if probs.size:
            self.last_probs = np.concatenate([self.last_probs, probs])[-3:]
            self._events(self.seg.push(probs), None)

    def _events(self, events, duration_s: float | None) -> None:
        for e in events:
            if e.kind != "end":
                continue
            end = e.end_s if duration_s is None else min(e.end_s, duration_s)
            self.closed.append((e.start_s, end))
            if self.all_regions is not None:
                self.all_regions.append((e.start_s, end))
            self.n_regions += 1
            self.speech_s += end - e.start_s
            if self.first_start_s is None:
                self.first_start_s = e.start_s
            self.last_end_s = end

    @property
    def decided_s(self) -> float:
        if self.finished:
            return math.inf
        start = self.seg.pending_start_s
        return start if start is not None else self.seg.position_s

    def speech_at(self, t: np.ndarray) -> np.ndarray:
        """Is each (increasing, decided) time inside a closed region? Forgets regions behind ``t[0]``."""
        while self.closed and t.size and self.closed[0][1] <= t[0]:
            self.closed.popleft()
        mask = np.zeros(t.size, bool)
        for s, e in self.closed:
            if s > t[-1]:
                break
            mask |= (t >= s) & (t < e)
        return mask


_VAD = None


def _vad():
    global _VAD
    if _VAD is None:
        from ..audio.vad import SileroVAD

        _VAD = SileroVAD()
    return _VAD


# ------------------------------------------------------------------------------------ the pass

@dataclass
class Block:
    """One step of the pass. Frames are the 20 ms frames of the 16 kHz signal decided in this step."""

    native: np.ndarray  # float32 mono at the file's own rate
    native_pos: int  # index of native[0] in the whole file
    x16: np.ndarray  # float32 mono, 16 kHz
    x16_pos: int
    frame_power: np.ndarray  # float64 mean square of each decided frame
    frame_speech: np.ndarray  # bool: that frame's centre lies in a speech region


@dataclass
class StreamState:
    """Totals of the pass so far, shared by every meter."""

    path: str
    info: StreamInfo | None = None
    rate: int = SR
    n_native: int = 0
    n16: int = 0
    n_frames: int = 0  # 20 ms frames seen (the partial last one is not a frame)
    sumsq16: float = 0.0
    nonfinite: int = 0
    timeline: SpeechTimeline | None = None
    error: str | None = None
    wall_s: float = 0.0
    meters: list = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.n16 / SR


class Meter:
    """A signal check's accumulator: sees every block once, in order; gives its metrics at the end.

    Meters keep fixed-size state (counters, histograms, a bounded sample of windows), never
    the signal.
    """

    def __init__(self, state: StreamState) -> None:
        self.state = state

    def feed(self, blk: Block) -> None:  # pragma: no cover - interface
        pass

    def result(self) -> dict:  # pragma: no cover - interface
        return {}


class _Frames:
    """20 ms frame powers of the 16 kHz stream, held back until the VAD has decided them."""

    def __init__(self) -> None:
        self.carry = np.zeros(0, np.float32)
        self.pending: deque = deque()  # power arrays, in order
        self.n_pending = 0
        self.next_frame = 0  # index of the first pending frame

    def push(self, x16: np.ndarray) -> None:
        x = np.concatenate([self.carry, x16]) if self.carry.size else x16
        n = x.size // FRAME
        if n:
            p = np.mean(x[: n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2, axis=1)
            self.pending.append(p)
            self.n_pending += n
        self.carry = x[n * FRAME:].copy()

    def take(self, timeline: SpeechTimeline) -> tuple[np.ndarray, np.ndarray]:
        """Frames whose centre is before the timeline's decided time, with their speech flags."""
        decided = timeline.decided_s
        if decided == math.inf:
            k = self.n_pending
        else:
            k = min(self.n_pending, max(0, math.ceil(decided * SR / FRAME - 0.5) - self.next_frame))
        if k == 0:
            return np.zeros(0), np.zeros(0, bool)
        out, got = [], 0
        while got < k:
            p = self.pending[0]
            need = k - got
            if p.size <= need:
                out.append(self.pending.popleft())
                got += p.size
            else:
                out.append(p[:need])
                self.pending[0] = p[need:]
                got += need
        power = np.concatenate(out) if len(out) > 1 else out[0]
        t = (self.next_frame + np.arange(k) + 0.5) * FRAME / SR
        self.next_frame += k
        self.n_pending -= k
        return power, timeline.speech_at(t)


def run_stream(clip: ClipAudio, meter_types: Sequence[type], *, keep_regions: bool = False,
               block_s: float = BLOCK_S, on_progress: Callable[[float], None] | None = None
               ) -> StreamState:
    """Stream ``clip`` through new meters of ``meter_types``; the state holds them as ``state.meters``.

    A file the decoder rejects ends with ``state.error`` set (and no meters); ``on_progress``
    gets the seconds of audio measured so far, every ``PROGRESS_EVERY_S`` wall seconds.
    """
    t0 = time.time()
    if clip.samples is not None:
        state = _pass(clip, _array_blocks(clip, block_s), meter_types, keep_regions, on_progress)
    else:
        try:
            _check_path(clip.path)  # before anything opens it: a named pipe would block forever
            try:
                state = _pass(clip, _soundfile_blocks(clip.path, block_s), meter_types, keep_regions, on_progress)
            except _Refused:
                state = _pass(clip, _decoder_blocks(clip.path, block_s), meter_types, keep_regions, on_progress)
        except StreamError as exc:
            state = StreamState(clip.path, error=str(exc))
    state.wall_s = time.time() - t0
    return state


def _pass(clip: ClipAudio, opened, meter_types, keep_regions, on_progress) -> StreamState:
    import soxr

    info, blocks = opened
    state = StreamState(clip.path, info=info, rate=info.sample_rate)
    state.timeline = SpeechTimeline(keep_regions)
    meters = state.meters = [m(state) for m in meter_types]
    frames = _Frames()
    rs = soxr.ResampleStream(state.rate, SR, 1, dtype="float32", quality="HQ") if state.rate != SR else None
    last_report = time.time()
    for native in blocks:
        native = np.ascontiguousarray(native, np.float32)
        if not np.isfinite(native).all():
            bad = ~np.isfinite(native)
            state.nonfinite += int(bad.sum())
            native = np.where(bad, np.float32(0.0), native)
        x16 = rs.resample_chunk(native) if rs is not None else native
        _step(state, meters, frames, native, x16)
        if on_progress is not None and time.time() - last_report >= PROGRESS_EVERY_S:
            on_progress(state.duration_s)
            last_report = time.time()
    tail = rs.resample_chunk(np.zeros(0, np.float32), last=True) if rs is not None else np.zeros(0, np.float32)
    state.timeline.push(tail)
    frames.push(tail)
    state.n16 += tail.size
    state.sumsq16 += _sumsq(tail) if tail.size else 0.0
    state.timeline.finish(state.n16)
    power, speech = frames.take(state.timeline)
    state.n_frames += power.size
    final = Block(np.zeros(0, np.float32), state.n_native, tail, state.n16 - tail.size, power, speech)
    for m in meters:
        m.feed(final)
    if state.n_native == 0:
        state.error = f"{clip.path} holds no audio samples."
    elif state.nonfinite:
        state.error = (f"{clip.path} holds {state.nonfinite} NaN or infinite sample values (corrupt float "
                       "data); re-export the file.")
    return state


def _step(state: StreamState, meters, frames: _Frames, native: np.ndarray, x16: np.ndarray) -> None:
    state.timeline.push(x16)
    frames.push(x16)
    power, speech = frames.take(state.timeline)
    blk = Block(native, state.n_native, x16, state.n16, power, speech)
    state.n_native += native.size
    state.n16 += x16.size
    state.n_frames += power.size
    state.sumsq16 += _sumsq(x16) if x16.size else 0.0
    for m in meters:
        m.feed(blk)



def head_samples(path: str, seconds: float) -> np.ndarray | None:
    """The first ``seconds`` of a file as float32 mono at 16 kHz (decoding stops there), or None
    when the file cannot be read."""
    from ..audio.resample import resample

    want = int(seconds * SR)
    try:
        _check_path(path)
    except StreamError:
        return None
    for reader in (_soundfile_blocks, _decoder_blocks):
        try:
            info, blocks = reader(path, min(seconds, BLOCK_S))
            parts, n = [], 0
            for native in blocks:
                parts.append(native)
                n += native.size
                if n >= seconds * info.sample_rate:
                    break
            blocks.close()
        except (_Refused, StreamError):
            continue
        if not n:
            return None
        x = np.nan_to_num(np.concatenate(parts)[: int(seconds * info.sample_rate) + 1])
        return resample(x, info.sample_rate, SR)[:want]
    return None
