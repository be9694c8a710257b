"""The text front end's structure: sentences, clauses, and runs of one script.

Written by hand because the splitting must be lazy (a 100-page text is cut as it is read, never
all at once), must know both Chinese and English punctuation, and must not cut "Dr. Smith",
"3.50" or "e.g." — small, predictable rules that a general segmenter does not promise together.
Reading numbers and abbreviations aloud is in ``normalize.py``.

    >>> [s for s in split_sentences("Dr. Smith paid $3.50. 你好！再见。")]
    ['Dr. Smith paid $3.50.', '你好！', '再见。']
    >>> script_runs("我用Python写代码")
    [('zh', '我用'), ('en', 'Python'), ('zh', '写代码')]
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

MAX_SENTENCE_CHARS = {"en": 400, "zh": 120}  # longer "sentences" are cut at clauses, then spaces
READ_BLOCK_CHARS = 8192  # how much of a text stream is looked at per step

# Abbreviations whose full stop does not end a sentence (lower case, without the stop).
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "no", "nos", "vs", "etc", "e.g", "i.e", "approx", "dept",
    "fig", "inc", "ltd", "co", "corp", "mt", "ft", "gen", "gov", "sen", "rep", "rev", "capt", "lt", "col", "sgt",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "vol", "p", "pp", "ch",
    "a.m", "p.m", "u.s", "u.k", "est", "min", "max", "avg",
}
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{_HAN}]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
SPEAKABLE_RE = re.compile(rf"[{_HAN}A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
# A sentence ends at . ! ? … (plus closing quotes/brackets) before a space or the end, or at
# Chinese 。！？； wherever they are; a paragraph break always ends one.
_END = re.compile(r"""(?:[.!?…]+["'”’)\]]*(?=\s|$)|[。！？；]+["'”’」』）\]]*|\n\s*\n)""")
_CLAUSE = re.compile(r"[,;:，、；：]+\s*")


def split_sentences(text: str | Iterable[str]) -> Iterator[str]:
    """Yield the sentences of ``text`` (a string, or an iterable of string pieces read lazily).

    Newlines inside a sentence become spaces; an overlong sentence is cut into clauses of at
    most ``MAX_SENTENCE_CHARS``. Empty pieces are not yielded.
    """
    pieces = [text] if isinstance(text, str) else text
    pending = ""
    for piece in pieces:
        pending += piece
        # Keep the tail: a sentence end may not have arrived yet.
        cut = _last_boundary(pending)
        if cut > 0:
            yield from _sentences_in(pending[:cut])
            pending = pending[cut:]
        if len(pending) > 4 * READ_BLOCK_CHARS:  # no sentence end in sight: cut where we can
            yield from _sentences_in(pending)
            pending = ""
    if pending.strip():
        yield from _sentences_in(pending)


def _last_boundary(text: str) -> int:
    last = 0
    for m in _END.finditer(text):
        # a "." at the very end may be "Dr." awaiting its name; "Dr. Lee" inside is no boundary either
        if m.end() < len(text) and not _is_false_end(text, m.start(), m.group()):
            last = m.end()
    return last


def _sentences_in(text: str) -> Iterator[str]:
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        if _is_false_end(text, m.start(), m.group()):
            continue
        yield from _tidy(text[start:end])
        start = end
    yield from _tidy(text[start:])


def _is_false_end(text: str, at: int, mark: str) -> bool:
    """A full stop after an abbreviation or a single initial ("J. Smith") is not a sentence end."""
    if not mark.startswith("."):
        return False
    if len(mark.rstrip("\"'”’)]")) > 1:  # "..." ends sentences
        return False
    m = re.search(r"([A-Za-z.]+)$", text[:at])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in ABBREVIATIONS:
        return True
    # A lone capital ("J.") is an initial, unless it ends the text.
    return len(word) == 1 and m.group(1).isupper() and bool(text[at + 1:].strip())


def _tidy(sentence: str) -> Iterator[str]:
    s = " ".join(sentence.split())
    if not s:
        return
    lang = dominant_language(s)
    limit = MAX_SENTENCE_CHARS[lang]
    if len(s) <= limit:
        yield s
        return
    yield from _cut_long(s, limit)


def _cut_long(s: str, limit: int) -> Iterator[str]:
    """Cut an overlong sentence at clause marks, then at spaces, then anywhere."""
    parts, buf = [], ""
    for clause in re.split(r"(?<=[,;:，、；：])", s):
        if len(buf) + len(clause) <= limit:
            buf += clause
            continue
        if buf:
            parts.append(buf)
        buf = clause
        while len(buf) > limit:
            cut = buf.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            parts.append(buf[:cut])
            buf = buf[cut:]
    if buf:
        parts.append(buf)
    for p in parts:
        if p.strip():
            yield p.strip()


def split_clauses(sentence: str) -> list[tuple[str, str]]:
    """``[(clause, punctuation)]``: the clause text and the mark that ends it ("" if none)."""
    out = []
    pos = 0
    for m in _CLAUSE.finditer(sentence):
        out.append((sentence[pos:m.start()], m.group().strip()[:1]))
        pos = m.end()
    tail = sentence[pos:]
    end = re.search(r"[.!?…。！？；\"'”’)\]」』）]+$", tail)
    if end:
        out.append((tail[:end.start()], end.group()))
    else:
        out.append((tail, ""))
    return [(c.strip(), p) for c, p in out if c.strip() or p]


_FULLWIDTH = {c: c - 0xFEE0 for c in list(range(0xFF10, 0xFF1A)) + list(range(0xFF21, 0xFF3B)) + list(range(0xFF41, 0xFF5B))}


def sayable_part(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``(text the voices can say, [(skipped text, its script)]``) for one normalised sentence.

    The voices speak English (Latin script) and Mandarin (Chinese characters); digits, spaces and
    punctuation go with either. Any other letters (Cyrillic, Arabic, Kana, Hangul, ...), numerals
    and symbols (emoji, signs ``normalize`` does not read) are cut out, and each run of them is
    returned with the name of its script, so the caller can say what was left unsaid. Control
    characters are dropped silently; full-width letters and digits become ASCII.

        >>> sayable_part("Hello Привет world")
        ('Hello   world', [('Привет', 'Cyrillic')])
    """
    import unicodedata

    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH)
    kept: list[str] = []
    skipped: list[tuple[str, str]] = []
    run: list[str] = []
    script = ""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            ch, cat = (" ", "Zs") if cat == "Cc" else ("", "Zs")  # controls become spaces; format marks go
            if not ch:
                continue
        ok = (ch.isascii() or HAN_RE.match(ch) or LATIN_RE.match(ch) or cat[0] in "PZ"
              or (cat[0] == "M" and not run))  # a combining mark on a sayable letter
        if ok:
            if run and (cat[0] in "PZM") and ch.strip():
                run.append(ch)  # punctuation inside a skipped run stays with it ("Привет, мир")
                continue
            if run and cat[0] == "Z":
                run.append(ch)
                continue
            if run:
                _close(run, script, skipped, kept)
                run = []
            kept.append(ch)
            continue
        if not run:
            script = _script_name(ch, cat)
        run.append(ch)
    if run:
        _close(run, script, skipped, kept)
    return "".join(kept), skipped


def _close(run: list[str], script: str, skipped: list, kept: list) -> None:
    piece = "".join(run)
    core = piece.rstrip()
    trail = piece[len(core):]
    stripped = core.rstrip(".,;:!?。，、；：！？…")  # the sentence's own end mark is kept for the voice
    if stripped:
        skipped.append((stripped.strip(), script))
    kept.append(" " + core[len(stripped):] + trail)


def _script_name(ch: str, cat: str) -> str:
    import unicodedata

    if cat[0] == "L":
        name = unicodedata.name(ch, "")
        first = name.split()[0] if name else ""
        return {"CJK": "Chinese", "HIRAGANA": "Japanese kana", "KATAKANA": "Japanese kana"}.get(first, first.title()
                                                                                                or "unknown")
    if cat[0] == "N":
        return "numerals"
    return "symbols"


def is_speakable(text: str) -> bool:
    """Whether ``text`` has anything a voice can say (letters, digits or Chinese characters)."""
    return SPEAKABLE_RE.search(text) is not None


def dominant_language(text: str) -> str:
    """'zh' when Chinese characters outnumber Latin-script words, else 'en'."""
    n_han = len(HAN_RE.findall(text))
    n_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]+", text))
    return "zh" if n_han and n_han >= n_words else "en"


def script_runs(text: str) -> list[tuple[str, str]]:
    """Split a (normalised) sentence into ``[(language, text)]`` runs of Chinese and of Latin script.

    Characters of neither script (spaces, digits, punctuation) stay with the run they follow,
    or lead the first run.
    """
    runs: list[list[str]] = []
    for ch in text:
        lang = "zh" if HAN_RE.match(ch) else ("en" if LATIN_RE.match(ch) else None)
        if lang is None or (runs and runs[-1][0] == lang):
            if runs:
                runs[-1][1] += ch
            else:
                runs.append([None, ch])
            continue
        if runs and runs[-1][0] is None:
            runs[-1][0] = lang
            runs[-1][1] += ch
        else:
            runs.append([lang, ch])
    out = []
    for lang, piece in runs:
        lang = lang or dominant_language(text)
        if out and out[-1][0] == lang:
            out[-1] = (lang, out[-1][1] + piece)
        else:
            out.append((lang, piece))
    return [(lang, p.strip()) for lang, p in out if p.strip() and is_speakable(p)]
