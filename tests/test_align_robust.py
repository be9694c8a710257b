"""align meets the bad-input corpus, and a kill -9 halfway through a manifest."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tingshuo.testing import models_installed
from tingshuo.testing.badaudio import make_corpus

pytestmark = pytest.mark.skipif(not models_installed(), reason="needs the models extra")
MODEL = "whisper-tiny.en"  # robustness, not accuracy
JFK_START = "And so my fellow Americans"  # what the first seconds of jfk.wav say


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "tingshuo", "align", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, errors="backslashreplace")


def _manifest(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_align_over_the_bad_input_corpus_is_one_line_per_failure(tmp_path, data_dir):
    import soundfile as sf

    speech, rate = sf.read(data_dir / "jfk.wav", dtype="float32")
    assert rate == 16000
    cases = make_corpus(tmp_path / "corpus", long_s=12.0, speech=speech[: int(2.4 * rate)])
    manifest = _manifest(tmp_path / "pairs.jsonl", [{"audio": str(c.path), "text": JFK_START} for c in cases])
    out = _cli(manifest, "-o", tmp_path / "out", "--model", MODEL, "-f", "json")
    assert out.returncode == 1, out.stderr  # the corpus holds unreadable files: not a success
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("aligned "), lines
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert all(ln.startswith(("error: ", "aligned ")) for ln in lines), lines  # nothing else leaks
    for case in cases:
        if not case.expect_ok:  # every input the decoder refuses is named on exactly one line
            name = case.path.name.encode("utf-8", "backslashreplace").decode("utf-8")
            assert sum(name in ln for ln in errors) == 1, (case.kind, name, errors)
    written = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "out").rglob("*.json")]
    assert written, "no readable clip of the corpus was aligned"
    assert len(written) + len(errors) == len(cases), (len(written), len(errors), len(cases))  # an output or an error each
    for doc in written:
        assert [w["text"] for w in doc["words"]] + [u["text"] for u in doc["unaligned"]]
        assert all(np.isfinite([w["start_s"], w["end_s"]]).all() for w in doc["words"])


def test_align_killed_mid_manifest_resumes_to_the_same_outputs(tmp_path, data_dir):
    import shutil

    text = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")
    rows = []
    for i in range(8):
        shutil.copy(data_dir / "jfk.wav", tmp_path / f"jfk{i}.wav")
        rows.append({"audio": str(tmp_path / f"jfk{i}.wav"), "text": text})
    manifest = _manifest(tmp_path / "pairs.jsonl", rows)
    common = ["--model", MODEL, "-f", "json,textgrid,srt", "--skip-existing", "-q"]
    clean = _cli(manifest, "-o", tmp_path / "clean", *common)
    assert clean.returncode == 0, clean.stderr

    out = tmp_path / "resumed"
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", "align", str(manifest), "-o", str(out), *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(out.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(random.uniform(0.0, 0.3))  # a random point mid-manifest
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*.json")))
    assert done_before < 8, "the run finished before it could be killed; the test proves nothing"

    rerun = _cli(manifest, "-o", out, *common)
    assert rerun.returncode == 0, rerun.stderr
    clean_files = {p.name: p.read_bytes() for p in (tmp_path / "clean").iterdir()}
    resumed_files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert resumed_files == clean_files  # same names (no temp or partial files), same contents


def test_text_said_fewer_times_than_written_gives_words_in_time_order(data_dir):
    """A Mandarin sentence written three times, said twice (silence before each): the second pass tries
    both ends of the long unaligned run in the same short gap, and both ends were kept — the words
    came out of text order in time (a later word before an earlier one, words of no duration)."""
    import soundfile as sf

    from tingshuo.align import align

    speech, rate = sf.read(data_dir / "zh_aishell_S0724W0121.wav", dtype="float32")
    gap = np.zeros(3 * rate, np.float32)
    audio = np.concatenate([gap, speech, gap, speech])
    if rate != 16000:
        pytest.skip("the clip is expected at 16 kHz")
    result = align(audio, "广州市房地产中介协会分析" * 3, language="zh")
    words = result.words
    assert words, "nothing aligned"
    for a, b in zip(words, words[1:]):
        assert b.offset > a.offset
        assert b.start_s >= a.end_s - 1e-3, (a, b)  # in text order in time, never overlapping
    assert all(w.end_s - w.start_s >= 0.01 for w in words), words
