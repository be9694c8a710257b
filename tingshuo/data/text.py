"""Text that people hand us as bytes (a TEXT file, an uploaded script): decoded, or one clear error.

UTF-8 (with or without a BOM) and UTF-16 with its byte-order mark (Notepad's "Unicode") are read.
Anything else is refused with one line naming the file and, when the bytes look like it, the legacy
encoding they are probably in (GBK/GB18030 for Mandarin saved on Windows, Big5, cp1252), with the
command that converts it. Nothing is guessed silently: GB18030 decodes almost any byte string, so
a wrong guess would align nonsense.

    >>> decode_text("你好".encode("utf-16"), "a.txt")
    '你好'
    >>> decode_text("你好".encode("gbk"), "a.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tingshuo.errors.InputError: a.txt is not UTF-8 text (it looks like GBK/GB18030, ...
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from ..errors import InputError

_HAN = re.compile("[\u4e00-\u9fff]")
MAX_TEXT_BYTES = 64 * 2**20  # a long book is 1-5 MB; more is not a text that was read aloud
_LEGACY = (("gb18030", "GBK/GB18030", "GB18030"), ("big5", "Big5", "BIG5"), ("cp1252", "Windows-1252", "CP1252"))


def _looks_like(data: bytes) -> tuple[str, str] | None:
    """(name, iconv name) of a legacy encoding the bytes decode in plausibly, or None."""
    for codec, name, iconv in _LEGACY:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        letters = [c for c in text if not c.isspace() and ord(c) > 0x7f]
        if codec == "cp1252" or (letters and sum(bool(_HAN.match(c)) for c in letters) >= 0.8 * len(letters)):
            return name, iconv
    return None


AUDIO_HINT = "give the audio first and then the text that was read"
_AUDIO_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"FORM", b"\x1aE\xdf\xa3")


def _utf16_hint(head: bytes) -> str:
    """", which looks like UTF-16 without its byte-order mark" when every other byte is zero and the rest text."""
    for zeros, chars in ((head[1::2], head[0::2]), (head[0::2], head[1::2])):
        if zeros and zeros.count(0) > 0.9 * len(zeros) and \
                sum(32 <= b < 127 or b in (9, 10, 13) for b in chars) > 0.9 * len(chars):
            return ", which looks like UTF-16 without its byte-order mark"
    return ""


def read_text_bytes(source, name: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a path or a binary stream (stdin), refused with one line past ``limit``: ``yes |`` or
    ``< /dev/zero`` read until the machine ran out of memory ("unexpected MemoryError")."""
    if hasattr(source, "read"):
        data = source.read(limit + 1)
    else:
        with open(source, "rb") as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name} is over {limit // 2**20} MB, far more than a text read aloud; "
                         "give the text of this recording (split a book by chapter).")
    return data


def decode_text(data: bytes, name: str, audio_hint: str = AUDIO_HINT) -> str:
    """``data`` as text; ``InputError`` naming ``name`` (and what to do) when it is not UTF-8/UTF-16 text.
    ``audio_hint``: what to say when ``data`` is audio (a command's arguments swapped)."""
    return "".join(decode_blocks([data], name, audio_hint))


def decode_blocks(blocks: Iterable[bytes], name: str, audio_hint: str = AUDIO_HINT,
                  nul_ok: bool = False) -> Iterator[str]:
    """The text of ``blocks`` (a file or a pipe read piece by piece), decoded as they come — ``tingshuo
    speak`` starts speaking a book before its end is read — by the rules and in the words of
    ``decode_text``: UTF-8 (a BOM dropped), or UTF-16 with its BOM; audio, binary data (NUL bytes in the
    first 4 kB, unless ``nul_ok``: speech drops control characters) and other encodings (named when they
    look like GBK, Big5 or cp1252) are one ``InputError``.
    The error comes from the block it is found in: the text before it has been yielded."""
    import codecs

    it = iter(blocks)
    block = b""
    for more in it:  # the first 4 kB decide what this is (a pipe may hand over a few bytes at a time)
        block += more
        if len(block) >= 4096:
            break
    head = bytes(block[:4096])
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with its byte-order mark ("Unicode" in Notepad)
    if not utf16:
        if head[:4] in _AUDIO_MAGIC or head[4:8] == b"ftyp" or head[:3] == b"ID3":
            raise InputError(f"{name} is audio, not a text file; {audio_hint}.")
        # (``nul_ok``: a stray NUL is dropped by speech, but a head that is one NUL in 8 or more is binary
        # data — ``speak < /dev/zero`` ran forever saying nothing — or UTF-16 without its BOM)
        if b"\x00" in head and (not nul_ok or head.count(0) * 8 >= len(head)):
            raise InputError(f"{name} is not a text file (it holds binary data{_utf16_hint(head)}); give the "
                             "words as UTF-8 text.")
    decoder = codecs.getincrementaldecoder("utf-16" if utf16 else "utf-8-sig")()
    while block:
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError:
            raise _not_text(name, utf16, block) from None
        if text:
            yield text
        block = next(it, b"")
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{name} ends inside a character (a cut file?); save it again as UTF-8.") from None
    if text:
        yield text


def _not_text(name: str, utf16: bool, data: bytes) -> InputError:
    if utf16:
        return InputError(f"{name} is not valid UTF-16 text; save it as UTF-8.")
    guess = _looks_like(bytes(data))
    if guess is None:
        return InputError(f"{name} is not UTF-8 text; save it as UTF-8.")
    label, iconv = guess
    return InputError(f"{name} is not UTF-8 text (it looks like {label}); save it as UTF-8, "
                      f"e.g. iconv -f {iconv} -t UTF-8 FILE > FILE.utf8.txt")
