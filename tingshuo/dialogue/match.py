"""Lexical evidence for the knowledge-base brain: the words a caller shares with an entry.

    >>> terms("My parcels haven't arrived", "en")
    ['parcel', 'arriv']
    >>> terms("我的快递还没到", "zh")
    ['快', '递', '快递', '递还', '还没', '没到']

English: lower-cased words, stop words removed, Snowball-stemmed ("parcels" = "parcel",
"arrived" = "arrive"). Chinese (read as simplified): single characters that carry meaning (a short
stop list removes 的, 了, 吗, 我 ...) and every pair of adjacent characters, so that 快递 matches 快递
and 卡 still matches 银行卡 without a word segmenter. Latin words inside Chinese text (APP, PUK)
count as English words.

``LexicalIndex`` weighs each term by its inverse document frequency over the knowledge base's
entries (a term every entry uses says nothing), and scores an entry by the share of the caller's
information (the sum of IDF over the caller's terms) that the entry's text explains. Terms the
knowledge base never uses count fully against every entry, which is what makes "what's the weather
tomorrow?" score low everywhere. Written by hand: ~100 lines, no library does IDF coverage over
a handful of bilingual documents with character bigrams.
"""

from __future__ import annotations

import functools
import math
import re

EN_STOP = frozenset("""a an the i me my mine myself we our ours you your yours he him his she her it its they them their
this that these those is are was were be been being am do does did doing done have has had having can could will
would shall should may might must to of in on at for from with by about as into onto up down out off over under again
then there here when where why how what which who whom whose and or but if so not no nor yes just than too very s t
d ll m re ve don didn doesn isn aren wasn weren won wouldn couldn shouldn haven hasn hadn cannot can't let please any
some all each every more most much many one also still like want wants wanted need needs needed ok okay now yet
get gets got getting go going know tell thing things something anything way hi hello thanks thank sorry hey""".split())
ZH_STOP = frozenset("我你您他她它们的了吗呢吧啊呀么是在有和跟与就都也还要想能可以会怎什么哪儿多少几个一这那给把被让对到去来"
                    "上下嘛没不请帮现已经直又再该需如何为样啦哦嗯过着得地")

# Toneless pinyin of each character pair is a term too, weighted by this (a share of the pair's own weight): a
# recogniser that hears the sounds right but picks the wrong characters (裙子 -> 群资, 登机牌 -> 登机排) still
# shares the sound with the entry's words. Typed text gains nothing from it (the pair itself matches).
PINYIN_WEIGHT = 1.0
_ZH_GLUE = frozenset("的了吗呢吧啊呀我你您他她它么嘛哦嗯")  # never part of a meaningful pair
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9']*|[0-9]+")


@functools.lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def terms(text: str, lang: str | None = None) -> list[str]:
    """The text's lexical terms, in order, duplicates kept (see the module docstring)."""
    from .kb import simplified

    text = simplified(text)
    out: list[str] = []
    for w in _LATIN.findall(text):
        w = w.lower()
        if w.endswith("n't"):
            continue  # don't, can't, haven't
        w = w.split("'")[0]  # it's, I'd, we've -> it, i, we
        if w.isdigit() or (len(w) > 1 and w not in EN_STOP):
            out.append(_stem(w))
    for run in _CJK.findall(text):
        out.extend(ch for ch in run if ch not in ZH_STOP)
        pairs = [i for i in range(len(run) - 1) if run[i] not in _ZH_GLUE and run[i + 1] not in _ZH_GLUE]
        out.extend(run[i:i + 2] for i in pairs)
        if PINYIN_WEIGHT:
            out.extend(p for p in (_sound(run[i:i + 2]) for i in pairs) if p)
    return out


def _sound(pair: str) -> str:
    """The pinyin term of a Chinese character pair ("裙子" and "群资" -> "~qunzi"); '' without a reading."""
    from ..search.text import pinyin

    a, b = pinyin(pair[0]), pinyin(pair[1])
    return f"~{a}{b}" if a and b else ""


class LexicalIndex:
    """IDF-weighted term coverage of a caller's words by each of a set of documents.

    ``documents``: per entry, a list of (text, weight) pairs — the weight says how much a term
    found only in that text counts (a listed question 1.0, the answer less). ``score(text)``
    returns one value per entry in [0, 1].
    """

    def __init__(self, documents: list[list[tuple[str, float]]]) -> None:
        self.n = len(documents)
        self.weights: list[dict[str, float]] = []
        df: dict[str, int] = {}
        for fields in documents:
            w: dict[str, float] = {}
            for text, weight in fields:
                for t in set(terms(text)):
                    w[t] = max(w.get(t, 0.0), weight)
            self.weights.append(w)
            for t in w:
                df[t] = df.get(t, 0) + 1
        self.df = df

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def score(self, text: str) -> list[float]:
        qs = set(terms(text))
        if not qs:
            return [0.0] * self.n
        idf = {t: self.idf(t) * (PINYIN_WEIGHT if t[0] == "~" else 1.0) for t in qs}
        total = sum(idf.values())
        return [sum(idf[t] * w.get(t, 0.0) for t in qs) / total for w in self.weights]

    def known_share(self, text: str) -> float:
        """The share of the caller's information (IDF) in terms the knowledge base uses at all."""
        qs = set(terms(text))
        if not qs:
            return 0.0
        idf = {t: self.idf(t) for t in qs}
        return sum(v for t, v in idf.items() if t in self.df) / sum(idf.values())


class SoundIndex:
    """Puts a knowledge base's own words back where a caller's Chinese has other characters with the
    same sounds: what a recogniser writes when it hears the syllables right but picks the wrong
    characters ("我买的群资不合适" -> "我买的裙子不合适": 群资 and 裙子 are both "qunzi").

    Built from the knowledge base's texts: its words of two to four characters (jieba's segmentation),
    by their toneless pinyin. ``fix(text)`` replaces, left to right and longest first, a stretch of the
    caller's characters (not splitting a common word of jieba's segmentation of the caller's text) that is neither one of the knowledge base's words nor a common word (jieba's
    dictionary, frequency ``COMMON_WORD`` or more: 搬家 is not turned into 半价) but sounds exactly like
    one of its words — or, with ``FUZZY_SOUNDS``, like one once near-miss sounds are merged (zh/z, ch/c,
    sh/s, l/n; in/ing, en/eng: 森级 -> 升级). Typed text, which uses real words, is left as it is. Without
    jieba installed nothing is replaced.
    """

    def __init__(self, texts: list[str]) -> None:
        from .kb import simplified

        self.words: set[str] = set()
        self.by_sound: dict[str, str] = {}
        self.by_fuzzy: dict[str, str] = {}
        cut = _segmenter()
        if cut is None:
            return
        self.common = _common_words()  # loaded with the knowledge base, not on the first caller's turn
        counts: dict[str, int] = {}
        for text in texts:
            for run in _CJK.findall(simplified(text)):
                for w in cut(run):
                    if 2 <= len(w) <= 4:
                        counts[w] = counts.get(w, 0) + 1
        self.words = set(counts)
        for w in sorted(counts, key=lambda w: (-counts[w], w)):  # the KB's most used word wins a shared sound
            sound = _sounds(w)
            if sound:
                self.by_sound.setdefault(sound, w)
                if FUZZY_SOUNDS:
                    self.by_fuzzy.setdefault(_fuzzy(sound), w)

    def fix(self, text: str) -> str:
        """The text with sound-alike stretches replaced by the knowledge base's words (class docstring)."""
        if not self.by_sound or not _CJK.search(text):
            return text
        common = _common_words()

        cut = _segmenter()

        def run_fixed(m: re.Match) -> str:
            run, out, i = m.group(0), [], 0
            inside, at = set(), 0  # positions inside a real word of the caller's: 成绩|可以 keeps 绩可
            for w in cut(run):
                if len(w) >= 2 and (w in common or w in self.words):
                    inside.update(range(at + 1, at + len(w)))
                at += len(w)
            while i < len(run):
                for n in (4, 3, 2):
                    w = run[i:i + n]
                    if (len(w) == n and i not in inside and i + n not in inside and w not in self.words
                            and w not in common):
                        sound = _sounds(w)
                        own = self.by_sound.get(sound) or (self.by_fuzzy.get(_fuzzy(sound)) if sound else None)
                        if own:
                            out.append(own)
                            i += n
                            break
                else:
                    out.append(run[i])
                    i += 1
            return "".join(out)

        return _CJK.sub(run_fixed, text)


COMMON_WORD = 20  # a jieba dictionary word this frequent is what the caller meant, even if it sounds like another
# Near-miss sounds: with this on, a stretch that matches none of the KB's words exactly is also tried with the sounds
# Mandarin speakers and recognisers often blur merged (zh/z, ch/c, sh/s, l/n at the start of a syllable; in/ing,
# en/eng at its end): 是色 (shi se) finds 四色 (si se), 新房 (xin fang) 星房 (xing fang). Same rules otherwise.
FUZZY_SOUNDS = True
_FUZZY_INITIAL = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FUZZY_FINAL = (("ing", "in"), ("eng", "en"))


def _fuzzy(sound: str) -> str:
    """A toneless pinyin string with near-miss sounds merged ("shang neng" -> "sang len")."""
    out = []
    for syl in sound.split():
        for a, b in _FUZZY_INITIAL:
            if syl.startswith(a):
                syl = b + syl[len(a):]
                break
        for a, b in _FUZZY_FINAL:
            if syl.endswith(a):
                syl = syl[: -len(a)] + b
                break
        out.append(syl)
    return " ".join(out)


def _sounds(word: str) -> str:
    """Toneless pinyin of a run of Chinese characters ("裙子" -> "qun zi"); '' if a character has none."""
    from ..search.text import pinyin

    syl = [pinyin(c) for c in word]
    return " ".join(syl) if all(syl) else ""


@functools.lru_cache(maxsize=1)
def _segmenter():
    # jieba as the speech front end sets it up: its dictionary cache kept with our models, not in the
    # system temp folder (where the server's tests check that nothing is left behind)
    from ..tts.zh_prosody import _jieba

    jb = _jieba()
    return jb.lcut if jb is not None else None


@functools.lru_cache(maxsize=1)
def _common_words() -> frozenset:
    """Words of two to four characters in jieba's dictionary with frequency ``COMMON_WORD`` or more."""
    import os

    try:
        import jieba
    except ImportError:
        return frozenset()
    out = set()
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, count, *_ = line.split(" ", 2)
            if 2 <= len(word) <= 4 and int(count) >= COMMON_WORD:
                out.add(word)
    return frozenset(out)
