"""Duplicates: exact (same decoded PCM), near (re-encoded, resampled, gain-changed, trimmed), and text.

Near-duplicates use a Haitsma-Kalker style acoustic fingerprint written here (no maintained
Python library does this for speech offline): one 32-bit word per 16 ms hop of a 128 ms window, bit m set when the
energy difference of mel bands m and m+1 grows from the previous frame. Differences of log
energies ignore gain; bands of 150-3000 Hz survive MP3/Opus coding and 8-22 kHz resampling.

Candidates come from words shared with an earlier clip at a consistent time offset (the index
lives in SQLite, so memory stays flat); each candidate is confirmed by the bit error rate of
the two fingerprints at that offset (unrelated audio: ~0.5; copies: <= 0.3). Fingerprints are
computed as the audio streams past and cover a file's first ``FP_MAX_S`` seconds: two long
recordings that start alike are found, an excerpt from the middle of an hour is not.

    >>> fp = fingerprint(samples)                                   # doctest: +SKIP
    >>> bit_error_rate(fp, fingerprint(mp3_copy))                   # doctest: +SKIP
    (0.12, 3)
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

import numpy as np

SR = 16000
N_FFT = 2048  # 128 ms: a long window keeps words stable under small shifts
HOP = 256  # 16 ms
N_BANDS = 33
MAX_BER = 0.30  # at or below: the same recording (Haitsma & Kalker use 0.35; clips sharing a loud background noise reach 0.30-0.33)
MIN_OVERLAP_FRAMES = 40  # ~0.64 s of shared audio at least
MIN_VOTES = 2  # shared words at one offset before a pair is compared


FP_MAX_S = 300.0  # fingerprints (and the index) cover the first 5 minutes of a file
FP_MAX_FRAMES = int(FP_MAX_S * SR / HOP)


def _pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(np.asarray(samples, np.float32) * 32767.0), -32768, 32767).astype("<i2").tobytes()


def pcm_hash(samples: np.ndarray) -> str:
    """SHA-1 of the 16-bit PCM of the decoded 16 kHz signal: same audio in any lossless container."""
    return hashlib.sha1(_pcm16(samples)).hexdigest()


def _band_edges() -> np.ndarray:
    mel = lambda f: 2595 * np.log10(1 + f / 700.0)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595.0) - 1)  # noqa: E731
    edges_hz = imel(np.linspace(mel(150.0), mel(3000.0), N_BANDS + 2))
    return np.round(edges_hz / (SR / N_FFT)).astype(int)


_EDGES = None


def _edges() -> np.ndarray:
    """FFT bin edges of the 34 bands (strictly increasing: no band is empty)."""
    global _EDGES
    if _EDGES is None:
        _EDGES = _band_edges()
        assert (np.diff(_EDGES) > 0).all()
    return _EDGES


class Fingerprinter:
    """The fingerprint of a 16 kHz stream, fed block by block (the first ``max_frames`` frames).

    ``push`` blocks in order, then ``result()`` -> (words, loud, weak) as ``fingerprint`` gives.
    Memory: one window of audio and ~13 bytes per frame kept (~240 KB at the 5-minute cap).
    """

    BATCH = 512  # frames per FFT batch

    def __init__(self, max_frames: int | None = FP_MAX_FRAMES) -> None:
        self.max_frames = max_frames
        self.carry = np.zeros(0, np.float32)
        self.n_frames = 0
        self.prev_d: np.ndarray | None = None
        self.words: list[np.ndarray] = []
        self.energy: list[np.ndarray] = []
        self.weak: list[np.ndarray] = []
        self.window = np.hanning(N_FFT).astype(np.float32)

    @property
    def full(self) -> bool:
        return self.max_frames is not None and self.n_frames >= self.max_frames + 1

    def push(self, x16: np.ndarray) -> None:
        if self.full or not x16.size:
            return
        edges = _edges()
        x = np.concatenate([self.carry, x16]) if self.carry.size else np.asarray(x16, np.float32)
        n = (x.size - N_FFT) // HOP + 1 if x.size >= N_FFT else 0
        if self.max_frames is not None:
            n = min(n, self.max_frames + 1 - self.n_frames)
        view = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] if n > 0 else None
        for i in range(0, n, self.BATCH):
            frames = view[i:min(n, i + self.BATCH)]
            spec = (np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2).astype(np.float32)
            bands = np.add.reduceat(spec[:, : edges[-1]], edges[:-1], axis=1)  # contiguous bins (no BLAS)
            logb = np.log(bands + 1e-10)
            d = logb[:, :-1] - logb[:, 1:]
            if self.prev_d is not None:
                d_all, e_rows = np.concatenate([self.prev_d, d]), bands.sum(axis=1)
            else:
                d_all, e_rows = d, bands.sum(axis=1)[1:]
            margin = d_all[1:, :32] - d_all[:-1, :32]
            bits = margin > 0
            self.words.append((bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1).astype(np.uint32))
            self.energy.append(e_rows.astype(np.float32))
            self.weak.append(np.uint32(1) << np.argsort(np.abs(margin), axis=1)[:, :2].astype(np.uint32))
            self.prev_d = d[-1:].copy()
            self.n_frames += frames.shape[0]
        self.carry = x[n * HOP:].copy() if n > 0 else x.copy()
        if self.full:
            self.carry = np.zeros(0, np.float32)

    def result(self):
        """(words uint32, loud bool, weak (n, 2) uint32 masks) per frame after the first; empty when < 3 frames."""
        if self.n_frames < 3:
            return np.zeros(0, np.uint32), np.zeros(0, bool), np.zeros((0, 2), np.uint32)
        words = np.concatenate(self.words)
        energy = np.concatenate(self.energy)
        loud = energy > max(float(np.percentile(energy, 90)) * 1e-3, 1e-6)
        return words, loud, np.concatenate(self.weak)


def fingerprint(samples: np.ndarray, with_weak: bool = False, max_frames: int | None = None):
    """(words uint32 per frame, loud bool per frame) of a 16 kHz float signal.

    ``with_weak`` adds a third array: per frame, the bit masks of its two least reliable bits
    (smallest energy-difference margins), which the index also stores flipped. Clips shorter
    than three frames (~0.16 s) give empty arrays (as many as asked for).
    """
    fp = Fingerprinter(max_frames)
    fp.push(np.asarray(samples, np.float32))
    words, loud, weak = fp.result()
    return (words, loud, weak) if with_weak else (words, loud)


_POP = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _popcount(a: np.ndarray) -> np.ndarray:
    b = a.view(np.uint8).reshape(-1, 4)
    return _POP[b].sum(axis=1)


def ber_at(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int]:
    """Bit error rate of a[i] vs b[i - offset] over their overlap, and the overlap in frames."""
    lo, hi = max(0, offset), min(a.size, b.size + offset)
    if hi - lo <= 0:
        return 1.0, 0
    x = np.bitwise_xor(a[lo:hi], b[lo - offset:hi - offset])
    return float(_popcount(x).mean() / 32.0), hi - lo


def bit_error_rate(a: np.ndarray, b: np.ndarray, offsets=None) -> tuple[float, int]:
    """Lowest BER over the offsets tried (all with enough overlap by default) and its offset."""
    if offsets is None:
        offsets = range(-(b.size - MIN_OVERLAP_FRAMES), a.size - MIN_OVERLAP_FRAMES + 1)
    best = (1.0, 0)
    for off in offsets:
        ber, overlap = ber_at(a, b, off)
        if overlap >= min(MIN_OVERLAP_FRAMES, a.size, b.size) and ber < best[0]:
            best = (ber, off)
    return best


def is_near_duplicate(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[bool, float]:
    """Compare around ``offset`` (±2 frames); the overlap must cover half of the shorter clip."""
    best = 1.0
    for off in range(offset - 2, offset + 3):
        ber, overlap = ber_at(a, b, off)
        if overlap >= max(MIN_OVERLAP_FRAMES, 0.5 * min(a.size, b.size)):
            best = min(best, ber)
    return best <= MAX_BER, best


def index_words(words: np.ndarray, loud: np.ndarray, weak: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(word, frame) pairs worth indexing: loud frames, not the all-0/all-1 words of flat spectra.

    With ``weak`` masks each frame also gets its words with the two least reliable bits flipped,
    so copies whose coding noise flipped those bits still meet in the index.
    """
    w, f = index_arrays(words, loud, weak)
    return list(zip(w.tolist(), f.tolist()))


def index_arrays(words: np.ndarray, loud: np.ndarray, weak: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``index_words`` as two arrays (words uint32, frames int64), computed without a Python loop."""
    if words is None or not words.size:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    sel = loud[: words.size] & (words != 0) & (words != 0xFFFFFFFF)
    frames = np.flatnonzero(sel)
    w = words[frames]
    if weak is None:
        return w, frames
    a, b = weak[frames, 0], weak[frames, 1]
    return np.concatenate([w, w ^ a, w ^ b, w ^ a ^ b]), np.tile(frames, 4)


def vote_offsets(own: list[tuple[int, int]], hits: list[tuple[str, int, int]]) -> dict[str, tuple[int, int]]:
    """Best (offset, votes) per other clip from index hits (other_key, word, other_frame)."""
    frames_of: dict[int, list[int]] = {}
    for w, f in own:
        frames_of.setdefault(w, []).append(f)
    pairs = set()  # one vote per (own frame, other frame), however many variants matched
    for key, w, f_other in hits:
        for f in frames_of.get(w, ()):
            pairs.add((key, f, f_other))
    votes: Counter = Counter()
    for key, f, f_other in pairs:
        votes[(key, f - f_other)] += 1
    best: dict[str, tuple[int, int]] = {}
    for (key, off), v in sorted(votes.items()):  # sorted: ties resolve the same way in every run
        # neighbouring offsets (a trim that is not a whole frame) vote together
        v_total = v + votes.get((key, off - 1), 0) + votes.get((key, off + 1), 0)
        if v_total >= MIN_VOTES and v_total > best.get(key, (0, 0))[1]:
            best[key] = (off, v_total)
    return best


_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def text_key(text: str | None) -> str | None:
    """Transcript normalised for duplicate finding: NFKC, case-folded, punctuation and spaces removed."""
    if not text:
        return None
    norm = _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())
    return hashlib.sha1(norm.encode()).hexdigest()[:16] if norm else None
