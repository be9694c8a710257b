"""Hybrid retrieval over one index: lexical (FTS5: stems, characters, pinyin) + dense (e5), fused,
cut down to the words that matched, merged per stretch of a file, and thresholded.

    >>> result = search(store, vectors, embedder, "怎么退货", SearchOptions(top=5))   # doctest: +SKIP
    >>> [(h.audio, h.start_s, h.end_s, h.matched_by) for h in result.hits]           # doctest: +SKIP

Each candidate passage gets two calibrated signals: ``dense`` (cosine to the query, mapped so
0 is a typical unrelated passage and 1 a close paraphrase) and ``lexical`` (how much of the query
the best-matching stretch of the passage covers: stems, characters and their bigrams, pinyin
bigrams). The score is a weighted sum; a query whose best hit scores below ``threshold`` has no
match. The constants were fitted on the benchmark's *tune* split only (bench/search.py).
"""

from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..options import opt
from .passages import PAUSE_S
from .vectors import centre
from .text import (FORMAT_CHARS_RE, HAN_RE, STOPWORDS, ZH_STOPCHARS, digit_runs, guess_language, lexical_tokens,
                   numeral_variants, pinyin, pinyin_tokens, raw_tokens, stem)

MAX_QUERY_CHARS = 2000
# A long query (a pasted paragraph, up to MAX_QUERY_CHARS) is searched by the FTS5 terms of its first
# MAX_FTS_TERMS distinct stems / bigrams per column, and embedded from its first MAX_EMBED_CHARS characters:
# a 2000-character Mandarin query OR-ed ~1500 bigrams and ~1500 pinyin terms and embedded ~1900 tokens
# (6.7 s on the bench index, shared load). A query of up to ~120 characters is searched exactly as before;
# the matching of words (coverage) still uses every term.
MAX_FTS_TERMS = 128
MAX_EMBED_CHARS = 512
K_LEXICAL = 60  # FTS5 candidates
K_DENSE = 60  # vector candidates
PY_WEIGHT = 0.6  # bm25 weight of the pinyin column against the words column
# Calibration, fitted on the benchmark's tune splits only (tune + tune2, bench/search.py): the dense
# signal is the cosine between the query and the closest unit (sentence) of a passage after each
# side's language mean is removed (vectors.centre), ~0.1-0.35 for unrelated speech, 0.3-0.7 for a
# paraphrase or translation, mixed with USE's cosine (below); a query fully found word for word adds W_LEXICAL.
# The second encoder (USE multilingual v3, trained on question-answer and paraphrase pairs) re-scores
# every candidate unit: the dense signal is (centred e5 cosine + W_USE x USE cosine) / (1 + W_USE).
# Retrieval itself stays e5's (one vector cache). W_USE and the threshold were chosen on tune + tune2
# (bench/search_sweep.py). Fourth round, with Mandarin units cut at clauses (passages.py): W_USE 0.7-1.5
# give the same recall at equal false hits (paraphrase 0.88-0.90, cross-lingual 0.91, false hits 0.05-0.075
# at thresholds 0.38-0.39), better than 0.3 (paraphrase 0.86-0.90 with false hits 0.062-0.088); 0.8 and
# 0.385 are the middle of that plateau (third round: 0.3 and 0.375, units cut at sentences only).
W_LEXICAL = 0.35
THRESHOLD = 0.385
W_USE = 0.8
DENSE_ALONE = 0.25  # a centred cosine this high counts as a match by meaning on its own
PAD_S = 0.25  # added before the first and after the last word of a hit
# A hit is the matched words widened toward the edges of the sentence (unit) that holds them, by at most
# EXTEND_S each side, never past the unit or across a pause of PAUSE_S: a listener hears the sentence the
# words were said in, and a judge that wants the hit to cover the utterance finds it covered.
EXTEND_S = 3.0
MERGE_GAP_S = 1.0  # hits of one file closer than this are one hit
MAX_HIT_S = 45.0
CLUSTER_GAP = 6  # matched tokens further apart than this (in tokens) start another stretch
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tingshuo-search")


@dataclass(frozen=True)
class SearchOptions:
    """How to search; every default is stated here once (CLI flags and request fields derive from it)."""

    top: int = opt(5, "most hits to return", metavar="N")
    lang: str | None = opt(None, "only hits in this language", choices=("en", "zh"), shown="any")
    matchers: str = opt("hybrid", "which matchers run: hybrid, lexical or dense", choices=("hybrid", "lexical", "dense"))
    threshold: float = opt(THRESHOLD, "hits scoring below this are not returned (0 returns the nearest anyway)",
                           metavar="SCORE")

    def __post_init__(self) -> None:
        if not isinstance(self.top, int) or isinstance(self.top, bool) or not 1 <= self.top <= 1000:
            raise ValueError(f"top must be a whole number between 1 and 1000, not {self.top!r}.")
        # (the CLI and server check these against the choices; the Python API took lang="fr" and answered
        # no hits, and matchers="x" ran as hybrid)
        if self.lang not in (None, "en", "zh"):
            raise ValueError(f"lang must be 'en', 'zh' or None (any), not {self.lang!r}.")
        if self.matchers not in ("hybrid", "lexical", "dense"):
            raise ValueError(f"matchers must be 'hybrid', 'lexical' or 'dense', not {self.matchers!r}.")
        if not 0.0 <= self.threshold <= 2.0:
            raise ValueError("threshold must be between 0 and 2.")


@dataclass(frozen=True)
class Hit:
    """Where something was said: the file, the seconds of the hit, the snippet.

    ``start_s``/``end_s``: the matched words widened to the sentence around them (at most EXTEND_S
    each side, within the sentence, plus PAD_S); ``match_start_s``/``match_end_s``: exactly the
    first and last matched word (for a match by meaning alone, the sentence that matched).
    """

    audio: str
    start_s: float
    end_s: float
    text: str  # snippet, matched words marked **like this**
    score: float
    matched_by: tuple[str, ...]  # "lexical", "pinyin", "dense"
    language: str
    match_start_s: float = -1.0  # -1: same as start_s
    match_end_s: float = -1.0

    def __post_init__(self) -> None:
        if self.match_start_s < 0:
            object.__setattr__(self, "match_start_s", self.start_s)
        if self.match_end_s < 0:
            object.__setattr__(self, "match_end_s", self.end_s)

    def to_dict(self) -> dict:
        return {"audio": self.audio, "start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2),
                "text": self.text, "score": round(self.score, 3), "matched_by": list(self.matched_by),
                "language": self.language, "match_start_s": round(self.match_start_s, 2),
                "match_end_s": round(self.match_end_s, 2)}


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    best_score: float  # of the best candidate, returned or not
    threshold: float
    latency_ms: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        d = {"query": self.query, "hits": [h.to_dict() for h in self.hits],
             "best_score": round(self.best_score, 3), "threshold": self.threshold}
        if not self.hits:
            d["message"] = self.message()
        return d

    def message(self) -> str:
        if self.hits:
            return ""
        if self.best_score <= 0:
            return "No match: nothing in the index resembles the query."
        return (f"No match: the best passage scored {self.best_score:.2f}, below the threshold {self.threshold:.2f}"
                " (lower --threshold to see it).")


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    stems: frozenset  # English stems and digits (stopwords dropped unless that leaves nothing)
    chars: frozenset  # Chinese characters
    bigrams: frozenset  # Chinese character bigrams
    pinyin: frozenset  # toneless pinyin bigrams
    match: str  # the FTS5 MATCH expression (every term OR-ed)
    lex_terms: frozenset = frozenset()  # what is searched in the FTS5 column ``lex`` (at most MAX_FTS_TERMS)
    py_terms: frozenset | None = None  # ... and in ``py`` (None: all of ``pinyin``)
    variants: tuple = ()  # the same query with its numbers in the other writing (text.numeral_variants)

    def fts_match(self, hot: frozenset = frozenset()) -> str:
        """The MATCH expression of this query and its numeral variants (any of them may match)."""
        parts = [v.match_bounded(hot) for v in (self, *self.variants)]
        parts = [p for p in parts if p]
        return parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)

    def match_bounded(self, hot: frozenset) -> str:
        """The MATCH expression for a large library, where ``hot`` terms (in many passages) would make
        an OR scan long posting lists: rare terms are OR-ed as usual; hot terms only find passages
        holding every term of their column (an AND, which FTS5 answers by seeking in the lists)."""
        if not hot:
            return self.match
        parts = []
        for col, terms in (("lex", self.lex_terms), ("py", self.pinyin if self.py_terms is None else self.py_terms)):
            rare = sorted(t for t in terms if t not in hot)
            if rare:
                parts.append(f"{col} : (" + " OR ".join(_quote(t) for t in rare) + ")")
            if len(rare) < len(terms):
                parts.append(f"{col} : (" + " AND ".join(_quote(t) for t in sorted(terms)) + ")")
        return " OR ".join(parts)


def check_query(text: str) -> str:
    if text is None or not str(text).strip():
        raise InputError("The query is empty; type what you are looking for, e.g. tingshuo search \"refund\" --index LIB.")
    # lone surrogates (bytes that were not UTF-8, or a JSON "\ud800" escape) cannot be encoded for the
    # index or the encoders: they count as spaces
    text = " ".join(re.sub("[\ud800-\udfff]", " ", str(text)).split())
    # invisible format characters (a soft hyphen, a zero-width space, bidi marks) are not part of any word:
    # the query as shown and as embedded is the one without them
    text = " ".join(FORMAT_CHARS_RE.sub("", text).split())
    if not text:
        raise InputError("The query holds only invisible characters; type what you are looking for.")
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}: "
                         "search for a sentence or a phrase, not a document.")
    if not re.search(r"\w", text):
        raise InputError("The query has no words or characters to search for.")
    return text


def parse_query(text: str, variants: bool = True) -> Query:
    # a numeral variant comes from a checked query and may be longer (1908 -> 一千九百零八): a query of 2000
    # characters with numbers was refused as "2011 characters long"
    text = check_query(text) if variants else text
    toks = raw_tokens(text)
    latin = [t for t in toks if not HAN_RE.match(t)]
    han = [t for t in toks if HAN_RE.match(t)]
    content = [t for t in latin if t not in STOPWORDS]
    stems = frozenset(stem(t) for t in (content or latin))
    bigrams = frozenset(t for t in lexical_tokens(toks) if len(t) == 2 and HAN_RE.match(t[0]) and HAN_RE.match(t[1]))
    chars = frozenset(c for c in han if c not in ZH_STOPCHARS) or frozenset(han)
    py_order = pinyin_tokens(toks)
    py = frozenset(py_order)
    lex_terms = set(stems) | set(bigrams)
    if not bigrams:  # one Chinese character alone is searched as a character
        lex_terms |= chars
    if len(lex_terms) > MAX_FTS_TERMS:  # the first ones in the query
        order = [stem(t) for t in latin] + [t for t in lexical_tokens(toks) if t in bigrams] + han
        lex_terms = set(list(dict.fromkeys(t for t in order if t in lex_terms))[:MAX_FTS_TERMS])
    py_terms = py if len(py) <= MAX_FTS_TERMS else frozenset(list(dict.fromkeys(py_order))[:MAX_FTS_TERMS])
    parts = []
    if lex_terms:
        parts.append("lex : (" + " OR ".join(_quote(t) for t in sorted(lex_terms)) + ")")
    if py_terms:
        parts.append("py : (" + " OR ".join(_quote(t) for t in sorted(py_terms)) + ")")
    alt = tuple(parse_query(v, variants=False) for v in numeral_variants(text)) if variants else ()
    return Query(text, guess_language(text), stems, chars, bigrams, py, " OR ".join(parts), frozenset(lex_terms),
                 py_terms=py_terms, variants=alt)


def _quote(term: str) -> str:
    """A quoted FTS5 term; a number of 3+ digits also finds longer numbers it begins (a prefix query):
    whisper writes a phone number or a year as one token."""
    quoted = '"' + term.replace('"', '""') + '"'
    return quoted + "*" if len(term) >= 3 and term.isdigit() else quoted


# ---------------------------------------------------------------------------------- matching words

@dataclass(frozen=True)
class _Match:
    lo: int  # first matched word (index into the passage's words)
    hi: int  # last matched word
    coverage: float  # 0..1 of the query
    by: tuple[str, ...]  # lexical, pinyin
    marked: frozenset  # indices of the words that matched


def _word_tokens(words: list) -> list[tuple[int, str]]:
    """(word index, raw token) for every token of the passage's words, in order."""
    out = []
    for i, w in enumerate(words):
        for t in raw_tokens(w[2]):
            out.append((i, t))
    return out


def match_words(q: Query, words: list) -> _Match | None:
    """The stretch of ``words`` that covers most of the query, or None when nothing matched."""
    toks = _word_tokens(words)
    if not toks:
        return None
    hits: list[tuple[int, str, str]] = []  # (token position, query unit, matcher)
    for k, (_wi, t) in enumerate(toks):
        if HAN_RE.match(t):
            nxt = toks[k + 1][1] if k + 1 < len(toks) else ""
            if HAN_RE.match(nxt or " "):
                bg = t + nxt
                if bg in q.bigrams:
                    hits += [(k, "b:" + bg, "lexical"), (k + 1, "b:" + bg, "lexical")]
                else:
                    pb = pinyin(t) + pinyin(nxt)
                    if pb in q.pinyin:
                        hits += [(k, "p:" + pb, "pinyin"), (k + 1, "p:" + pb, "pinyin")]
            if not q.bigrams and t in q.chars:
                hits.append((k, "c:" + t, "lexical"))
        else:
            s = stem(t)
            if s in q.stems:
                hits.append((k, "s:" + s, "lexical"))
            elif s.isdigit() and len(s) > 3:  # a number inside a longer one (part of a phone number)
                part = next((d for d in q.stems if len(d) >= 3 and d.isdigit() and d in s), None)
                if part:
                    hits.append((k, "s:" + part, "lexical"))
    numbers = [d for d in q.stems if len(d) >= 3 and d.isdigit()]
    if numbers:  # a number said in groups: its digits run across several tokens ("13 74 00 5 22 46")
        hits += _number_runs_hits(toks, numbers, {u for _k, u, _b in hits})
    if not hits:
        return None
    # A Chinese query unit is its bigram; a pinyin bigram stands for the same unit as the characters.
    total = len(q.stems) + max(len(q.bigrams), len(q.pinyin)) + (0 if q.bigrams else len(q.chars))
    hits.sort()
    best = None
    start = 0
    units: dict = {}  # the units of hits[start:end + 1], each with its first matcher (kept as the stretch grows)
    for end in range(len(hits)):
        if end > start and hits[end][0] - hits[end - 1][0] > CLUSTER_GAP:
            start = end
            units = {}
        units.setdefault(_unit_key(hits[end][1]), hits[end][2])
        cov = len(units) / max(total, 1)
        span = hits[end][0] - hits[start][0]
        if best is None or cov > best[0] + 1e-9 or (abs(cov - best[0]) < 1e-9 and span < best[1]):
            best = (cov, span, start, end, tuple(sorted(set(units.values()))))
    cov, _span, s, e, by = best
    units = {_unit_key(u) for _p, u, _b in hits[s:e + 1]}
    while e + 1 < len(hits) and hits[e + 1][0] - hits[e][0] <= 1 and _unit_key(hits[e + 1][1]) in units:
        e += 1  # the second character of a matched bigram, a repeated word right after
    while s > 0 and hits[s][0] - hits[s - 1][0] <= 1 and _unit_key(hits[s - 1][1]) in units:
        s -= 1
    lo, hi = toks[hits[s][0]][0], toks[hits[e][0]][0]
    marked = frozenset(toks[pos][0] for pos, _u, _b in hits[s:e + 1])
    return _Match(lo, hi, min(1.0, cov), by, marked)


def _number_runs_hits(toks: list[tuple[int, str]], numbers: list[str], found: set) -> list[tuple[int, str, str]]:
    """Hits of query numbers not found in one token but inside a run of digit tokens joined: each token
    the number's digits overlap."""
    out = []
    plain = [t for _wi, t in toks]
    for a, b in digit_runs(plain):
        joined = "".join(plain[a:b + 1])
        ends = list(itertools.accumulate(len(t) for t in plain[a:b + 1]))
        for d in numbers:
            if "s:" + d in found:
                continue
            at = joined.find(d)
            if at < 0:
                continue
            for k, end in enumerate(ends):
                begin = end - len(plain[a + k])
                if begin < at + len(d) and end > at:
                    out.append((a + k, "s:" + d, "lexical"))
    return out


def best_match(q: Query, words: list) -> _Match | None:
    """``match_words`` for the query and each numeral variant: the best coverage (the first on a tie)."""
    best = None
    for v in (q, *q.variants):
        m = match_words(v, words)
        if m is not None and (best is None or m.coverage > best.coverage + 1e-9):
            best = m
    return best


def _unit_key(unit: str) -> str:
    """Character bigrams and their pinyin count as one query unit."""
    if unit.startswith("b:"):
        return "p:" + pinyin(unit[2]) + pinyin(unit[3])
    return unit


# ---------------------------------------------------------------------------------- search

def dense_score(cos: float | None) -> float:
    """The centred cosine (0 when the passage was not compared)."""
    return 0.0 if cos is None else float(cos)


def fuse(dense: float, lexical: float) -> float:
    """Coverage squared: half the query's words found adds a quarter (partial matches are weak evidence)."""
    return dense + W_LEXICAL * lexical * lexical


@dataclass
class _Cand:
    row: object
    cos: float | None  # the best unit's centred cosine
    unit: int  # that unit (-1: not compared)
    match: _Match | None
    score: float
    lo: int = 0  # localised word span (indices into row.words)
    hi: int = 0
    by: tuple = ()
    marked: frozenset = frozenset()


def search(store, vectors, embedder, text: str, options: SearchOptions | None = None, means=None,
           rescorer=None) -> SearchResult:
    """Hits for ``text`` in the index behind ``store``/``vectors``; ``embedder`` embeds the query,
    ``means`` are the reference means vectors are centred with (``vectors.reference_means``),
    ``rescorer`` (USE) embeds it again to re-score the candidates (None: e5 alone).

    Vectors are per unit (sentence); a passage's dense score is that of its closest unit."""
    import time

    from .document import embed_text

    t0 = time.perf_counter()
    opts = options or SearchOptions()
    q = parse_query(text)
    use_lex, use_dense = opts.matchers != "dense", opts.matchers != "lexical"
    # FTS5 runs in a helper thread while the query is embedded and the vectors scanned (both release
    # the GIL): the latency is the longer of the two, not their sum.
    lexical = _POOL.submit(store.lexical, q.fts_match(store.hot_terms()), K_LEXICAL, PY_WEIGHT) if use_lex else None
    dense_pids: list[int] = []
    qv = quv = None
    try:
        if use_dense:
            said = embed_text(q.text[:MAX_EMBED_CHARS])
            raw = np.asarray(embedder.queries([said])[0], np.float32)
            qv = centre(raw, [q.language], means, side=0)[0]
            if rescorer is not None and W_USE > 0:
                quv = np.asarray(rescorer.queries([said])[0], np.float32)
            ids, _sims = vectors.search(qv, K_DENSE)
            owners = store.vector_owners(ids)
            dense_pids = list(dict.fromkeys(owners[int(i)][0] for i in ids if int(i) in owners))
    finally:
        lex_ids = [pid for pid, _bm in lexical.result()] if lexical is not None else []
    lex_set = set(lex_ids)
    rows = store.passages(lex_set | set(dense_pids))
    unit_cos: dict[int, dict[int, float]] = {}
    if qv is not None:  # every unit of every candidate, exactly (the cache's cosines may be approximate)
        keys, vecs, langs, uses = [], [], [], []
        for pid, units in store.unit_vectors(list(rows.values())).items():
            unit_cos[pid] = {}
            for u, (vec, lang, use) in units.items():
                keys.append((pid, u))
                vecs.append(vec)
                langs.append(lang)
                uses.append(use)
        if keys:
            sims = centre(np.stack(vecs), langs, means) @ qv
            if quv is not None and all(v is not None for v in uses):
                sims = (sims + W_USE * (np.stack(uses) @ quv)) / (1.0 + W_USE)
            for (pid, u), sim in zip(keys, sims):
                unit_cos[pid][u] = float(sim)
    cands = []
    for pid, row in rows.items():
        if opts.lang and row.language != opts.lang:
            continue
        m = best_match(q, row.words) if pid in lex_set else None
        uc = unit_cos.get(pid) or {}
        unit, cos = max(uc.items(), key=lambda kv: kv[1]) if uc else (-1, None)
        d = dense_score(cos) if use_dense else 0.0
        lx = m.coverage if m else 0.0
        score = fuse(d, lx) if use_lex and use_dense else (lx if use_lex else d)
        cands.append(_Cand(row, cos, unit, m, score))
    cands.sort(key=lambda c: -c.score)
    best = cands[0].score if cands else 0.0
    shortlist = [c for c in cands if c.score >= opts.threshold][:3 * opts.top + 5]
    for c in shortlist:
        _localise(c, use_dense)
    hits = _merge(shortlist, opts.top)
    return SearchResult(q.text, tuple(hits), best, opts.threshold, round((time.perf_counter() - t0) * 1000, 1))


def _localise(c: _Cand, use_dense: bool) -> None:
    """Cut the passage down to the matched words, or for a match by meaning to its closest unit."""
    words = c.row.words
    by = []
    if c.match is not None and (c.match.coverage >= 0.5 or not use_dense or dense_score(c.cos) < DENSE_ALONE):
        c.lo, c.hi, c.marked = c.match.lo, c.match.hi, c.match.marked
        by += list(c.match.by)
        if use_dense and dense_score(c.cos) >= DENSE_ALONE:
            by.append("dense")
        c.by = tuple(by)
        return
    idx = [i for i, w in enumerate(words) if w[3] == c.unit] or list(range(len(words)))
    c.lo, c.hi = idx[0], idx[-1]
    c.marked = frozenset(idx)
    if c.match is not None:
        by += list(c.match.by)
    c.by = tuple(by + ["dense"])


def extent(words: list, lo: int, hi: int, extend_s: float = EXTEND_S) -> tuple[int, int]:
    """Word indices of the hit around matched words ``lo..hi``: widened word by word toward the edges
    of their unit while the widening stays within ``extend_s`` of the matched words and crosses no
    pause of ``PAUSE_S`` or more (units can hold a joined short sentence after a longer pause)."""
    t0, t1 = words[lo][0], words[hi][1]
    a, b = lo, hi
    while a > 0 and words[a - 1][3] == words[lo][3] and words[a][0] - words[a - 1][1] < PAUSE_S \
            and t0 - words[a - 1][0] <= extend_s:
        a -= 1
    while b + 1 < len(words) and words[b + 1][3] == words[hi][3] and words[b + 1][0] - words[b][1] < PAUSE_S \
            and words[b + 1][1] - t1 <= extend_s:
        b += 1
    return a, b


def _merge(cands: list[_Cand], top: int) -> list[Hit]:
    """Best first; a candidate overlapping (or within MERGE_GAP_S of) a kept hit of the same file joins it."""
    kept: list[dict] = []
    for c in cands:
        words = c.row.words
        a, b = extent(words, c.lo, c.hi)
        start = max(0.0, words[a][0] - PAD_S)
        end = words[b][1] + PAD_S
        if c.row.duration_s > 0:  # not past the file's end (a sidecar's last cue may reach it)
            end = max(min(end, c.row.duration_s), words[b][1])
        for k in kept:
            if k["path"] == c.row.path and start <= k["end"] + MERGE_GAP_S and end >= k["start"] - MERGE_GAP_S:
                if max(end, k["end"]) - min(start, k["start"]) <= MAX_HIT_S:
                    k["start"], k["end"] = min(start, k["start"]), max(end, k["end"])
                k["by"] = tuple(sorted(set(k["by"]) | set(c.by)))
                break
        else:
            if len(kept) < top:
                kept.append({"path": c.row.path, "start": start, "end": end, "score": c.score, "by": c.by,
                             "text": snippet(words, c.lo, c.hi, c.marked), "lang": c.row.language,
                             "m0": words[c.lo][0], "m1": words[c.hi][1]})
    return [Hit(k["path"], round(k["start"], 2), round(k["end"], 2), k["text"], round(k["score"], 3),
                tuple(sorted(set(k["by"]), key=["lexical", "pinyin", "dense"].index)), k["lang"],
                round(k["m0"], 2), round(k["m1"], 2)) for k in kept]


def snippet(words: list, lo: int, hi: int, marked: frozenset, context: int = 6) -> str:
    """The hit's words with a little context; runs of matched words are marked **like this**."""
    from .passages import join_words

    a, b = max(0, lo - context), min(len(words), hi + 1 + context)
    run: list = []

    class W:
        def __init__(self, text):
            self.text = text

    out: list = []
    for i in range(a, b):
        t = words[i][2]
        if i in marked:
            run.append(t)
            if i + 1 not in marked or i + 1 >= b:
                lead = len(run[0]) - len(run[0].lstrip())
                joined = join_words([W(x) for x in run])
                out.append(W(run[0][:lead] + "**" + joined.strip() + "**"))
                run = []
        else:
            out.append(W(t))
    text = join_words(out).strip()
    return ("… " if a > 0 else "") + text + (" …" if b < len(words) else "")
