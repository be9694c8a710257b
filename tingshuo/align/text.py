"""Text for alignment: the units that get times, what is said for each, and keys for matching.

A *unit* is what the output times: an English word as written (with the punctuation attached
to it), one Chinese character, or a run of other script inside Chinese ("Python", "2024").
Each unit keeps its offsets in the original text, so numbers, dates and symbols — read as
words by ``tingshuo.tts.normalize`` — map back to exactly what was written::

    >>> [(u.text, u.spoken) for u in units("Dr. Lee paid $5.", "en")]
    [('Dr.', 'Doctor'), ('Lee', 'Lee'), ('paid', 'paid'), ('$5.', 'five dollars')]
    >>> [u.text for u in units("2024年3月", "zh")]
    ['2024', '年', '3', '月']

``keys`` are the matching tokens of a unit's spoken form (lower-case words; simplified Chinese
characters), the same function applied to recognised text, so "$1,200" in the text and
"1200 dollars" from the recogniser meet as the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..tts.text import HAN_RE

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A speakable core: letters, digits, Chinese characters, and the symbols that are read aloud.
_SPEAKABLE = re.compile(rf"[{_HAN}]|[^\W_]|[$€£¥￥%％&@+=#°℃]", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…。！？；;]")
_CLAUSE_END = re.compile(r"[,，、:：;；]")
_KEY_SPLIT = re.compile(r"[^\w']+|_")
# Characters that are never spoken and would split or garble a word: format characters (zero-width
# space and joiners, soft hyphen, BOM, direction marks) are left out of keys and of the text the
# decoder is given; control characters and lone surrogates (text decoded wrongly) count as spaces,
# and full-width Latin letters and digits as their ASCII forms (both keep the text's length, so
# offsets still index the original).
_FORMAT_RE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_CLEAN = {**{c: " " for c in [*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), *range(0x7f, 0xa0)]},
          **{c: " " for c in range(0xD800, 0xE000)},
          **{c: c - 0xFEE0 for r in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B)) for c in range(*r)}}
NORMALIZE_BLOCK_CHARS = 4000  # text is normalised in pieces of about this size, cut at whitespace
CJK_LANGUAGES = ("zh", "ja", "yue")


@dataclass(frozen=True)
class Unit:
    """One timed unit of the text. Offsets index the original text (``text == clean(original)[start:end]``)."""

    text: str  # as written, with attached punctuation (English); one character (Chinese)
    start: int
    end: int
    core_start: int  # the speakable part, without the punctuation around it
    core_end: int
    spoken: str  # what is said for it (numbers and symbols read as words)
    keys: tuple[str, ...]  # matching tokens of ``spoken``
    sentence_end: bool = False  # the text has a sentence mark right after this unit
    clause_end: bool = False  # ... or a clause mark (comma, colon)
    paragraph_end: bool = False  # a blank line (or the end of a line) follows

    @property
    def is_cjk(self) -> bool:
        return bool(HAN_RE.search(self.text))


def is_cjk_language(language: str | None) -> bool:
    return language in CJK_LANGUAGES


def keys_of(spoken: str, language: str | None) -> tuple[str, ...]:
    """Matching tokens of spoken text: Chinese characters one by one (simplified), other words lower-cased.

    >>> keys_of("Hello, World's end — 體驗", "zh")
    ('hello', "world's", 'end', '体', '验')
    """
    from ..asr.text import to_script

    text = _FORMAT_RE.sub("", spoken.translate(_CLEAN)).replace("’", "'").replace("‘", "'")
    if HAN_RE.search(text):
        text = to_script(text, "zh", "simplified")
    out: list[str] = []
    for piece in _KEY_SPLIT.split(text.lower()):
        piece = piece.strip("'")
        if not piece:
            continue
        if HAN_RE.search(piece):
            # Chinese characters are keys one by one; runs of other script inside stay whole
            for m in re.finditer(rf"[{_HAN}]|[^{_HAN}]+", piece):
                if m.group().strip("'"):
                    out.append(m.group().strip("'"))
        else:
            out.append(piece)
    return tuple(out)


def _normalize(text: str, language: str | None) -> str:
    """The text as it would be read: tingshuo.tts.normalize for English and Chinese, as is otherwise."""
    if language not in ("en", "zh"):
        return text
    from ..tts.normalize import normalize

    try:
        return normalize(text, language)
    except Exception:  # a reader that fails on odd input (huge numbers): align the written form
        return text


def _raw_units(text: str) -> list[tuple[int, int, int, int]]:
    """(start, end, core_start, core_end) of each unit: whitespace tokens, Chinese characters split out.

    Punctuation belongs to the unit it touches: after it ("trail," "析。"), or before it when
    nothing precedes it in the token ("“Hello").
    """
    out: list[tuple[int, int, int, int]] = []
    for m in re.finditer(r"\S+", text):
        tok, base = m.group(), m.start()
        pieces: list[list[int]] = []  # [start, end] within tok
        lead = None  # punctuation waiting for the piece after it
        for p in re.finditer(rf"[{_HAN}]|[^{_HAN}]+", tok):
            if not _SPEAKABLE.search(p.group()):
                if pieces:
                    pieces[-1][1] = p.end()
                else:
                    lead = p.start()
                continue
            a = p.start()
            if pieces and not HAN_RE.match(p.group()):  # leading marks ("。It") stay with the piece before
                first = _SPEAKABLE.search(p.group()).start()
                pieces[-1][1] = a + first
                a += first
            pieces.append([lead if lead is not None else a, p.end()])
            lead = None
        if not pieces:
            if out:  # a lone mark ("—", "…") belongs to the unit before it
                s, _, cs, ce = out[-1]
                out[-1] = (s, base + len(tok), cs, ce)
            continue
        for a, b in pieces:
            piece = tok[a:b]
            cores = [c.start() for c in _SPEAKABLE.finditer(piece)]
            cs, ce = cores[0], cores[-1] + 1
            out.append((base + a, base + b, base + a + cs, base + a + ce))
    return out


def clean(text: str) -> str:
    """``text`` with control characters and lone surrogates as spaces, full-width letters and digits
    as ASCII: the same length, so offsets into it index ``text``."""
    return text.translate(_CLEAN)


def is_blank(text: str) -> bool:
    """Nothing but whitespace, control and format characters (a byte-order mark, zero-width spaces)."""
    return not _FORMAT_RE.sub("", clean(text)).strip()


def without_format_chars(piece: str, core: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """``piece`` without zero-width and other format characters, and its core's new (start, end)."""
    if not _FORMAT_RE.search(piece):
        return piece, core
    keep = [not _FORMAT_RE.match(ch) for ch in piece]
    a, b = sum(keep[:core[0]]), sum(keep[:core[1]])
    return "".join(ch for ch, k in zip(piece, keep) if k), (a, max(b, a))


def units(text: str, language: str | None) -> list[Unit]:
    """The units of ``text``, with spoken forms from the normaliser mapped back to each.

    ``Unit.text`` is the cleaned form (see ``clean``); offsets index ``text`` as given.
    """
    text = clean(text)
    out: list[Unit] = []
    for block_start, block in _blocks(text):
        out.extend(_units_of_block(text, block_start, block, language))
    return out


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """Pieces of about ``NORMALIZE_BLOCK_CHARS``, cut at line ends or whitespace."""
    pos = 0
    n = len(text)
    while pos < n:
        end = min(n, pos + NORMALIZE_BLOCK_CHARS)
        if end < n:
            cut = text.rfind("\n", pos, end)
            if cut <= pos:
                cut = max(text.rfind(" ", pos, end), text.rfind("。", pos, end))
            end = cut + 1 if cut > pos else end
        yield pos, text[pos:end]
        pos = end


def _units_of_block(text: str, offset: int, block: str, language: str | None) -> list[Unit]:
    raw = _raw_units(block)
    if not raw:
        return []
    cores = [block[cs:ce] for _, _, cs, ce in raw]
    spoken = _spoken_forms(block, raw, language)
    out = []
    for k, ((s, e, cs, ce), sp) in enumerate(zip(raw, spoken)):
        after = block[ce:e] + block[e:raw[k + 1][0] if k + 1 < len(raw) else len(block)]
        keys = keys_of(sp, language)
        if not keys:  # nothing readable came out of it: keep the written core as its key
            keys = keys_of(cores[k], language) or (cores[k].lower(),)
        out.append(Unit(text=block[s:e], start=offset + s, end=offset + e, core_start=offset + cs,
                        core_end=offset + ce, spoken=sp, keys=keys,
                        sentence_end=bool(_SENTENCE_END.search(after)) or k + 1 == len(raw),
                        clause_end=bool(_CLAUSE_END.search(after)),
                        paragraph_end="\n" in after or k + 1 == len(raw)))
    return out


def _spoken_forms(block: str, raw: list[tuple[int, int, int, int]], language: str | None) -> list[str]:
    """What is said for each unit: the normalised block, split back onto the units.

    The normalised text is compared with the written text word by word (characters for Chinese):
    what the normaliser left alone maps one to one; each changed stretch ("$1,200" -> "one
    thousand two hundred dollars") goes to the written units it replaced, split between them by
    how each reads on its own when the counts agree.
    """
    from difflib import SequenceMatcher

    written = [block[s:e] for s, e, _, _ in raw]
    if language not in ("en", "zh") or not any(ch.isdigit() or ch in "$€£¥￥%％&@+=#°℃." for ch in block):
        return [block[cs:ce] for _, _, cs, ce in raw]
    normalized = _normalize(block, language)
    w_tokens = [_token_key(w) for w in written]
    n_pieces = _pieces(normalized)
    n_tokens = [_token_key(p) for p in n_pieces]
    sm = SequenceMatcher(None, w_tokens, n_tokens, autojunk=False)
    out: list[str] = [""] * len(written)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            for d in range(i2 - i1):
                out[i1 + d] = _core(n_pieces[j1 + d])
            continue
        if i1 == i2:  # words the normaliser added with no written unit: give them to the one before
            if i1 > 0:
                out[i1 - 1] = _join(out[i1 - 1], " ".join(n_pieces[j1:j2]))
            continue
        group = n_pieces[j1:j2]
        if i2 - i1 == 1:
            out[i1] = _join_pieces(group)
            continue
        # several written units became several spoken words: split by each unit's own reading
        alone = [_pieces(_normalize(written[i], language)) for i in range(i1, i2)]
        if sum(len(a) for a in alone[:-1]) < len(group) and all(alone[:-1]):
            # each unit takes as many spoken words as it reads alone; the last takes the rest
            pos = j1
            for d, a in enumerate(alone):
                take = len(a) if d < len(alone) - 1 else j2 - pos
                out[i1 + d] = _join_pieces(n_pieces[pos:pos + take])
                pos += take
        else:  # no clean split: each unit says what it says alone
            for d, a in enumerate(alone):
                out[i1 + d] = _join_pieces(a)
    for k, (s, e, cs, ce) in enumerate(raw):
        if not out[k].strip():
            out[k] = block[cs:ce]
    return out


def _pieces(text: str) -> list[str]:
    """Whitespace words, with Chinese characters as pieces of their own."""
    out: list[str] = []
    for tok in text.split():
        for p in re.finditer(rf"[{_HAN}]|[^{_HAN}]+", tok):
            if out and not _SPEAKABLE.search(p.group()):
                out[-1] += p.group()  # punctuation stays with the word before it
            else:
                out.append(p.group())
    return [p for p in out if p.strip()]


def _token_key(piece: str) -> str:
    return "".join(ch for ch in piece.lower() if ch.isalnum() or HAN_RE.match(ch))


def _core(piece: str) -> str:
    return piece.strip(".,;:!?。，、；：！？\"'“”‘’()[]（）「」『』")


def _join(a: str, b: str) -> str:
    return (a + " " + b).strip() if a and b else (a or b)


def _join_pieces(pieces: list[str]) -> str:
    out = ""
    for p in pieces:
        p = _core(p) or p
        if out and not (HAN_RE.match(out[-1]) or HAN_RE.match(p[0])):
            out += " "
        out += p
    return out


def join_texts(pieces: list[str]) -> str:
    """Join unit texts for display or for the recogniser: spaces between words, none around Chinese characters."""
    out = ""
    for p in pieces:
        p = p.strip()
        if not p:
            continue
        if out and not (HAN_RE.match(out[-1]) or HAN_RE.match(p[0]) or _is_cjk_punct(out[-1])):
            out += " "
        out += p
    return out


def _is_cjk_punct(ch: str) -> bool:
    return ch in "。，、；：！？）」』”"


def detect_language(text: str) -> str:
    """'zh' when Chinese characters outnumber Latin-script words in (the start of) the text, else 'en'."""
    from ..tts.text import dominant_language

    return dominant_language(text[:20000])
