"""The command line as a user meets it: outputs, resumption, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.testing import models_installed

needs_models = pytest.mark.skipif(not models_installed(), reason="needs the models extra")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_help_has_examples():
    out = run("--help")
    assert out.returncode == 0 and "examples:" in out.stdout
    out = run("transcribe", "--help")
    assert out.returncode == 0 and "--word-timestamps" in out.stdout and "examples:" in out.stdout


def test_models_lists_licences():
    out = run("models")
    assert out.returncode == 0
    assert "whisper-base" in out.stdout and "MIT" in out.stdout and "LICENCE" in out.stdout
    data = json.loads(run("models", "--json").stdout)
    assert {"name", "licence", "installed", "size_mb"} <= set(data[0])


@needs_models
def test_transcribe_folder_writes_outputs_and_resumes(tmp_path, data_dir):
    clips = tmp_path / "clips" / "sub"
    clips.mkdir(parents=True)
    for name in ("cathy_a0005.wav", "zh_aishell_S0724W0121.wav"):
        (clips / name).write_bytes((data_dir / name).read_bytes())
    out = tmp_path / "out"
    r = run("transcribe", tmp_path / "clips", "-o", out, "--format", "srt,json")
    assert r.returncode == 0, r.stderr
    assert (out / "sub" / "cathy_a0005.srt").exists() and (out / "sub" / "zh_aishell_S0724W0121.json").exists()
    data = json.loads((out / "sub" / "zh_aishell_S0724W0121.json").read_text())
    assert data["language"] == "zh" and data["segments"]
    assert "transcribed 2 files" in r.stderr
    again = run("transcribe", tmp_path / "clips", "-o", out, "--format", "srt,json", "--skip-existing")
    assert again.returncode == 0 and "nothing to do" in again.stderr


@needs_models
def test_one_bad_file_is_reported_and_the_rest_continue(tmp_path, data_dir):
    good = data_dir / "cathy_a0005.wav"
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00" * 2000)
    r = run("transcribe", good, bad, tmp_path / "missing.wav", "-o", tmp_path / "o", "-f", "txt",
            "--manifest-out", tmp_path / "asr.jsonl")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and any("bad.mp3" in e for e in errors) and any("missing.wav" in e for e in errors)
    assert (tmp_path / "o" / "cathy_a0005.txt").read_text().strip()
    rows = [json.loads(x) for x in (tmp_path / "asr.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["lang"] == "en"


@needs_models
def test_stdout_output(data_dir):
    r = run("transcribe", data_dir / "cathy_a0005.wav", "-o", "-", "-f", "json", "--quiet")
    assert r.returncode == 0 and json.loads(r.stdout)["language"] == "en"


def test_bad_arguments_are_one_line_errors(tmp_path, data_dir):
    r = run("transcribe", data_dir / "cathy_a0005.wav", "--model", "whisper-huge", "-o", tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "known models" in r.stderr
    r = run("transcribe", data_dir / "cathy_a0005.wav", "--format", "docx", "-o", tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("error: Unknown output format 'docx'")
    r = run("transcribe", tmp_path / "nothing-here", "-o", tmp_path)
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr
