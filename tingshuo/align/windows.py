"""Cutting the items to align into windows for the forced decoder (``plan.make_plan`` makes the items).

The items to align are cut into windows of at most ``max_window_s`` at the best pauses
between anchored items; a cut lands on the quietest 10 ms frame near the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .listen import ENERGY_FRAME_S, Heard

if TYPE_CHECKING:
    from .plan import Item, Plan


LONG_PAUSE_S = 1.0  # a pause this long between items ends a window at once
EDGE_PAD_S = 0.4  # audio kept before the first and after the last item of a stretch
CUT_SEARCH_S = 0.12  # a cut is placed at the quietest frame this far around the boundary


@dataclass
class Window:
    start_s: float
    end_s: float
    items: list[int]


# ------------------------------------------------------------------------------ windows

def make_windows(plan: Plan, heard: Heard, max_window_s: float,
                 pauses: list[tuple[float, float]] | None = None) -> list[Window]:
    """Cut the items into windows of at most ``max_window_s`` (see the module docstring).

    ``pauses`` (silent stretches, seconds) are where cuts go best; without them a cut goes on
    the quietest frame near the boundary.
    """
    items = plan.items
    pauses = pauses or []
    p_starts = np.array([p[0] for p in pauses]) if pauses else np.zeros(0)
    n = len(items)
    out: list[Window] = []
    i = 0
    start = _lead_in(items[0].t0, heard, 0.0) if n else 0.0
    while i < n:
        j = i
        limit = start + max_window_s
        while j + 1 < n and items[j + 1].t1 <= limit and not _long_pause(items[j], items[j + 1]):
            j += 1
        if j + 1 < n and not _long_pause(items[j], items[j + 1]):
            j = _best_cut(items, i, j, pauses, p_starts)
        if j + 1 < n:
            if _long_pause(items[j], items[j + 1]):
                end = _lead_out(items[j].t1, heard, items[j + 1].t0)
                nxt = _lead_in(items[j + 1].t0, heard, end)
            else:
                end = nxt = _cut_point(heard, items[j], items[j + 1], pauses, p_starts)
        else:
            end = _lead_out(items[j].t1, heard, heard.duration_s)
            nxt = end
        end = min(end, start + 29.5)
        out.append(Window(start, max(end, start + 0.05), list(range(i, j + 1))))
        i, start = j + 1, nxt
    return out


def _long_pause(a: Item, b: Item) -> bool:
    return b.t0 - a.t1 >= LONG_PAUSE_S


def _pause_near(a: Item, b: Item, pauses, p_starts) -> tuple[float, float] | None:
    """The silent stretch around the boundary between items ``a`` and ``b`` that lies most between them."""
    p = _pause_between(a, b, pauses, p_starts)
    return p[0] if p else None


def _pause_between(a: Item, b: Item, pauses, p_starts) -> tuple[tuple[float, float], float] | None:
    """(pause, how much of it lies between ``a`` and ``b``): only that part counts, not the rest
    of a pause that reaches into a word's rough span — Whisper heard "IT" from 0.06 s before the
    end of the pause before it, so the whole pause also lay "between" "IT" and "WAS", the window
    was cut there, and "IT" was forced into the sentence before's tail (0.65 s early)."""
    lo, hi = a.t1 - CUT_SEARCH_S - (0.0 if a.anchored else 0.3), b.t0 + CUT_SEARCH_S + (0.0 if b.anchored else 0.3)
    lo, hi = max(lo, a.t0), min(hi, b.t1)
    k = max(0, int(np.searchsorted(p_starts, lo)) - 1)
    best = None
    while k < len(pauses) and pauses[k][0] < hi:
        s, e = max(pauses[k][0], lo), min(pauses[k][1], hi)
        if e > s and (best is None or e - s > best[1]):
            best = (pauses[k], e - s)
        k += 1
    return best


def _best_cut(items: list[Item], i: int, j: int, pauses, p_starts) -> int:
    """The item after which to cut a full window: the longest pause between items in its later
    two thirds, pauses between anchored items preferred; any boundary when there is none."""
    best, best_score = j, -np.inf
    lo = i + (j - i) // 3
    for k in range(max(i, lo), j + 1):
        a, b = items[k], items[k + 1] if k + 1 < len(items) else None
        if b is None:
            return k
        p = _pause_between(a, b, pauses, p_starts)
        gap = p[1] if p else max(0.0, b.t0 - a.t1) * 0.5
        # between two anchored items the cut is safe; next to an unanchored one (rough times) it
        # may land on the wrong side of the word, so those are the last resort
        score = gap + (1.0 if a.anchored and b.anchored else -2.0) + 0.02 * (k - i) / max(1, j - i)
        if score > best_score:
            best, best_score = k, score
    return best


def _cut_point(heard: Heard, a: Item, b: Item, pauses, p_starts) -> float:
    """Where to cut between items ``a`` and ``b``: inside the pause there, near its start; else the
    quietest 10 ms frame near the boundary."""
    p = _pause_near(a, b, pauses, p_starts)
    if p is not None:
        lo = max(p[0], a.t1 - CUT_SEARCH_S - (0.0 if a.anchored else 0.3), a.t0)
        hi = min(p[1], b.t0 + CUT_SEARCH_S + (0.0 if b.anchored else 0.3), b.t1)
        if hi > lo:
            return float(lo + min(0.3, (hi - lo) / 2))
    return _quietest(heard, a.t1 - CUT_SEARCH_S, b.t0 + CUT_SEARCH_S, a.t0, b.t1)


def _quietest(heard: Heard, t0: float, t1: float, lo_bound: float, hi_bound: float) -> float:
    """The quietest 10 ms frame in [t0, t1] (kept inside (lo_bound, hi_bound))."""
    t0 = max(t0, lo_bound + 0.02)
    t1 = min(t1, hi_bound - 0.02)
    if t1 <= t0:
        return float((t0 + t1) / 2)
    a, b = int(t0 / ENERGY_FRAME_S), int(np.ceil(t1 / ENERGY_FRAME_S))
    e = heard.energy_db[a:b]
    if e.size == 0:
        return float((t0 + t1) / 2)
    k = int(np.argmin(np.convolve(e, np.ones(3) / 3, mode="same")))
    return float((a + k + 0.5) * ENERGY_FRAME_S)


def _lead_in(t: float, heard: Heard, floor: float) -> float:
    return max(floor, t - EDGE_PAD_S, 0.0)


def _lead_out(t: float, heard: Heard, ceiling: float) -> float:
    return min(ceiling, t + EDGE_PAD_S, heard.duration_s)
