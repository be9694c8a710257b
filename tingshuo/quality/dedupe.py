"""Duplicates: exact (same decoded PCM), near (re-encoded, resampled, gain-changed, trimmed), and text.

Near-duplicates use a Haitsma-Kalker style acoustic fingerprint written here (no maintained
Python library does this for speech offline): one 32-bit word per 16 ms hop of a 128 ms window, bit m set when the
energy difference of mel bands m and m+1 grows from the previous frame. Differences of log
energies ignore gain; bands of 150-3000 Hz survive MP3/Opus coding and 8-22 kHz resampling.

Candidates come from words shared with an earlier clip at a consistent time offset (the index
lives in SQLite, so memory stays flat); each candidate is confirmed by the bit error rate of
the two fingerprints at that offset (unrelated audio: ~0.5; copies: <= 0.3).

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


def pcm_hash(samples: np.ndarray) -> str:
    """SHA-1 of the 16-bit PCM of the decoded 16 kHz signal: same audio in any lossless container."""
    pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32767.0), -32768, 32767).astype("<i2")
    return hashlib.sha1(pcm.tobytes()).hexdigest()


def _band_edges() -> np.ndarray:
    mel = lambda f: 2595 * np.log10(1 + f / 700.0)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595.0) - 1)  # noqa: E731
    edges_hz = imel(np.linspace(mel(150.0), mel(3000.0), N_BANDS + 2))
    return np.round(edges_hz / (SR / N_FFT)).astype(int)


_BANDS = None


def _band_matrix() -> np.ndarray:
    """(n_bins, 34) 0/1 matrix summing FFT bins into the fingerprint's bands."""
    global _BANDS
    if _BANDS is None:
        e = _band_edges()
        m = np.zeros((N_FFT // 2 + 1, N_BANDS + 1), np.float32)
        for k in range(N_BANDS + 1):
            m[e[k]:e[k + 1], k] = 1.0
        _BANDS = m
    return _BANDS


def fingerprint(samples: np.ndarray, with_weak: bool = False):
    """(words uint32 per frame, loud bool per frame) of a 16 kHz float signal.

    ``with_weak`` adds a third array: per frame, the bit masks of its two least reliable bits
    (smallest energy-difference margins), which the index also stores flipped.
    """
    x = np.asarray(samples, np.float32)
    n = (x.size - N_FFT) // HOP + 1
    if n < 3:
        return np.zeros(0, np.uint32), np.zeros(0, bool)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    spec = (np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT).astype(np.float32), axis=1)) ** 2).astype(np.float32)
    bands = spec @ _band_matrix()
    logb = np.log(bands + 1e-10)
    d = logb[:, :-1] - logb[:, 1:]  # (n, 33) -> 33 differences... use the first 32
    margin = d[1:, :32] - d[:-1, :32]
    bits = margin > 0
    words = (bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1).astype(np.uint32)
    energy = bands.sum(axis=1)[1:]
    loud = energy > max(float(np.percentile(energy, 90)) * 1e-3, 1e-6)
    if not with_weak:
        return words, loud
    weak = np.argsort(np.abs(margin), axis=1)[:, :2].astype(np.uint32)
    return words, loud, (np.uint32(1) << weak)


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
    out = []
    for i in range(words.size):
        w = int(words[i])
        if loud[i] and w not in (0, 0xFFFFFFFF):
            out.append((w, i))
            if weak is not None:
                a, b = int(weak[i, 0]), int(weak[i, 1])
                out += [(w ^ a, i), (w ^ b, i), (w ^ a ^ b, i)]
    return out


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
    for (key, off), v in votes.items():
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
