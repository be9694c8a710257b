"""Text as the search index sees it: normalised, then cut into lexical tokens.

    >>> normalize("ＡＢＣ１２３ 這是測試")
    'abc123 这是测试'
    >>> lexical_tokens("Returning items")
    ['return', 'item']
    >>> lexical_tokens("期中考试")          # characters and their bigrams
    ['期', '中', '考', '试', '期中', '中考', '考试']
    >>> pinyin_tokens("期终")              # toneless pinyin bigrams: 期中 and 期终 share one
    ['qizhong']

Normalisation: Unicode NFKC (full-width letters, digits and punctuation become half-width),
Traditional Chinese to Simplified (OpenCC t2s, the converter the recogniser's output goes
through), lower case. English words are stemmed (Snowball, Porter2); Mandarin is indexed as
characters (so one- and two-character queries work) and character bigrams, plus toneless pinyin
bigrams in a separate column so a homophone written with other characters still matches.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from ..errors import ModelNotInstalled

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{_HAN}]")
_TOKEN_RE = re.compile(f"[{_HAN}]|[^\\W_{_HAN}]+(?:'[^\\W_{_HAN}]+)*")
_LATIN_RE = re.compile(f"[^\\W_{_HAN}]+")

# Function words left out of queries (not of the index) when a query has other words: they
# match nearly every passage and would cost time without ranking anything.
STOPWORDS = frozenset("""a an and are as at be been but by can could did do does for from had has have he her
him his how i if in into is it its me my no not of on or our she so than that the their them then there these
they this to was we were what when where which who why will with would you your""".split())
ZH_STOPCHARS = frozenset("的了是在我有和就不人都一个也很到说要去你会着没看好自这那吗呢吧啊")


# Invisible format characters (Unicode Cf) pasted into a query or a subtitle: a soft hyphen or a zero-width
# space inside a word split it in two ("lan\u00adtern" found nothing), bidi marks and a BOM were part of a token.
FORMAT_CHARS_RE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
                             "\ufff9-\ufffb\U000e0000-\U000e007f]")


def normalize(text: str) -> str:
    """NFKC, invisible format characters dropped, Traditional→Simplified Chinese, lower case."""
    text = FORMAT_CHARS_RE.sub("", unicodedata.normalize("NFKC", text or ""))
    if HAN_RE.search(text):
        text = _t2s(text)
    return text.lower()


_CONTROL_RE = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with control characters escaped (a file named "new\\nline.wav" prints as new\\nline.wav),
    so a line printed about a file stays one line."""
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def has_han(text: str) -> bool:
    return HAN_RE.search(text or "") is not None


def guess_language(text: str) -> str:
    """'zh' when Chinese characters make up a good share of the letters, else 'en'."""
    han = len(HAN_RE.findall(text))
    latin = sum(len(w) for w in _LATIN_RE.findall(text) if w.isascii())
    return "zh" if han and han * 3 >= latin else "en"


@functools.lru_cache(maxsize=65536)
def _t2s(text: str) -> str:
    from ..asr.text import to_script

    return to_script(text, "zh", "simplified")


def raw_tokens(text: str) -> list[str]:
    """Words of Latin script (with digits) and single Chinese characters, normalised, in order."""
    if len(text) <= 24:  # a transcript word: the same ones come back at every query
        return list(_word_raw_tokens(text))
    return _TOKEN_RE.findall(normalize(text))


@functools.lru_cache(maxsize=262144)
def _word_raw_tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN_RE.findall(normalize(text)))


@functools.lru_cache(maxsize=1)
def _stemmer():
    try:
        import snowballstemmer
    except ImportError:
        raise ModelNotInstalled("Search needs the Snowball stemmer: pip install 'tingshuo[models]' "
                                "(or: pip install snowballstemmer).") from None
    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=262144)
def stem(word: str) -> str:
    """Porter2 stem of a lower-case word; Chinese characters and digits are returned as they are."""
    plain = word.replace("'", "")
    if not plain.isascii() or not plain.isalpha():
        return word
    return _stemmer().stemWord(plain)


@functools.lru_cache(maxsize=65536)
def pinyin(char: str) -> str:
    """Toneless pinyin of one Chinese character (pypinyin's most frequent reading); '' for others."""
    if not HAN_RE.fullmatch(char):
        return ""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        raise ModelNotInstalled("Search needs pypinyin for Mandarin: pip install 'tingshuo[models]' "
                                "(or: pip install pypinyin).") from None
    syl = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    return syl[0].replace("ü", "v") if syl else ""


def unit_tokens(token: str) -> list[str]:
    """The lexical index terms one raw token contributes by itself (a stem, or the character)."""
    return [stem(token)]


def _bigrams(chars: list[str]) -> list[str]:
    return [a + b for a, b in zip(chars, chars[1:])]


def _han_runs(tokens: list[str]) -> list[list[str]]:
    runs, cur = [], []
    for t in tokens:
        if len(t) == 1 and HAN_RE.match(t):
            cur.append(t)
        else:
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def lexical_tokens(text: str | list[str]) -> list[str]:
    """Index terms: English stems and digits, Chinese characters, then Chinese character bigrams."""
    tokens = raw_tokens(text) if isinstance(text, str) else text
    out = [stem(t) for t in tokens]
    for run in _han_runs(tokens):
        out += _bigrams(run)
    return out


def digit_runs(tokens: list[str]) -> list[tuple[int, int]]:
    """(first, last) token positions of each run of 2+ consecutive tokens that are all digits: Whisper
    writes a phone or ID number in groups ("138 0013 8000", "13 74 00 5 22 46") as often as in one."""
    runs, start = [], None
    for k, t in enumerate(tokens + [""]):
        if t.isdigit() and t.isascii():
            start = k if start is None else start
        else:
            if start is not None and k - start >= 2:
                runs.append((start, k - 1))
            start = None
    return runs


def joined_numbers(tokens: list[str]) -> list[str]:
    """Index terms for numbers said in groups: each run of digit tokens joined ("13 74 00" -> "137400"),
    so a query typing the number in one piece (or in other groups) finds it."""
    return ["".join(tokens[a:b + 1]) for a, b in digit_runs(tokens)]


def pinyin_tokens(text: str | list[str]) -> list[str]:
    """Toneless pinyin bigrams of each run of Chinese characters ("期中" -> ["qizhong"])."""
    tokens = raw_tokens(text) if isinstance(text, str) else text
    out = []
    for run in _han_runs(tokens):
        syl = [pinyin(c) for c in run]
        out += [a + b for a, b in zip(syl, syl[1:]) if a and b]
    return out


# ---------------------------------------------------------------------------------- numerals
# Whisper writes most Mandarin numbers in digits (29度, 2016年, 15万, 12线城市, a phone number) but some
# in characters (二十个项目); a typed query may use either. A query with numbers is also searched
# in the other writing (query side only: the index keeps what was said).
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}
_ZH_NUM_RE = re.compile("[零〇一幺二两三四五六七八九十百千万亿]{2,}")
_DIGITS_RE = re.compile(r"(?<![0-9.])[0-9]+(?![0-9.])")
_DIGIT_ZH = "零一二三四五六七八九"
_SWAP_ZERO = str.maketrans("〇零", "零〇")
_HAS_UNIT_RE = re.compile("[十百千万亿]")
_DIGIT_GROUPS_RE = re.compile(r"(?<![0-9.])[0-9]+(?:[ -][0-9]+)+(?![0-9.])")
_LETTERS_RE = re.compile(r"[^\W\d_]")
MAX_QUANTITY = 10 ** 12  # digits read as a quantity below this (二千二百二十四万零三百二十); longer are codes


def _zh_number(run: str) -> str:
    """A run of Chinese numerals as digits: read digit by digit (一三七四 -> 1374, 二零一六 -> 2016),
    or by value when it has 十/百/千/万/亿 (二十九 -> 29, 一百零五 -> 105, 两千二百二十四万零三百二十 ->
    22240320); a run ending in 万 or 亿 keeps it, as Whisper writes it (十五万 -> 15万)."""
    if run[-1] in _ZH_BIG and len(run) > 1 and run[-2] not in _ZH_BIG:
        return _zh_number(run[:-1]) + run[-1] if len(run) > 2 else str(_ZH_DIGIT.get(run[0], 1)) + run[-1]
    if not any(c in _ZH_UNIT or c in _ZH_BIG for c in run):
        return "".join(str(_ZH_DIGIT[c]) for c in run)
    total = big = section = cur = 0
    for c in run:
        if c in _ZH_UNIT:
            section += (cur or 1) * _ZH_UNIT[c]
            cur = 0
        elif c == "万":
            big += ((section + cur) or 1) * 10_000
            section = cur = 0
        elif c == "亿":
            total += ((big + section + cur) or 1) * 100_000_000
            big = section = cur = 0
        else:
            cur = _ZH_DIGIT[c]
    return str(total + big + section + cur)


def _zh_four(g: int, leading: bool, liang: bool) -> str:
    """0 < g < 10000 in Chinese numerals (二千零一十六); ``leading``: 十五, not 一十五; ``liang``: 两 before 千/百."""
    out, zero, started = "", False, False
    for d, unit in zip((g // 1000, g // 100 % 10, g // 10 % 10, g % 10), ("千", "百", "十", "")):
        if d == 0:
            zero = zero or started
            continue
        if zero:
            out += "零"
            zero = False
        ch = "两" if liang and d == 2 and unit in ("千", "百") else _DIGIT_ZH[d]
        if unit == "十" and d == 1 and not started and leading:
            ch = ""
        out += ch + unit
        started = True
    return out


def zh_quantity(n: int, liang: bool = False) -> str:
    """A whole number read as a quantity, as Whisper writes spoken Mandarin: 22240320 ->
    二千二百二十四万零三百二十 (``liang``: 两千两百二十四万零三百二十), 2016 -> 二千零一十六, 15 -> 十五."""
    if n == 0:
        return "零"
    out, higher, gap = "", False, False
    for g, suffix in ((n // 100_000_000, "亿"), (n // 10_000 % 10_000, "万"), (n % 10_000, "")):
        if g == 0:
            gap = gap or higher
            continue
        if higher and (gap or g < 1000):
            out += "零"
        out += ("两" if liang and g == 2 and (suffix or not higher) else _zh_four(g, not higher, liang)) + suffix
        higher, gap = True, False
    return out


def _digits_zh(digits: str, reading: str) -> str:
    """Digits as Chinese numerals. ``reading``: "digits" (2016 -> 二零一六; up to two digits the value, 29 ->
    二十九), "value" or "value-liang" (2016 -> 二千零一十六 / 两千零一十六). A number with a leading zero, or
    too long to be a quantity, is always read digit by digit."""
    if len(digits) <= 2 and reading == "digits" or digits.startswith("0") and len(digits) > 1 \
            or int(digits) >= MAX_QUANTITY:
        reading = "value" if len(digits) <= 2 and not digits.startswith("0") else "digits"
    if reading == "digits":
        return "".join(_DIGIT_ZH[int(d)] for d in digits)
    return zh_quantity(int(digits), liang=reading == "value-liang")


def numeral_variants(text: str) -> list[str]:
    """The query with its numbers in the other writing: Chinese numerals as digits; and for a Mandarin
    query, or one of numbers alone ("22240320"), digits as Chinese numerals in both readings: digit by
    digit (二二二四零三二零) and as a quantity (二千二百二十四万零三百二十, also with 两); [] when it has none."""
    out = []
    to_digits = _ZH_NUM_RE.sub(lambda m: _zh_number(m.group()), text)
    if to_digits != text:
        out.append(to_digits)
    joined = _DIGIT_GROUPS_RE.sub(lambda m: re.sub(r"[\s-]", "", m.group()), to_digits)
    if joined != to_digits:  # "138 0013 8000" also as 13800138000
        out.append(joined)
    # a year is written 二〇二四 as often as 二零二四 (〇 is not a Han character): numerals read digit by digit
    # are searched in the other spelling too (not 零 in words: 零食, 一百零五)
    other = _ZH_NUM_RE.sub(lambda m: m.group().translate(_SWAP_ZERO) if not _HAS_UNIT_RE.search(m.group())
                           else m.group(), text)
    if other != text:
        out.append(other)
    han = has_han(text)
    if han or not _LETTERS_RE.search(text):
        # groups joined in the text as typed (numbers typed in Chinese numerals stay as they were)
        base = _DIGIT_GROUPS_RE.sub(lambda m: re.sub(r"[\s-]", "", m.group()), text)
        for reading in ("digits", "value", "value-liang"):
            # a lone digit in a query of numbers alone ("2") would find every 二 and 两: left as it is
            to_zh = _DIGITS_RE.sub(lambda m: _digits_zh(m.group(), reading) if han or len(m.group()) > 1
                                   else m.group(), base)
            if to_zh != base and to_zh not in out:
                out.append(to_zh)
            if reading == "digits" and "零" in to_zh:  # 1908 also as 一九〇八 (years are written so)
                circle = _DIGITS_RE.sub(lambda m: _digits_zh(m.group(), reading).replace("零", "〇")
                                        if han or len(m.group()) > 1 else m.group(), base)
                if circle != to_zh and circle not in out:
                    out.append(circle)
    return out
