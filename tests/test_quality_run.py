"""Whole runs: every input format, resume after a crash, duplicates, the report, the CLI."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tingshuo.audio.io import encode_audio, load_audio
from tingshuo.cli import main
from tingshuo.quality import Clip, InspectOptions, inspect_clips
from tingshuo.quality.dataset import inspect_dataset
from tingshuo.testing import write_wav
from tingshuo.types import Audio

FAST = InspectOptions(asr=False, dnsmos=False, jobs=1)
CLEAN = ["cathy_a0001.wav", "cathy_a0005.wav", "zh_aishell_S0724W0121.wav"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, data_dir) -> Path:
    """Three clean clips, a clipped one, a near-silent one, an exact and a re-encoded duplicate."""
    d = tmp_path_factory.mktemp("mixed")
    for name in CLEAN:
        shutil.copy(data_dir / name, d / name)
    x = load_audio(data_dir / "cathy_a0001.wav").samples
    write_wav(d / "z_clipped.wav", np.clip(x * 12, -1, 1))
    write_wav(d / "z_silent.wav", np.zeros(32000, np.float32) + 1e-4 * np.sin(np.arange(32000)))
    write_wav(d / "z_dup_copy.flac", x)  # libsndfile: the same 16-bit samples in FLAC
    (d / "z_dup_mp3.mp3").write_bytes(encode_audio(Audio(x[3000:] * 0.5, 16000), "mp3"))
    return d


def by_name(results):
    return {Path(r.audio).name: r for r in results}


def test_inspect_clips_grades_and_duplicates(mixed):
    clips = [Clip(str(p)) for p in sorted(mixed.iterdir())]
    res = by_name(inspect_clips(clips, FAST))
    for name in CLEAN:
        assert res[name].grade == "high", res[name].reasons
    assert res["z_clipped.wav"].grade == "low"
    assert any(f.check == "clipping" for f in res["z_clipped.wav"].findings)
    assert res["z_silent.wav"].grade == "low"
    assert res["z_dup_copy.flac"].metrics["duplicate_kind"] == "exact"
    assert res["z_dup_mp3.mp3"].metrics["duplicate_kind"] == "near"
    assert res["z_dup_mp3.mp3"].metrics["duplicate_of"].endswith("cathy_a0001.wav")
    d = res["z_clipped.wav"].to_dict()
    json.dumps(d)
    assert d["grade"] == "low" and d["findings"][0]["check"]


def _write_formats(root: Path, data_dir: Path) -> dict[str, Path]:
    rows = [json.loads(x) for x in open(data_dir / "manifest.jsonl", encoding="utf-8")]
    rows = [r for r in rows if r["audio"] in CLEAN]
    audio = root / "audio"
    audio.mkdir(parents=True)
    for r in rows:
        shutil.copy(data_dir / r["audio"], audio / r["audio"])
    ours = root / "ours.jsonl"
    ours.write_text("".join(json.dumps({"audio": "audio/" + r["audio"], "text": r["text"], "lang": r["lang"]}) + "\n"
                            for r in rows))
    nemo = root / "nemo.jsonl"
    nemo.write_text("".join(json.dumps({"audio_filepath": str(audio / r["audio"]), "text": r["text"],
                                        "duration": r["duration_s"]}) + "\n" for r in rows))
    kaldi = root / "kaldi"
    kaldi.mkdir()
    (kaldi / "wav.scp").write_text("".join(f"u{i} {audio / r['audio']}\n" for i, r in enumerate(rows)))
    (kaldi / "text").write_text("".join(f"u{i} {r['text']}\n" for i, r in enumerate(rows)))
    lj = root / "lj"
    (lj / "wavs").mkdir(parents=True)
    for i, r in enumerate(rows):
        shutil.copy(audio / r["audio"], lj / "wavs" / f"LJ{i}.wav")
    (lj / "metadata.csv").write_text("".join(f"LJ{i}|{r['text']}|{r['text']}\n" for i, r in enumerate(rows)))
    return {"jsonl": ours, "nemo": nemo, "kaldi": kaldi, "ljspeech": lj / "metadata.csv", "dir": audio}


def test_every_input_format(tmp_path, data_dir):
    inputs = _write_formats(tmp_path / "in", data_dir)
    before = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    for fmt, path in inputs.items():
        out = tmp_path / f"out-{fmt}"
        summary, stats = inspect_dataset([str(path)], out, FAST, report=False)
        assert stats.n_clips == 3, fmt
        lines = [json.loads(x) for x in open(out / "results.jsonl", encoding="utf-8")]
        assert len(lines) == 3 and all(x["grade"] in ("high", "medium", "low") for x in lines)
        if fmt == "kaldi":
            assert (out / "keep" / "wav.scp").is_file()
            keep = (out / "keep" / "wav.scp").read_text().split("\n")[0].split()[1]
            assert Path(keep).is_file()
        elif fmt == "ljspeech":
            assert (out / "keep.csv").read_text().startswith("LJ")
        else:
            kept = [json.loads(x) for x in open(out / "keep.jsonl", encoding="utf-8")]
            assert kept, fmt
            field = "audio_filepath" if fmt == "nemo" else "audio"
            assert all(Path(k[field]).is_file() for k in kept)
            if fmt == "nemo":
                assert "duration" in kept[0]
        assert summary.grades["high"] >= 2, (fmt, summary.reasons)
    after = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    assert before == after  # inputs untouched


class Crash(Exception):
    pass


def test_resume_after_interrupted_run(tmp_path, mixed):
    out = tmp_path / "out"
    calls = []

    def crash_after_three(item):
        calls.append(item.audio)
        if len(calls) == 3:
            raise Crash()

    with pytest.raises(Crash):
        inspect_dataset([str(mixed)], out, FAST, on_clip=crash_after_three, report=False)
    assert not (out / "results.jsonl").exists()
    summary, stats = inspect_dataset([str(mixed)], out, FAST, report=False)
    n = len(list(mixed.iterdir()))
    assert stats.signal_cached == 3 and stats.signal_computed == n - 3
    assert stats.n_clips == n
    # a grown dataset: only the new file is measured
    grown = tmp_path / "grown"
    shutil.copytree(mixed, grown)
    shutil.copy(mixed / "cathy_a0005.wav", grown / "new.wav")
    write_wav(grown / "new2.wav", load_audio(mixed / "zh_aishell_S0724W0121.wav").samples[::-1].copy())
    _, stats2 = inspect_dataset([str(grown)], out, FAST, report=False)
    assert stats2.signal_computed == 1  # new.wav has known content; only new2.wav is new
    assert stats2.n_clips == n + 2


def test_parallel_jobs_match_serial(tmp_path, mixed):
    serial = {Path(r.audio).name: r.grade for r in inspect_clips(sorted(mixed.iterdir()), FAST)}
    parallel = {Path(r.audio).name: r.grade
                for r in inspect_clips(sorted(mixed.iterdir()), InspectOptions(asr=False, dnsmos=False, jobs=2))}
    assert serial == parallel


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.imgs, self.audio = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "audio":
            self.audio.append(a.get("src", ""))
        if tag not in ("img", "meta", "br", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def test_report_renders_and_cli(tmp_path, mixed, capsys):
    out = tmp_path / "cli"
    rc = main(["inspect", str(mixed), "-o", str(out), "--no-asr", "--no-dnsmos", "--jobs", "1", "--quiet"])
    assert rc == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    p = _Checker()
    p.feed(page)
    assert p.stack == [] and p.tags[0] == "html"
    assert p.imgs and all(s.startswith("data:image/png;base64,") for s in p.imgs)
    import base64
    import re

    png = base64.b64decode(p.imgs[0].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    plotted = re.search(r"data-metrics='([^']+)'", page).group(1).split(",")
    assert {"clipped_fraction", "snr_db", "bandwidth_hz", "speech_ratio"} <= set(plotted)
    assert p.audio and all(s.startswith("data:audio/ogg;base64,") for s in p.audio)
    assert "Duplicate groups (1)" in page or "Duplicate groups (2)" in page
    assert "z_clipped.wav" in page
    for name in ("results.jsonl", "keep.jsonl", "review.jsonl", "drop.jsonl", "summary.json", "store.sqlite"):
        assert (out / name).exists(), name
    rc = main(["inspect", str(mixed), "-o", str(out), "--no-asr", "--no-dnsmos", "--jobs", "1"])
    captured = capsys.readouterr()
    assert rc == 0 and "high" in captured.out and "from the store" in captured.err


def test_cli_errors(tmp_path, mixed, capsys):
    assert main(["inspect", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not found" in err and len(err.splitlines()) == 1
    assert main(["inspect", str(mixed), "-o", str(tmp_path / "o"), "--profile", "bogus"]) == 1
    assert "asr-training" in capsys.readouterr().err
    assert main(["inspect", str(mixed), "-o", str(tmp_path / "o"), "--jobs", "x"]) == 1
    assert "jobs" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty), "-o", str(tmp_path / "o")]) == 1
    assert "No audio to inspect" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_transcript_checks_with_recogniser(tmp_path, data_dir, transcriber):
    clips = [Clip(str(data_dir / "cathy_a0001.wav"), "Author of the danger trail, Philip Steels, etc.", "en"),
             Clip(str(data_dir / "cathy_a0005.wav"), "Author of the danger trail, Philip Steels, etc.", "en"),
             Clip(str(data_dir / "zh_aishell_S0724W0121.wav"), "Will we ever forget it.", "en")]
    res = inspect_clips(clips, InspectOptions(dnsmos=False, jobs=1))
    assert res[0].grade == "high", res[0].reasons
    assert res[0].metrics["asr_error_rate"] < 0.3
    assert res[1].metrics["asr_error_rate"] > 0.6 and res[1].grade == "low"
    assert res[2].metrics["language_mismatch"] == 1 and res[2].metrics["detected_language"] == "zh"
    assert any(f.check == "duplicates" for f in res[1].findings)  # same transcript as clip 0, noted
