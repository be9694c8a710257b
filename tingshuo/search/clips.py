"""Hits as audio clips: the seconds of each hit cut from its file, with a JSON sidecar.

    >>> write_clips(result, "clips/", fmt="wav")     # clips/01-talk-62.3-65.8.wav + .json  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..audio.io import FORMATS, iter_audio
from ..errors import InputError
from ..types import Audio
from ..util import atomic_write_text, json_text


def read_span(path: str | os.PathLike, start_s: float, end_s: float) -> Audio:
    """Samples from ``start_s`` to ``end_s`` at the file's own rate (soundfile seeks; others decode up to it)."""
    start_s, end_s = max(0.0, float(start_s)), max(float(start_s), float(end_s))
    try:
        import soundfile as sf

        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            f.seek(min(int(start_s * rate), f.frames))
            data = f.read(max(0, int((end_s - start_s) * rate)), dtype="float32", always_2d=True)
            return Audio(np.ascontiguousarray(data.mean(axis=1), np.float32), rate, source=str(path))
    except Exception:  # not a format libsndfile reads: decode with FFmpeg up to the end of the span
        pass
    from ..audio.io import probe

    rate = probe(path).sample_rate or 16000
    parts, t = [], 0.0
    for block in iter_audio(str(path), sample_rate=rate, block_s=10.0):
        b0, b1 = t, t + block.size / rate
        if b1 > start_s and b0 < end_s:
            parts.append(block[max(0, int((start_s - b0) * rate)):int((end_s - b0) * rate)])
        t = b1
        if t >= end_s:
            break
    return Audio(np.concatenate(parts) if parts else np.zeros(0, np.float32), rate, source=str(path))


def write_clips(result, out_dir: str | os.PathLike, fmt: str = "wav") -> list[Path]:
    """Write each hit of ``result`` (a SearchResult) as ``NN-STEM-START-END.FMT`` plus a ``.json`` sidecar."""
    from ..audio.io import encode_audio
    from ..util import atomic_write_bytes

    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS or fmt == "pcm":
        raise InputError(f"Cannot write clips as '{fmt}'; choose one of: {', '.join(f for f in FORMATS if f != 'pcm')}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--clips {out} is a file; give a folder for the clips.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (was 'unexpected FileNotFoundError' for a folder under /proc, a read-only disk ...)
        raise InputError(f"--clips {out}: the folder cannot be made ({exc.strerror or exc}); give another.") from None
    written = []
    for k, hit in enumerate(result.hits, 1):
        stem = re.sub(r"[^\w.\-]+", "_", Path(hit.audio).stem)[:60] or "clip"
        name = f"{k:02d}-{stem}-{hit.start_s:.1f}-{hit.end_s:.1f}"
        audio = read_span(hit.audio, hit.start_s, hit.end_s)
        path = out / f"{name}.{fmt}"
        atomic_write_bytes(path, encode_audio(audio, fmt))
        atomic_write_text(out / f"{name}.json", json_text({"query": result.query, "rank": k, **hit.to_dict(),
                                                             "clip": path.name}, indent=2) + "\n")
        written.append(path)
    return written
