"""inspect under attack: the bad-input corpus, a worker that crashes, kill -9 and resume, long files.

The CLI runs as a subprocess where a crash, a traceback or an orphan process is what is tested.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tingshuo.audio.io import load_audio
from tingshuo.errors import TingshuoError
from tingshuo.testing import white_noise, write_wav

FAST = ["--no-asr", "--no-dnsmos"]


def inspect_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tingshuo", "inspect", *args], capture_output=True,
                          timeout=timeout, env={**os.environ, "PYTHONIOENCODING": "utf-8:backslashreplace"})


def results(out: Path) -> list[dict]:
    with open(out / "results.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def shown(path) -> str:
    """A path as an error line prints it (a name that is not UTF-8 comes out escaped)."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


# ------------------------------------------------------------------------------ the corpus

def test_bad_input_corpus(tmp_path):
    from tingshuo.testing.badaudio import make_corpus

    cases = make_corpus(tmp_path / "corpus", long_s=30.0)
    out = tmp_path / "out"
    proc = inspect_cli(str(tmp_path / "corpus"), "-o", str(out), *FAST, "--jobs", "2", "--quiet")
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, err[-2000:]
    assert "Traceback" not in err and "unexpected" not in err
    lines = err.splitlines()
    assert lines[-1].startswith("error: ") and "could not be read" in lines[-1]
    assert all(line.startswith("error: ") for line in lines), lines  # --quiet: nothing but errors
    by_path = {r["audio"]: r for r in results(out)}
    for case in cases:
        r = by_path.get(os.fsdecode(case.path))
        said = [line for line in lines[:-1] if shown(case.path) + " " in line or shown(case.path) + ":" in line]
        if case.expect_ok:
            assert r is not None and r["metrics"]["readable"] == 1, (case.kind, r and r["metrics"].get("error"))
            assert r["grade"] in ("high", "medium", "low") and not said, case.kind
        else:
            assert len(said) == 1, (case.kind, said)  # one line per bad input
            assert r is None or (r["metrics"]["readable"] == 0 and r["grade"] == "low"), case.kind
    # inspect's verdict is the decoder's (what `transcribe` accepts, inspect grades; what it refuses, inspect too)
    for r in by_path.values():
        try:
            load_audio(r["audio"], None)
            decoded = True
        except TingshuoError:
            decoded = False
        assert decoded == bool(r["metrics"]["readable"]), r["audio"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_unreadable"] == sum(1 for r in by_path.values() if not r["metrics"]["readable"])
    assert (out / "report.html").is_file() and not (out / "results.jsonl.partial").exists()


def test_clips_shorter_than_a_fingerprint(tmp_path, data_dir):
    """The 0.01 s clip that once ended the run ('not enough values to unpack')."""
    from tingshuo.quality import Clip, InspectOptions, inspect_clips
    from tingshuo.quality.dedupe import fingerprint

    words, loud, weak = fingerprint(np.zeros(100, np.float32), with_weak=True)
    assert words.size == loud.size == weak.size == 0
    x = load_audio(data_dir / "cathy_a0001.wav").samples
    clips = [write_wav(tmp_path / f"tiny{i}.wav", x[:n]) for i, n in enumerate((160, 1000, 2100, 2400))]
    clips.append(write_wav(tmp_path / "ok.wav", x))
    res = inspect_clips([Clip(str(p)) for p in clips], InspectOptions(asr=False, dnsmos=False, jobs=1))
    assert [r.metrics["readable"] for r in res] == [1] * 5
    assert res[0].grade == "low" and res[-1].grade == "high"


# ------------------------------------------------------------------------------ workers

def _die_on_bang(path: str) -> str:
    if path == "bang":
        os.kill(os.getpid(), signal.SIGKILL)  # a native crash or the OOM killer: the process is gone
    return path.upper()


def test_a_crashing_item_is_its_own_result():
    from tingshuo.quality.workers import LocalExecutor, WorkerCrashed

    tasks = [(i, (p,)) for i, p in enumerate(["a", "b", "bang", "c", "d", "e"])]
    with LocalExecutor(2) as ex:
        got = dict(ex.map(_die_on_bang, tasks))
    assert isinstance(got.pop(2), WorkerCrashed)
    assert got == {0: "A", 1: "B", 3: "C", 4: "D", 5: "E"} and ex.crashes == 1


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the worker processes")
def test_kill_minus_9_and_resume(tmp_path, data_dir):
    from tingshuo.audio.resample import resample

    speech = load_audio(data_dir / "cathy_a0001.wav").samples
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(16):  # 15 s each, all different: played 4 % faster each (no two are near-duplicates)
        fast = resample(speech, round(16000 * (0.7 + 0.04 * i)), 16000)
        x = np.tile(fast, 15 * 16000 // fast.size + 1)[: 15 * 16000] + white_noise(15.0, amplitude=0.002, seed=i)
        write_wav(clips / f"c{i:02d}.wav", x)
    clean = tmp_path / "clean"
    assert inspect_cli(str(clips), "-o", str(clean), *FAST, "--jobs", "2", "--quiet").returncode == 0

    out = tmp_path / "out"
    kill_at = random.Random(os.getpid()).randint(3, 8)
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", "inspect", str(clips), "-o", str(out), *FAST,
                             "--jobs", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done, workers = 0, set()
    deadline = time.time() + 120
    while done < kill_at and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
        workers |= _children(proc.pid)
        if (out / "store.sqlite").exists():
            try:
                with sqlite3.connect(f"file:{out / 'store.sqlite'}?mode=ro", uri=True, timeout=1) as db:
                    done = db.execute("SELECT count(*) FROM signal").fetchone()[0]
            except sqlite3.OperationalError:  # the table is not there yet
                pass
    assert proc.poll() is None, "the run finished before it could be killed"
    workers |= _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert workers, "no worker processes seen"
    deadline = time.time() + 3
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not [p for p in workers if _alive(p)], "worker processes outlived their killed parent"

    rerun = inspect_cli(str(clips), "-o", str(out), *FAST, "--jobs", "2", "--quiet")
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    stats = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert stats["signal_cached"] >= done  # every clip committed before the kill came from the store
    assert stats["signal_cached"] + stats["signal_computed"] == 16
    assert results(out) == results(clean)
    assert not any(r["metrics"].get("duplicate_audio") for r in results(clean))  # the clips are distinct
    assert not (out / "results.jsonl.partial").exists()


# ------------------------------------------------------------------------------ long files

def _long_wav(path: Path, speech: np.ndarray, seconds: float) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", 16000, 1, "PCM_16") as f:
        done, n = 0, int(seconds * 16000)
        while done < n:
            piece = np.concatenate([speech * rng.uniform(0.3, 1.0), np.zeros(8000, np.float32)])[: n - done]
            f.write(piece)
            done += piece.size
    return path


def test_memory_does_not_grow_with_length(tmp_path, data_dir, monkeypatch):
    """Python-side peak memory (numpy included) of a 30 s and a 120 s file: the same.

    Holding the longer file's 16 kHz samples once would add 5.8 MB; the whole-file version this
    replaced peaked at 4 MB more per second of audio. The bandwidth meter's exact mode (spectra of
    its first 4096 frames) is shortened so both files are past it.
    """
    from tingshuo.quality import checks
    from tingshuo.quality.measure import measure_file

    monkeypatch.setattr(checks.Bandwidth, "EXACT_FRAMES", 64)
    speech = load_audio(data_dir / "cathy_a0001.wav").samples
    measure_file(str(write_wav(tmp_path / "warm.wav", speech)), False)  # models and caches load here
    peaks = {}
    for seconds in (30, 120):
        path = _long_wav(tmp_path / f"l{seconds}.wav", speech, seconds)
        tracemalloc.start()
        r = measure_file(str(path), False)
        peaks[seconds] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        assert r.readable and r.metrics["duration_s"] == pytest.approx(seconds)
        assert r.metrics["speech_ratio"] > 0.5 and r.words.size > 1000
    assert peaks[120] - peaks[30] < 1.5, peaks
    assert peaks[120] < 64, peaks


def test_block_size_changes_no_metric(data_dir):
    """Streaming is exact: runs that span blocks (clipping, dropouts), frames, fingerprints, hashes."""
    from tingshuo.audio.resample import resample
    from tingshuo.quality.checks import ClipAudio, metrics_of, signal_meters
    from tingshuo.quality.measure import _Duplicates
    from tingshuo.quality.stream import run_stream

    x = load_audio(data_dir / "cathy_a0001.wav").samples
    x = np.concatenate([x, x * 0.5, np.zeros(8000, np.float32), x])
    y = np.clip(resample(x, 16000, 44100) * 6, -1, 1)
    for f in (0.2, 0.35, 0.5, 0.7, 0.9):  # 50 ms dropouts inside speech
        a = int(f * y.size)
        y[a:a + 2205] = 0.0
    clip = ClipAudio.from_array(y, 44100)
    ref = None
    for block_s in (1000.0, 1.0, 0.0317):
        st = run_stream(clip, signal_meters(False) + [_Duplicates], block_s=block_s)
        got = (metrics_of(st), st.meters[-1].fp.result()[0], st.meters[-1].sha.hexdigest())
        if ref is None:
            ref = got
            assert got[0]["dropout_count"] == 5 and got[0]["clip_runs"] > 0
            continue
        numbers = {k for k, v in ref[0].items() if isinstance(v, float)}
        assert {k: v for k, v in got[0].items() if k not in numbers} == \
            {k: v for k, v in ref[0].items() if k not in numbers}
        assert {k: got[0][k] for k in numbers} == pytest.approx({k: ref[0][k] for k in numbers}, rel=1e-9)
        assert np.array_equal(got[1], ref[1]) and got[2] == ref[2]


def test_dnsmos_windows_are_a_bounded_even_sample():
    from tingshuo.quality.dnsmos import WindowSampler

    def starts(seconds: float, max_windows: int = 8) -> list[int]:
        s = WindowSampler(max_windows=max_windows)
        x = np.arange(int(seconds * 16000), dtype=np.float32)
        for i in range(0, x.size, 7777):
            s.push(x[i:i + 7777])
        return [int(w[0]) // 16000 for w in s.windows(x.size)]

    assert starts(15.0) == [0, 1, 2, 3, 4, 5]  # speechmos: one window per second while 9.01 s fit
    many = starts(3600.0)
    assert 4 <= len(many) <= 8 and many[0] == 0 and many[-1] > 2500
    assert len({b - a for a, b in zip(many, many[1:])}) == 1  # evenly spaced
    short = WindowSampler()
    short.push(np.ones(5 * 16000, np.float32))
    assert [w.size for w in short.windows(5 * 16000)] == [int(9.01 * 16000)]  # repeated to fill a window


# ------------------------------------------------------------------------------ flags

def test_bad_flags_and_output_folder(tmp_path, data_dir):
    clip = str(data_dir / "cathy_a0001.wav")
    (tmp_path / "file").write_text("x")
    for args in (["--jobs", "-1"], ["--asr-threads", "-1"], ["--jobs", "100000"], ["--jobs", "two"],
                 ["-o", str(tmp_path / "file" / "sub")]):
        argv = [clip, *FAST, *args] + ([] if "-o" in args else ["-o", str(tmp_path / "o")])
        proc = inspect_cli(*argv)
        err = proc.stderr.decode()
        assert proc.returncode in (1, 2), (args, err)
        assert len(err.strip().splitlines()) == 1 and "unexpected" not in err and "Traceback" not in err, err


def test_power_histogram_matches_sorting():
    from tingshuo.quality.accumulate import PowerHistogram

    rng = np.random.default_rng(3)
    p = np.concatenate([10 ** rng.uniform(-9, -1, 5000), np.zeros(40), 10 ** rng.uniform(-3, -2, 500)])
    h = PowerHistogram()
    for part in np.array_split(p, 7):
        h.add(part)
    srt = np.sort(p)
    for k in (1, 40, 41, 550, 2000):
        assert h.mean_quietest(k) == pytest.approx(srt[:k].mean(), rel=3e-3)
        assert h.mean_loudest(k) == pytest.approx(srt[-k:].mean(), rel=3e-3)
