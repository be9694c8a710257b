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


def write_clips(result, out_dir: str | os.PathLike, fmt: str = "wav", *, library=None,
                on_error=None) -> list[Path]:
    """Write each hit of ``result`` (a SearchResult) as ``NN-STEM-START-END.FMT`` plus a ``.json`` sidecar.

    ``library`` (the ``Index`` searched): the folder must be outside the index, and neither a folder of
    indexed recordings nor inside one (clips there would be indexed as new recordings by the next run),
    and a hit whose file is gone or changed since it was indexed is not cut (its seconds would be another
    recording's). Such a hit, or one whose audio cannot be read, is one line to ``on_error`` and skipped;
    without ``on_error`` it raises.
    """
    from ..audio.io import encode_audio
    from ..errors import TingshuoError
    from ..util import atomic_write_bytes

    fmt = check_clips_folder(out_dir, fmt, library)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (was 'unexpected FileNotFoundError' for a folder under /proc, a read-only disk ...)
        raise InputError(f"--clips {out}: the folder cannot be made ({exc.strerror or exc}); give another.") from None
    written = []
    for k, hit in enumerate(result.hits, 1):
        stem = re.sub(r"[^\w.\-]+", "_", Path(hit.audio).stem)[:60] or "clip"
        name = f"{k:02d}-{stem}-{hit.start_s:.1f}-{hit.end_s:.1f}"
        try:
            if library is not None:
                check_unchanged(hit.audio, library)
            audio = read_span(hit.audio, hit.start_s, hit.end_s)
        except TingshuoError as exc:
            if on_error is None:
                raise
            on_error(f"clip {k} not written: {exc}")
            continue
        path = out / f"{name}.{fmt}"
        data = encode_audio(audio, fmt)
        try:
            atomic_write_bytes(path, data)
            atomic_write_text(out / f"{name}.json", json_text({"query": result.query, "rank": k, **hit.to_dict(),
                                                                 "clip": path.name}, indent=2) + "\n")
        except OSError as exc:  # read-only, full, or not a real folder (/proc, /sys): every clip would fail
            raise InputError(f"--clips {out}: {path.name} cannot be written ({exc.strerror or exc}); give a folder "
                             "you can write to.") from None
        written.append(path)
    return written


def check_clips_folder(out_dir: str | os.PathLike, fmt: str, library=None) -> str:
    """Refuse a clip format we cannot write, a clips folder that is a file, and (with ``library``) one
    where the clips would be taken for recordings; returns the format's name."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS or fmt == "pcm":
        raise InputError(f"Cannot write clips as '{fmt}'; choose one of: {', '.join(f for f in FORMATS if f != 'pcm')}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--clips {out} is a file; give a folder for the clips.")
    if library is not None:
        _check_outside(out, library)
    return fmt


def _check_outside(out: Path, library) -> None:
    """The clips folder is not the index folder (nor in it), nor a folder that holds indexed recordings
    (nor one inside it): the next 'tingshuo index' of that folder would take the clips for recordings."""
    folder = Path(library.folder)
    for a, b in ((out.absolute(), folder.absolute()), (out.resolve(), folder.resolve())):
        if a == b or b in a.parents:
            raise InputError(f"--clips {out} is inside the index {folder}, which holds only the index; "
                             "give a folder outside it.")
    for path in {out.absolute(), out.resolve()}:
        for folder in (path, *path.parents):  # the folder of an indexed recording, or a folder inside it
            inside = library.store.file_directly_in(str(folder))
            if inside:
                raise InputError(f"--clips {out} is in the folder of indexed recordings ({inside}); clips written "
                                 "there would be indexed as new recordings by the next 'tingshuo index' of that "
                                 "folder: give a folder outside the library.")


def check_unchanged(audio: str, library) -> None:
    """The hit's file is still the one indexed: present, with the size and time recorded."""
    from .document import file_state

    row = library.store.file_by_path(audio)
    try:
        state = file_state(audio)
    except OSError:
        raise InputError(f"{audio} no longer exists (moved or deleted since it was indexed); run "
                         f"'tingshuo index PATH... --index {library.folder}' to update the index.") from None
    if row is not None and (state.size, state.mtime_ns) != (row.size, row.mtime_ns):
        raise InputError(f"{audio} changed since it was indexed, so the hit's seconds may hold something else; "
                         f"run 'tingshuo index PATH... --index {library.folder}' first.")
