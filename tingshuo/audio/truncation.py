"""Telling a cut-off file from a short one, for the containers that make it possible.

A download that stopped half way decodes without an error in most formats; what gives it away
is a length the file declares about itself and does not reach:

* PCM in WAV/AIFF: the data chunk's size (read by libsndfile, which reports "should be" sizes);
* FLAC, ALAC, WavPack, TTA: the total sample count in the stream header;
* MP4/M4A/MOV: the sample tables in the moov atom (any codec);
* MP3 with a Xing/Info or VBRI frame (what LAME and FFmpeg write): its frame count;
* Ogg (Vorbis, Opus, FLAC): the last page must be whole and carry the end-of-stream flag.

Other files (MP3 without a Xing frame, raw AAC, Matroska) hold no such figure; a cut-off copy of
one is indistinguishable from a shorter recording, and is decoded as it is.
"""

from __future__ import annotations

import os
from typing import Callable

_EXACT_LENGTH_CODECS = ("pcm_", "flac", "alac", "wavpack", "tta")
_MOV = "mov"  # FFmpeg's mov/mp4/m4a demuxer is named "mov,mp4,m4a,3gp,3g2,mj2"
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # data sizes that mean "until the end of the file" (written by a pipe)
TAIL_BYTES = 65536 + 512  # an Ogg page is at most 65307 bytes


class Reader:
    """Random access to the start and the end of a path or a bytes buffer (None for other sources)."""

    def __init__(self, source) -> None:
        self.source = source
        if isinstance(source, (str, os.PathLike)):
            self.size = os.path.getsize(source)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self.size = len(source)
        else:
            self.size = None

    def read(self, offset: int, n: int) -> bytes:
        if isinstance(self.source, (bytes, bytearray, memoryview)):
            return bytes(self.source[offset:offset + n])
        with open(self.source, "rb") as fh:
            fh.seek(offset)
            return fh.read(n)


def declared_seconds(source, container_format: str, codec: str, stream_duration_s: float | None) -> float | None:
    """How long the file says its audio is, where that statement can be trusted; else None."""
    if stream_duration_s is None:
        return None
    if codec.startswith(_EXACT_LENGTH_CODECS[1:]) or _MOV in container_format.split(","):
        return stream_duration_s
    if container_format == "mp3":
        reader = Reader(source)
        if reader.size is not None and has_xing_frame(reader.read(0, 1 << 16)):
            return stream_duration_s
    return None


def has_xing_frame(head: bytes) -> bool:
    """Whether the first MPEG audio frame (after any ID3v2 tag) is a Xing/Info or VBRI header."""
    pos = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        size = ((head[6] & 0x7F) << 21) | ((head[7] & 0x7F) << 14) | ((head[8] & 0x7F) << 7) | (head[9] & 0x7F)
        pos = 10 + size + (10 if head[5] & 0x10 else 0)
    while pos + 4 <= len(head):  # the first frame sync: 11 set bits
        if head[pos] == 0xFF and head[pos + 1] & 0xE0 == 0xE0:
            break
        pos += 1
    else:
        return False
    first_frame = head[pos:pos + 200]
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def pcm_sizes(path) -> tuple[int | None, int | None]:
    """(bytes the WAV/AIFF header declares for its audio, bytes present); None where unknown."""
    try:
        import soundfile

        report = soundfile.info(str(path)).extra_info
    except Exception:  # libsndfile cannot read it: nothing to compare
        return None, None
    for line in report.splitlines():
        key = line.split(":")[0].strip()
        if key in ("data", "SSND") and "should be" in line:
            nums = [int(x) for x in line.replace("(", " ").replace(")", " ").split() if x.isdigit()]
            if len(nums) >= 2 and nums[0] not in _UNKNOWN_SIZES:
                return nums[0], nums[1]
    return None, None


def ogg_cut_off(source) -> str | None:
    """Why an Ogg file is incomplete (its last page cut, or no end-of-stream page), or None if whole."""
    reader = Reader(source)
    if reader.size is None or reader.size < 27:
        return None
    start = max(0, reader.size - TAIL_BYTES)
    tail = reader.read(start, reader.size - start)
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        page = _ogg_page(tail, pos)
        if page is not None:
            flags, length = page
            if pos + length > len(tail):
                return f"its last Ogg page is cut off ({len(tail) - pos} of {length} bytes present)"
            if not flags & 0x04:
                return "it ends without the Ogg end-of-stream page"
            return None
        pos = tail.rfind(b"OggS", 0, pos)
    return None


def _ogg_page(buf: bytes, pos: int) -> tuple[int, int] | None:
    """(header flags, page length) of a page header at ``pos``, or None if it is not one."""
    if pos + 27 > len(buf) or buf[pos + 4] != 0:  # stream structure version is 0
        return None
    flags = buf[pos + 5]
    if flags & ~0x07:
        return None
    n_segments = buf[pos + 26]
    if pos + 27 + n_segments > len(buf):
        return flags, 27 + n_segments + 255 * n_segments  # the lacing table itself is cut
    lacing = buf[pos + 27:pos + 27 + n_segments]
    return flags, 27 + n_segments + sum(lacing)


def check(source, name: str, container_format: str, codec: str, stream_duration_s: float | None,
          decoded_s: float, error: Callable[[str], Exception]) -> None:
    """Raise ``error(message)`` if the file declares more audio than it holds."""
    declared = None
    if codec.startswith("pcm_") and isinstance(source, (str, os.PathLike)):
        # FFmpeg sizes PCM streams by the file; libsndfile reports what the header claims.
        declared_bytes, actual_bytes = pcm_sizes(source)
        if declared_bytes and actual_bytes is not None and actual_bytes < 0.98 * declared_bytes:
            declared = decoded_s * declared_bytes / max(actual_bytes, 1)
    elif not codec.startswith("pcm_"):
        declared = declared_seconds(source, container_format, codec, stream_duration_s)
    if declared and decoded_s < 0.98 * declared - 0.05:
        raise error(f"{name} is truncated: its header says {declared:.2f} s but only {decoded_s:.2f} s "
                    "of audio is present; re-export or re-download the file.")
    if container_format == "ogg":
        why = ogg_cut_off(source)
        if why:
            raise error(f"{name} is truncated: {why}; re-export or re-download the file.")


def pcm_max_seconds(path, channels: int, bits: int | None, sample_rate: int) -> float | None:
    """The most audio a PCM file of this size can hold (a ceiling for a header that claims more)."""
    if not bits or channels <= 0 or sample_rate <= 0:
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    return size / (channels * max(1, bits // 8)) / sample_rate


__all__ = ["check", "declared_seconds", "has_xing_frame", "ogg_cut_off", "pcm_max_seconds", "pcm_sizes"]
