"""End-to-end recognition on the bundled real clips (needs the models extra; make test has it)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tingshuo.asr.base import TranscribeOptions
from tingshuo.audio.io import load_audio
from tingshuo.errors import AudioDecodeError, InputError
from tingshuo.testing import white_noise


def wer(ref: str, hyp: str) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    n = EnglishTextNormalizer()
    return jiwer.wer(n(ref), n(hyp))


def cer(ref: str, hyp: str) -> float:
    import jiwer

    clean = lambda s: re.sub(r"[\W_]+", "", s)  # noqa: E731
    return jiwer.cer(clean(ref), clean(hyp))


def test_english_wer_bound(transcriber, data_dir, references):
    t = transcriber.transcribe(data_dir / "jfk.wav")
    assert t.language == "en" and t.language_probability > 0.5
    assert wer(references["jfk.wav"]["text"], t.text) <= 0.10
    assert abs(t.duration_s - 11.0) < 0.01


def test_mandarin_is_simplified_with_punctuation(transcriber, data_dir, references):
    for name in ("zh_funasr_example.wav", "zh_aishell_S0724W0121.wav"):
        t = transcriber.transcribe(data_dir / name)
        assert t.language == "zh"
        assert cer(references[name]["text"], t.text) <= 0.25, t.text
    t = transcriber.transcribe(data_dir / "zh_funasr_example.wav")
    assert "体验" in t.text and "體驗" not in t.text
    trad = transcriber.transcribe(data_dir / "zh_funasr_example.wav", chinese_script="traditional")
    assert "體驗" in trad.text


def test_segment_and_word_times_are_exact_to_the_file(transcriber, data_dir):
    speech = load_audio(data_dir / "jfk.wav").samples
    shifted = np.concatenate([np.zeros(7 * 16000, np.float32), speech, np.zeros(3 * 16000, np.float32)])
    a = transcriber.transcribe(speech, word_timestamps=True)
    b = transcriber.transcribe(shifted, word_timestamps=True)
    assert abs(b.duration_s - 21.0) < 0.01
    wa = [w for s in a.segments for w in s.words]
    wb = [w for s in b.segments for w in s.words]
    # the same words (Whisper may place a comma differently when the chunk's edges move)
    bare = lambda ws: [re.sub(r"[^\w']", "", w.text).lower() for w in ws]  # noqa: E731
    assert len(wa) >= 20 and bare(wa) == bare(wb)
    diffs = [w2.start_s - w1.start_s for w1, w2 in zip(wa, wb)]
    assert abs(float(np.median(diffs)) - 7.0) < 0.15
    starts = [w.start_s for w in wb]
    assert starts == sorted(starts) and starts[0] >= 6.5 and wb[-1].end_s <= 18.2
    for seg in b.segments:
        assert seg.start_s <= seg.words[0].start_s + 0.01 and seg.end_s >= seg.words[-1].end_s - 0.01


def test_silence_and_noise_give_no_text(transcriber, data_dir):
    assert transcriber.transcribe(np.zeros(5 * 16000, np.float32)).text == ""
    assert transcriber.transcribe(white_noise(5.0, amplitude=0.05)).text == ""
    assert transcriber.transcribe(data_dir / "silence_48k.wav").text == ""
    assert transcriber.transcribe(data_dir / "noise_cafe.wav").text == ""


def test_many_files_one_broken(transcriber, data_dir, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    sources = [data_dir / "cathy_a0005.wav", bad, data_dir / "zh_aishell_S0724W0121.wav",
               data_dir / "cathy_a0001.wav"]
    results = dict(transcriber.transcribe_many(sources))
    assert sorted(results) == [0, 1, 2, 3]
    assert isinstance(results[1], AudioDecodeError) and "broken.wav" in str(results[1])
    assert "forget" in results[0].text.lower()
    assert results[2].language == "zh" and results[3].language == "en"


def test_given_language_is_used(transcriber, data_dir):
    t = transcriber.transcribe(data_dir / "cathy_a0001.wav", language="en")
    assert t.language == "en" and t.language_probability == 1.0
    with pytest.raises(InputError, match="Unknown language code 'xx'"):
        transcriber.transcribe(data_dir / "cathy_a0001.wav", language="xx")


def test_translate_to_english(transcriber, data_dir):
    t = transcriber.transcribe(data_dir / "zh_funasr_example.wav", task="translate")
    assert t.text and all(ord(ch) < 0x3000 for ch in t.text)


def test_top_level_api(data_dir):
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the models extra")
    import tingshuo

    t = tingshuo.transcribe(str(data_dir / "cathy_a0005.wav"), beam_size=1)
    assert "forget" in t.text.lower()
    with pytest.raises(InputError):
        tingshuo.transcribe(str(data_dir / "cathy_a0005.wav"), beams=2)


def test_english_only_model_refuses_mandarin(data_dir):
    from tingshuo import models
    from tingshuo.asr.pipeline import Transcriber

    if not models.is_installed("whisper-tiny.en"):
        pytest.skip("needs the models extra")
    tiny = Transcriber("whisper-tiny.en")
    assert "forget" in tiny.transcribe(data_dir / "cathy_a0005.wav").text.lower()
    with pytest.raises(InputError, match="English-only"):
        tiny.transcribe(data_dir / "cathy_a0005.wav", TranscribeOptions(language="zh"))
