"""Log-mel filterbank features, the same numbers in numpy (inference) and torch (training).

Frames of 25 ms every 10 ms (400/160 samples at 16 kHz), a Hann window, a 512-point FFT, an
HTK-style mel filterbank, and natural-log energies floored at 1e-10. The training code
(``tingshuo.train.data.fbank_torch``) uses :func:`mel_filterbank` so both agree to float precision;
exported models record these settings so inference never needs torch.

    >>> import numpy as np
    >>> log_mel(np.zeros(16000, np.float32)).shape        # (frames, n_mels)
    (98, 80)
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
WIN_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
N_FFT = 512
LOG_FLOOR = 1e-10


def n_frames(n_samples: int) -> int:
    """Frames :func:`log_mel` makes from ``n_samples`` (no padding: a frame lies wholly inside)."""
    return 0 if n_samples < WIN_LENGTH else 1 + (n_samples - WIN_LENGTH) // HOP_LENGTH


@functools.lru_cache(maxsize=8)
def mel_filterbank(n_mels: int = 80, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   f_min_hz: float = 20.0, f_max_hz: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filters, shape ``(n_fft // 2 + 1, n_mels)``, float32."""
    f_max_hz = f_max_hz or sample_rate / 2

    def mel(f):
        return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)

    mels = np.linspace(mel(f_min_hz), mel(f_max_hz), n_mels + 2)
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    bin_mels = mel(bins)
    lower, centre, upper = mels[:-2], mels[1:-1], mels[2:]
    up = (bin_mels[:, None] - lower[None]) / (centre - lower)[None]
    down = (upper[None] - bin_mels[:, None]) / (upper - centre)[None]
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def window(win_length: int = WIN_LENGTH) -> np.ndarray:
    """Periodic Hann window (torch.hann_window's default), float32."""
    n = np.arange(win_length)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)).astype(np.float32)


def log_mel(samples: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """``(frames, n_mels)`` float32 log-mel energies of 16 kHz mono ``samples``."""
    x = np.asarray(samples, np.float32)
    t = n_frames(x.size)
    if t == 0:
        return np.zeros((0, n_mels), np.float32)
    idx = np.arange(WIN_LENGTH)[None, :] + HOP_LENGTH * np.arange(t)[:, None]
    frames = x[idx] * window()[None, :]
    spec = np.fft.rfft(frames, n=N_FFT, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    return np.log(np.maximum(power @ mel_filterbank(n_mels), LOG_FLOOR)).astype(np.float32)


__all__ = ["HOP_LENGTH", "N_FFT", "SAMPLE_RATE", "WIN_LENGTH", "log_mel", "mel_filterbank", "n_frames", "window"]
