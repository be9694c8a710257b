"""Loading every common container and codec, and clear errors for broken inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tingshuo.audio.io import encode_audio, iter_audio, load_audio, probe, save_audio
from tingshuo.errors import AudioDecodeError, AudioTooLongError
from tingshuo.testing import (corrupt_copy, encode_file, header_only_wav, tone, truncated_copy, video_file,
                              write_wav)
from tingshuo.types import Audio


@pytest.fixture(scope="module")
def jfk(data_dir):
    return load_audio(data_dir / "jfk.wav")


def _similar(a: np.ndarray, b: np.ndarray, min_corr: float = 0.9) -> bool:
    """Same signal, allowing codec delay (search a small lag) and lossy coding."""
    n = min(a.size, b.size) - 4000
    best = 0.0
    for lag in range(0, 3000, 8):
        x, y = a[:n], b[lag:lag + n]
        best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best >= min_corr


def test_wav_16k_mono(jfk):
    assert jfk.sample_rate == 16000
    assert jfk.samples.dtype == np.float32 and jfk.samples.ndim == 1
    assert abs(jfk.duration_s - 11.0) < 0.01
    assert 0.05 < np.abs(jfk.samples).max() <= 1.0


@pytest.mark.parametrize("name, rate, channels, bits", [
    ("onetwothree_u8_44k.wav", 44100, 1, 8),
    ("onetwothree_16_44k.aiff", 44100, 1, 16),
    ("onetwothree_stereo24_44k.flac", 44100, 2, 24),
])
def test_bundled_format_variants(data_dir, name, rate, channels, bits):
    info = probe(data_dir / name)
    assert (info.sample_rate, info.channels, info.bits_per_sample) == (rate, channels, bits)
    audio = load_audio(data_dir / name)
    assert audio.sample_rate == 16000 and abs(audio.duration_s - 2.745) < 0.02
    native = load_audio(data_dir / name, sample_rate=None)
    assert native.sample_rate == rate


def test_all_variants_decode_to_the_same_signal(data_dir):
    ref = load_audio(data_dir / "onetwothree_16_44k.aiff").samples
    for name in ("onetwothree_u8_44k.wav", "onetwothree_stereo24_44k.flac"):
        assert _similar(ref, load_audio(data_dir / name).samples, 0.97)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"])
def test_wav_bit_depths(tmp_path, jfk, subtype):
    path = write_wav(tmp_path / f"x_{subtype}.wav", jfk.samples[:48000], 16000, subtype)
    out = load_audio(path)
    assert out.n_samples == 48000
    assert _similar(jfk.samples[:48000], out.samples, 0.99)


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "aac", "flac"])
def test_compressed_formats(tmp_path, jfk, fmt):
    path = encode_file(jfk.samples, 16000, tmp_path / f"jfk.{fmt}", fmt)
    out = load_audio(path)
    assert abs(out.duration_s - jfk.duration_s) < 0.15
    assert _similar(jfk.samples, out.samples, 0.8)


def test_resamples_any_rate_and_downmixes(tmp_path):
    left, right = tone(440, 1.0, 44100), tone(440, 1.0, 44100)
    path = tmp_path / "stereo.wav"
    write_wav(path, np.stack([left, right], axis=1), 44100)
    out = load_audio(path)
    assert out.sample_rate == 16000 and abs(out.n_samples - 16000) <= 2
    assert abs(np.abs(out.samples).max() - 0.5) < 0.05


@pytest.mark.parametrize("container", ["mp4", "mkv", "webm"])
def test_audio_track_of_video(tmp_path, jfk, container):
    path = video_file(jfk.samples[:32000], 16000, tmp_path / f"clip.{container}", container)
    info = probe(path)
    assert info.has_video
    out = load_audio(path)
    assert abs(out.duration_s - 2.0) < 0.15
    assert _similar(jfk.samples[:32000], out.samples, 0.7)


def test_video_without_audio(tmp_path):
    path = video_file(None, 16000, tmp_path / "silent.mp4", "mp4", duration_s=1.0)
    with pytest.raises(AudioDecodeError, match="video file has no audio track"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioDecodeError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioDecodeError, match=r"empty \(0 bytes\)"):
        load_audio(tmp_path / "empty.wav")


def test_zero_samples(tmp_path):
    path = header_only_wav(tmp_path / "nothing.wav")
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(path)


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(AudioDecodeError, match="not a readable audio or video file"):
        load_audio(path)


def test_truncated_wav(tmp_path, data_dir):
    path = truncated_copy(data_dir / "jfk.wav", tmp_path / "cut.wav", 0.5)
    with pytest.raises(AudioDecodeError, match="truncated"):
        load_audio(path)


def test_truncated_mp3_decodes_what_is_there_or_fails_clearly(tmp_path, jfk):
    mp3 = encode_file(jfk.samples, 16000, tmp_path / "x.mp3", "mp3")
    cut = truncated_copy(mp3, tmp_path / "cut.mp3", 0.5)
    try:
        out = load_audio(cut)
    except AudioDecodeError as exc:
        assert "cut.mp3" in str(exc)
    else:  # MP3 frames are independent: half a file is half the audio
        assert 4.0 < out.duration_s < 7.0


def test_corrupt_file_names_the_file(tmp_path, data_dir):
    mp3 = encode_file(load_audio(data_dir / "jfk.wav").samples, 16000, tmp_path / "x.m4a", "m4a")
    bad = corrupt_copy(mp3, tmp_path / "bad.m4a")
    with pytest.raises(AudioDecodeError, match="bad.m4a"):
        load_audio(bad)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioDecodeError, match="is a directory"):
        load_audio(tmp_path)


def test_max_duration(data_dir):
    with pytest.raises(AudioTooLongError, match="over the limit of 5 s"):
        load_audio(data_dir / "jfk.wav", max_duration_s=5)


def test_bytes_and_file_objects(data_dir):
    raw = (data_dir / "jfk.wav").read_bytes()
    a = load_audio(raw)
    with open(data_dir / "jfk.wav", "rb") as fh:
        b = load_audio(fh)
    assert a.n_samples == b.n_samples == 176000
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(b"")


def test_iter_audio_blocks_cover_the_file(jfk, data_dir):
    blocks = list(iter_audio(data_dir / "jfk.wav", block_s=2.0))
    assert all(b.size == 32000 for b in blocks[:-1])
    assert np.array_equal(np.concatenate(blocks), jfk.samples)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_save_roundtrip(tmp_path, fmt):
    audio = Audio(tone(300, 1.5, 22050), 22050)
    path = save_audio(tmp_path / f"t.{fmt}", audio)
    back = load_audio(path, sample_rate=None)
    assert abs(back.duration_s - 1.5) < 0.1
    assert len(encode_audio(audio, "pcm")) == audio.n_samples * 2
