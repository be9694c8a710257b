"""Audio in and out: any container or codec FFmpeg reads, to float32 mono at any rate.

Decoding uses PyAV (FFmpeg's libraries) and its resampler; nothing is hand-decoded.
Long files are decoded in blocks (``iter_audio``) so hours of audio never sit in memory twice.

    >>> audio = load_audio("talk.mp4")            # doctest: +SKIP
    >>> audio.sample_rate, audio.duration_s       # doctest: +SKIP
    (16000, 3605.2)
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Union

import numpy as np

from ..errors import AudioDecodeError, AudioTooLongError, InputError
from ..types import Audio

SAMPLE_RATE = 16000  # what the recognisers and the VAD take
Source = Union[str, os.PathLike, bytes, BinaryIO, Audio, np.ndarray]

# Codecs whose container states an exact duration, so a short decode means truncation.
_EXACT_LENGTH_CODECS = ("pcm_", "flac", "alac", "wavpack", "tta")


@dataclass(frozen=True)
class AudioInfo:
    """What a file declares about itself, read without decoding it."""

    path: str
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None  # None when the container does not say
    bits_per_sample: int | None
    has_video: bool


def _name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", None) or "<audio buffer>"


def _open(source):
    import av

    name = _name(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioDecodeError(f"{name}: file not found; check the path.")
        if path.is_dir():
            raise AudioDecodeError(f"{name} is a directory, not an audio file.")
        if path.stat().st_size == 0:
            raise AudioDecodeError(f"{name} is empty (0 bytes); give a file with audio in it.")
        target: object = str(path)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise AudioDecodeError("The uploaded audio is empty (0 bytes); send a file with audio in it.")
        target = io.BytesIO(bytes(source))
    else:
        target = source
    try:
        container = av.open(target, metadata_errors="ignore")
    except av.error.FFmpegError as exc:  # includes InvalidDataError, PermissionError mapped by av
        raise AudioDecodeError(
            f"{name} is not a readable audio or video file ({_reason(exc)}); "
            "convert it to WAV, FLAC, MP3, OGG or M4A."
        ) from None
    audio_streams = [s for s in container.streams if s.type == "audio"]
    if not audio_streams:
        has_video = any(s.type == "video" for s in container.streams)
        container.close()
        what = "video file has no audio track" if has_video else "file has no audio track"
        raise AudioDecodeError(f"{name}: the {what}; give a file that contains sound.")
    return container, audio_streams[0], name


def _reason(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.split(":")[-1].strip() or type(exc).__name__


def probe(source: Source) -> AudioInfo:
    """Read the container header: format, codec, native rate and channels, declared duration."""
    container, stream, name = _open(source)
    try:
        ctx = stream.codec_context
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        bits = None
        fmt = getattr(ctx, "format", None)
        if fmt is not None and getattr(fmt, "bits", 0):
            bits = int(fmt.bits)
        if ctx.name.startswith("pcm_"):
            digits = "".join(ch for ch in ctx.name.split("_")[1] if ch.isdigit())
            bits = int(digits) if digits else bits
        elif isinstance(source, (str, os.PathLike)) and ctx.name in ("flac", "alac"):
            bits = _sndfile_bits(source) or bits
        return AudioInfo(
            path=name, container=container.format.name, codec=ctx.name,
            sample_rate=int(ctx.sample_rate or stream.rate or 0),
            channels=int(ctx.channels or 0), duration_s=duration, bits_per_sample=bits,
            has_video=any(s.type == "video" for s in container.streams),
        )
    finally:
        container.close()


_SUBTYPE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
                 "FLOAT": 32, "DOUBLE": 64}


def _sndfile_bits(path) -> int | None:
    """The stored bit depth, which FFmpeg hides behind its 32-bit decoding format."""
    try:
        import soundfile

        return _SUBTYPE_BITS.get(soundfile.info(str(path)).subtype)
    except Exception:  # libsndfile cannot read it: FFmpeg's figure stands
        return None


def iter_audio(source: Source, sample_rate: int | None = SAMPLE_RATE, *,
               block_s: float = 30.0) -> Iterator[np.ndarray]:
    """Yield float32 mono blocks of about ``block_s`` seconds at ``sample_rate``.

    ``sample_rate=None`` keeps the file's own rate. Raises ``AudioDecodeError`` for files
    that are missing, empty, not audio, corrupt, truncated, or hold no samples.
    """
    if isinstance(source, (Audio, np.ndarray)):
        audio = to_audio(source, sample_rate)
        step = max(1, int(block_s * audio.sample_rate))
        for i in range(0, audio.n_samples, step):
            yield audio.samples[i:i + step]
        return
    yield from _decode(source, sample_rate, block_s)


def _decode(source, sample_rate, block_s) -> Iterator[np.ndarray]:
    import av

    container, stream, name = _open(source)
    try:
        rate = int(sample_rate or stream.codec_context.sample_rate or stream.rate)
        # Keep the channels through the resampler and average them here: FFmpeg's own downmix
        # adds channels at -3 dB each, which pushes full-scale stereo past 1.0.
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        block = max(1, int(block_s * rate))
        pending: list[np.ndarray] = []
        n_pending = 0
        n_total = 0

        def frames():
            try:
                for frame in container.decode(stream):
                    frame.pts = None  # let the resampler count samples, not trust timestamps
                    yield from resampler.resample(frame)
                yield from resampler.resample(None)
            except av.error.FFmpegError as exc:
                seconds = n_total / rate
                raise AudioDecodeError(
                    f"{name} is corrupt or truncated: decoding failed after {seconds:.1f} s "
                    f"({_reason(exc)}); re-export or re-download the file."
                ) from None

        for out in frames():
            arr = out.to_ndarray()
            arr = arr[0] if arr.shape[0] == 1 else arr.mean(axis=0)
            if arr.size == 0:
                continue
            pending.append(arr)
            n_pending += arr.size
            n_total += arr.size
            while n_pending >= block:
                joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield joined[:block].astype(np.float32, copy=False)
                rest = joined[block:]
                pending = [rest] if rest.size else []
                n_pending = rest.size
        if n_pending:
            yield np.concatenate(pending).astype(np.float32, copy=False)
        if n_total == 0:
            raise AudioDecodeError(f"{name} contains no audio samples; give a file with sound in it.")
        _check_truncation(source, stream, name, n_total / rate)
    finally:
        container.close()


def _check_truncation(source, stream, name: str, decoded_s: float) -> None:
    """Raise if the container declares more audio than the file holds (a cut-off copy)."""
    codec = stream.codec_context.name
    if not codec.startswith(_EXACT_LENGTH_CODECS):
        return
    declared = None
    if codec.startswith("pcm_") and isinstance(source, (str, os.PathLike)):
        # FFmpeg sizes PCM streams by the file; libsndfile reports what the header claims.
        declared_bytes, actual_bytes = _sndfile_data_sizes(source)
        if declared_bytes and actual_bytes is not None and actual_bytes < 0.98 * declared_bytes:
            declared = decoded_s * declared_bytes / max(actual_bytes, 1)
    elif stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    if declared and decoded_s < 0.98 * declared - 0.05:
        raise AudioDecodeError(
            f"{name} is truncated: its header says {declared:.2f} s but only {decoded_s:.2f} s "
            "of audio is present; re-export or re-download the file."
        )


def _sndfile_data_sizes(path) -> tuple[int | None, int | None]:
    """(bytes the header declares, bytes present) for the audio chunk of WAV/AIFF-like files."""
    try:
        import soundfile

        report = soundfile.info(str(path)).extra_info
    except Exception:  # libsndfile cannot read it: nothing to compare
        return None, None
    for line in report.splitlines():
        key = line.split(":")[0].strip()
        if key in ("data", "SSND") and "should be" in line:
            nums = [int(x) for x in line.replace("(", " ").replace(")", " ").split() if x.isdigit()]
            if len(nums) >= 2:
                return nums[0], nums[1]
    return None, None


def load_audio(source: Source, sample_rate: int | None = SAMPLE_RATE, *,
               max_duration_s: float | None = None) -> Audio:
    """Decode a whole file (or bytes, or a file object) to one ``Audio``.

    ``sample_rate=None`` keeps the file's own rate. ``max_duration_s`` raises
    ``AudioTooLongError`` before decoding a file that declares more (or once decoding passes it).
    """
    name = _name(source)
    if isinstance(source, (Audio, np.ndarray)):
        audio = to_audio(source, sample_rate)
        _check_length(audio.duration_s, max_duration_s, name)
        return audio
    info = probe(source)
    if hasattr(source, "seek"):
        source.seek(0)
    if info.duration_s is not None:
        _check_length(info.duration_s, max_duration_s, name)
    rate = int(sample_rate or info.sample_rate)
    # Preallocate from the declared length so that long files are not held twice.
    buf = np.empty(int((info.duration_s or 60.0) * rate * 1.02) + rate, np.float32)
    n = 0
    for block in _decode(source, rate, 60.0):
        if n + block.size > buf.size:
            buf = np.concatenate([buf[:n], np.empty(max(block.size, buf.size // 2), np.float32)])
        buf[n:n + block.size] = block
        n += block.size
        if max_duration_s is not None:
            _check_length(n / rate, max_duration_s, name)
    samples = buf[:n].copy() if buf.size > 1.2 * n + rate else buf[:n]
    return Audio(samples, rate, source=None if isinstance(source, (bytes, bytearray)) else name)


def _check_length(duration_s: float, limit_s: float | None, name: str) -> None:
    if limit_s is not None and duration_s > limit_s:
        raise AudioTooLongError(
            f"{name} is {duration_s:.1f} s long, over the limit of {limit_s:.0f} s; "
            "split it or raise the limit."
        )


def to_audio(source, sample_rate: int | None = SAMPLE_RATE) -> Audio:
    """Coerce an ``Audio``, a numpy array (assumed at ``sample_rate``), a path or bytes to ``Audio``.

    Integer arrays are scaled to [-1, 1]; multi-channel arrays (n, channels) are averaged.
    """
    if isinstance(source, Audio):
        if sample_rate and source.sample_rate != sample_rate:
            from .resample import resample

            return Audio(resample(source.samples, source.sample_rate, sample_rate), sample_rate, source.source)
        return source
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            arr = arr.mean(axis=1) if arr.shape[1] < arr.shape[0] else arr.mean(axis=0)
        elif arr.ndim != 1:
            raise InputError(f"Audio arrays must be 1-D (samples) or 2-D (samples, channels), not {arr.shape}.")
        if np.issubdtype(arr.dtype, np.integer):
            arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        return Audio(arr, int(sample_rate or SAMPLE_RATE))
    return load_audio(source, sample_rate)


# ---------------------------------------------------------------------------------- writing

FORMATS = {  # format -> (container, codec, default sample format)
    "wav": ("wav", "pcm_s16le", "s16"),
    "flac": ("flac", "flac", "s16"),
    "mp3": ("mp3", "libmp3lame", "fltp"),
    "ogg": ("ogg", "libopus", "flt"),
    "opus": ("ogg", "libopus", "flt"),
    "m4a": ("ipod", "aac", "fltp"),
    "aac": ("adts", "aac", "fltp"),
    "pcm": (None, None, None),  # raw little-endian 16-bit mono
}
MIME_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg",
              "opus": "audio/ogg", "m4a": "audio/mp4", "aac": "audio/aac", "pcm": "audio/L16"}
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


def format_for(path: str | os.PathLike, fmt: str | None = None) -> str:
    fmt = (fmt or Path(path).suffix.lstrip(".") or "wav").lower()
    if fmt not in FORMATS:
        raise InputError(f"Cannot write audio format '{fmt}'; choose one of: {', '.join(FORMATS)}.")
    return fmt


def encode_audio(audio: Audio, fmt: str = "wav", *, bitrate: int | None = None) -> bytes:
    """Encode to bytes in ``fmt`` (wav, flac, mp3, ogg/opus, m4a, aac, pcm)."""
    fmt = format_for("x", fmt)
    samples = np.clip(np.asarray(audio.samples, np.float32), -1.0, 1.0)
    if fmt == "pcm":
        return (samples * 32767.0).astype("<i2").tobytes()
    if fmt == "wav":
        import soundfile as sf

        out = io.BytesIO()
        sf.write(out, samples, audio.sample_rate, format="WAV", subtype="PCM_16")
        return out.getvalue()
    return _encode_av(samples, audio.sample_rate, fmt, bitrate)


def _encode_av(samples: np.ndarray, rate: int, fmt: str, bitrate: int | None) -> bytes:
    import av

    container_fmt, codec, sample_fmt = FORMATS[fmt]
    if codec == "libopus" and rate not in _OPUS_RATES:
        from .resample import resample

        samples, rate = resample(samples, rate, 48000), 48000
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        if bitrate:
            stream.bit_rate = bitrate
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate)
        pcm = (samples * 32767.0).astype(np.int16) if sample_fmt == "s16" else samples
        frame_size = 4096
        for i in range(0, len(pcm), frame_size):
            piece = pcm[i:i + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(piece, format="s16" if sample_fmt == "s16" else "flt", layout="mono")
            frame.sample_rate = rate
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def save_audio(path: str | os.PathLike, audio: Audio, fmt: str | None = None) -> Path:
    """Write ``audio`` to ``path`` atomically; the format comes from ``fmt`` or the suffix."""
    from ..util import atomic_write_bytes

    path = Path(path)
    data = encode_audio(audio, format_for(path, fmt))
    atomic_write_bytes(path, data)
    return path
