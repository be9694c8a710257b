"""Helpers for tests: synthetic signals, real media files in other containers, broken copies.

Media variants are encoded with FFmpeg's own encoders (through PyAV) and libsndfile, so the
loaders are tested on genuine files of each kind.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def tone(freq_hz: float = 440.0, duration_s: float = 1.0, sample_rate: int = SAMPLE_RATE,
         amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def white_noise(duration_s: float = 1.0, sample_rate: int = SAMPLE_RATE, amplitude: float = 0.1,
                seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amplitude * rng.standard_normal(int(duration_s * sample_rate))).astype(np.float32)


def silence(duration_s: float = 1.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    return np.zeros(int(duration_s * sample_rate), np.float32)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    path = Path(path)
    sf.write(str(path), samples, sample_rate, subtype=subtype)
    return path


def encode_file(samples: np.ndarray, sample_rate: int, path: str | Path, fmt: str) -> Path:
    """Write ``samples`` as ``fmt``: any of tingshuo's audio formats (mp3, ogg, opus, m4a, aac, flac, wav)."""
    from ..audio.io import encode_audio
    from ..types import Audio

    path = Path(path)
    path.write_bytes(encode_audio(Audio(samples, sample_rate), fmt))
    return path


def video_file(samples: np.ndarray | None, sample_rate: int, path: str | Path, container: str = "mp4",
               duration_s: float | None = None) -> Path:
    """A real video file (moving grey frames) with ``samples`` as its audio track, or none."""
    import av

    codecs = {"mp4": ("mpeg4", "aac"), "mkv": ("mpeg4", "libopus"), "webm": ("libvpx", "libopus"),
              "mov": ("mpeg4", "aac")}
    vcodec, acodec = codecs[container]
    path = Path(path)
    duration = duration_s if duration_s is not None else (len(samples) / sample_rate if samples is not None else 1.0)
    fps = 10
    with av.open(str(path), mode="w", format={"mkv": "matroska"}.get(container, container)) as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        audio_stream = None
        if samples is not None:
            rate = 48000 if acodec == "libopus" else sample_rate
            if rate != sample_rate:
                from ..audio.resample import resample

                samples, sample_rate = resample(samples, sample_rate, rate), rate
            audio_stream = out.add_stream(acodec, rate=sample_rate, layout="mono")
        for k in range(int(duration * fps)):
            img = np.full((48, 64, 3), (k * 7) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if audio_stream is not None:
            from ..audio.io import mux_samples

            mux_samples(out, audio_stream, samples, sample_rate, frame_size=1024)
    return path


def truncated_copy(src: str | Path, dst: str | Path, keep_fraction: float = 0.5) -> Path:
    """The first part of a file's bytes (a download that stopped half way)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return Path(dst)


def corrupt_copy(src: str | Path, dst: str | Path, seed: int = 0) -> Path:
    """The file's header followed by random bytes in place of its audio."""
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    data[64:] = rng.integers(0, 256, len(data) - 64, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def header_only_wav(dst: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """A valid WAV header that holds zero samples."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(0, np.float32), sample_rate, format="WAV", subtype="PCM_16")
    Path(dst).write_bytes(buf.getvalue())
    return Path(dst)


def models_installed() -> bool:
    """Whether the default offline models (the ``models`` extra) are installed."""
    from .. import models

    return models.is_installed("whisper-base")


def fake_synthesize(text: str, language: str | None, sample_rate: int, seconds_per_char: float = 0.06):
    """A stand-in voice for pipeline tests: a tone whose length follows the text, one chunk per 0.25 s.

    It exercises timing, streaming and barge-in logic without a TTS model; tests of the real
    voices live with the TTS engines.
    """
    from ..types import AudioChunk

    duration = max(0.2, len(text) * seconds_per_char)
    samples = tone(220.0 if language == "zh" else 330.0, duration, sample_rate, 0.3)
    step = int(0.25 * sample_rate)
    for i in range(0, samples.size, step):
        yield AudioChunk(samples[i:i + step], sample_rate, text if i == 0 else "", i / sample_rate,
                         is_last=i + step >= samples.size)
