"""Word edges and pauses: cross-attention DTW gives every frame to some token, so the first word
after a pause starts in the pause and the last word before one ends in it. A 10 ms speech mask
(quiet by energy *and* not speech by the VAD) moves such edges to where the sound is.
"""

from __future__ import annotations

import numpy as np

from ..audio.vad import FRAME_S
from .listen import ENERGY_FRAME_S, Heard

FLOOR_BLOCK_S = 30.0  # the noise floor is measured per block of this length
FLOOR_PERCENTILE = 5.0
QUIET_DB = 12.0  # a frame this close to the floor is quiet (silence unless the VAD hears speech)
FLOOR_DB = 6.0  # a frame this close to the floor is silence
MIN_SILENCE_S = 0.08  # shorter quiet stretches (stop closures) are not silence
# Below this a 10 ms frame is digital silence (under one 16-bit step: zero padding, a muted
# stretch): always silence, and left out of the floor, which it would drag far below the room
# tone of the recording around it (its hiss then counted as speech).
DIGITAL_SILENCE_DB = -90.0
VAD_SPEECH = 0.5  # at or above this VAD probability a frame is speech whatever its energy
MIN_WORD_S = 0.04  # a word is never snapped shorter than this
# A word edge DTW put this close to a pause moves onto it ...
PAUSE_REACH_S = 0.25
# ... and up to this far when the VAD hears speech in between: a sentence's last word often comes
# out early by 0.2-0.4 s (a weak ending: "fifty", "hysteria"), its first short word late ("At",
# "The"), while a breath before a sentence is sound the VAD does not take for speech. Chosen on
# the tune splits (en-tune2: 96.0 -> 97.3 % of edges within 100 ms; the others unchanged).
PAUSE_REACH_SPEECH_S = 0.5
# A word that straddles a pause keeps the stretch of sound where the recogniser heard it when at
# least this much of its heard span lies in stretches, and this share of that in one of them.
HEARD_MIN_S = 0.02
HEARD_SHARE = 0.75


def silence_mask(heard: Heard, quiet_db: float = QUIET_DB) -> np.ndarray:
    """True for 10 ms frames that are quiet (near the local noise floor) and not speech by the VAD."""
    e = heard.energy_db
    n = e.size
    if n == 0:
        return np.zeros(0, bool)
    vad_idx = np.minimum((np.arange(n) * ENERGY_FRAME_S / FRAME_S).astype(int), max(0, heard.vad_probs.size - 1))
    vad = heard.vad_probs[vad_idx] if heard.vad_probs.size else np.zeros(n, np.float32)
    # The floor is the typical level where the VAD hears no speech (room tone), per block; digital
    # silence (synthesised speech, fades, zero padding) would drag it far below the room tone, so
    # it is left out of the floor where there is enough room tone to measure.
    block = int(FLOOR_BLOCK_S / ENERGY_FRAME_S)
    floor = np.empty(n, np.float32)
    digital = e < DIGITAL_SILENCE_DB
    for a in range(0, n, block):
        lo, hi = max(0, a - block // 2), min(n, a + block + block // 2)
        seg = e[lo:hi]
        quiet_part = seg[vad[lo:hi] < 0.2]
        live = quiet_part[quiet_part >= DIGITAL_SILENCE_DB]
        if live.size >= 20:
            quiet_part = live
        floor[a:a + block] = (np.median(quiet_part) if quiet_part.size >= 20
                              else np.percentile(seg, FLOOR_PERCENTILE))
    quiet = e < floor + quiet_db
    # near the floor is silence whatever the VAD says (it holds on for ~0.2 s after speech ends)
    silent = (quiet & (vad < VAD_SPEECH)) | (e < floor + FLOOR_DB) | digital
    return _drop_short_runs(silent, int(MIN_SILENCE_S / ENERGY_FRAME_S))


def _drop_short_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """``mask`` without its True runs shorter than ``min_frames`` (stop closures are not pauses)."""
    x = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(x)
    out = mask.copy()
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        if b - a < min_frames:
            out[a:b] = False
    return out


def snap(start_s: float, end_s: float, silent: np.ndarray) -> tuple[float, float, bool, bool]:
    """The word's edges moved out of silence; and whether each edge moved (sits at a pause)."""
    n = silent.size
    a = int(round(start_s / ENERGY_FRAME_S))
    b = int(round(end_s / ENERGY_FRAME_S))
    min_frames = int(round(MIN_WORD_S / ENERGY_FRAME_S))
    moved_a = moved_b = False
    if 0 <= a < n and silent[a]:
        k = a
        while k < min(n, b - min_frames) and silent[k]:
            k += 1
        if k > a and not silent[min(k, n - 1)]:
            a, moved_a = k, True
    if 0 < b <= n and silent[b - 1]:
        k = b
        while k > a + min_frames and silent[k - 1]:
            k -= 1
        if k < b and not silent[max(0, k - 1)]:
            b, moved_b = k, True
    if moved_a or moved_b:
        return a * ENERGY_FRAME_S, max(b, a + 1) * ENERGY_FRAME_S, moved_a, moved_b
    return start_s, end_s, False, False


def at_pause(t: float, silent: np.ndarray, before: bool, span_s: float = 0.06) -> bool:
    """Whether the frames just before (``before``) or after time ``t`` are silent."""
    k = int(round(t / ENERGY_FRAME_S))
    w = max(1, int(span_s / ENERGY_FRAME_S))
    seg = silent[max(0, k - w):k] if before else silent[k:k + w]
    return bool(seg.size) and bool(seg.mean() > 0.5)


PACK_MIN_PAUSE_S = 0.15  # silences at least this long are cut out of a window before alignment
PACK_MARGIN_S = 0.04  # ... keeping this much of them on each side


def pack_pauses(samples: np.ndarray, start_s: float, silent: np.ndarray,
                sample_rate: int = 16000) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The window's audio with its pauses cut out, and the kept pieces ``(start, end)`` in window samples.

    Cross-attention DTW gives every frame to some token, so a pause inside a window would be
    taken by the word before or after it; with the pause removed it cannot be.
    """
    hop = int(ENERGY_FRAME_S * sample_rate)
    f0 = int(round(start_s / ENERGY_FRAME_S))
    n_frames = samples.size // hop
    seg = silent[f0:f0 + n_frames] if f0 < silent.size else np.zeros(0, bool)
    min_run = int(PACK_MIN_PAUSE_S / ENERGY_FRAME_S)
    margin = int(PACK_MARGIN_S / ENERGY_FRAME_S)
    cuts = []  # (first frame removed, end frame removed)
    k = 0
    while k < seg.size:
        if seg[k]:
            j = k
            while j < seg.size and seg[j]:
                j += 1
            if j - k >= min_run:
                a = k + margin if k > 0 else k  # the window's own lead-in silence goes entirely
                b = j - margin if j < seg.size else j
                if b > a:
                    cuts.append((a, b))
            k = j
        else:
            k += 1
    if not cuts:
        return samples, [(0, samples.size)]
    kept, pos = [], 0
    for a, b in cuts:
        if a * hop > pos:
            kept.append((pos, a * hop))
        pos = b * hop
    if pos < samples.size:
        kept.append((pos, samples.size))
    if not kept:  # all silence: align the audio as it is
        return samples, [(0, samples.size)]
    return np.concatenate([samples[a:b] for a, b in kept]), kept


def unpack_time(t_s: float, kept: list[tuple[int, int]], is_end: bool, sample_rate: int = 16000) -> float:
    """Window time of packed time ``t_s``; an edge on a join stays with the piece it belongs to."""
    pos = t_s * sample_rate
    done = 0
    for k, (a, b) in enumerate(kept):
        n = b - a
        if pos < done + n or (is_end and pos <= done + n) or k == len(kept) - 1:
            return (a + min(max(pos - done, 0.0), n)) / sample_rate
        done += n
    return kept[-1][1] / sample_rate


def pause_runs(silent: np.ndarray, min_s: float = PACK_MIN_PAUSE_S) -> list[tuple[float, float]]:
    """Silent stretches of at least ``min_s``, in seconds."""
    if silent.size == 0:
        return []
    x = np.concatenate([[False], silent, [False]]).astype(np.int8)
    d = np.diff(x)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = (ends - starts) * ENERGY_FRAME_S >= min_s
    return [(a * ENERGY_FRAME_S, b * ENERGY_FRAME_S) for a, b in zip(starts[keep], ends[keep])]


def split_at_pauses(spans: list[list[float]], runs: list[tuple[float, float]], ends_phrase: list[bool],
                    min_part_s: float = 0.05, speech=None,
                    heard: list[tuple[float, float] | None] | None = None) -> None:
    """Take pauses out of words (in place; ``spans`` sorted [start, end] lists).

    A word that overlaps pauses is split by them into stretches of sound; the word keeps one
    stretch, the longest, weighted by what usually happens: cross-attention DTW tends to give a
    pause (and the tail of the word before) to the word after it, so the last stretch counts
    more — unless the text has the word end a sentence or clause, when a pause follows it and
    the first stretch counts more. A stretch counts by its length times how sure the VAD is that
    it is speech (``speech(t0, t1)`` -> 0..1, full weight from 0.1; a click or breath before a
    sentence is not a word).
    Where the recogniser heard the word (``heard``: its (start, end) per word, or None) and that
    span lies (almost) all in one stretch, the word keeps that stretch: the DTW's boundaries can
    run a word early across a pause ("Side | Left" with digital silence between: "Left" within
    "Side"'s sound, the next sentence's "We" over "Left"'s), and a pause is not where the
    recogniser's word times go wrong by that much.
    Stretches before the kept one go to the word before, those after it to the word after.
    """
    if not runs or not spans:
        return
    r_starts = np.array([r[0] for r in runs])
    r_ends = np.array([r[1] for r in runs])
    raw = [tuple(sp) for sp in spans]
    for k, sp in enumerate(spans):
        a, b = sp
        i = int(np.searchsorted(r_ends, a, side="right"))  # first run ending after the word starts
        over = []
        while i < len(runs) and r_starts[i] < b:
            over.append(runs[i])
            i += 1
        if not over:
            continue
        edges = [a] + [x for r in over for x in r] + [b]
        stretches = [(edges[2 * j], edges[2 * j + 1]) for j in range(len(over) + 1)]
        lengths = [max(0.0, e - s_) * (min(1.0, speech(s_, e) / 0.1) if speech is not None and e > s_ else 1.0)
                   for s_, e in stretches]
        h = heard[k] if heard is not None else None
        # a sentence's first word heard inside the pause before it (Whisper's coarse Chinese times:
        # "这" heard 81.62-82.41 s in a pause to 82.92, forced from the sentence before's last
        # 0.05 s of sound into the pause) is said after the pause, like a word that is all pause
        in_pause = (h is not None and k > 0 and ends_phrase[k - 1] and h[0] >= over[0][0] - 0.02
                    and h[1] <= over[-1][1] + 0.02 and not any(min(e, h[1]) > max(s_, h[0]) for s_, e in stretches))
        if max(lengths) < min_part_s or in_pause:  # (almost) all pause: the word starts where the pause ends
            sp[0] = over[-1][1]
            sp[1] = max(b, sp[0] + MIN_WORD_S)
            for nxt in spans[k + 1:]:  # the words after it follow it
                if nxt[0] >= sp[1]:
                    break
                nxt[0] = sp[1]
                nxt[1] = max(nxt[1], nxt[0] + MIN_WORD_S)
                sp = nxt
            continue
        weights = [1.0] * len(stretches)
        if k > 0 and ends_phrase[k - 1]:
            weights[-1] = 2.5  # a pause was due before this word
        elif ends_phrase[k]:
            weights[0] = 1.5  # ... or after it
        else:
            weights[-1] = 1.5
        j = int(np.argmax([(ln if ln >= min_part_s else 0.0) * w for ln, w in zip(lengths, weights)]))
        if h is not None:
            ov = [max(0.0, min(e, h[1]) - max(s_, h[0])) for s_, e in stretches]
            best = int(np.argmax(ov))
            if sum(ov) >= HEARD_MIN_S and ov[best] >= HEARD_SHARE * sum(ov):
                j = best
        new_a, new_b = stretches[j]
        if j > 0 and k > 0 and spans[k - 1][1] >= a - 0.02:
            spans[k - 1][1] = max(spans[k - 1][1], over[0][0])
        if j < len(over) and k + 1 < len(spans) and spans[k + 1][0] <= b + 0.02:
            spans[k + 1][0] = min(max(spans[k + 1][0], over[j][1]), spans[k + 1][1])
        sp[0], sp[1] = new_a, max(new_b, new_a + MIN_WORD_S)
    _fill_islands(spans, raw, runs, speech, heard)


ISLAND_MIN_S = 0.1  # a stretch of sound between two pauses at least this long ...
ISLAND_SPEECH = 0.5  # ... that the VAD takes for speech this surely is said by some word


def _fill_islands(spans: list[list[float]], raw: list[tuple[float, float]], runs: list[tuple[float, float]],
                  speech, heard) -> None:
    """A stretch of speech between two pauses that the split left without a word goes to the word
    whose DTW span had most of it, when that word shares the stretch it kept with a neighbour (in
    place). "Front | Left" (a two-word line, digital silence between, nothing heard): "Left" kept
    the side before the pause as a line's last word, the next line's "Six" the side after the
    next pause as a line's first word, and "Left"'s own sound was nobody's: the line ended 0.7 s
    early."""
    starts = np.array([sp[0] for sp in spans])
    for (_, a), (b, _) in zip(runs[:-1], runs[1:]):
        if b - a < ISLAND_MIN_S or (speech is not None and speech(a, b) < ISLAND_SPEECH):
            continue
        k = int(np.searchsorted(starts, a))  # words from k on start at or after the island's start
        if k < len(spans) and spans[k][0] < b - 0.01 or k > 0 and spans[k - 1][1] > a + 0.01:
            continue  # a word is in it
        cands = []
        for j in (k - 1, k):
            if 0 <= j < len(spans) and (heard is None or heard[j] is None):
                ov = min(raw[j][1], b) - max(raw[j][0], a)
                nb = j - 1 if j < k else j + 1  # the neighbour on the far side, which keeps j's stretch
                if ov >= ISLAND_MIN_S / 2 and 0 <= nb < len(spans) and (
                        abs(spans[nb][1] - spans[j][0]) < 0.02 if nb < j else abs(spans[j][1] - spans[nb][0]) < 0.02):
                    cands.append((ov, j, nb))
        if not cands:
            continue
        _, j, nb = max(cands)
        if nb < j:
            spans[nb][1] = spans[j][1]
        else:
            spans[nb][0] = spans[j][0]
        spans[j][0], spans[j][1] = a, b
        starts[j] = a


MIN_UNIT_S = 0.05  # a said word never comes out shorter than this


def widen_short(spans: list[list[float]], min_s: float = MIN_UNIT_S) -> None:
    """Give words the DTW left (almost) no frames a minimum span, taken from the longer touching
    neighbour (in place; ``spans`` sorted [start, end] lists). A token the decoder did not expect
    (a title's lower-case "the") can be passed over in one frame even though it was said."""
    n = len(spans)
    for k in range(n):
        need = min_s - (spans[k][1] - spans[k][0])
        if need <= 0:
            continue
        prev_ok = k > 0 and abs(spans[k - 1][1] - spans[k][0]) < 0.02
        next_ok = k + 1 < n and abs(spans[k + 1][0] - spans[k][1]) < 0.02
        room_prev = spans[k - 1][1] - spans[k - 1][0] - min_s if prev_ok else 0.0
        room_next = spans[k + 1][1] - spans[k + 1][0] - min_s if next_ok else 0.0
        if room_next >= room_prev and room_next > 0:
            take = min(need, room_next)
            spans[k][1] += take
            spans[k + 1][0] = spans[k][1]
        elif room_prev > 0:
            take = min(need, room_prev)
            spans[k][0] -= take
            spans[k - 1][1] = spans[k][0]


def vad_frames(heard: Heard) -> np.ndarray:
    """The VAD's speech probability for each 10 ms energy frame."""
    n = heard.energy_db.size
    if not heard.vad_probs.size:
        return np.zeros(n, np.float32)
    idx = np.minimum((np.arange(n) * ENERGY_FRAME_S / FRAME_S).astype(int), heard.vad_probs.size - 1)
    return heard.vad_probs[idx]


def edges_to_pauses(spans: list[list[float]], runs: list[tuple[float, float]],
                    reach_s: float = PAUSE_REACH_S, vad: np.ndarray | None = None,
                    speech_reach_s: float = PAUSE_REACH_SPEECH_S) -> tuple[list[bool], list[bool]]:
    """Put the word edges next to each pause on the pause's edges (in place; ``spans`` sorted, no
    word straddling a pause): the last word before it ends where it begins, the first word after
    it starts where the sound starts again. Returns, per word, whether its start / end was placed.

    Those edges are measured from the audio; the DTW's (within ``reach_s``, or ``speech_reach_s``
    where ``vad``, per 10 ms frame, hears speech between the two) are estimates.
    """

    def near(t0: float, t1: float) -> bool:
        if t1 - t0 <= reach_s:
            return True
        if vad is None or t1 - t0 > speech_reach_s:
            return False
        i, j = int(t0 / ENERGY_FRAME_S), int(t1 / ENERGY_FRAME_S)
        return j > i and float(np.mean(vad[i:j])) >= VAD_SPEECH

    starts_placed = [False] * len(spans)
    ends_placed = [False] * len(spans)
    if not spans or not runs:
        return starts_placed, ends_placed
    starts = np.array([sp[0] for sp in spans])
    for a, b in runs:
        k = int(np.searchsorted(starts, (a + b) / 2))  # the first word that starts after the pause's middle
        if k > 0 and spans[k - 1][1] <= b and (spans[k - 1][1] >= a or near(spans[k - 1][1], a)):
            spans[k - 1][1] = max(spans[k - 1][0] + MIN_WORD_S, a)
            ends_placed[k - 1] = True
        if k < len(spans) and a <= spans[k][0] and (spans[k][0] <= b or near(b, spans[k][0])):
            spans[k][0] = min(b, spans[k][1] - MIN_WORD_S)
            starts_placed[k] = True
    return starts_placed, ends_placed
