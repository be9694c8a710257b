import json

import pytest

from tingshuo.data.manifest import JsonlAppender, ManifestWriter, open_dataset
from tingshuo.errors import ManifestError


def test_our_jsonl_resolves_relative_paths(data_dir):
    ds = open_dataset(data_dir / "manifest.jsonl")
    assert ds.format == "jsonl"
    recs = list(ds)
    assert recs[0].audio == str(data_dir / "jfk.wav") and recs[0].lang == "en" and recs[0].line == 1


def test_nemo_jsonl(tmp_path):
    m = tmp_path / "nemo.jsonl"
    m.write_text(json.dumps({"audio_filepath": "a.wav", "text": "hi", "duration": 1.5}) + "\n")
    ds = open_dataset(m)
    rec = next(iter(ds))
    assert ds.format == "nemo" and rec.duration_s == 1.5 and rec.audio == str(tmp_path / "a.wav")


def test_bad_lines_name_the_line(tmp_path):
    m = tmp_path / "bad.jsonl"
    m.write_text('{"audio": "a.wav", "text": "ok"}\n{not json}\n{"text": "no audio"}\n')
    with pytest.raises(ManifestError, match="line 2: not valid JSON"):
        list(open_dataset(m))
    errors = []
    recs = list(open_dataset(m).records(on_error=errors.append))
    assert len(recs) == 1 and len(errors) == 2 and "line 3" in str(errors[1])


def test_kaldi_dir(tmp_path):
    (tmp_path / "wav.scp").write_text("u1 /data/u1.wav\nu2 rel/u2.flac\n")
    (tmp_path / "text").write_text("u1 hello world\nu2 你好\n")
    recs = list(open_dataset(tmp_path))
    assert [r.id for r in recs] == ["u1", "u2"] and recs[1].text == "你好"
    assert recs[1].audio == str(tmp_path / "rel/u2.flac")
    out = tmp_path / "keep"
    with ManifestWriter(out, "kaldi") as w:
        w.write(recs[1])
    assert (out / "wav.scp").read_text() == "u2 rel/u2.flac\n" and (out / "text").read_text() == "u2 你好\n"


def test_kaldi_pipes_are_refused(tmp_path):
    (tmp_path / "wav.scp").write_text("u1 sox a.wav -t wav - |\n")
    with pytest.raises(ManifestError, match="piped commands"):
        list(open_dataset(tmp_path))


def test_ljspeech(tmp_path):
    (tmp_path / "wavs").mkdir()
    (tmp_path / "metadata.csv").write_text("LJ001|Hello 1|Hello one\nLJ002|Bye|\n")
    recs = list(open_dataset(tmp_path))
    assert recs[0].text == "Hello one" and recs[1].text == "Bye"
    assert recs[0].audio == str(tmp_path / "wavs" / "LJ001.wav")


def test_directory_with_sidecar_texts(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"")
    (tmp_path / "a" / "x.txt").write_text("transcript\n")
    (tmp_path / "notes.md").write_text("not audio")
    recs = list(open_dataset(tmp_path))
    assert len(recs) == 1 and recs[0].text == "transcript" and recs[0].id == "a/x"


def test_writer_keeps_the_source_fields(tmp_path, data_dir):
    recs = list(open_dataset(data_dir / "manifest.jsonl"))
    with ManifestWriter(tmp_path / "out.jsonl", "jsonl") as w:
        w.write(recs[0])
    assert json.loads((tmp_path / "out.jsonl").read_text())["audio"] == "jfk.wav"


def test_appender_cuts_a_half_written_line(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"audio": "a"}\n{"audio": "b", "te')
    with JsonlAppender(p) as a:
        assert a.done_keys() == {"a"}
        a.write({"audio": "c"})
    assert p.read_text().splitlines() == ['{"audio": "a"}', '{"audio": "c"}']
