"""From what was heard to what to align: anchors, unspoken text, extra speech, windows.

1. The recogniser's words and the text are turned into the same matching keys (``text.keys_of``)
   and matched as a longest common subsequence (rapidfuzz's ``Indel`` opcodes, bit-parallel).
   Runs of at least ``min_anchor`` consecutive matching keys are anchors: text units whose
   time is known roughly from the recogniser.
2. Between two anchors lies a gap: text the recogniser did not match and audio between the
   anchors' times. Text whose gap holds far less speech than it would take to say is *not
   said* (a preface, a skipped line); a short such stretch (a word or two, which the
   recogniser may simply have dropped) is *doubtful* and decided after forced alignment.
   Recognised words with no text in their gap are *speech not in the text*; they are aligned
   too (so that they do not stretch their neighbours) and reported.
3. The items to align are cut into windows of at most ``max_window_s`` at the best pauses
   between anchored items; a cut lands on the quietest 10 ms frame near the boundary
   (``windows.make_windows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..tts.text import HAN_RE
from .listen import Heard
from .text import Unit, is_cjk_language, units
from .windows import Window, make_windows  # noqa: F401  (make_windows: imported from here by aligner, tests)

DOUBT_MAX_KEYS = 3  # a gap of at most this many keys the recogniser did not hear is decided later
MATCH_BLOCK_KEYS = 12000  # recognised keys matched at a time when the text is very long
DEFAULT_KEY_S = {"en": 0.3, "zh": 0.22}
SENTENCE_PAUSE_S = 0.3  # a pause this long after a sentence's tail ends it (``_past_sentence_tails``)
TAIL_S = 0.6  # ... when it starts this soon after the sentence's last heard word


@dataclass
class HeardKey:
    key: str
    start_s: float
    end_s: float
    unit: int  # index of the recognised unit it belongs to


@dataclass
class Item:
    """Something to align: a text unit (``unit`` >= 0) or recognised speech not in the text (-1)."""

    unit: int
    text: str  # what the forced decoder is given
    core: tuple[int, int]  # the part of ``text`` that is timed
    t0: float  # rough times, from the recogniser or interpolated
    t1: float
    anchored: bool
    doubtful: bool = False
    heard_nearby: bool = True  # the recogniser heard words not in the text in this item's gap
    heard: bool = True  # the recogniser heard this unit's words here (even if too few to anchor it)
    heard_s: tuple[float, float] | None = None  # where the recogniser heard it (anchored text units)


@dataclass
class Plan:
    items: list[Item]
    unspoken: list[tuple[int, int, float, float]]  # text units [lo, hi) not said, and where (t0, t1)
    matched_share: float  # share of the text's keys the recogniser matched
    windows: list[Window] = field(default_factory=list)
    key_s: float = 0.3  # typical seconds per key (speaking rate)
    heard_share: float = 0.0  # share of the recognised keys matched to the text (anchor runs)
    any_heard_share: float = 0.0  # share of the text's keys matched at all (runs of any length)


def heard_units(heard: Heard, language: str) -> tuple[list[Unit], list[HeardKey]]:
    """The recognised words as units (normalised like the text), and their keys with times."""
    text, spans = "", []
    cjk = is_cjk_language(language)
    for w in heard.words:
        piece = w.text
        if text and not cjk and not piece.startswith(" "):
            piece = " " + piece
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    hu = units(text, language)
    keys: list[HeardKey] = []
    starts = np.array([s for s, _ in spans]) if spans else np.zeros(0, int)
    for ui, u in enumerate(hu):
        t0, t1 = _span_time(heard, spans, starts, u.core_start, u.core_end)
        n = len(u.keys)
        for j, k in enumerate(u.keys):
            keys.append(HeardKey(k, t0 + (t1 - t0) * j / n, t0 + (t1 - t0) * (j + 1) / n, ui))
    return hu, keys


def _span_time(heard: Heard, spans, starts, a: int, b: int) -> tuple[float, float]:
    i = max(0, int(np.searchsorted(starts, a, side="right")) - 1)
    lo, hi = np.inf, -np.inf
    while i < len(spans) and spans[i][0] < b:
        s, e = spans[i]
        ov = min(e, b) - max(s, a)
        if ov > 0:
            w = heard.words[i]
            n = max(1, e - s)
            lo = min(lo, w.start_s + (w.end_s - w.start_s) * max(0, a - s) / n)
            hi = max(hi, w.start_s + (w.end_s - w.start_s) * min(n, b - s) / n)
        i += 1
    if not np.isfinite(lo):
        return 0.0, 0.0
    return float(lo), float(hi)


def match(text_keys: list[str], heard_keys: list[str], min_anchor: int) -> list[tuple[int, int, int]]:
    """Runs ``(text_index, heard_index, length)`` of the longest common subsequence of the keys.

    Very long inputs are matched block by block (rapidfuzz's table is len x len / 64 words): each
    block of recognised keys against the text from where the previous block's last run of at least
    ``min_anchor`` ended, so memory stays bounded and the runs stay in order.
    """
    from rapidfuzz.distance import Indel

    if not text_keys or not heard_keys:
        return []
    runs: list[tuple[int, int, int]] = []
    if len(text_keys) * len(heard_keys) <= 4e8:
        for op in Indel.opcodes(text_keys, heard_keys):
            if op.tag == "equal":
                runs.append((op.src_start, op.dest_start, op.src_end - op.src_start))
        return runs
    ratio = len(text_keys) / len(heard_keys)
    t_pos = 0
    for h_lo in range(0, len(heard_keys), MATCH_BLOCK_KEYS):
        h_hi = min(len(heard_keys), h_lo + MATCH_BLOCK_KEYS)
        last = h_hi == len(heard_keys)
        t_hi = len(text_keys) if last else min(len(text_keys), t_pos + int(2.5 * (h_hi - h_lo) * ratio) + 4000)
        block = [(t_pos + op.src_start, h_lo + op.dest_start, op.src_end - op.src_start)
                 for op in Indel.opcodes(text_keys[t_pos:t_hi], heard_keys[h_lo:h_hi]) if op.tag == "equal"]
        long_runs = [r for r in block if r[2] >= min_anchor]
        if not last and long_runs:  # keep this block's runs up to its last long one
            end = long_runs[-1][0] + long_runs[-1][2]
            block = [r for r in block if r[0] + r[2] <= end]
            t_pos = end
        elif not last:
            block = []
        runs.extend(block)
    return runs


def _grow_runs(runs: list[tuple[int, int, int]], t_keys: list[str], h_keys: list[str],
               min_anchor: int) -> list[tuple[int, int, int]]:
    """Grow each long run over equal neighbours held by short runs or by nothing.

    A longest common subsequence is not unique: "... ago and is read ... And so my fellow" against
    the heard "and so my fellow" may match the heard "and" to the first one. Letting the long run
    ("so my fellow") take its equal neighbour puts it back where the speech is.
    """
    t_to_h = np.full(len(t_keys), -1)
    h_to_t = np.full(len(h_keys), -1)
    long_t = np.zeros(len(t_keys), bool)
    for ti, hi, n in runs:
        t_to_h[ti:ti + n] = np.arange(hi, hi + n)
        h_to_t[hi:hi + n] = np.arange(ti, ti + n)
        if n >= min_anchor:
            long_t[ti:ti + n] = True

    def take(t: int, h: int) -> None:
        if t_to_h[t] >= 0:
            h_to_t[t_to_h[t]] = -1
        if h_to_t[h] >= 0:
            t_to_h[h_to_t[h]] = -1
        t_to_h[t], h_to_t[h] = h, t
        long_t[t] = True

    for ti, hi, n in runs:
        if n < min_anchor:
            continue
        t, h = ti - 1, hi - 1
        while t >= 0 and h >= 0 and not long_t[t] and t_keys[t] == h_keys[h] and \
                (h_to_t[h] < 0 or not long_t[h_to_t[h]]) and _in_order(t_to_h, t, h):
            take(t, h)
            t, h = t - 1, h - 1
        t, h = ti + n, hi + n
        while t < len(t_keys) and h < len(h_keys) and not long_t[t] and t_keys[t] == h_keys[h] and \
                (h_to_t[h] < 0 or not long_t[h_to_t[h]]) and _in_order(t_to_h, t, h):
            take(t, h)
            t, h = t + 1, h + 1
    out: list[tuple[int, int, int]] = []
    for t in np.flatnonzero(t_to_h >= 0):
        h = int(t_to_h[t])
        if out and out[-1][0] + out[-1][2] == t and out[-1][1] + out[-1][2] == h:
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + 1)
        else:
            out.append((int(t), h, 1))
    return out


def _move_repeated_runs(runs: list[tuple[int, int, int]], t_keys: list[str], hkeys: list[HeardKey], heard: Heard,
                        min_anchor: int, min_speech_per_key_s: float) -> list[tuple[int, int, int]]:
    """Put a run that the text repeats on the copy that keeps the unsaid text in one stretch.

    A text whose unsaid preface ends with (or contains at its start) the sentence said first —
    a chapter title, a table of contents, a blurb quoting the opening line — matches the heard
    sentence equally well to either copy, and the matching may take the first: "X [preface] X
    rest" heard "X rest" then times the preface's X and reports "[preface] X", the said copy, as
    not said. When a run at the text's start (or after unheard text) is followed, with nothing
    heard in between and little speech, by unheard text that ends with a copy of it, the run
    moves to that copy (next to the run after it); the same at the text's end, the other way.
    """
    runs = list(runs)
    k = 0
    while k + 1 < len(runs):
        (ti, hi, n), (ti2, hi2, n2) = runs[k], runs[k + 1]
        gap = ti2 - (ti + n)
        if hi + n != hi2 or gap <= 0:
            k += 1
            continue
        quiet = heard.speech_s(hkeys[hi + n - 1].end_s, hkeys[hi2].start_s) < min_speech_per_key_s * gap
        prev_end = runs[k - 1][0] + runs[k - 1][2] if k > 0 else 0
        next_start = runs[k + 2][0] if k + 2 < len(runs) else len(t_keys)
        if (quiet and n >= min_anchor and gap >= n and (ti == 0 or prev_end < ti)
                and t_keys[ti2 - n:ti2] == t_keys[ti:ti + n]):
            runs[k:k + 2] = [(ti2 - n, hi, n + n2)]  # the copy before the next run: one run with it
            continue
        if (quiet and n2 >= min_anchor and gap >= n2 and next_start > ti2 + n2
                and t_keys[ti + n:ti + n + n2] == t_keys[ti2:ti2 + n2]):
            runs[k:k + 2] = [(ti, hi, n + n2)]  # the copy after the run before: one run with it
            continue
        k += 1
    return runs


def _in_order(t_to_h: np.ndarray, t: int, h: int) -> bool:
    """Whether matching text key ``t`` to heard key ``h`` keeps the matching monotonic (ignoring
    the pairs that this one would replace)."""
    before = t_to_h[:t][t_to_h[:t] >= 0]
    after = t_to_h[t + 1:][t_to_h[t + 1:] >= 0]
    before = before[before != h]
    after = after[after != h]
    return (before.size == 0 or before.max() < h) and (after.size == 0 or after.min() > h)


def make_plan(text_units: list[Unit], heard: Heard, language: str, *, min_anchor: int,
              unspoken_ratio: float) -> Plan:
    """Anchors, unspoken text and items to align (see the module docstring)."""
    hu, hkeys = heard_units(heard, language)
    t_keys, t_owner = [], []
    for ui, u in enumerate(text_units):
        for k in u.keys:
            t_keys.append(k)
            t_owner.append(ui)
    all_runs = _grow_runs(match(t_keys, [h.key for h in hkeys], min_anchor), t_keys, [h.key for h in hkeys],
                          min_anchor)
    all_runs = _move_repeated_runs(all_runs, t_keys, hkeys, heard, min_anchor,
                                   unspoken_ratio * DEFAULT_KEY_S.get("zh" if is_cjk_language(language) else "en", 0.3))
    runs = [r for r in all_runs if r[2] >= min_anchor]
    n_units = len(text_units)
    matched_keys = np.zeros(len(t_keys), bool)
    heard_any = np.zeros(len(t_keys), bool)  # matched by a run of any length
    key_heard = np.full(len(t_keys), -1)
    for ti, hi, n in runs:
        matched_keys[ti:ti + n] = True
        key_heard[ti:ti + n] = np.arange(hi, hi + n)
    for ti, hi, n in all_runs:
        heard_any[ti:ti + n] = True
    # a unit is anchored when all its keys are matched; its rough time is theirs
    anchored = np.zeros(n_units, bool)
    u_t0 = np.zeros(n_units)
    u_t1 = np.zeros(n_units)
    u_h = np.full((n_units, 2), -1)
    heard_unit = np.zeros(n_units, bool)
    pos = 0
    for ui, u in enumerate(text_units):
        ks = range(pos, pos + len(u.keys))
        pos += len(u.keys)
        heard_unit[ui] = all(heard_any[k] for k in ks)
        if all(matched_keys[k] for k in ks):
            anchored[ui] = True
            hs = [key_heard[k] for k in ks]
            u_t0[ui], u_t1[ui] = hkeys[hs[0]].start_s, hkeys[hs[-1]].end_s
            u_h[ui] = (hs[0], hs[-1])
    if not is_cjk_language(language):
        _start_after_pause(text_units, anchored, u_t0, u_t1, heard)
    matched_share = float(matched_keys.mean()) if len(t_keys) else 0.0
    key_s = _key_seconds(text_units, anchored, u_t0, u_t1, language)

    h_place = _extra_places(all_runs, t_owner, len(hkeys))
    unit_keys: dict[int, list[int]] = {}
    for k, h in enumerate(hkeys):
        unit_keys.setdefault(h.unit, []).append(k)
    emitted: set[int] = set()
    heard_matched = np.zeros(len(hkeys), bool)
    for _, hi, n in all_runs:
        heard_matched[hi:hi + n] = True
    items: list[Item] = []
    unspoken: list[tuple[int, int, float, float]] = []
    used_heard = np.zeros(len(hkeys), bool)
    for _, hi, n in runs:
        used_heard[hi:hi + n] = True
    anchor_idx = np.flatnonzero(anchored)
    bounds = [-1, *anchor_idx.tolist(), n_units]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a >= 0:
            u = text_units[a]
            items.append(Item(a, u.text, (u.core_start - u.start, u.core_end - u.start), u_t0[a], u_t1[a], True,
                              heard_s=(float(u_t0[a]), float(u_t1[a]))))
        if b - a <= 1 and not _extra_between(a, b, u_h, used_heard, anchored, n_units):
            continue
        t_lo = u_t1[a] if a >= 0 else 0.0
        t_hi = u_t0[b] if b < n_units else heard.duration_s
        h_lo = u_h[a][1] + 1 if a >= 0 else 0
        h_hi = u_h[b][0] if b < n_units else len(hkeys)
        gap_units = list(range(a + 1, b))
        gap_heard = [h for h in range(h_lo, max(h_lo, h_hi)) if not used_heard[h]]
        n_keys = sum(len(text_units[i].keys) for i in gap_units)
        speech = heard.speech_s(t_lo, t_hi)
        expected = n_keys * key_s
        loose = [h for h in gap_heard if not heard_matched[h]]  # matched to no text at all
        if not gap_units:
            items.extend(_extra_items(hu, hkeys, loose, unit_keys, emitted))
            continue
        # at the text's start or end (no anchor on one side) a short unheard stretch is not given
        # the benefit of the doubt: with no neighbour to hold it, the forced decoder squeezes it
        # into the first (last) word's speech or the pause. It is decided by the speech there, and
        # when that suffices it is still doubtful (kept only if the decoder believes it)
        edge = a < 0 or b >= n_units
        if speech >= unspoken_ratio * expected or (n_keys <= DOUBT_MAX_KEYS and not edge):
            # recognised words with no text between their matched neighbours are speech not in
            # the text; they go in among the gap's units where the matching puts them
            extra_after: dict[int, list[int]] = {}
            for h in gap_heard:
                place = h_place.get(h)
                if place is not None and (place == a or place in gap_units):
                    extra_after.setdefault(place, []).append(h)
            spread = _spread(text_units, gap_units, t_lo, t_hi, heard,
                             [(hkeys[h].start_s, hkeys[h].end_s) for h in gap_heard])
            items.extend(_extra_items(hu, hkeys, extra_after.get(a, []), unit_keys, emitted))
            for it in spread:
                it.doubtful = (speech < unspoken_ratio * expected
                               or (edge and n_keys <= DOUBT_MAX_KEYS and not heard_unit[it.unit]))
                it.heard_nearby = bool(gap_heard)
                items.append(it)
                items.extend(_extra_items(hu, hkeys, extra_after.get(it.unit, []), unit_keys, emitted))
        else:
            # the gap's text was not said, so whatever was heard in it is speech not in the text, also
            # a word that the matching paired with a word of that text by chance (a short run): after
            # a long preface the heard "And" of "And so my ..." (deleted from the text) matched the
            # preface's "and", was reported nowhere, and "so" was stretched over it
            unspoken.append((gap_units[0], gap_units[-1] + 1, t_lo, t_hi))
            items.extend(_extra_items(hu, hkeys, gap_heard, unit_keys, emitted))
    for it in items:
        if it.unit >= 0 and not it.anchored:
            it.heard = bool(heard_unit[it.unit])
    plan = Plan(items, unspoken, matched_share, key_s=key_s,
                heard_share=float(used_heard.mean()) if len(hkeys) else 0.0,
                any_heard_share=float(heard_any.mean()) if len(t_keys) else 0.0)
    return plan


def _extra_places(all_runs, t_owner: list[int], n_heard: int) -> dict[int, int]:
    """Recognised keys that no text can account for: heard key -> the text unit it follows (-1: none).

    A recognised key the matching left out, whose matched neighbours (runs of any length) are
    next to each other in the text, has no text of its own: it is speech not in the text.
    """
    matched = np.full(n_heard, -1)
    for ti, hi, n in all_runs:
        matched[hi:hi + n] = np.arange(ti, ti + n)
    out: dict[int, int] = {}
    prev_t = -1
    idx = np.flatnonzero(matched >= 0)
    nxt_pos = 0
    for h in range(n_heard):
        if matched[h] >= 0:
            prev_t = int(matched[h])
            continue
        while nxt_pos < idx.size and idx[nxt_pos] <= h:
            nxt_pos += 1
        next_t = int(matched[idx[nxt_pos]]) if nxt_pos < idx.size else len(t_owner)
        if next_t == prev_t + 1:
            out[h] = t_owner[prev_t] if prev_t >= 0 else -1
    return out


def _extra_between(a, b, u_h, used_heard, anchored, n_units) -> bool:
    """Whether recognised keys not in the text lie between anchored units ``a`` and ``b``."""
    if a < 0 or b >= n_units:
        lo = u_h[a][1] + 1 if a >= 0 else 0
        hi = u_h[b][0] if b < n_units else len(used_heard)
    else:
        lo, hi = u_h[a][1] + 1, u_h[b][0]
    return hi > lo and not used_heard[lo:hi].all()


def _extra_items(hu: list[Unit], hkeys: list[HeardKey], heard_idx: list[int], unit_keys: dict[int, list[int]],
                 emitted: set[int]) -> list[Item]:
    """Recognised units, as items of speech not in the text, for those of the given keys' units whose
    keys are all among them (a unit partly matched to the text is a misreading, not extra speech);
    each unit at most once (``emitted``)."""
    out: list[Item] = []
    given = set(heard_idx)
    for h in heard_idx:
        ui = hkeys[h].unit
        if ui in emitted:
            continue
        u = hu[ui]
        if not all(k in given for k in unit_keys[ui]):
            # ... except the words of a number heard whole of which the text has a part: "In 21" for
            # "in eighteen twenty-one" (heard "1821"): "eighteen" is speech not in the text, given to
            # the decoder as words, so that "21" is aligned to "twenty-one" alone
            # (not Chinese: a digit string heard there is read as a value, 百/千 words the text's
            # digit-by-digit reading does not have — on zh-tune such a part took an inserted 十's place)
            part = [k for k in unit_keys[ui] if k in given]
            if (not any(c.isdigit() for c in u.text) or HAN_RE.search(u.spoken)
                    or part != list(range(part[0], part[-1] + 1))):
                continue
            emitted.add(ui)
            words = " ".join(hkeys[k].key for k in part)
            out.append(Item(-1, words, (0, len(words)), hkeys[part[0]].start_s, hkeys[part[-1]].end_s, True))
            continue
        emitted.add(ui)
        ks = [hkeys[k] for k in unit_keys[ui]]
        out.append(Item(-1, u.text, (u.core_start - u.start, u.core_end - u.start),
                        min(k.start_s for k in ks), max(k.end_s for k in ks), True))
    return out


def _spread(text_units: list[Unit], idx: list[int], t_lo: float, t_hi: float, heard: Heard,
            gap_heard: list[tuple[float, float]] | None = None) -> list[Item]:
    """Items for units the recogniser did not anchor, with rough times spread by keys over the
    speech (VAD) between ``t_lo`` and ``t_hi`` — over the time itself when it holds none."""
    from ..audio.vad import FRAME_S

    n = sum(len(text_units[i].keys) for i in idx)
    t_lo, t_hi = _past_sentence_tails(text_units, idx, t_lo, t_hi, heard, gap_heard or [])
    a_f, b_f = int(t_lo / FRAME_S), max(int(t_lo / FRAME_S) + 1, int(np.ceil(t_hi / FRAME_S)))
    speech = heard.vad_probs[a_f:b_f] >= 0.5
    if speech.sum() >= 2:
        cum = np.concatenate([[0], np.cumsum(speech)]) / speech.sum()  # share of speech before each frame

        def at(share: float, start: bool) -> float:
            # a start goes after any pause at that share of the speech, an end before it
            k = int(np.searchsorted(cum, share, side="right")) - 1 if start else int(np.searchsorted(cum, share))
            return float(min(t_hi, max(t_lo, (a_f + max(0, k)) * FRAME_S)))
    else:
        def at(share: float, start: bool) -> float:
            return t_lo + max(0.0, t_hi - t_lo) * share
    out, done = [], 0
    for i in idx:
        u = text_units[i]
        a = at(done / n, True)
        done += len(u.keys)
        b = max(a, at(done / n, False))
        out.append(Item(i, u.text, (u.core_start - u.start, u.core_end - u.start), a, b, False))
    return out


def _start_after_pause(text_units: list[Unit], anchored: np.ndarray, u_t0: np.ndarray, u_t1: np.ndarray,
                       heard: Heard) -> None:
    """A sentence's first word, heard, starts after the pause inside its heard span (in place).

    Whisper often times the first word after a pause from the pause's start ("cities, | and
    used": "and" heard 26.58-28.12 s, said from 28.0); with that rough time the word's window
    reached back to the sentence before, and the forced decoder put it in that sentence's tail,
    1.8 s early. When the unit before ends a sentence or line and the VAD hears a pause of at
    least ``SENTENCE_PAUSE_S`` inside the word's heard span, the word starts after that pause.
    English only: on zh-tune the rule moved sentence starts the wrong way (100 -> 97.8 % of
    sentence edges within 100 ms), Whisper's character times there being coarser.
    """
    from ..audio.vad import FRAME_S

    for ui in np.flatnonzero(anchored):
        if ui == 0 or u_t1[ui] - u_t0[ui] < SENTENCE_PAUSE_S + 0.05:
            continue
        before = text_units[ui - 1]
        if not (before.sentence_end or before.paragraph_end):
            continue
        a_f, b_f = int(u_t0[ui] / FRAME_S), int(np.ceil(u_t1[ui] / FRAME_S))
        quiet = heard.vad_probs[a_f:b_f] < 0.5
        if quiet.size == 0:
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.view(np.int8), [0]])))
        ends = [a_f + e for s, e in zip(edges[::2], edges[1::2])
                if (e - s) * FRAME_S >= SENTENCE_PAUSE_S and a_f + e < b_f]
        if ends:
            u_t0[ui] = min(ends[-1] * FRAME_S, u_t1[ui] - 0.05)


def _past_sentence_tails(text_units: list[Unit], idx: list[int], t_lo: float, t_hi: float,
                        heard: Heard, gap_heard: list[tuple[float, float]]) -> tuple[float, float]:
    """The part of a gap where its units can be: past the previous sentence's tail.

    The recogniser's end of a word is often early: the VAD hears the rest of it (and a breath)
    after the anchor. When the anchor before the gap ends a sentence (or a line), that speech
    and the pause after it belong to the sentence before, and the gap's units — the start of the
    next sentence, heard differently ("than" heard "Then") or not at all ("that the forms" heard
    "forms") — were said after the pause; spread over the tail, they were forced into it, the
    pause between them and their sentence (the clip's start put 1.5 s early on a joined chapter).
    So the gap starts after a pause of at least ``SENTENCE_PAUSE_S`` that begins within
    ``TAIL_S`` of the anchor; the same at the gap's end when its last unit ends a sentence —
    when the recogniser heard words there (``gap_heard``: the gap's heard words not matched to
    the text, as (start_s, end_s)) on the pause's far side. With nothing heard there the units
    stay spread over the gap: a short unheard first word ("A rising tide") placed first in a
    window is then tested as possibly not said, and the decoder's low probability for it lost
    four correctly placed first words on the hour chapter.
    """
    from ..audio.vad import FRAME_S

    if t_hi - t_lo < SENTENCE_PAUSE_S:
        return t_lo, t_hi
    a_f, b_f = int(t_lo / FRAME_S), int(np.ceil(t_hi / FRAME_S))
    quiet = heard.vad_probs[a_f:b_f] < 0.5
    if quiet.size == 0:
        return t_lo, t_hi
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.view(np.int8), [0]])))
    pauses = [(a_f + s, a_f + e) for s, e in zip(edges[::2], edges[1::2]) if (e - s) * FRAME_S >= SENTENCE_PAUSE_S]
    before, last = idx[0] - 1, idx[-1]
    lo, hi = t_lo, t_hi
    if before >= 0 and (text_units[before].sentence_end or text_units[before].paragraph_end) and pauses:
        s, e = pauses[0]
        if s * FRAME_S - t_lo <= TAIL_S and any(a >= e * FRAME_S - 0.1 for a, _ in gap_heard):
            lo = e * FRAME_S
    if (text_units[last].sentence_end or text_units[last].paragraph_end) and last + 1 < len(text_units) and pauses:
        s, e = pauses[-1]
        if t_hi - e * FRAME_S <= TAIL_S and any(b <= s * FRAME_S + 0.1 for _, b in gap_heard):
            hi = s * FRAME_S
    if hi <= lo:
        if lo > t_lo and hi < t_hi:  # no room between the two tails: keep the gap as it was
            return t_lo, t_hi
        # the pause reaches the gap's other end: no speech here for the units, they go at that end
        # (next to the anchor they precede or follow, whose window then holds their speech)
        return (t_hi, t_hi) if lo > t_lo else (t_lo, t_lo)
    return lo, hi


def _key_seconds(text_units, anchored, t0, t1, language) -> float:
    """Typical seconds per key over anchored units (the speaking rate), for expected durations."""
    d = [(t1[i] - t0[i]) / len(text_units[i].keys) for i in np.flatnonzero(anchored) if t1[i] > t0[i]]
    if len(d) >= 20:
        return float(np.median(d))
    return DEFAULT_KEY_S.get("zh" if is_cjk_language(language) else "en", 0.3)
