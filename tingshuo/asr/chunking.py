"""Cutting audio into recogniser chunks at pauses, as the audio streams in.

``SpeechRegions`` runs the VAD over blocks as they are decoded and hands out each speech region
(with its VAD padding) as soon as it is final. ``pack`` joins regions back to back, leaving the
pauses between them out, into chunks of up to ``max_chunk_s``; ``ChunkPlan.to_original`` maps
chunk time back to file time exactly, and ``ChunkPlan.pieces`` turns a stretch of a chunk that
the recogniser left out back into regions, to be packed again at the front of the next chunk
(Whisper's "seek", with VAD packing).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..audio.vad import FRAME_SAMPLES, VADOptions, VADSegmenter

SAMPLE_RATE = 16000


@dataclass(frozen=True, eq=False)
class Piece:
    """A stretch of a file's audio: where it starts (sample) and its samples."""

    start: int
    samples: np.ndarray
    retries: int = 0  # times this audio was handed back by the recogniser

    @property
    def end(self) -> int:
        return self.start + int(self.samples.size)


@dataclass(frozen=True)
class ChunkPlan:
    """Pieces of one file joined into one chunk: (first sample, end sample, retries) each."""

    regions: tuple[tuple[int, int, int], ...]

    @property
    def n_samples(self) -> int:
        return sum(b - a for a, b, _ in self.regions)

    def to_original(self, t: float, is_end: bool = False) -> float:
        """File time of chunk time ``t``; an end time on a region boundary stays in the earlier region."""
        pos = t * SAMPLE_RATE
        done = 0
        for k, (a, b, _) in enumerate(self.regions):
            n = b - a
            if pos < done + n or (is_end and pos <= done + n) or k == len(self.regions) - 1:
                return round((a + min(max(pos - done, 0.0), n)) / SAMPLE_RATE, 3)
            done += n
        return 0.0  # no regions: plans are never empty

    def pieces(self, t0: float, t1: float, samples: np.ndarray) -> list[Piece]:
        """The file audio under chunk time [t0, t1), one piece per region it touches."""
        lo, hi = int(round(t0 * SAMPLE_RATE)), int(round(t1 * SAMPLE_RATE))
        out, done = [], 0
        for a, b, retries in self.regions:
            n = b - a
            s, e = max(lo, done), min(hi, done + n)
            if e > s:
                out.append(Piece(a + (s - done), samples[s:e], retries + 1))
            done += n
        return out


def pack(queue: deque, limit: int) -> tuple[ChunkPlan, np.ndarray]:
    """Take pieces from the front of ``queue`` into one chunk of at most ``limit`` samples."""
    regions, parts, used = [], [], 0
    while queue:
        p: Piece = queue[0]
        n = p.samples.size
        if used + n > limit:
            if used:
                break
            # A piece longer than a chunk (the VAD could not split it): cut it.
            queue[0] = Piece(p.start + limit, p.samples[limit:], p.retries)
            p, n = Piece(p.start, p.samples[:limit], p.retries), limit
        else:
            queue.popleft()
        regions.append((p.start, p.end, p.retries))
        parts.append(p.samples)
        used += n
    samples = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return ChunkPlan(tuple(regions)), samples


class SpeechRegions:
    """Feed 16 kHz float32 blocks; get padded speech regions (``Piece``) as soon as they are final.

    With ``vad=None`` every sample is kept, as back-to-back pieces of ``window_s``.
    """

    def __init__(self, vad, options: VADOptions | None = None, window_s: float = 30.0) -> None:
        self.vad = vad
        self.options = options or VADOptions()
        self.window = int(window_s * SAMPLE_RATE)
        self.pad = int(self.options.speech_pad_s * SAMPLE_RATE)
        if vad is not None:
            vad.reset()
        self._seg = VADSegmenter(self.options)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # file sample of self._buf[0]
        self._n = 0  # samples pushed so far
        self._raw: list[tuple[int, int]] = []  # unpadded regions not yet handed out
        self._prev_end = 0  # padded end of the last region handed out

    @property
    def n_samples(self) -> int:
        return self._n

    def push(self, block: np.ndarray) -> list[Piece]:
        block = np.asarray(block, np.float32)
        self._buf = np.concatenate([self._buf, block]) if self._buf.size else block.copy()
        self._n += block.size
        if self.vad is None:
            out = []
            while self._n - self._buf_start >= self.window:
                out.append(self._cut(self._buf_start + self.window))
            return out
        for ev in self._seg.push(self.vad.probabilities(block)):
            if ev.kind == "end":
                self._raw.append((int(ev.start_s * SAMPLE_RATE), int(ev.end_s * SAMPLE_RATE)))
        return self._drain(final=False)

    def finish(self) -> list[Piece]:
        """Hand out what is left at the end of the input."""
        if self.vad is None:
            return [self._cut(self._n)] if self._n > self._buf_start else []
        tail = (-self._n) % FRAME_SAMPLES  # the VAD scores whole frames only
        events = self._seg.push(self.vad.probabilities(np.zeros(tail, np.float32))) if tail else []
        for ev in events + self._seg.flush():
            if ev.kind == "end":
                self._raw.append((int(ev.start_s * SAMPLE_RATE), min(int(ev.end_s * SAMPLE_RATE), self._n)))
        return self._drain(final=True)

    def _cut(self, end: int) -> Piece:
        piece = Piece(self._buf_start, self._buf[: end - self._buf_start].copy())
        self._buf = self._buf[end - self._buf_start:]
        self._buf_start = end
        return piece

    def _drain(self, final: bool) -> list[Piece]:
        out = []
        heard = self._seg.position_s * SAMPLE_RATE
        while self._raw:
            start, end = self._raw[0]
            if len(self._raw) > 1:
                nxt = self._raw[1][0]
            else:  # a region that has begun but not ended yet also bounds this one's padding
                pending = self._seg.pending_start_s
                nxt = int(pending * SAMPLE_RATE) if pending is not None and not final else None
            if nxt is None and not final and heard < end + 2 * self.pad:
                break  # the next region could still start close enough to share this pause
            lo = max(self._prev_end, start - self.pad)
            hi = end + self.pad if nxt is None else min(end + self.pad, (end + nxt) // 2)
            hi = min(hi, self._n)
            self._raw.pop(0)
            self._prev_end = max(self._prev_end, hi)
            if hi > lo:
                out.append(Piece(lo, self._buf[lo - self._buf_start:hi - self._buf_start].copy()))
        self._trim()
        return out

    def _trim(self) -> None:
        """Forget audio that no future region can need."""
        start_s = self._seg.pending_start_s
        first = int((start_s if start_s is not None else self._seg.position_s) * SAMPLE_RATE)
        if self._raw:
            first = min(first, self._raw[0][0])
        keep = max(self._prev_end, first - self.pad)
        if keep > self._buf_start:
            self._buf = self._buf[keep - self._buf_start:]
            self._buf_start = keep


def chunk_audio(samples: np.ndarray, vad, max_chunk_s: float,
                options: VADOptions | None = None) -> list[tuple[ChunkPlan, np.ndarray]]:
    """All chunks of a whole 16 kHz signal at once (speech regions packed up to ``max_chunk_s``)."""
    regions = SpeechRegions(vad, options, window_s=max_chunk_s)
    queue = deque(regions.push(samples) + regions.finish())
    out = []
    while queue:
        out.append(pack(queue, int(max_chunk_s * SAMPLE_RATE)))
    return out
