"""An index made by an older tingshuo (round 3's units: Mandarin cut at sentences only, no joined-number
terms, no ``files.units_version``) gets its units made anew from the words it stored — by a plain
`tingshuo index --index LIB`, without recognition, keeping the vectors of units whose text did not
change, one file per transaction (a kill in the middle loses nothing; the next run does the rest)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tingshuo.testing import models_installed

pytestmark = pytest.mark.skipif(not models_installed(), reason="needs the models extra")


def _srt(cues) -> str:
    def ts(s):
        return f"00:{int(s // 60):02d}:{int(s % 60):02d},{int(round(s % 1 * 1000)):03d}"
    return "\n".join(f"{k}\n{ts(a)} --> {ts(b)}\n{t}\n" for k, (a, b, t) in enumerate(cues, 1))


FILES = {  # name: cues (on jfk.wav, 11 s)
    "a_en": [(0.2, 4.0, "The harbour lantern was lit at dusk, and the boats came home."),
             (4.5, 9.0, "Nobody in the village had seen a storm like that one.")],
    "b_zh": [(0.2, 5.0, "空调温度设定29度,要求国际奥委会停用。换一首歌,我想听周杰伦的歌。"),
             (5.5, 10.0, "我的电话是13 74 00 5 22 46,请记下来。")],
    "c_zh": [(0.5, 6.0, "今天下午三点开会,请大家准时到会议室。")],
    "d_empty": [],  # an empty subtitle file: a file with no words
}


def _passages(lib: Path) -> dict:
    con = sqlite3.connect(str(lib / "index.sqlite"))
    rows = con.execute("SELECT f.path, p.unit_lo, p.unit_hi, p.start_s, p.end_s, p.text, p.lex, p.py, p.words "
                       "FROM passages p JOIN files f ON f.id = p.file_id ORDER BY f.path, p.unit_lo").fetchall()
    vecs = {(Path(p).name, u): np.frombuffer(v, np.float16) for p, u, v in con.execute(
        "SELECT f.path, v.unit, v.vec FROM unit_vectors v JOIN files f ON f.id = v.file_id")}
    con.close()
    return {"rows": [(Path(r[0]).name, *r[1:]) for r in rows], "vecs": vecs}


def test_an_index_from_older_units_is_made_anew_from_its_stored_words(tmp_path, data_dir, monkeypatch):
    from tingshuo.search import document, index, passages
    from tingshuo.search.index import Index

    src = tmp_path / "src"
    src.mkdir()
    for name, cues in FILES.items():
        shutil.copy(data_dir / "jfk.wav", src / f"{name}.wav")
        (src / f"{name}.srt").write_text(_srt(cues))
    fresh = Index(tmp_path / "fresh")
    assert fresh.add([src]).added == 4
    fresh.close()

    # The old index: round 3's units and terms, then its files table and meta as round 3 left them.
    with monkeypatch.context() as m:
        m.setattr(passages, "ZH_CLAUSES", False)
        m.setattr(passages, "MIN_UNIT", {"en": 5, "zh": 8})
        m.setattr(document, "joined_numbers", lambda toks: [])
        old = Index(tmp_path / "lib")
        assert old.add([src]).added == 4
        old.close()
    con = sqlite3.connect(str(tmp_path / "lib" / "index.sqlite"))
    con.executescript("ALTER TABLE files DROP COLUMN units_version; DELETE FROM meta WHERE key='units_version';")
    con.close()
    before, want = _passages(tmp_path / "lib"), _passages(tmp_path / "fresh")
    assert before["rows"] != want["rows"]  # the old units differ (else this test proves nothing)

    # No recognition and no transcript read: only the stored words. Stopped after the first file.
    def no(*_a, **_k):
        raise AssertionError("the units must be made from the stored words")

    lib = Index(tmp_path / "lib")
    monkeypatch.setattr(Index, "transcriber", no)
    monkeypatch.setattr(index, "sidecar_transcript", no)
    embedded: list[int] = []
    real_passages = lib.embedder.passages
    monkeypatch.setattr(lib.embedder, "passages", lambda texts: embedded.append(len(texts)) or real_passages(texts))
    real_write = lib.store.write_file
    writes: list[int] = []

    def write_then_die(doc, **kw):
        writes.append(sum(embedded))
        if len(writes) == 2:
            raise KeyboardInterrupt  # a kill between two files
        return real_write(doc, **kw)

    monkeypatch.setattr(lib.store, "write_file", write_then_die)
    said = []
    with pytest.raises(KeyboardInterrupt):
        lib.add([], on_file=lambda status, path, msg: said.append((status, Path(path).name)))
    assert said[0][0] == "remaking" and said[1] == ("remade", "a_en.wav"), said
    assert writes[0] == 0  # the English file's units did not change: their vectors were kept, e5 not called
    lib.close()
    con = sqlite3.connect(str(tmp_path / "lib" / "index.sqlite"))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM files WHERE units_version = 2").fetchone()[0] == 1
    con.close()

    out = subprocess.run([sys.executable, "-m", "tingshuo", "index", "--index", str(tmp_path / "lib")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "remaking:" in out.stderr and "3 made anew from stored words" in out.stderr, out.stderr
    after = _passages(tmp_path / "lib")
    assert after["rows"] == want["rows"]  # what a fresh index of the same files holds: units, times, terms
    assert after["vecs"].keys() == want["vecs"].keys()
    for key, vec in want["vecs"].items():
        assert np.allclose(after["vecs"][key], vec, atol=2e-3), key
    again = subprocess.run([sys.executable, "-m", "tingshuo", "index", "--index", str(tmp_path / "lib")],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "remaking" not in again.stderr, again.stderr  # done once
    lib = Index(tmp_path / "lib")
    hit = lib.search("13740052246", top=1).hits[0]  # a joined-number term the old units lacked
    assert hit.audio.endswith("b_zh.wav") and "lexical" in hit.matched_by, hit
