"""Transcript checks, profiles and duplicate fingerprints."""

from __future__ import annotations

import pytest

from tingshuo.errors import InputError
from tingshuo.quality.consistency import TextClip, error_rate, measure_text, text_language, units
from tingshuo.quality.grade import grade_of, load_profile


def test_units_and_error_rate():
    assert units("Hello, World! It's 3.", "en") == ["hello", "world", "it's", "three"]
    assert units("欢迎大家，來体验", "zh") == list("欢迎大家来体验")
    assert error_rate("one two three", "1, 2, 3.", "en")[0] == 0.0
    assert error_rate("the cat sat", "the dog sat", "en")[0] == pytest.approx(1 / 3)


def test_truncation_language_and_rate():
    text = "author of the danger trail philip steels etc"
    cut = measure_text(TextClip(text, "en", "Author of the danger", "en", 0.99, {"speech_s": 1.5}))
    assert cut["truncated"] == 1 and cut["asr_error_rate"] > 0.4
    full = measure_text(TextClip(text, "en", text, "en", 0.99, {"speech_s": 2.8}))
    assert full["truncated"] == 0 and full["asr_error_rate"] == 0 and full["language_mismatch"] == 0
    assert 2 < full["words_per_s"] < 3
    swapped = measure_text(TextClip(text, "en", "will we ever forget it", "en", 0.99, {"speech_s": 1.2}))
    assert swapped["truncated"] == 0 and swapped["asr_error_rate"] > 0.8
    wrong = measure_text(TextClip("广州市房地产中介协会分析", "zh", "Will we ever forget it?", "en", 0.97, {}))
    assert wrong["language_mismatch"] == 1
    assert measure_text(TextClip("hello there", "zh", None), asr_on=False)["language_mismatch"] == 1
    assert text_language("广州市") == "zh" and text_language("hi") == "en"


def test_profiles(tmp_path):
    asr, tts = load_profile("asr-training"), load_profile("tts-training")
    assert asr.judge("bandwidth_hz", 3800.0)[0].severity == "review"
    assert tts.judge("bandwidth_hz", 3800.0)[0].severity == "drop"
    assert asr.judge("duration_s", 5.0) == []
    assert grade_of(asr.judge("clipped_fraction", 0.01)) == "low"
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nthresholds:\n  max_clipped_fraction: {review: 0.5}\n")
    mine = load_profile(str(p))
    assert mine.name == "mine" and mine.judge("duration_s", 0.01) == []
    with pytest.raises(InputError, match="choose one of: asr-training, tts-training"):
        load_profile("asr")
    p.write_text("thresholds:\n  clipped: {review: 1}\n")
    with pytest.raises(InputError, match="min_ or max_"):
        load_profile(str(p))


def test_fingerprint_near_duplicates(data_dir):
    from tingshuo.audio.io import encode_audio, load_audio
    from tingshuo.quality.dedupe import bit_error_rate, fingerprint, pcm_hash
    from tingshuo.types import Audio

    a = load_audio(data_dir / "cathy_a0001.wav").samples
    b = load_audio(data_dir / "cathy_a0005.wav").samples
    mp3 = load_audio(encode_audio(Audio(a * 0.5, 16000), "mp3"), 16000).samples
    fa = fingerprint(a)[0]
    assert bit_error_rate(fingerprint(mp3)[0], fa)[0] < 0.2
    assert bit_error_rate(fingerprint(a[4000:])[0], fa)[0] < 0.2
    assert bit_error_rate(fingerprint(b)[0], fa)[0] > 0.35
    assert pcm_hash(a) == pcm_hash(a.copy()) != pcm_hash(a * 0.5)


def test_truncation_when_audio_stops_mid_word():
    ends = {"end_speech_prob": 0.99, "trailing_silence_s": 0.0}
    text = "The horizon seems extremely distant."
    guessed = TextClip(text, "en", "The horizon seems extremely beautiful.", "en", 0.99, ends)
    assert measure_text(guessed)["truncated"] == 1
    # the same hypothesis on audio that ends in silence is an ordinary recognition error
    assert measure_text(TextClip(text, "en", guessed.hyp, "en", 0.99, {"trailing_silence_s": 0.6}))["truncated"] == 0
    zh = TextClip("欢迎大家来体验达摩院推出的语音识别模型", "zh", "欢迎大家来体验,答莫愿中。", "zh", 0.99, ends)
    assert measure_text(zh)["truncated"] == 1
