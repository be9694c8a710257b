import numpy as np
import pytest

from tingshuo.audio.io import load_audio
from tingshuo.audio.vad import FRAME_S, SileroVAD, VADOptions, VADSegmenter, detect_speech, pad_regions
from tingshuo.testing import silence, white_noise


def frames(*runs):
    """Probabilities from (value, seconds) runs."""
    return np.concatenate([np.full(int(round(sec / FRAME_S)), v, np.float32) for v, sec in runs])


def test_segmenter_finds_regions_and_drops_blips():
    seg = VADSegmenter(VADOptions(min_speech_s=0.25, min_silence_s=0.5))
    ev = seg.push(frames((0.0, 1.0), (0.9, 2.0), (0.0, 1.0), (0.9, 0.1), (0.0, 1.0), (0.9, 1.0)))
    ev += seg.flush()
    ends = [(e.start_s, e.end_s) for e in ev if e.kind == "end"]
    assert len(ends) == 2  # the 0.1 s blip is gone
    for (s, e), (want_s, want_e) in zip(ends, [(1.0, 3.0), (5.1, 6.1)]):
        assert abs(s - want_s) < 0.06 and abs(e - want_e) < 0.06
    starts = [e for e in ev if e.kind == "start"]
    assert len(starts) == 2


def test_start_fires_before_the_end_for_barge_in():
    seg = VADSegmenter(VADOptions(min_speech_s=0.2))
    ev = seg.push(frames((0.0, 0.5), (0.95, 0.3)))
    assert [e.kind for e in ev] == ["start"] and seg.in_speech


def test_short_pauses_do_not_split():
    seg = VADSegmenter(VADOptions(min_silence_s=0.5))
    ev = seg.push(frames((0.9, 1.0), (0.1, 0.3), (0.9, 1.0), (0.0, 1.0)))
    assert [e.kind for e in ev] == ["start", "end"]


def test_long_speech_is_split_at_a_pause():
    seg = VADSegmenter(VADOptions(max_speech_s=5.0, min_silence_s=0.5))
    ev = seg.push(frames((0.9, 3.0), (0.1, 0.2), (0.9, 4.0), (0.0, 1.0)))
    ends = [e for e in ev if e.kind == "end"]
    assert len(ends) == 2
    assert abs(ends[0].end_s - 3.0) < 0.05 and abs(ends[1].start_s - 3.2) < 0.05


def test_pad_regions_never_overlap():
    out = pad_regions([(1.0, 2.0), (2.2, 3.0)], 0.3, 3.1)
    assert out[0] == (0.7, 2.1) and out[1] == (2.1, 3.1)


def test_silero_on_real_audio(data_dir):
    vad = SileroVAD()
    speech = load_audio(data_dir / "jfk.wav").samples
    regions = detect_speech(speech, vad=vad)
    assert regions and regions[0][0] < 0.5 and regions[-1][1] > 10.0
    assert detect_speech(silence(3.0), vad=vad) == []
    assert detect_speech(white_noise(3.0, amplitude=0.05), vad=vad) == []


def test_silero_frame_api_is_stateful():
    vad = SileroVAD()
    with pytest.raises(ValueError):
        vad.speech_probability(np.zeros(100, np.float32))
    p = vad.speech_probability(np.zeros(512, np.float32))
    assert 0.0 <= p < 0.5
