"""Audio encoders that emit bytes as samples arrive, for streamed speech responses.

WAV is streamed with the "unknown length" sizes (0xFFFFFFFF) that players and ffmpeg accept for
live streams; mp3, flac, opus (Ogg) and aac go through FFmpeg's muxers (PyAV) writing into a
sink that hands each piece to the response as soon as it is muxed.
"""

from __future__ import annotations

import struct

import numpy as np

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "opus": "audio/ogg",
               "aac": "audio/aac", "pcm": "audio/pcm"}
_AV = {"mp3": ("mp3", "libmp3lame", "fltp"), "flac": ("flac", "flac", "s16"), "opus": ("ogg", "libopus", "flt"),
       "aac": ("adts", "aac", "fltp")}
FIXED_RATES = {"pcm": 24000, "opus": 24000}  # OpenAI's pcm is 24 kHz; Opus takes only a few rates


def wav_header(sample_rate: int, unknown: int = 0xFFFFFFFF) -> bytes:
    """A 16-bit mono WAV header whose RIFF and data sizes say 'unknown' (streaming)."""
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) + b"data" + struct.pack("<I", unknown))


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class StreamEncoder:
    """``add(samples)`` returns the bytes ready so far; ``finish()`` the rest. One sample rate per stream."""

    def __init__(self, fmt: str, sample_rate: int) -> None:
        if fmt not in MEDIA_TYPES:
            raise ValueError(f"unknown format {fmt}")
        self.fmt = fmt
        self.sample_rate = sample_rate
        self._started = False
        self._container = None
        if fmt in _AV:
            import av

            container_fmt, codec, self._sample_fmt = _AV[fmt]
            self._sink = _Sink()
            self._container = av.open(self._sink, mode="w", format=container_fmt)
            self._stream = self._container.add_stream(codec, rate=sample_rate, layout="mono")
            self._resampler = av.AudioResampler(format=self._sample_fmt, layout="mono", rate=sample_rate)

    def add(self, samples: np.ndarray) -> bytes:
        samples = np.asarray(samples, np.float32)
        if self.fmt == "pcm":
            return _pcm16(samples).tobytes()
        if self.fmt == "wav":
            head = b"" if self._started else wav_header(self.sample_rate)
            self._started = True
            return head + _pcm16(samples).tobytes()
        import av

        pcm = _pcm16(samples) if self._sample_fmt == "s16" else np.clip(samples, -1.0, 1.0)
        for i in range(0, len(pcm), 4096):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[i:i + 4096]).reshape(1, -1),
                                               format="s16" if self._sample_fmt == "s16" else "flt", layout="mono")
            frame.sample_rate = self.sample_rate
            for f in self._resampler.resample(frame):
                for packet in self._stream.encode(f):
                    self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        if self.fmt == "wav" and not self._started:
            self._started = True
            return wav_header(self.sample_rate)
        if self._container is None:
            return b""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        return self._sink.take()

    def close(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 — abandoning a stream half-way
                pass
            self._container = None
