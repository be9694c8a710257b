"""Text normalisation: numbers, dates, times, money, percentages and abbreviations as words.

Numerals are spelled by well-kept libraries — ``num2words`` (English cardinals, ordinals,
years) and ``cn2an`` (Chinese numerals) — and the patterns that decide *how* to read a number
(a year, a price, a clock time, a phone number) are the small rules below.

    >>> normalize_en("Dr. Lee paid $1,200 at 3:30 pm on March 5, 2024.")
    'Doctor Lee paid one thousand two hundred dollars at three thirty p m on March fifth, twenty twenty-four.'
    >>> normalize_zh("2024年3月5日，价格¥3.50，涨了50%。")
    '二零二四年三月五日，价格三点五元，涨了百分之五十。'
"""

from __future__ import annotations

import functools
import re

from .text import HAN_RE, dominant_language

# ----------------------------------------------------------------------------------- English

EN_ABBREVIATIONS = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor", "Jr.": "Junior",
    "Sr.": "Senior", "St.": "Saint", "Mt.": "Mount", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
    "i.e.": "that is", "approx.": "approximately", "Dept.": "Department", "Inc.": "Incorporated",
    "Ltd.": "Limited", "Co.": "Company", "Corp.": "Corporation", "Gen.": "General", "Capt.": "Captain",
    "Lt.": "Lieutenant", "Sgt.": "Sergeant", "Col.": "Colonel", "Gov.": "Governor", "Sen.": "Senator",
    "Rev.": "Reverend", "Fig.": "Figure", "Vol.": "Volume", "est.": "established",
    "Jan.": "January", "Feb.": "February", "Mar.": "March", "Apr.": "April", "Jun.": "June", "Jul.": "July",
    "Aug.": "August", "Sep.": "September", "Sept.": "September", "Oct.": "October", "Nov.": "November",
    "Dec.": "December",
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
EN_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence"), "¥": ("yuan", "yuan", "fen", "fen"),
               "￥": ("yuan", "yuan", "fen", "fen")}
EN_SCALES = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "bn": "billion", "B": "billion",
             "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion"}
EN_UNITS = {"km": "kilometres", "kg": "kilograms", "cm": "centimetres", "mm": "millimetres", "mg": "milligrams",
            "ml": "millilitres", "mph": "miles per hour", "km/h": "kilometres per hour", "kb": "kilobytes",
            "MB": "megabytes", "GB": "gigabytes", "TB": "terabytes", "Hz": "hertz", "kHz": "kilohertz",
            "°C": "degrees Celsius", "°F": "degrees Fahrenheit", "℃": "degrees Celsius", "lb": "pounds",
            "lbs": "pounds", "oz": "ounces", "ft": "feet", "mi": "miles", "h": "hours", "hrs": "hours",
            "min": "minutes", "s": "seconds", "ms": "milliseconds"}
EN_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "°": " degrees ", "×": " times ",
              "~": " about ", "#": " number ", "§": " section ", "±": " plus or minus ", "≈": " approximately ",
              "≠": " is not equal to ", "≤": " less than or equal to ", "≥": " greater than or equal to ",
              "÷": " divided by ", "‰": " per mille ", "∞": " infinity ", "→": " to ", "©": " copyright ",
              "®": " registered ", "™": " trademark ", "№": " number "}
# Vulgar fractions, read through the a/b rules of each language ("2½" -> "2 and 1/2", "2又1/2").
FRACTIONS = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅖": "2/5", "⅗": "3/5",
             "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8"}
_FRACTION_RE = re.compile(r"(\d?)\s?([" + "".join(FRACTIONS) + "])")


def read_fractions(text: str, joiner: str = " and ", pad: str = " ") -> str:
    """'2½' -> '2 and 1/2', '½' -> '1/2' (then read by the language's fraction rule)."""
    return _FRACTION_RE.sub(lambda m: (m.group(1) + joiner if m.group(1) else pad) + FRACTIONS[m.group(2)] + pad,
                            text)


@functools.lru_cache(maxsize=1)
def _n2w():
    from num2words import num2words

    return num2words


def _words(n: int | float, to: str = "cardinal") -> str:
    return _n2w()(n, lang="en", to=to).replace(",", "").replace(" and ", " ")


def _en_number(text: str) -> str:
    """'1,200' -> 'one thousand two hundred'; '3.14' -> 'three point one four'; '-5' -> 'minus five'."""
    neg = text.startswith(("-", "−"))
    text = text.lstrip("-−+").replace(",", "")
    if "." in text:
        whole, frac = text.split(".", 1)
        out = _words(int(whole or 0)) + " point " + " ".join(_words(int(d)) for d in frac if d.isdigit())
    else:
        out = _words(int(text)) if len(text) <= 15 else " ".join(_words(int(d)) for d in text)
    return ("minus " if neg else "") + out


def _en_money(m: re.Match) -> str:
    one, many, sub_one, sub_many = EN_CURRENCY[m.group("cur")]
    amount = m.group("amt").replace(",", "")
    scale = m.group("scale")
    if scale:
        return f"{_en_number(amount)} {EN_SCALES[scale]} {many}"
    whole, _, frac = amount.partition(".")
    w = int(whole or 0)
    cents = int((frac + "00")[:2]) if frac else 0
    parts = []
    if w or not cents:
        parts.append(f"{_words(w)} {one if w == 1 else many}")
    if cents:
        parts.append(f"{_words(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def _en_year(n: int) -> str:
    return _n2w()(n, lang="en", to="year").replace(",", "")


def _en_time(m: re.Match) -> str:
    h, mi = int(m.group("h")), int(m.group("m"))
    ampm = (m.group("ampm") or "").lower().replace(".", "")
    words = _words(h) + (" o'clock" if mi == 0 and not ampm else "" if mi == 0 else
                         (" oh " + _words(mi) if mi < 10 else " " + _words(mi)))
    if ampm:
        words += " " + " ".join(ampm)
    return words + _kept_stop(m)


def _kept_stop(m: re.Match) -> str:
    """The full stop of "p.m." that also ends the sentence."""
    return "." if m.group(0).endswith(".") and not m.string[m.end():].strip() else ""


def _en_date_iso(m: re.Match) -> str:
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0)
    return f"{MONTHS[mo - 1]} {_words(d, 'ordinal')}, {_en_year(y)}"


def _en_month_day(m: re.Match) -> str:
    out = f"{m.group('mon')} {_words(int(m.group('d')), 'ordinal')}"
    if m.group("y"):
        out += f", {_en_year(int(m.group('y')))}"
    return out


def _en_plain_number(m: re.Match) -> str:
    s = m.group(0)
    digits = s.replace(",", "")
    if re.fullmatch(r"(1[1-9]|20)\d\d", digits) and "," not in s:  # 1100-2099 without a comma: a year
        return _en_year(int(digits))
    if len(digits) >= 7 and "," not in s and "." not in s:  # phone numbers, codes: digit by digit
        return " ".join(_words(int(d)) for d in digits if d.isdigit())
    return _en_number(s)


# A number: digits with commas only as thousands separators (",ddd"), so a comma after a number
# ("In 1984, we ...", "1, 2, 3") stays punctuation and the year rule still sees "1984".
_AMOUNT = r"\d+(?:,\d{3}(?!\d))*(?:\.\d+)?"
_EN_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(?P<cur>[$€£¥￥])\s?(?P<amt>" + _AMOUNT + r")(?:\s?(?P<scale>thousand|million|billion|"
                r"trillion|bn|[kKmMB])\b)?"), _en_money),
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), _en_date_iso),
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::[0-5]\d)?(?:\s?(?P<ampm>[ap]\.?m\.?)(?=\W|$))?",
                re.I), _en_time),
    (re.compile(r"\b(?P<h>1[0-2]|[1-9])\s?(?P<ampm>[ap]\.?m\.?)(?=\W|$)", re.I),
     lambda m: _words(int(m.group("h"))) + " " + " ".join(m.group("ampm").lower().replace(".", "")) + _kept_stop(m)),
    (re.compile(r"\b(?P<mon>" + "|".join(MONTHS) + r")\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4})\b)?"),
     _en_month_day),
    (re.compile(r"(-?" + _AMOUNT + r")\s?%"), lambda m: _en_number(m.group(1)) + " percent"),
    (re.compile(r"\b(\d+)(st|nd|rd|th)\b"), lambda m: _words(int(m.group(1)), "ordinal")),
    (re.compile(r"\bNo\.\s?(?=\d)", re.I), lambda m: "number "),
    (re.compile(r"\b(\d+)/(\d+)\b"), lambda m: _en_fraction(int(m.group(1)), int(m.group(2)))),
    (re.compile(r"\b(\d+)\s?[-–]\s?(\d+)\b"), lambda m: _en_range(m)),  # defined below
]


def _en_range(m: re.Match) -> str:
    """pages 3-5 -> three to five; but 010-12345678 (a phone number) -> zero one zero, one two ... (it
    was read "ten to one two three ...")."""
    a, b = m.group(1), m.group(2)
    if _is_code(a) or _is_code(b):
        return ", ".join(" ".join(_words(int(d)) for d in part) for part in (a, b))
    return f"{_en_plain_number(_Lit(a))} to {_en_plain_number(_Lit(b))}"
_EN_UNIT_RE = re.compile(r"(?<=\d)\s?(" + "|".join(sorted(map(re.escape, EN_UNITS), key=len, reverse=True))
                         + r")(?![A-Za-z])")
_EN_NUMBER_RE = re.compile(r"(?<![\w.])[-−]?" + _AMOUNT + r"(?![\d])|\d+")


class _Lit:
    def __init__(self, s: str) -> None:
        self.s = s

    def group(self, _=0) -> str:
        return self.s


def _en_fraction(a: int, b: int) -> str:
    if b == 2:
        return f"{_words(a)} {'half' if a == 1 else 'halves'}"
    if b == 4:
        return f"{_words(a)} {'quarter' if a == 1 else 'quarters'}"
    if 2 < b <= 20:
        den = _words(b, "ordinal")
        return f"{_words(a)} {den}{'' if a == 1 else 's'}"
    return f"{_words(a)} over {_words(b)}"


def normalize_en(text: str) -> str:
    """English text with numbers, dates, times, money, percentages and abbreviations spelled out."""
    text = read_fractions(text)
    for abbr, full in EN_ABBREVIATIONS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(abbr)}(?=\s|$|,)", full, text)
    for pattern, repl in _EN_RULES:
        text = pattern.sub(repl, text)
    text = _EN_UNIT_RE.sub(lambda m: " " + EN_UNITS[m.group(1)], text)
    text = re.sub(r"(\d)([A-Za-z])", r"\1 \2", text)  # "221B" -> "221 B"
    text = _EN_NUMBER_RE.sub(_en_plain_number, text)
    for sym, word in EN_SYMBOLS.items():
        text = text.replace(sym, word)
    return " ".join(text.split())


# ----------------------------------------------------------------------------------- Chinese

ZH_DIGITS = "零一二三四五六七八九"
ZH_CURRENCY = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑"}
ZH_UNITS = {"km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米", "mg": "毫克", "ml": "毫升", "m": "米",
            "g": "克", "℃": "摄氏度", "°C": "摄氏度", "°": "度", "km/h": "公里每小时", "GB": "GB", "MB": "MB"}
ZH_ABBREVIATIONS = {"No.": "第", "NO.": "第", "no.": "第", "№": "第"}
ZH_SYMBOLS = {"±": "正负", "≈": "约等于", "≠": "不等于", "≤": "小于等于", "≥": "大于等于", "÷": "除以", "×": "乘",
              "∞": "无穷大", "§": "第", "‰": "千分号", "→": "到", "™": "商标", "®": "注册商标", "©": "版权"}


@functools.lru_cache(maxsize=1)
def _cn2an():
    import cn2an

    return cn2an


def zh_number(text: str) -> str:
    """'1,200' -> '一千二百'; '3.5' -> '三点五'; '-5' -> '负五'; over 12 digits: read digit by digit."""
    neg = text.startswith(("-", "−"))
    s = text.lstrip("-−+").replace(",", "")
    whole, _, frac = s.partition(".")
    if len(whole) > 12:
        return ("负" if neg else "") + zh_digits(s)
    out = _cn2an().an2cn(whole or "0", "low")
    if frac:
        out += "点" + zh_digits(frac)
    return ("负" if neg else "") + out


def zh_digits(s: str) -> str:
    return "".join(ZH_DIGITS[int(c)] if c.isdigit() else ("点" if c == "." else "") for c in s)


def _zh_money(m: re.Match) -> str:
    unit = ZH_CURRENCY[m.group("cur")]
    amt = m.group("amt").replace(",", "")
    if "." in amt:
        amt = amt.rstrip("0").rstrip(".")
    return zh_number(amt) + (m.group("scale") or "") + unit


def _zh_date(m: re.Match) -> str:
    y, mo, d = m.group("y"), m.group("mo"), m.group("d")
    out = ""
    if y:
        out += zh_digits(y) + "年"
    if mo:
        out += zh_number(str(int(mo))) + "月"
    if d:
        out += zh_number(str(int(d))) + m.group("dsuf")
    return out


def _zh_time(m: re.Match) -> str:
    h, mi = int(m.group("h")), int(m.group("m"))
    out = ("两" if h == 2 else zh_number(str(h))) + "点"
    if mi:
        out += ("零" if mi < 10 else "") + zh_number(str(mi)) + "分"
    if m.group("s") and int(m.group("s")):
        out += zh_number(str(int(m.group("s")))) + "秒"
    return out


def _is_code(digits: str) -> bool:
    """A phone number, an area code or an ID (7+ digits, or a leading 0): read digit by digit."""
    return "." not in digits and (len(digits) >= 7 or len(digits) > 1 and digits[0] == "0")


def _zh_range(m: re.Match) -> str:
    """3-5 -> 三到五; but 010-12345678 (a phone number, not a range) -> 零一零，一二三四五六七八 (it was
    read "十到一千二百三十四万五千六百七十八")."""
    a, b = m.group(1), m.group(2)
    if _is_code(a) or _is_code(b):
        return zh_digits(a) + "，" + zh_digits(b)
    return zh_number(a) + "到" + zh_number(b)


def _zh_plain(m: re.Match) -> str:
    s = m.group(0)
    digits = s.replace(",", "").lstrip("-−+")
    # Phone numbers, codes and long digit strings starting with 0 are read digit by digit.
    if (len(digits) >= 7 and "," not in s and "." not in s) or (len(digits) > 1 and digits[0] == "0"
                                                                 and "." not in digits):
        return zh_digits(digits)
    return zh_number(s)


_ZH_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(?P<cur>[¥￥$€£])\s?(?P<amt>" + _AMOUNT + r")(?P<scale>[万亿]?)"), _zh_money),
    (re.compile(r"(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})(?P<dsuf>)(?!\d)"),
     lambda m: _zh_date(_Suffixed(m, "日"))),
    (re.compile(r"(?:(?P<y>\d{2,4})年)?(?:(?P<mo>\d{1,2})月)(?:(?P<d>\d{1,2})(?P<dsuf>[日号]))?"), _zh_date),
    (re.compile(r"(?P<y>\d{2,4})年"), lambda m: zh_digits(m.group("y")) + "年"),
    (re.compile(r"(?P<h>[01]?\d|2[0-3])[:：](?P<m>[0-5]\d)(?:[:：](?P<s>[0-5]\d))?"), _zh_time),
    (re.compile(r"(-?" + _AMOUNT + r")\s?[%％]"), lambda m: "百分之" + zh_number(m.group(1))),
    (re.compile(r"(\d+)\s?/\s?(\d+)"), lambda m: zh_number(m.group(2)) + "分之" + zh_number(m.group(1))),
    (re.compile(r"(\d+(?:\.\d+)?)\s?[-–~～]\s?(\d+(?:\.\d+)?)"), _zh_range),
    (re.compile(r"(?<=[第])\s*(\d+)"), lambda m: zh_number(m.group(1))),
    (re.compile(r"\b2\b(?=\s*[个位只条张本件次台辆])|(?<![\d.])2(?=[个位只条张本件次台辆])"), lambda m: "两"),
]
_ZH_UNIT_RE = re.compile(r"(?<=\d)\s?(" + "|".join(sorted(map(re.escape, ZH_UNITS), key=len, reverse=True))
                         + r")(?![A-Za-z])")
_ZH_NUMBER_RE = re.compile(r"[-−]?" + _AMOUNT)  # a comma after a number is punctuation


class _Suffixed:
    """A match seen through another name for the day suffix (ISO dates have none)."""

    def __init__(self, m: re.Match, suffix: str) -> None:
        self.m, self.suffix = m, suffix

    def group(self, name):
        return self.suffix if name == "dsuf" else self.m.group(name)


def normalize_zh(text: str) -> str:
    """Chinese text with numbers, dates, times, money and percentages written in characters."""
    text = read_fractions(text, "又", "")
    for abbr, full in ZH_ABBREVIATIONS.items():
        text = text.replace(abbr, full)
    for pattern, repl in _ZH_RULES:
        text = pattern.sub(repl, text)
    text = _ZH_UNIT_RE.sub(lambda m: ZH_UNITS[m.group(1)], text)
    text = _ZH_NUMBER_RE.sub(_zh_plain, text)
    for sym, word in ZH_SYMBOLS.items():
        text = text.replace(sym, word)
    return text.replace("%", "百分号").replace("&", "和").replace("+", "加").replace("=", "等于")


_TAG_RE = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>]+))*\s*/?>")
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# A bare ``<word>`` is markup only when it is an SSML/HTML element or closed later in the text; otherwise
# it is prose ("press <Enter>", "x <y> z") and is read. Closing and self-closing tags, tags with
# attributes and namespaced tags (``<amazon:effect>``) are always markup.
_MARKUP_TAGS = frozenset("""speak break prosody emphasis say-as sub phoneme voice p s audio mark lang w token
    paragraph sentence desc br hr b i u em strong small big span div a font sup code pre q cite blockquote
    h1 h2 h3 h4 h5 h6 ul ol li table tr td th html head body title img""".split())


def strip_markup(text: str) -> str:
    """Markup is not read aloud: SSML or HTML tags (``<speak>``, ``<break time="1s"/>``, ``<br>``) become a
    space, and character entities (``&amp;``, ``&#8364;``) their characters. Plain ``a < b`` is untouched,
    and so is a bare ``<word>`` that is no markup element and never closed ("press <Enter>").

    >>> strip_markup('<speak>Fish &amp; chips<break time="1s"/>now</speak>')
    ' Fish & chips now '
    >>> strip_markup('x <y> z, <b>bold</b>')
    'x <y> z,  bold '
    """
    if "<" in text:
        lowered = text.lower()

        def tag(m: re.Match) -> str:
            t = m.group(0)
            name = t.lstrip("</").split("/")[0].split(">")[0].split()[0].lower()
            markup = (t.startswith("</") or t.endswith("/>") or "=" in t or ":" in name or name in _MARKUP_TAGS
                      or f"</{name}" in lowered)
            return " " if markup else t

        text = _TAG_RE.sub(tag, text)
    if "&" in text:
        import html

        text = _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)
    return text


def normalize(text: str, language: str | None = None) -> str:
    """Normalise one sentence for speaking; ``language`` None decides by its script.

    In a mostly Chinese sentence, numbers next to Chinese are read in Chinese; English words
    are left for the English voice. Markup (SSML, HTML tags and entities) is not read out.
    """
    # 〇 is only ever zero (二〇二四年): the voices skipped it as an unknown symbol, so 2024 was said 二二四
    text = strip_markup(text).replace("〇", "零")
    language = language or dominant_language(text)
    if language == "zh" or HAN_RE.search(text):
        return normalize_zh(text) if language == "zh" else normalize_en(normalize_zh_numbers_near_han(text))
    return normalize_en(text)


def normalize_zh_numbers_near_han(text: str) -> str:
    """In a mostly English sentence, read in Chinese only the numbers written against Chinese characters."""
    han = "\u3400-\u4dbf\u4e00-\u9fff"
    return re.sub(rf"(?<=[{han}])\s*\d[\d,.]*|\d[\d,.]*(?=\s*[{han}])", lambda m: normalize_zh(m.group(0)), text)
