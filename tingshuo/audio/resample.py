"""Sample-rate conversion with libsoxr (the ``soxr`` package): high quality, fast, no torch."""

from __future__ import annotations

import numpy as np


def resample(samples: np.ndarray, from_rate: int, to_rate: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample float32 mono ``samples`` from ``from_rate`` to ``to_rate`` Hz.

    >>> resample(np.zeros(22050, np.float32), 22050, 16000).shape
    (16000,)
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.size == 0:
        return samples
    import soxr

    return soxr.resample(samples, from_rate, to_rate, quality=quality).astype(np.float32, copy=False)
