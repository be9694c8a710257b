"""Each inspection check on real clips (tests/data) with defects injected by numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tingshuo.audio.io import load_audio
from tingshuo.audio.resample import resample
from tingshuo.quality.checks import ClipAudio, run_check
from tingshuo.testing import corrupt_copy, header_only_wav, truncated_copy, white_noise, write_wav

SR = 16000


@pytest.fixture(scope="module")
def speech(data_dir) -> np.ndarray:
    return load_audio(data_dir / "cathy_a0001.wav", SR).samples


def clip_of(x: np.ndarray, rate: int = SR) -> ClipAudio:
    return ClipAudio.from_array(x, rate)


def severities(result) -> set[str]:
    return {f.severity for f in result.findings}


def test_clean_clip_passes_every_signal_check(speech):
    c = clip_of(speech)
    for name in ("duration", "sample_rate", "level", "clipping", "silence", "snr", "bandwidth", "dropouts"):
        assert run_check(name, c).findings == (), name


def test_clipping_fraction_and_runs(speech):
    clipped = np.clip(speech * 12, -1, 1)
    r = run_check("clipping", clip_of(clipped))
    assert r.metrics["clipped_fraction"] > 0.003 and r.metrics["clip_runs"] > 10
    assert "drop" in severities(r)
    # a clipped signal turned down later still has its plateaus
    r2 = run_check("clipping", clip_of(clipped * 0.5))
    assert r2.metrics["clipped_fraction"] > 0.003


def test_level_too_quiet_and_dc_offset(speech):
    assert "drop" in severities(run_check("level", clip_of(speech * 0.001)))
    r = run_check("level", clip_of(speech + 0.05))
    assert r.metrics["dc_offset"] == pytest.approx(0.05, abs=0.01)
    assert any(f.message.startswith("DC offset") for f in r.findings)


def test_long_silences_and_no_speech(speech):
    pad = white_noise(4.0, amplitude=3e-4, seed=1)
    r = run_check("silence", clip_of(np.concatenate([pad, speech, pad])))
    assert r.metrics["leading_silence_s"] > 3.5 and r.metrics["trailing_silence_s"] > 3.5
    assert "review" in severities(r)
    quiet = run_check("silence", clip_of(white_noise(3.0, amplitude=3e-3)))
    assert quiet.metrics["speech_s"] == 0.0 and "drop" in severities(quiet)


def test_snr_estimate_follows_added_noise(speech, data_dir):
    noise = np.resize(load_audio(data_dir / "noise_cafe.wav", SR).samples, speech.size)
    gain = np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2))
    clean = run_check("snr", clip_of(speech)).metrics["snr_db"]
    noisy = run_check("snr", clip_of(speech + gain * noise))
    assert clean > 20 and noisy.metrics["snr_db"] < 8
    assert noisy.findings


def test_bandwidth_finds_upsampled_telephone_audio(speech):
    full = run_check("bandwidth", clip_of(speech)).metrics["bandwidth_hz"]
    tele = run_check("bandwidth", clip_of(resample(resample(speech, SR, 8000), 8000, SR)))
    assert full > 7000 and tele.metrics["bandwidth_hz"] < 4500
    assert tele.findings and tele.findings[0].check == "bandwidth"


def test_dropouts_inside_speech(speech):
    x = speech.copy()
    c = clip_of(x)
    mid = int((c.regions[0][0] + 0.4 * (c.regions[0][1] - c.regions[0][0])) * SR)
    x[mid:mid + int(0.15 * SR)] = 0.0
    r = run_check("dropouts", clip_of(x))
    assert r.metrics["dropout_ms"] >= 140 and "drop" in severities(r)


def test_duration_and_sample_rate(tmp_path, speech, data_dir):
    assert "drop" in severities(run_check("duration", clip_of(speech[: SR // 10])))
    low = ClipAudio.load(str(write_wav(tmp_path / "low.wav", resample(speech, SR, 8000), 8000)))
    r = run_check("sample_rate", low)
    assert r.metrics["sample_rate_hz"] == 8000 and "review" in severities(r)
    assert run_check("sample_rate", ClipAudio.load(str(data_dir / "silence_48k.wav"))).findings == ()


def test_unreadable_empty_and_wrong_format(tmp_path, data_dir):
    src = data_dir / "cathy_a0005.wav"
    for path in (corrupt_copy(src, tmp_path / "c.wav"), header_only_wav(tmp_path / "h.wav"),
                 tmp_path / "missing.wav"):
        r = run_check("readable", ClipAudio.load(str(path)))
        assert r.metrics["readable"] == 0 and "drop" in severities(r), path
    (tmp_path / "z.wav").write_bytes(b"")
    assert run_check("readable", ClipAudio.load(str(tmp_path / "z.wav"))).metrics["readable"] == 0
    fake = tmp_path / "really_wav.mp3"
    fake.write_bytes(src.read_bytes())
    r = run_check("readable", ClipAudio.load(str(fake)))
    assert r.metrics["format_mismatch"] == 1 and "review" in severities(r)
    assert run_check("readable", ClipAudio.load(str(truncated_copy(data_dir / "jfk.wav", tmp_path / "t.wav")))).metrics


def test_dnsmos_scores_noise_lower(speech, data_dir):
    pytest.importorskip("speechmos")
    clean = run_check("dnsmos", clip_of(speech))
    noisy = run_check("dnsmos", clip_of(speech + white_noise(speech.size / SR, amplitude=0.05)))
    assert set(clean.metrics) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert clean.metrics["dnsmos_bak"] > 3.5 > noisy.metrics["dnsmos_bak"]
    assert noisy.findings


def test_checks_are_registered():
    import tingshuo

    names = tingshuo.available("check")
    for n in ("readable", "clipping", "silence", "snr", "dnsmos", "bandwidth", "dropouts",
              "asr_consistency", "speaking_rate", "language", "truncation"):
        assert n in names
    with pytest.raises(tingshuo.UnknownNameError, match="clipping"):
        run_check("clippin", None)
