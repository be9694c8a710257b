"""index meets the bad-input corpus: one line per file it cannot take, the rest indexed and searchable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.testing import models_installed
from tingshuo.testing.badaudio import make_corpus

pytestmark = pytest.mark.skipif(not models_installed(), reason="needs the models extra")
MODEL = "whisper-tiny.en"  # robustness, not accuracy


def _cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, errors="backslashreplace")


def test_index_over_the_bad_input_corpus(tmp_path, data_dir):
    import soundfile as sf

    speech, rate = sf.read(data_dir / "jfk.wav", dtype="float32")
    cases = make_corpus(tmp_path / "corpus", long_s=12.0, speech=speech[: int(2.4 * rate)])
    lib = tmp_path / "lib"
    out = _cli("index", tmp_path / "corpus", "--index", lib, "-m", MODEL)
    assert out.returncode == 1, out.stderr  # unreadable files in the corpus: not a success
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr, out.stderr[-2000:]
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error: ")]
    for case in cases:
        name = case.path.name.encode("utf-8", "backslashreplace").decode("utf-8")
        if not case.expect_ok:  # every file the decoder refuses is named on exactly one line
            assert sum(name in ln for ln in errors) == 1, (case.kind, name, errors)
    not_utf8 = [ln for ln in errors if "the file name is not UTF-8" in ln]
    assert not_utf8 and all("\\udc" in ln for ln in not_utf8)  # named as Python escapes them, then skipped
    summary = [ln for ln in out.stderr.splitlines() if " added, " in ln][-1]
    added, failed = int(summary.split()[0]), len(errors)
    assert added > 0 and added + failed == len(cases), (summary, failed, len(cases))
    assert f"{failed} failed" in summary

    found = _cli("search", "fellow Americans", "--index", lib, "--format", "json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"], "the readable clips say 'fellow Americans' and were not found"
    again = _cli("index", tmp_path / "corpus", "--index", lib, "-m", MODEL)  # a rerun redoes nothing
    assert again.returncode == 1 and f"{added} unchanged" in again.stderr, again.stderr[-500:]


def test_index_refuses_devices_and_pipes_instead_of_hanging(tmp_path, data_dir):
    """A FIFO named like audio in a folder, and /dev/zero given by path: the content hash read them
    forever (a server with --index-paths spun one core at 100 % and held the index lock)."""
    import os
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(data_dir / "cathy_a0005.wav", src / "ok.wav")
    (src / "ok.srt").write_text("1\n00:00:00,100 --> 00:00:01,600\nWill we ever forget it?\n")  # no recognition
    os.mkfifo(src / "pipe.wav")
    args = [src] + (["/dev/zero"] if os.path.exists("/dev/zero") else [])
    try:
        out = _cli("index", *args, "--index", tmp_path / "lib", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("index hung on a pipe or a device")
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr, out.stderr[-2000:]
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error: ")]
    assert any("pipe.wav" in ln and "not a regular file" in ln for ln in errors), errors
    if len(args) > 1:
        assert any("/dev/zero" in ln and "not a regular file" in ln for ln in errors), errors
    assert "1 added" in out.stderr, out.stderr[-500:]
