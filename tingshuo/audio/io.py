"""Audio in and out: any container or codec FFmpeg reads, to float32 mono at any rate.

Decoding uses PyAV (FFmpeg's libraries) and its resampler; nothing is hand-decoded.
Long files are decoded in blocks (``iter_audio``) so hours of audio never sit in memory twice.

    >>> audio = load_audio("talk.mp4")            # doctest: +SKIP
    >>> audio.sample_rate, audio.duration_s       # doctest: +SKIP
    (16000, 3605.2)
"""

from __future__ import annotations

import errno
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Union

import numpy as np

from ..errors import AudioDecodeError, AudioTooLongError, InputError
from ..types import Audio

SAMPLE_RATE = 16000  # what the recognisers and the VAD take
Source = Union[str, os.PathLike, bytes, BinaryIO, Audio, np.ndarray]

# What native code is allowed to see. FFmpeg's resampler mixes at most 64 channels; speech needs
# a rate of a few kHz; 768 kHz is the highest rate audio interfaces record at.
MAX_CHANNELS = 64
MIN_SAMPLE_RATE = 2000
MAX_SAMPLE_RATE = 768000
PREALLOCATE_MAX_S = 600.0  # load_audio trusts a declared length this far, and grows past it as decoded


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


def check_path(path: Path, name: str) -> None:
    """Refuse, in one sentence, what is not a readable regular file (before any native code opens it)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioDecodeError(f"{name} is a broken symbolic link (it points to {os.readlink(path)}, "
                                   "which does not exist); fix or remove the link.") from None
        raise AudioDecodeError(f"{name}: file not found; check the path.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AudioDecodeError(f"{name} is a symbolic link that loops back on itself; fix or remove it.") from None
        raise AudioDecodeError(f"{name} cannot be read ({exc.strerror}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioDecodeError(f"{name} is a directory, not an audio file.")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        raise AudioDecodeError(f"{name} is {kind}, not a regular file; give an audio file.")
    if st.st_size == 0:
        raise AudioDecodeError(f"{name} is empty (0 bytes); give a file with audio in it.")
    if not os.access(path, os.R_OK):
        raise AudioDecodeError(f"{name} cannot be read (permission denied); check its permissions.")


def _open(source):
    import av

    name = _name(source)
    if isinstance(source, (str, os.PathLike)):
        check_path(Path(source), name)
        target: object = str(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise AudioDecodeError("The uploaded audio is empty (0 bytes); send a file with audio in it.")
        target = io.BytesIO(bytes(source))
    else:
        target = source
    try:
        container = av.open(target, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as exc:  # av maps errno errors to OSError subclasses
        raise AudioDecodeError(
            f"{name} is not a readable audio or video file ({_reason(exc)}); "
            "convert it to WAV, FLAC, MP3, OGG or M4A."
        ) from None
    audio_streams = [s for s in container.streams if s.type == "audio"]
    decodable = [s for s in audio_streams if s.codec_context is not None]
    if not decodable:
        has_video = any(s.type == "video" for s in container.streams)
        container.close()
        if audio_streams:
            raise AudioDecodeError(f"{name}: its audio is in a codec FFmpeg cannot decode; "
                                   "convert it to WAV, FLAC, MP3, OGG or M4A.")
        what = "video file has no audio track" if has_video else "file has no audio track"
        raise AudioDecodeError(f"{name}: the {what}; give a file that contains sound.")
    stream = decodable[0]
    try:
        _check_shape(stream.codec_context.channels, stream.codec_context.sample_rate, name)
    except AudioDecodeError:
        container.close()
        raise
    return container, stream, name


def _check_shape(channels: int, sample_rate: int, name: str) -> None:
    """The channel count and rate that the resampler and the rest of tingshuo can take."""
    if (channels or 0) <= 0:
        raise AudioDecodeError(f"{name} declares no audio channels: it is corrupt or not an audio file; "
                               "re-export it as WAV, FLAC, MP3, OGG or M4A.")
    if channels > MAX_CHANNELS:
        raise AudioDecodeError(f"{name} has {channels} audio channels; tingshuo reads 1 to {MAX_CHANNELS}. "
                               "Extract the channels you need (e.g. ffmpeg -af pan) and try again.")
    if not MIN_SAMPLE_RATE <= (sample_rate or 0) <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(f"{name} has a sample rate of {sample_rate} Hz; speech needs {MIN_SAMPLE_RATE} to "
                               f"{MAX_SAMPLE_RATE} Hz, so its header is corrupt or it is not a recording.")


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
        if ctx.name.startswith("pcm_") and isinstance(source, (str, os.PathLike)) and duration is not None:
            from .truncation import pcm_max_seconds

            ceiling = pcm_max_seconds(source, int(ctx.channels), bits, int(ctx.sample_rate))
            if ceiling is not None:  # a header that claims more than the file can hold (cut off, or piped)
                duration = min(duration, ceiling)
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
    container, stream, name = _open(source)
    try:
        ctx = stream.codec_context
        rate = int(sample_rate or ctx.sample_rate)
        block = max(1, int(block_s * rate))
        pending: list[np.ndarray] = []
        n_pending = 0
        n_total = 0
        for arr in _mono_frames(container, stream, name, rate, lambda: n_total / rate):
            pending.append(arr)
            n_pending += arr.size
            n_total += arr.size
            while n_pending >= block:
                joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield joined[:block]
                rest = joined[block:]
                pending = [rest] if rest.size else []
                n_pending = rest.size
        if n_pending:
            yield np.concatenate(pending)
        if n_total == 0:
            raise AudioDecodeError(f"{name} contains no audio samples; give a file with sound in it.")
        from . import truncation

        declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        truncation.check(source, name, container.format.name, ctx.name, declared, n_total / rate, AudioDecodeError)
    finally:
        container.close()


def _mono_frames(container, stream, name: str, rate: int, decoded_s) -> Iterator[np.ndarray]:
    """Float32 mono arrays at ``rate``, one per resampled frame, whatever the stream's layout.

    Frames reach numpy only in FFmpeg's *packed* float format: a packed frame is one buffer, so
    no channel count can make PyAV walk past its plane pointers (PyAV 18's ``AudioFrame.planes``
    counts planes up to the first NULL pointer, which a planar frame of 8+ channels does not have:
    the 8-channel segfault). Channels are averaged here, not by FFmpeg, whose downmix adds them at
    -3 dB each and pushes full-scale stereo past 1.0. Every decoded frame's layout and rate are
    checked before the resampler sees them, and a new resampler is made when they change mid-stream.
    """
    import av

    resampler = None
    key = None

    def fail(exc: Exception) -> AudioDecodeError:
        return AudioDecodeError(f"{name} is corrupt or truncated: decoding failed after {decoded_s():.1f} s "
                                f"({_reason(exc)}); re-export or re-download the file.")

    def mono(out) -> np.ndarray | None:
        channels = out.layout.nb_channels
        if out.format.name != "flt" or not 1 <= channels <= MAX_CHANNELS or out.sample_rate != rate:
            raise AudioDecodeError(f"{name}: the resampler returned {out.format.name} audio with {channels} "
                                   f"channels at {out.sample_rate} Hz; convert the file to WAV and try again.")
        arr = out.to_ndarray().reshape(-1)  # packed: one plane of samples x channels
        if channels > 1:
            arr = arr.reshape(-1, channels).mean(axis=1, dtype=np.float32)
        if arr.size and not np.isfinite(arr).all():
            raise AudioDecodeError(f"{name} holds NaN or infinite sample values (near {decoded_s():.1f} s): a "
                                   "broken floating-point export; re-export it.")
        return arr if arr.size else None

    try:
        for frame in container.decode(stream):
            frame_key = (frame.format.name, frame.layout.name, frame.layout.nb_channels, frame.sample_rate)
            if frame_key != key:
                _check_shape(frame.layout.nb_channels, frame.sample_rate, name)
                if resampler is not None:
                    for out in resampler.resample(None):
                        arr = mono(out)
                        if arr is not None:
                            yield arr
                resampler = av.AudioResampler(format="flt", layout=frame.layout, rate=rate)
                key = frame_key
            frame.pts = None  # let the resampler count samples, not trust timestamps
            for out in resampler.resample(frame):
                arr = mono(out)
                if arr is not None:
                    yield arr
        if resampler is not None:
            for out in resampler.resample(None):
                arr = mono(out)
                if arr is not None:
                    yield arr
    except AudioDecodeError:
        raise
    except av.error.FFmpegError as exc:
        raise fail(exc) from None
    except (ValueError, MemoryError, OSError) as exc:  # PyAV's own checks; a frame too big to hold
        raise fail(exc) from None


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
    # Preallocate from the declared length so that long files are not held twice, but trust a
    # header only so far: one that claims days must not allocate gigabytes before decoding.
    declared_s = min(info.duration_s or 60.0, PREALLOCATE_MAX_S)
    buf = np.empty(int(declared_s * rate * 1.02) + rate, np.float32)
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
