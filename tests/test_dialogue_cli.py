"""`tingshuo chat` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.testing import models_installed

needs_models = pytest.mark.skipif(not models_installed(), reason="needs the models extra")


def chat(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tingshuo", "chat", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=600)


def test_help_has_examples():
    r = chat("--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--kb" in r.stdout


@needs_models
def test_text_mode_answers_in_the_callers_language():
    r = chat("--kb", "bank", "--text", "-v", stdin="What are your opening hours?\n营业时间是几点？\n转人工\n")
    assert r.returncode == 0, r.stderr
    answers = [line for line in r.stdout.splitlines() if line.startswith("assistant:")]
    assert len(answers) == 3
    assert "9 am" in answers[0] and "9点" in answers[1] and "人工" in answers[2]
    assert "transferring to a human agent" in r.stderr and "brain_first_token" in r.stderr


def test_bad_kb_is_a_one_line_error(tmp_path):
    kb = tmp_path / "kb.yaml"
    kb.write_text("entries:\n  - id: a\n    questions: [hi]\n")
    r = chat("--kb", kb, "--text", stdin="hello\n")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: {kb} line 2: entry 'a' has no answer."


def test_missing_mode_and_missing_output_dir(tmp_path, data_dir):
    r = chat("--kb", "bank")
    assert r.returncode == 1 and "--input AUDIO" in r.stderr
    r = chat("--kb", "bank", "--input", data_dir / "jfk.wav")
    assert r.returncode == 1 and "--output-dir" in r.stderr
    r = chat("--kb", "bank", "--brain", "openai", "--text")
    assert r.returncode == 1 and "--llm-url" in r.stderr


@needs_models
def test_file_turns_write_transcript_json(tmp_path, data_dir):
    out = tmp_path / "chat"
    r = chat("--kb", "bank", "-i", data_dir / "zh_aishell_S0724W0121.wav", "-i", data_dir / "noise_cafe.wav",
             "-o", out, "--no-speak")
    assert r.returncode == 0, r.stderr
    conv = json.loads((out / "conversation.json").read_text())
    assert conv["caller_transcripts"][0]["language"] == "zh"
    assert conv["caller_transcripts"][1].get("no_speech")
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "assistant"]
    assert conv["metrics"][0]["asr_ms"] > 0
