"""A bad-input corpus, written at test time: the files a hostile client or a messy disk hands us.

``make_corpus(folder)`` writes every case into ``folder`` (flat, so one folder scan meets them all)
and returns one ``Case`` per input, labelled with what tingshuo must do with it:

* ``expect_ok=True``: the input is odd but valid, and must be processed like any other
  (odd channel counts and rates, odd names, float values beyond full scale, 0.01 s clips, ...);
* ``expect_ok=False``: the input must be rejected with one clear line (CLI: exit 1; server: a 4xx
  JSON), never a crash, a hang, a traceback, or a huge allocation.

Nothing is committed: every file is made from numpy signals by libsndfile, FFmpeg's encoders
(through PyAV) or a few hand-written headers (for the lies an encoder refuses to write).

    >>> cases = make_corpus(tmp_path)                               # doctest: +SKIP
    >>> [c.kind for c in cases if not c.expect_ok][:3]              # doctest: +SKIP
    ['zero-bytes', 'wav-header-only', 'wav-claims-more']

The API is stable: ``make_corpus(folder, ...) -> list[Case]``, ``Case(path, kind, expect_ok, note,
group)``; new cases and keyword arguments may be added.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

SAMPLE_RATE = 16000
CHANNEL_COUNTS = tuple(range(1, 17)) + (24, 32, 64)  # all accepted (FFmpeg's resampler takes up to 64)
TOO_MANY_CHANNELS = (65, 255)


@dataclass(frozen=True)
class Case:
    """One input: where it is, a short unique id, whether it must be accepted, and why."""

    path: Path
    kind: str
    expect_ok: bool
    note: str
    group: str = ""  # empty, mismatch, truncated, garbage, values, rate, channels, length, container, names, fs


def speechlike(duration_s: float = 1.0, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal (a gliding harmonic buzz under an amplitude envelope, plus hiss)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(duration_s * sample_rate)))
    t = np.arange(n) / sample_rate
    f0 = 120.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = 0.25 * voiced * envelope + 0.01 * rng.standard_normal(n)
    return (x / max(1.0, float(np.max(np.abs(x))) / 0.8)).astype(np.float32)


# ------------------------------------------------------------------------------ writers

def _sf_bytes(samples: np.ndarray, sample_rate: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, sample_rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav_bytes(pcm: bytes, *, channels: int = 1, sample_rate: int = SAMPLE_RATE, bits: int = 16,
              format_tag: int = 1, data_size: int | None = None, riff_size: int | None = None,
              channel_mask: int | None = None, block_align: int | None = None) -> bytes:
    """A WAV file whose header says exactly what it is told to, true or not.

    ``channel_mask`` writes WAVE_FORMAT_EXTENSIBLE (the way >2-channel files carry their layout).
    """
    align = block_align if block_align is not None else channels * bits // 8
    byte_rate = (sample_rate * align) & 0xFFFFFFFF
    if channel_mask is None:
        fmt = struct.pack("<HHIIHH", format_tag, channels, sample_rate & 0xFFFFFFFF, byte_rate, align, bits)
    else:
        guid = struct.pack("<H", format_tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, sample_rate, byte_rate, align, bits, 22, bits,
                          channel_mask) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    size = len(pcm) if data_size is None else data_size
    body += b"data" + struct.pack("<I", size & 0xFFFFFFFF) + pcm + (b"\x00" if len(pcm) % 2 else b"")
    riff = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + body


def _pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def _multichannel(base: np.ndarray, channels: int) -> np.ndarray:
    """(n, channels): the base signal, each channel a little quieter, so a downmix is still speech."""
    gains = np.linspace(1.0, 0.5, channels, dtype=np.float32)
    return base[:, None] * gains[None, :]


def _encode_av(samples: np.ndarray, sample_rate: int, fmt: str, codec: str, layout: str,
               sample_fmt: str = "fltp", options: dict | None = None) -> bytes:
    """Encode an (n, channels) float array with FFmpeg through PyAV into container ``fmt``."""
    import av

    from ..audio.io import mux_samples

    samples = np.atleast_2d(samples.T if samples.ndim == 2 else samples[None, :]).astype(np.float32)
    channels = samples.shape[0]
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=layout)
        mux_samples(container, stream, samples.T, sample_rate, layout=layout, sample_fmt=sample_fmt, frame_size=1024)
    assert channels == len(av.AudioLayout(layout).channels)
    return out.getvalue()


def _flac_with_total(data: bytes, total_samples: int) -> bytes:
    """Rewrite STREAMINFO's 36-bit total-samples field (0 means 'unknown' in the FLAC spec)."""
    b = bytearray(data)
    assert b[:4] == b"fLaC"
    pos = 8 + 13  # 'fLaC', block header (4), then STREAMINFO offset 13: 4 bits of bps + 36 of samples
    b[pos] = (b[pos] & 0xF0) | ((total_samples >> 32) & 0x0F)
    b[pos + 1:pos + 5] = struct.pack(">I", total_samples & 0xFFFFFFFF)
    return bytes(b)


def _flac_metadata_only(data: bytes) -> bytes:
    pos = 4
    while True:
        last, length = data[pos] & 0x80, int.from_bytes(data[pos + 1:pos + 4], "big")
        pos += 4 + length
        if last:
            return data[:pos]


_PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


# ------------------------------------------------------------------------------ the corpus

def make_corpus(folder: str | os.PathLike, *, long_s: float = 180.0, speech: np.ndarray | None = None,
                fifo: bool = True, only: Callable[[str], bool] | None = None) -> list[Case]:
    """Write the corpus into ``folder`` (created if needed) and return its cases.

    ``long_s``: length of the long clip (0 leaves it out). ``speech``: a 16 kHz mono float32 clip
    used as the content of the accepted files (default: a synthetic voiced signal, 1 s).
    ``fifo``: include a named pipe called like a WAV (opening it for reading would block forever).
    ``only``: a filter on case kinds, to write a subset.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = np.asarray(speech, np.float32) if speech is not None else speechlike(1.0)
    short = base[: 2 * SAMPLE_RATE]
    cases: list[Case] = []

    def add(name: str | bytes, kind: str, ok: bool, note: str, group: str, make: Callable[[Path], object]):
        if only is not None and not only(kind):
            return
        path = folder / (os.fsdecode(name) if isinstance(name, bytes) else name)
        if path.is_symlink() or path.exists():  # writing the corpus again into the same folder
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        make(path)
        cases.append(Case(path, kind, ok, note, group))

    def data(payload: bytes) -> Callable[[Path], object]:
        return lambda p: p.write_bytes(payload)

    good_wav = _sf_bytes(short, SAMPLE_RATE)
    pcm = _pcm16(short)

    # --- empty and header-only
    add("zero-bytes.wav", "zero-bytes", False, "0 bytes", "empty", data(b""))
    add("zero-bytes.mp3", "zero-bytes-mp3", False, "0 bytes under .mp3", "empty", data(b""))
    add("header-only.wav", "wav-header-only", False, "a valid WAV header, no samples", "empty",
        data(_sf_bytes(np.zeros(0, np.float32), SAMPLE_RATE)))
    add("header-only.flac", "flac-header-only", False, "a FLAC's metadata blocks and no audio frames", "empty",
        data(_flac_metadata_only(_sf_bytes(short, SAMPLE_RATE, "FLAC", "PCM_16"))))
    add("id3-only.mp3", "mp3-id3-only", False, "an ID3v2 tag and no MPEG frames", "empty",
        data(b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"TIT2\x00\x00\x00\x00\x00\x00" + b"\x00" * 64))

    # --- header and data disagree
    add("claims-more.wav", "wav-claims-more", False,
        "data chunk says 2x the bytes present (a cut-off download): reject as truncated", "mismatch",
        data(wav_bytes(pcm, data_size=2 * len(pcm))))
    add("claims-less.wav", "wav-claims-less", True,
        "data chunk says half the bytes present, trailing bytes follow: read what the header declares",
        "mismatch", data(wav_bytes(pcm, data_size=len(pcm) // 2)))
    add("claims-4gb.wav", "wav-claims-4gb", False,
        "data chunk says ~2 GiB, 2 s present: truncated, and no 2 GiB allocation", "mismatch",
        data(wav_bytes(pcm, data_size=0x7FFFFFF0)))
    add("streamed-sizes.wav", "wav-streamed-sizes", True,
        "RIFF and data sizes 0xFFFFFFFF (written by a pipe that could not seek back): read to EOF",
        "mismatch", data(wav_bytes(pcm, data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF)))
    add("riff-size-wrong.wav", "wav-riff-size-wrong", True, "RIFF size field is 36 (wrong), data chunk right",
        "mismatch", data(wav_bytes(pcm, riff_size=36)))
    add("odd-data-bytes.wav", "wav-odd-data-bytes", True, "16-bit data chunk of an odd byte count",
        "mismatch", data(wav_bytes(pcm[:-1])))
    flac = _sf_bytes(short, SAMPLE_RATE, "FLAC", "PCM_16")
    n_short = short.size
    add("claims-more.flac", "flac-claims-more", False, "STREAMINFO says twice the samples present",
        "mismatch", data(_flac_with_total(flac, 2 * n_short)))
    add("claims-years.flac", "flac-claims-years", False,
        "STREAMINFO says 2^36-1 samples (49 days at 16 kHz): truncated, no huge allocation",
        "mismatch", data(_flac_with_total(flac, 2 ** 36 - 1)))
    add("total-unknown.flac", "flac-total-unknown", True, "STREAMINFO total samples 0 ('unknown' per the spec)",
        "mismatch", data(_flac_with_total(flac, 0)))
    add("bad-format-tag.wav", "wav-unknown-codec", False, "format tag 0x1234 (no such codec)", "mismatch",
        data(wav_bytes(pcm, format_tag=0x1234)))
    add("zero-channels.wav", "wav-zero-channels", False, "header says 0 channels", "mismatch",
        data(wav_bytes(pcm, channels=0, block_align=2)))
    add("zero-rate.wav", "wav-zero-rate", False, "header says 0 Hz", "mismatch",
        data(wav_bytes(pcm, sample_rate=0)))
    add("huge-rate.wav", "wav-rate-4ghz", False, "header says 4294967295 Hz", "mismatch",
        data(wav_bytes(pcm, sample_rate=0xFFFFFFFF)))
    add("zero-bits.wav", "wav-zero-bits", False, "header says 0 bits per sample, block align 0", "mismatch",
        data(wav_bytes(pcm, bits=0, block_align=0)))

    # --- truncated copies of real encodings
    long_base = np.tile(base, int(np.ceil(4 * SAMPLE_RATE / base.size)))[: 4 * SAMPLE_RATE]

    def cut(payload: bytes, keep: float = 0.5) -> Callable[[Path], object]:
        return data(payload[: max(1, int(len(payload) * keep))])

    add("truncated.wav", "wav-truncated", False, "first half of a 4 s WAV's bytes", "truncated",
        cut(_sf_bytes(long_base, SAMPLE_RATE)))
    add("truncated-in-header.wav", "wav-truncated-in-header", False, "first 20 bytes of a WAV", "truncated",
        data(good_wav[:20]))
    add("truncated.aiff", "aiff-truncated", False, "first half of a 4 s AIFF", "truncated",
        cut(_sf_bytes(long_base, SAMPLE_RATE, "AIFF", "PCM_16")))
    add("truncated.flac", "flac-truncated", False, "first half of a 4 s FLAC (STREAMINFO knows the length)",
        "truncated", cut(_sf_bytes(long_base, SAMPLE_RATE, "FLAC", "PCM_16")))
    mp3 = _encode_av(long_base, SAMPLE_RATE, "mp3", "libmp3lame", "mono")
    add("truncated.mp3", "mp3-truncated", False,
        "first half of a 4 s MP3 whose Xing/Info frame states its frame count", "truncated", cut(mp3))
    add("truncated.ogg", "ogg-vorbis-truncated", False, "first half of a 4 s Ogg Vorbis (last page cut)",
        "truncated", cut(_sf_bytes(long_base, SAMPLE_RATE, "OGG", "VORBIS")))
    opus = _encode_av(long_base, SAMPLE_RATE, "ogg", "libopus", "mono", "flt")
    add("truncated.opus", "ogg-opus-truncated", False, "first half of a 4 s Ogg Opus (last page cut)",
        "truncated", cut(opus))
    add("truncated.m4a", "m4a-truncated", False, "first half of a 4 s M4A (moov atom at the end is lost)",
        "truncated", cut(_encode_av(long_base, SAMPLE_RATE, "ipod", "aac", "mono")))

    # --- not audio at all
    rng = np.random.default_rng(13)
    for ext in ("wav", "mp3", "flac", "ogg", "m4a", "mp4", "opus"):
        add(f"random.{ext}", f"random-bytes-{ext}", False, f"64 KiB of random bytes named .{ext}", "garbage",
            data(rng.integers(0, 256, 65536, dtype=np.uint8).tobytes()))
    add("text.wav", "text-as-wav", False, "a UTF-8 text file named .wav", "garbage",
        data(("This is not audio. 这不是音频。\n" * 40).encode()))
    add("error-page.mp3", "html-as-mp3", False, "an HTML error page saved as .mp3 (a failed download)",
        "garbage", data(b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n" * 20))
    add("image.wav", "png-as-wav", False, "a PNG image named .wav", "garbage", data(_PNG_1PX))

    # --- sample values
    nan = short.copy()
    nan[100:200] = np.nan
    add("nan.wav", "float-nan", False, "32-bit float WAV with NaN samples", "values",
        data(_sf_bytes(nan, SAMPLE_RATE, "WAV", "FLOAT")))
    inf = short.copy()
    inf[::997] = np.inf
    inf[1::997] = -np.inf
    add("inf.wav", "float-inf", False, "32-bit float WAV with +/-Inf samples", "values",
        data(_sf_bytes(inf, SAMPLE_RATE, "WAV", "FLOAT")))
    add("loud-float.wav", "float-beyond-full-scale", True, "float WAV peaking at 40x full scale (finite)",
        "values", data(_sf_bytes(short * 50.0, SAMPLE_RATE, "WAV", "FLOAT")))
    add("double.wav", "float64", True, "64-bit float WAV", "values", data(_sf_bytes(short, SAMPLE_RATE, "WAV", "DOUBLE")))
    add("silence.wav", "all-zero", True, "2 s of digital silence", "values",
        data(_sf_bytes(np.zeros(2 * SAMPLE_RATE, np.float32), SAMPLE_RATE)))
    add("square.wav", "full-scale-square", True, "full-scale 16-bit square wave", "values",
        data(_sf_bytes(np.sign(np.sin(np.arange(SAMPLE_RATE) * 0.05)).astype(np.float32), SAMPLE_RATE)))
    for sub, kind in (("PCM_U8", "wav-u8"), ("PCM_24", "wav-s24"), ("PCM_32", "wav-s32"), ("ULAW", "wav-ulaw"),
                      ("ALAW", "wav-alaw")):
        add(f"{kind}.wav", kind, True, f"WAV {sub}", "values", data(_sf_bytes(short, SAMPLE_RATE, "WAV", sub)))

    # --- sample rates
    add("rate-1hz.wav", "rate-1hz", False, "a 1 Hz WAV (64 samples): no speech fits", "rate",
        data(_sf_bytes(base[:64], 1)))
    add("rate-100hz.wav", "rate-100hz", False, "a 100 Hz WAV: below any speech band", "rate",
        data(_sf_bytes(base[:200], 100)))
    from ..audio.resample import resample

    for rate in (8000, 11025, 22050, 44100, 96000, 192000, 384000):
        add(f"rate-{rate}.wav", f"rate-{rate}", True, f"{rate} Hz WAV", "rate",
            data(_sf_bytes(resample(short[:SAMPLE_RATE], SAMPLE_RATE, rate), rate)))

    # --- channel counts (the 8-channel segfault lived here)
    one_s = short[:SAMPLE_RATE]
    for n in CHANNEL_COUNTS:
        add(f"ch{n:02d}.wav", f"wav-{n}ch", True, f"{n}-channel 16-bit WAV, layout unknown", "channels",
            data(_sf_bytes(_multichannel(one_s, n), SAMPLE_RATE)))
    add("ch08-7.1.wav", "wav-8ch-7.1", True, "8-channel WAVE_FORMAT_EXTENSIBLE with the 7.1 channel mask",
        "channels", data(wav_bytes(_pcm16(_multichannel(one_s, 8)), channels=8, channel_mask=0x63F)))
    add("ch08.flac", "flac-8ch", True, "8-channel FLAC", "channels",
        data(_sf_bytes(_multichannel(one_s, 8), SAMPLE_RATE, "FLAC", "PCM_16")))
    add("ch16.ogg", "vorbis-16ch", True, "16-channel Ogg Vorbis (decodes to 16 planes)", "channels",
        data(_sf_bytes(_multichannel(one_s, 16), SAMPLE_RATE, "OGG", "VORBIS")))
    add("ch06-5.1.m4a", "aac-5.1", True, "AAC 5.1 in M4A (planar float)", "channels",
        data(_encode_av(_multichannel(one_s, 6), SAMPLE_RATE, "ipod", "aac", "5.1")))
    add("ch08-7.1.m4a", "aac-7.1", True, "AAC 7.1 in M4A (8 planes of float)", "channels",
        data(_encode_av(_multichannel(one_s, 8), SAMPLE_RATE, "ipod", "aac", "7.1")))
    for n in TOO_MANY_CHANNELS:
        add(f"ch{n}.wav", f"wav-{n}ch", False, f"{n}-channel WAV: more than 64 channels is refused, clearly",
            "channels", data(_sf_bytes(_multichannel(one_s[:4000], n), SAMPLE_RATE)))

    # --- lengths
    add("tiny-10ms.wav", "clip-10ms", True, "0.01 s (160 samples)", "length",
        data(_sf_bytes(base[:160], SAMPLE_RATE)))
    add("tiny-10ms.mp3", "mp3-10ms", True, "0.01 s MP3", "length",
        data(_encode_av(base[:160], SAMPLE_RATE, "mp3", "libmp3lame", "mono")))
    if long_s > 0:
        def long_file(p: Path) -> None:
            import soundfile as sf

            with sf.SoundFile(str(p), "w", SAMPLE_RATE, 1, "PCM_16") as fh:
                quiet = np.zeros(int(4.0 * SAMPLE_RATE), np.float32)
                done = 0.0
                k = 0
                while done < long_s:  # speech-like bursts between pauses, written in pieces
                    piece = np.concatenate([speechlike(1.0, seed=k) * 0.8, quiet])
                    piece = piece[: int((long_s - done) * SAMPLE_RATE) or 1]
                    fh.write(piece)
                    done += piece.size / SAMPLE_RATE
                    k += 1
        add("long.wav", "long", True, f"{long_s:.0f} s of bursts and pauses", "length", long_file)

    # --- containers
    from . import video_file

    add("video-no-audio.mp4", "video-without-audio", False, "an MP4 with a video track only", "container",
        lambda p: video_file(None, SAMPLE_RATE, p, "mp4", duration_s=1.0))
    add("video-with-audio.mp4", "video-with-audio", True, "an MP4 with video and AAC audio", "container",
        lambda p: video_file(one_s, SAMPLE_RATE, p, "mp4"))
    add("mp3-named.wav", "mp3-named-wav", True, "an MP3 named .wav (content decides, not the name)",
        "container", data(_encode_av(one_s, SAMPLE_RATE, "mp3", "libmp3lame", "mono")))
    add("flac-named.mp3", "flac-named-mp3", True, "a FLAC named .mp3", "container",
        data(_sf_bytes(one_s, SAMPLE_RATE, "FLAC", "PCM_16")))
    add("two-streams.mkv", "mkv-two-audio-streams", True, "Matroska with two audio streams (the first is used)",
        "container", data(_two_stream_mkv(one_s)))

    # --- names
    names = [("with space.wav", "name-space"), ("中文 名字.wav", "name-chinese"),
             ("it's.wav", "name-single-quote"), ('say "hi".wav', "name-double-quote"),
             ("-leading-dash.wav", "name-leading-dash"), ("semi;colon $(x) & more.wav", "name-shell-chars"),
             ("UPPER.WAV", "name-upper-ext"), (b"caf\xe9-latin1.wav", "name-not-utf8"),
             ("x" * 240 + ".wav", "name-240-bytes")]
    names.append(("y" * 250 + ".wav", "name-250-bytes"))  # 254 bytes: outputs must shorten it to add .json
    for name, kind in names:
        add(name, kind, True, f"a good WAV named {os.fsdecode(name)[:40]!r}", "names", data(good_wav))
    add(b"bad-\xff\xfe-name.wav", "name-not-utf8-bad-file", False, "random bytes under a name that is not UTF-8 "
        "(the error line must still print)", "names", data(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()))

    # --- file-system oddities
    def link(target: str) -> Callable[[Path], object]:
        return lambda p: os.symlink(target, p)

    add("broken-link.wav", "broken-symlink", False, "a symlink to a file that does not exist", "fs",
        link("does-not-exist.wav"))
    add("loop.wav", "symlink-loop", False, "a symlink to itself", "fs", link("loop.wav"))
    add("good-link.wav", "symlink-ok", True, "a symlink to a good WAV", "fs", link("ch01.wav"))
    add("folder.wav", "dir-named-wav", False, "an empty directory named .wav", "fs",
        lambda p: p.mkdir())
    add("folder.mp3", "dir-named-mp3", False, "an empty directory named .mp3", "fs", lambda p: p.mkdir())

    def unreadable(p: Path) -> None:
        p.write_bytes(good_wav)
        p.chmod(0)

    root = hasattr(os, "geteuid") and os.geteuid() == 0
    add("no-permission.wav", "unreadable", root,
        "a good WAV with mode 000" + (" (readable anyway: running as root)" if root else ""), "fs", unreadable)
    if fifo and hasattr(os, "mkfifo"):
        add("pipe.wav", "fifo-named-wav", False, "a named pipe called pipe.wav (reading would block forever)",
            "fs", lambda p: os.mkfifo(p))
    return cases


def _two_stream_mkv(samples: np.ndarray) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="matroska") as container:
        streams = [container.add_stream("flac", rate=SAMPLE_RATE, layout="mono") for _ in range(2)]
        for k, stream in enumerate(streams):
            pcm = (samples * (0.5 if k else 1.0) * 32767).astype(np.int16)
            for i in range(0, pcm.size, 4096):
                frame = av.AudioFrame.from_ndarray(pcm[i:i + 4096].reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                frame.pts = i
                frame.time_base = Fraction(1, SAMPLE_RATE)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return out.getvalue()


def expected(cases: list[Case]) -> tuple[list[Case], list[Case]]:
    """(cases that must be accepted, cases that must be rejected)."""
    return [c for c in cases if c.expect_ok], [c for c in cases if not c.expect_ok]


__all__ = ["CHANNEL_COUNTS", "Case", "expected", "make_corpus", "speechlike", "wav_bytes"]
