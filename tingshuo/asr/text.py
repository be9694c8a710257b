"""Text clean-up after recognition: Chinese script conversion (OpenCC)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_script(text: str, language: str | None, script: str) -> str:
    """Convert Chinese ``text`` to 'simplified' or 'traditional' characters; other text is unchanged.

    >>> to_script("這是測試", "zh", "simplified")
    '这是测试'
    """
    if language != "zh" or script == "as-is" or not text:
        return text
    return _converter("t2s" if script == "simplified" else "s2t").convert(text)


_LANGUAGE_ALIASES = {"cmn": "zh", "zho": "zh", "chi": "zh", "mandarin": "zh", "chinese": "zh", "yue": "yue",
                     "eng": "en", "english": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr",
                     "rus": "ru", "jpn": "ja", "kor": "ko", "spa": "es"}


def normalize_language(code: str | None) -> str | None:
    """'zh-CN', 'cmn', 'Chinese' -> 'zh'; 'en_US', 'eng' -> 'en'; None, '' and 'auto' -> None."""
    if not code:
        return None
    c = str(code).strip().lower().replace("_", "-")
    if c in ("auto", "none", "null", "unknown", "und"):
        return None
    if c in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[c]
    base = c.split("-")[0]
    return _LANGUAGE_ALIASES.get(base, base)
