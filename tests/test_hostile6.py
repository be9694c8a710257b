"""Hostile inputs on outputs, /v1/align, speak and search (qa6): each test fails without the fix it names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tingshuo.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def cli(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


# ---- outputs never land on inputs (one check: util.InputFiles) ------------------------------------


def test_an_output_folder_linked_to_the_inputs_folder_never_replaces_an_input(tmp_path, data_dir):
    """``transcribe clips.json -o link`` (link -> the manifest's folder, format json): the transcript
    clips.json was written through the link over the manifest (the check compared absolute paths only)."""
    from tingshuo.asr.batch import Item, TranscriptSink
    from tingshuo.util import InputFiles

    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(data_dir / "jfk.wav", d / "clips.wav")
    (d / "clips.json").write_text(json.dumps({"audio": "clips.wav"}) + "\n")
    (tmp_path / "link").symlink_to(d)
    sink = TranscriptSink(tmp_path / "link", ["json"])
    item = Item(str(d / "clips.wav"), Path("clips"), None, None)
    with pytest.raises(InputError, match="Refusing to overwrite input"):
        sink.pending([item], False, protect=[str(d / "clips.json")])
    guard = InputFiles([d / "clips.wav"])
    os.link(d / "clips.wav", tmp_path / "hard.wav")
    assert tmp_path / "link" / "clips.wav" in guard and tmp_path / "hard.wav" in guard
    assert d / "clips.txt" not in guard and "-" not in InputFiles(["-"])


def test_indexing_into_the_recordings_folder_keeps_a_recording_called_vectors(tmp_path):
    """``tingshuo index rec/ --index rec/``: the vector cache's clean-up deleted every ``vectors.*`` but its
    own generation — the recording rec/vectors.wav went with it (and --rebuild counted it as the index's)."""
    from tingshuo.search.vectors import is_cache_file

    for name in ("vectors.wav", "vectors.mp3", "vectors.json.bak", "vectors.1.f16"):
        assert not is_cache_file(name), name
    for name in ("vectors.json", "vectors.12-34-56.f16", "vectors.12-34-56.ids", "vectors.12-34-56.codes",
                 "vectors.json.12-34-56.tmp"):
        assert is_cache_file(name), name
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(REPO / "tests" / "data" / "cathy_a0001.wav", rec / "vectors.wav")
    shutil.copy(REPO / "tests" / "data" / "cathy_a0005.wav", rec / "b.wav")
    r = cli("index", rec, "--index", rec, "-q")
    assert r.returncode == 0, r.stderr
    assert (rec / "vectors.wav").read_bytes() == (REPO / "tests" / "data" / "cathy_a0001.wav").read_bytes()
    assert any(is_cache_file(p.name) and p.suffix == ".f16" for p in rec.iterdir())
