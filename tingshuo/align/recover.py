"""Second pass: said words that the first pass left unaligned, looked for again between neighbours.

The first pass decides "not said" from the recognition (text the recogniser did not hear, in a
gap with too little speech) and from the forced decoder's view of a whole window. A word the
recogniser missed or misheard can lose both tests although it was said: a name, a word swallowed
at the start of a sentence, the first words after an unspoken paragraph. Once its neighbours are
aligned, the audio where it must be is known precisely: from the end of the word before to the
start of the word after. This pass force-aligns each run of unaligned words (with its two
neighbours, as context) in just that audio — the same aligner, on small windows — and keeps a
word only when the decoder is confident of it there *and* there is speech for it. Text that was
not said finds no speech between neighbours that follow each other in the audio, so it stays
unaligned and is still reported. The units of a short run that failed together are tried once
more one by one (a word not said next to one that was spoils both when aligned together).

When a run is far longer than the speech between its neighbours (an unspoken paragraph followed
by the start of a sentence the recogniser did not catch), only its end next to the following
word, and its start next to the preceding one, are tried: as many units as that speech can hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .listen import ENERGY_FRAME_S, Heard
from .plan import Item, Plan, Window
from .text import Unit

MAX_RUN_UNITS = 12  # a longer run is tried only at its ends
MAX_SINGLES_RUN = 4  # the units of a run this short that failed together are tried one by one
PAD_S = 0.15  # audio kept around the neighbours in a window
MAX_GAP_S = 12.0  # a longer gap between neighbours is tried only at its ends
FIT = 1.6  # a run "fits" a gap whose speech is at least 1/FIT of what the run would take to say...
END_FIT = 1.3  # ... the end of a longer run: as many units as this many times the speech holds


@dataclass(frozen=True)
class Thresholds:
    """When a unit aligned again between its neighbours counts as said.

    Calibrated on the tune splits only (bench/align.py robustness edits, seeds 3-5, en-tune,
    en-tune2, en-cathy2, en-tunemix, zh-tune): of 650 inserted (unsaid) words tried again, none
    had a probability above 0.009 (0.014 for the 17 retried one by one); said words the first
    pass had lost reached 0.05-0.98 when the decoder believed them. Any threshold from 0.02 to
    0.05 kept the same words there. Unsaid preface words at the end of a long run were squeezed
    to no duration, some with a high probability (up to 0.76: the decoder's language model):
    the duration and speech minimums are what keeps those out.
    """

    min_p: float = 0.03  # the decoder's probability of the unit's tokens (geometric mean)
    min_speech_s: float = 0.04  # non-silent audio inside the unit's span (nothing aligned into a pause)
    min_duration_s: float = 0.05
    # ... and that share of its span: a word pushed past its neighbour's last sound into the pause
    # after the text's end ("country. [Thank] you." gave "you" 15.88-17.23 s, 0.08 s of it speech).
    # The said words found on the tune splits had at least 0.19 (align3's seeds 3-5).
    min_speech_share: float = 0.15


@dataclass
class Candidate:
    unit: int
    item: int  # index in the second pass's items
    neighbours: tuple[tuple[int, int], ...]  # (unit, item): the aligned words around it in its window
    t_lo: float  # where the run may lie: end of the word before, start of the word after
    t_hi: float
    gap_speech_s: float
    expected_s: float
    whole: bool  # the whole run is tried (not only an end of it)
    run: tuple[int, int]  # the run of unaligned units [lo, hi) it belongs to


def missing_runs(n_units: int, aligned: set[int]) -> list[tuple[int, int]]:
    """Maximal runs [lo, hi) of text units that have no time."""
    out: list[tuple[int, int]] = []
    u = 0
    while u < n_units:
        if u in aligned:
            u += 1
            continue
        lo = u
        while u < n_units and u not in aligned:
            u += 1
        out.append((lo, u))
    return out


def speech_s(silent: np.ndarray | None, heard: Heard, t0: float, t1: float) -> float:
    """Seconds of non-silent audio between ``t0`` and ``t1`` (the pause mask; the VAD without it)."""
    if t1 <= t0:
        return 0.0
    if silent is None:
        return heard.speech_s(t0, t1)
    a, b = int(t0 / ENERGY_FRAME_S), int(np.ceil(t1 / ENERGY_FRAME_S))
    return float(np.count_nonzero(~silent[a:b])) * ENERGY_FRAME_S


def _item(u: Unit, unit: int, t0: float, t1: float) -> Item:
    return Item(unit, u.text, (u.core_start - u.start, u.core_end - u.start), t0, t1, anchored=True)


def plan_second_pass(text_units: list[Unit], times: dict[int, tuple[float, float]], heard: Heard,
                     silent: np.ndarray | None, key_s: float, singles: set[int] | None = None,
                     ) -> tuple[Plan, list[Window], list[Candidate]]:
    """Windows that align each unaligned run again between its aligned neighbours.

    ``times``: unit -> (start_s, end_s) of the units the first pass kept (raw forced times).
    ``singles``: the retry — these units of short runs, each alone between the run's neighbours
    (a word not said next to one that was spoils the other's alignment when tried together).
    """
    items: list[Item] = []
    windows: list[Window] = []
    cands: list[Candidate] = []
    n = len(text_units)
    for lo, hi in missing_runs(n, set(times)):
        prev = lo - 1 if lo > 0 else None
        nxt = hi if hi < n else None
        if prev is None and nxt is None:
            continue
        t_lo = times[prev][1] if prev is not None else 0.0
        t_hi = times[nxt][0] if nxt is not None else heard.duration_s
        # a neighbour longer than it takes to say may have taken in the run's speech: the gap
        # reaches into it, down to the neighbour's expected length
        if prev is not None:
            t_lo = min(t_lo, times[prev][0] + len(text_units[prev].keys) * key_s)
        if nxt is not None:
            t_hi = max(t_hi, times[nxt][1] - len(text_units[nxt].keys) * key_s)
        if t_hi < t_lo:
            t_lo = t_hi = (t_lo + t_hi) / 2
        gap = speech_s(silent, heard, t_lo, t_hi)
        need = [len(text_units[u].keys) * key_s for u in range(lo, hi)]
        if singles is not None:  # the retry: each unit alone between the run's neighbours
            # (only between two neighbours: at the text's start or end, a unit alone beside its one
            # neighbour is found in that neighbour's own speech — "country. [Thank] you.": "you."
            # p 0.036 over the last 0.26 s of "country")
            if 2 <= hi - lo <= MAX_SINGLES_RUN and t_hi - t_lo <= MAX_GAP_S and prev is not None and nxt is not None:
                pieces = [([u], True, True) for u in range(lo, hi) if u in singles]
            else:
                pieces = []
        elif hi - lo <= MAX_RUN_UNITS and t_hi - t_lo <= MAX_GAP_S and sum(need) <= FIT * gap + key_s:
            pieces = [(list(range(lo, hi)), True, True)]
        else:  # only the ends: as many units as the speech in the gap can hold
            pieces = []
            for from_end in (True, False):
                if (nxt if from_end else prev) is None:
                    continue
                run = list(range(hi - 1, lo - 1, -1)) if from_end else list(range(lo, hi))
                take, total = [], 0.0
                for u in run:
                    if total + need[u - lo] > END_FIT * gap or len(take) >= MAX_RUN_UNITS:
                        break
                    take.append(u)
                    total += need[u - lo]
                if take:
                    pieces.append((sorted(take), from_end, not from_end))
        for units_, with_next, with_prev in pieces:
            span = sum(need[u - lo] for u in units_) * 2.0 + 1.0
            w_items: list[int] = []
            around: list[tuple[int, int]] = []
            if with_prev and prev is not None:
                start = times[prev][0] - PAD_S
                around.append((prev, len(items)))
                items.append(_item(text_units[prev], prev, *times[prev][:2]))
            else:
                start = max(t_lo, t_hi - span) - PAD_S
            w_items.extend(i for _, i in around)
            first = len(cands)
            for u in units_:
                w_items.append(len(items))
                cands.append(Candidate(u, len(items), (), t_lo, t_hi, gap, sum(need), len(units_) == hi - lo,
                                       (lo, hi)))
                items.append(_item(text_units[u], u, t_lo, t_hi))
            if with_next and nxt is not None:
                end = times[nxt][1] + PAD_S
                around.append((nxt, len(items)))
                w_items.append(len(items))
                items.append(_item(text_units[nxt], nxt, *times[nxt][:2]))
            else:
                end = min(t_hi, t_lo + span) + PAD_S
            for c in cands[first:]:
                c.neighbours = tuple(around)
            start, end = max(0.0, start), min(heard.duration_s, end)
            if end - start > 29.0:  # a neighbour that is itself very long: keep the gap's side
                start, end = (end - 29.0, end) if with_next else (start, start + 29.0)
            if end - start < 0.05:
                end = start + 0.05
            windows.append(Window(start, end, w_items))
    windows.sort(key=lambda w: w.start_s)
    return Plan(items, [], 0.0), windows, cands


HEARD_SIMILARITY_MIN = 0.4  # see ``unlike_heard``


def unlike_heard(c: Candidate, t: tuple, unit: Unit, extra: list[Item], cjk: bool) -> bool:
    """Whether ``c``, the end of a long unaligned run (a preface's last words), was found in the
    speech of a word the recogniser heard there that is not in the text, and is nothing like it.

    After an unsaid preface whose following said word is not in the text either (deleted), the
    preface's last word could take that word's speech: "...the art of printing. [Author] of the
    danger trail" timed the preface's "of" (p 0.066) over the heard "Author" (en-tune, seed 6),
    so the preface was not reported as one stretch. A said word misheard there resembles what was
    heard: on the tune splits the said words found over such speech had a letter similarity of
    0.5 or more ("at" heard "to", "CLAFLIN" heard "Klaifren"), the preface's "of" 0.25. Only a
    heard word at least twice as long as the unit counts (a said "in" heard as "a" was lost to
    the check on tune), and not for Chinese, whose misheard characters are homophones written
    differently (尚 heard 上).
    """
    from rapidfuzz.distance import Indel

    if cjk or c.whole:
        return False
    t0, t1 = t[0], t[1]
    mine = "".join(unit.keys)
    for it in extra:
        if it.t1 > it.t0 and min(t1, it.t1) - max(t0, it.t0) > 0.5 * (it.t1 - it.t0):
            heard = "".join(ch for ch in it.text.lower() if ch.isalnum() or ch == "'")
            if (len(heard) >= 2 * len(mine) and
                    Indel.normalized_similarity(mine, heard) < HEARD_SIMILARITY_MIN):
                return True
    return False


def accepted(c: Candidate, t: tuple | None, silent: np.ndarray | None, heard: Heard,
             th: Thresholds) -> bool:
    """Whether candidate ``c``, aligned again at ``t`` (start_s, end_s, probability, ...), was said."""
    if t is None:
        return False
    t0, t1, p = t[0], t[1], t[2]
    lo, hi = max(t0, c.t_lo - 0.05), min(t1, c.t_hi + 0.05)
    sp = speech_s(silent, heard, lo, hi)
    return (p >= th.min_p and t1 - t0 >= th.min_duration_s and sp >= th.min_speech_s
            and sp >= th.min_speech_share * (t1 - t0))
