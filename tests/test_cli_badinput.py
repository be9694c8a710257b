"""The bad-input corpus and hostile arguments through the command line, as a user meets them.

One line per bad input, no traceback, exit 1 when anything failed, every good input processed;
a run killed with SIGKILL resumes to the same outputs as a clean run, with no partial files.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tingshuo.testing import models_installed
from tingshuo.testing.badaudio import make_corpus, speechlike

needs_models = pytest.mark.skipif(not models_installed(), reason="needs the models extra")
ASR = "whisper-tiny.en"  # the point here is robustness, not recognition quality


def cli(*args, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, errors="backslashreplace", **kw)


def one_line_error(out: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "unexpected" not in lines[0] and "Traceback" not in out.stderr
    return lines[0]


@needs_models
def test_transcribe_the_whole_corpus_folder(tmp_path):
    cases = make_corpus(tmp_path / "corpus", long_s=20.0)
    out = cli("transcribe", tmp_path / "corpus", "-m", ASR, "--beam-size", "1", "-o", tmp_path / "out",
              "-f", "txt,json")
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert all(ln.startswith(("error: ", "transcribed ")) for ln in lines), lines  # nothing else leaks
    bad = [c for c in cases if not c.expect_ok]
    good = [c for c in cases if c.expect_ok]
    assert len(errors) == len(bad), "\n".join(errors)
    for case in bad:  # each refused input named on its line (a name that is not UTF-8 as Python escapes it)
        name = case.path.name.encode("utf-8", "backslashreplace").decode("utf-8")
        assert sum(name in ln for ln in errors) == 1, (case.kind, name, errors)
    txt = sorted((tmp_path / "out").glob("*.txt"))
    assert len(txt) == len(good), sorted(p.name for p in txt)
    assert f"{len(good)} files" in lines[-1] and f"{len(bad)} failed" in lines[-1]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


@needs_models
def test_the_eight_channel_wav_of_the_report(tmp_path):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "c8.wav", np.zeros((16000, 8)), 16000)  # the repro from issue 13, verbatim
    out = cli("transcribe", tmp_path / "c8.wav", "-m", ASR, "-o", tmp_path, "-f", "txt")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "c8.txt").exists()


def test_bad_numbers_and_unwritable_outputs_are_one_line(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "file").write_text("x")
    for args in (["transcribe", tmp_path / "a.wav", "--threads", "-1"],
                 ["transcribe", tmp_path / "a.wav", "--threads", "100000"],
                 ["transcribe", tmp_path / "a.wav", "--beam-size", "0"],
                 ["transcribe", tmp_path / "a.wav", "-o", tmp_path / "file" / "sub"],
                 ["transcribe", tmp_path / "a.wav", "-o", "/proc/no/such/dir"],
                 ["transcribe", tmp_path / "a.wav", "--manifest-out", tmp_path / "file" / "m.jsonl"],
                 ["speak", "hello", "--rate", "nan"],
                 ["speak", "hello", "-o", tmp_path / "file" / "x.wav"],
                 ["speak", "hello", "-o", tmp_path],
                 ["serve", "--port", "-1"], ["serve", "--max-upload-mb", "inf"], ["serve", "--cpu-threads", "-2"],
                 ["serve", "--decode-workers", "0"],
                 ["chat", "--text", "--max-turns", "-1"], ["chat", "--text", "--end-of-turn-s", "nan"],
                 ["chat", "--input", tmp_path / "a.wav", "-o", "/proc/no/such/dir"],
                 ["train", "decode", "run", "m.jsonl", "--beam", "0"]):
        out = cli(*args, timeout=120, stdin=subprocess.DEVNULL)
        assert out.returncode == 1, (args, out.stderr)
        one_line_error(out)


@needs_models
def test_transcribe_killed_mid_folder_resumes_to_the_same_outputs(tmp_path):
    import soundfile as sf

    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(14):
        sf.write(clips / f"clip{i:02d}.wav", speechlike(1.0 + 0.25 * (i % 4), seed=i), 16000)
    clean = cli("transcribe", clips, "-m", ASR, "--beam-size", "1", "-o", tmp_path / "clean", "-f", "txt,srt,json")
    assert clean.returncode == 0, clean.stderr

    out = tmp_path / "resumed"
    cmd = [sys.executable, "-m", "tingshuo", "transcribe", str(clips), "-m", ASR, "--beam-size", "1", "-o", str(out),
           "-f", "txt,srt,json", "--skip-existing"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(out.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(random.uniform(0.0, 0.3))  # a random point mid-folder
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*.json")))
    assert done_before < 14, "the run finished before it could be killed; the test proves nothing"
    assert not _alive(children), "processes outlived the killed run"

    rerun = cli(*cmd[3:])
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done_before} skipped" in rerun.stderr or done_before == 0
    clean_files = {p.name: p.read_bytes() for p in (tmp_path / "clean").iterdir()}
    resumed_files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert resumed_files == clean_files  # same names (no temp or partial files) and same contents


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pids: list[int]) -> list[int]:
    time.sleep(0.5)
    alive = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                alive.append(pid)
        except OSError:
            pass
    return alive


# ------------------------------------------------------------------------------------ speak

def test_odd_texts_through_the_speech_front_end():
    from tingshuo.tts.normalize import normalize
    from tingshuo.tts.text import sayable_part

    assert normalize("Add ½ cup, see № 5.") == "Add one half cup, see number five."
    assert normalize("加入½杯水，№5号房间。") == "加入二分之一杯水，第五号房间。"
    assert "two and one half" in normalize("Mix 2½ cups.")
    for text, script in (("Привет, мир", "Cyrillic"), ("مرحبا بالعالم", "Arabic"), ("こんにちは", "Japanese kana"),
                         ("안녕하세요", "Hangul"), ("😀", "symbols"), ("שלום", "Hebrew")):
        kept, skipped = sayable_part(f"Hello {text} world.")
        assert skipped == [(text, script)] and kept.split() == ["Hello", "world."], (text, kept, skipped)
    assert sayable_part("a\x00b\x07c\u200bd")[0] == "a b cd"
    assert sayable_part("Ｈｅｌｌｏ１２")[0] == "Hello12"
    assert sayable_part("café, naïve, 你好!") == ("café, naïve, 你好!", [])


def _has_voice(name: str) -> bool:
    from tingshuo.tts import voices

    return any(v.name == name and v.installed for v in voices())


needs_en = pytest.mark.skipif(not _has_voice("en-joe"), reason="needs the en-joe voice (models extra)")


@needs_en
def test_speak_says_what_it_leaves_out_and_refuses_text_with_nothing_sayable(tmp_path):
    from tingshuo.errors import InputError
    from tingshuo.tts import synthesize_stream

    notes = []
    chunks = list(synthesize_stream("Hello there. Привет, мир. مرحبا. Goodbye 😀.", "en-joe",
                                    on_skip=lambda s, pieces: notes.append(pieces)))
    assert [c.text for c in chunks if c.text] == ["Hello there.", "Goodbye 😀."]
    assert [p[0][1] for p in notes] == ["Cyrillic", "Arabic", "symbols"]
    for text in ("Привет, как дела?", "こんにちは", "😀😀😀", "\x00\x01\x02", "… — !!! ？", "‮‭"):
        with pytest.raises(InputError, match="nothing to speak|empty"):
            next(synthesize_stream(text, "en-joe"))
    big = "Это очень длинный текст без английских слов. " * 1300 + "Hello."  # over 100 kB of UTF-8
    assert len(big.encode()) > 100_000
    chunks = list(synthesize_stream(big, "en-joe", on_skip=lambda *a: None))
    assert [c.text for c in chunks if c.text] == ["Hello."]

    out = cli("speak", "--text-file", _write(tmp_path / "mixed.txt", big), "-o", tmp_path / "m.wav", timeout=300)
    assert out.returncode == 0, out.stderr
    warnings = [ln for ln in out.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 6 and "were left out" in warnings[-1]  # five named, then one sum
    out = cli("speak", "Привет, как дела?", "-o", tmp_path / "ru.wav", timeout=300)
    assert out.returncode == 1 and "Cyrillic" in one_line_error(out)
    assert not (tmp_path / "ru.wav").exists()
    out = cli("speak", "--text-file", _write(tmp_path / "nul.txt", "Hello\x00 world.\x07"), "-o",
              tmp_path / "nul.wav", timeout=300)
    assert out.returncode == 0 and (tmp_path / "nul.wav").exists(), out.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@needs_en
def test_sigterm_during_speak_leaves_no_part_file(tmp_path):
    book = _write(tmp_path / "book.txt", " ".join(f"This is sentence {i} of a long book." for i in range(300)))
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", "speak", "--text-file", str(book), "-o",
                             str(tmp_path / "book.mp3")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".book.mp3.*.part")):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.txt"]
