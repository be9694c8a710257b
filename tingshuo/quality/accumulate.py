"""Fixed-memory building blocks of the streaming meters.

    >>> h = PowerHistogram(); h.add(np.array([1e-6, 1e-4, 1e-2]))
    >>> round(h.mean_quietest(1), 9)
    1e-06
"""

from __future__ import annotations

import numpy as np


class PowerHistogram:
    """Counts and sums of frame powers in 0.01 dB bins: the mean of the quietest (or loudest) k
    frames of any number of frames, in fixed memory (exact but for the one bin split at k)."""

    LO, HI, STEP = -16.0, 2.0, 0.001  # log10(power) range and bin width

    def __init__(self) -> None:
        n = int(round((self.HI - self.LO) / self.STEP)) + 2  # + below and above the range
        self.count = np.zeros(n, np.int64)
        self.sum = np.zeros(n, np.float64)

    def add(self, power: np.ndarray) -> None:
        if not power.size:
            return
        with np.errstate(divide="ignore"):
            lg = np.log10(power)
        idx = np.clip(np.floor((lg - self.LO) / self.STEP) + 1, 0, self.count.size - 1)
        idx = np.where(power > 0, idx, 0).astype(np.int64)
        self.count += np.bincount(idx, minlength=self.count.size)
        self.sum += np.bincount(idx, weights=power, minlength=self.count.size)

    def mean_quietest(self, k: int) -> float:
        return self._mean(self.count, self.sum, k)

    def mean_loudest(self, k: int) -> float:
        return self._mean(self.count[::-1], self.sum[::-1], k)

    @staticmethod
    def _mean(count: np.ndarray, total: np.ndarray, k: int) -> float:
        if k <= 0:
            return 0.0
        cum = np.cumsum(count)
        i = int(np.searchsorted(cum, k))
        if i >= count.size:
            return float(total.sum() / max(cum[-1], 1))
        before = int(cum[i - 1]) if i else 0
        s = float(total[:i].sum()) + (k - before) * float(total[i]) / max(int(count[i]), 1)
        return s / k


def runs(mask: np.ndarray) -> np.ndarray:
    """(start, length) of each run of True, as an (n, 2) int array."""
    if not mask.any():
        return np.zeros((0, 2), np.int64)
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return np.stack([starts, ends - starts], axis=1)


def sumsq(x: np.ndarray) -> float:
    """Sum of squares in float64. (einsum, not dot: BLAS threads stall on a loaded machine.)"""
    if not x.size:
        return 0.0
    x64 = x.astype(np.float64)
    return float(np.einsum("i,i->", x64, x64))
