"""Datasets as lazy streams of immutable records, in the formats speech people use.

Readers: our JSONL (``audio``, ``text``, ``lang``), NeMo JSONL (``audio_filepath``, ``text``,
``duration``), Kaldi data dirs (``wav.scp`` + ``text``), LJSpeech (``metadata.csv`` + ``wavs/``),
and plain directories of audio files. Writers put records back in the reader's own format,
atomically. Relative audio paths are resolved against the manifest's folder.

    >>> src = open_dataset("data/train.jsonl")                  # doctest: +SKIP
    >>> for rec in src: print(rec.audio, rec.text)              # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..errors import ManifestError

AUDIO_EXTENSIONS = frozenset(
    "wav flac mp3 ogg oga opus m4a aac aiff aif aifc wma webm mp4 mkv mov avi amr 3gp caf w64 au snd mka".split()
)


@dataclass(frozen=True)
class Record:
    """One clip: where its audio is, and what we know about it."""

    audio: str  # resolved path
    text: str | None = None
    lang: str | None = None
    duration_s: float | None = None
    id: str | None = None
    line: int = 0  # 1-based line in the source file (0 for directory listings)
    raw: Mapping = field(default_factory=dict, compare=False)  # the source's own fields, kept for writing back

    def with_fields(self, **changes) -> "Record":
        return replace(self, **changes)


@dataclass(frozen=True)
class Dataset:
    """A dataset on disk: ``format`` is one of jsonl, nemo, kaldi, ljspeech, dir, files."""

    path: Path
    format: str
    root: Path  # what relative audio paths are relative to

    def __iter__(self) -> Iterator[Record]:
        return iter_records(self)

    def records(self, on_error: Callable[[ManifestError], None] | None = None) -> Iterator[Record]:
        return iter_records(self, on_error)


def is_audio_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Recognise a manifest file, Kaldi dir, LJSpeech folder or audio directory by its contents."""
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{p}: not found; give a JSONL manifest, a Kaldi or LJSpeech folder, or a directory of audio.")
    if p.is_dir():
        if (p / "wav.scp").is_file():
            return Dataset(p, "kaldi", p)
        if (p / "metadata.csv").is_file() and (p / "wavs").is_dir():
            return Dataset(p / "metadata.csv", "ljspeech", p)
        return Dataset(p, "dir", p)
    suffix = p.suffix.lower()
    if p.name == "wav.scp":
        return Dataset(p.parent, "kaldi", p.parent)
    if p.name == "metadata.csv" or suffix == ".csv":
        return Dataset(p, "ljspeech", p.parent)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return Dataset(p, _jsonl_flavour(p), p.parent)
    raise ManifestError(f"{p}: not a manifest I can read; use .jsonl (ours or NeMo), a Kaldi dir with wav.scp, "
                        "or an LJSpeech metadata.csv.")


def _jsonl_flavour(path: Path) -> str:
    with _open_text(path) as fh:
        for line in _lines(fh, path):
            line = line.strip()
            if not line:
                continue
            try:
                first = json.loads(line)
            except json.JSONDecodeError:
                return "jsonl"  # the reader reports the line
            return "nemo" if isinstance(first, dict) and "audio_filepath" in first else "jsonl"
    return "jsonl"


# Manifests come from every editor: a UTF-8 byte-order mark (Windows Notepad, Excel's "CSV UTF-8") is read
# past, Windows line ends are cut like Unix ones, and a file in another encoding is one error that names it.
TEXT_ENCODING = "utf-8-sig"


def _open_text(path: Path, **kwargs):
    return open(path, encoding=TEXT_ENCODING, **kwargs)


def _lines(fh, path: Path):
    """The file's lines; a byte that is not UTF-8 is a ``ManifestError`` naming the file, not a crash."""
    try:
        yield from fh
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be read); "
                            "save it as UTF-8 and run again.") from None


def _resolve(root: Path, value: str) -> str:
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else root / p)


def iter_records(ds: Dataset, on_error: Callable[[ManifestError], None] | None = None) -> Iterator[Record]:
    """Records one at a time; a bad line raises ``ManifestError`` naming it, or goes to ``on_error``."""
    reader = {"jsonl": _read_jsonl, "nemo": _read_jsonl, "kaldi": _read_kaldi,
              "ljspeech": _read_ljspeech, "dir": _read_dir}[ds.format]
    for item in reader(ds):
        if isinstance(item, ManifestError):
            if on_error is None:
                raise item
            on_error(item)
        else:
            yield item


def _read_jsonl(ds: Dataset):
    with _open_text(ds.path) as fh:
        for n, line in enumerate(_lines(fh, ds.path), 1):
            if not line.strip():
                continue
            where = f"{ds.path} line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield ManifestError(f"{where}: not valid JSON ({exc.msg}); fix or delete the line.")
                continue
            if not isinstance(obj, dict):
                yield ManifestError(f"{where}: expected a JSON object with an 'audio' field.")
                continue
            audio = obj.get("audio", obj.get("audio_filepath"))
            if not isinstance(audio, str) or not audio.strip() or "\0" in audio:
                yield ManifestError(f"{where}: no 'audio' (or 'audio_filepath') path; every line needs one.")
                continue
            text = obj.get("text")
            if text is not None and not isinstance(text, str):
                yield ManifestError(f"{where}: 'text' must be a string.")
                continue
            lang = obj.get("lang") or obj.get("language")
            if lang is not None and not isinstance(lang, str):
                yield ManifestError(f"{where}: 'lang' must be a language code such as \"en\" or \"zh\", not {lang!r}.")
                continue
            utt = obj.get("id") or obj.get("utt_id")
            if utt is not None and (isinstance(utt, bool) or not isinstance(utt, (str, int))):
                yield ManifestError(f"{where}: 'id' must be a string, not {utt!r}.")
                continue
            offset = _seconds(obj.get("offset"))
            if offset:  # NeMo's segment of a longer file: every verb would read the whole file instead
                yield ManifestError(f"{where}: 'offset' {obj.get('offset')!r}: segments of a longer recording are "
                                    "not supported; cut it into one file per utterance first.")
                continue
            if offset is False:
                yield ManifestError(f"{where}: 'offset' must be a number of seconds (0 or more), "
                                    f"not {obj.get('offset')!r}.")
                continue
            duration = _seconds(obj.get("duration_s", obj.get("duration")))
            if duration is False:
                yield ManifestError(f"{where}: 'duration' must be a number of seconds (0 or more), "
                                    f"not {obj.get('duration_s', obj.get('duration'))!r}.")
                continue
            yield Record(audio=_resolve(ds.root, audio), text=text, lang=lang, duration_s=duration,
                         id=None if utt is None else str(utt), line=n, raw=obj)


def _seconds(value) -> float | None | bool:
    """A duration field as seconds; None when absent, False when it is not a finite number >= 0
    (NaN, Infinity, true, a negative number would reach the samplers and the progress figures)."""
    import math

    if value is None:
        return None
    if isinstance(value, bool):
        return False
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return seconds if math.isfinite(seconds) and seconds >= 0 else False


def _read_kaldi(ds: Dataset):
    d = ds.path
    texts: dict[str, str] = {}
    if (d / "text").is_file():
        with _open_text(d / "text") as fh:
            for n, line in enumerate(_lines(fh, d / "text"), 1):
                parts = line.rstrip("\n").split(maxsplit=1)
                if parts:
                    texts[parts[0]] = parts[1] if len(parts) > 1 else ""
    durations: dict[str, float] = {}
    if (d / "utt2dur").is_file():
        with _open_text(d / "utt2dur") as fh:
            for line in _lines(fh, d / "utt2dur"):
                parts = line.split()
                if len(parts) == 2:
                    try:
                        durations[parts[0]] = float(parts[1])
                    except ValueError:
                        pass
    langs: dict[str, str] = {}
    if (d / "utt2lang").is_file():
        with _open_text(d / "utt2lang") as fh:
            langs = dict(line.split(maxsplit=1) for line in _lines(fh, d / "utt2lang") if len(line.split()) == 2)
            langs = {k: v.strip() for k, v in langs.items()}
    if (d / "segments").is_file():
        yield ManifestError(f"{d}/segments: Kaldi segment files are not supported; "
                            "cut the recordings into one file per utterance first.")
        return
    with _open_text(d / "wav.scp") as fh:
        for n, line in enumerate(_lines(fh, d / "wav.scp"), 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(maxsplit=1)
            where = f"{d}/wav.scp line {n}"
            if len(parts) != 2:
                yield ManifestError(f"{where}: expected '<utterance-id> <path>'.")
                continue
            utt, path = parts
            if path.rstrip().endswith("|"):
                yield ManifestError(f"{where}: piped commands are not supported; give a file path.")
                continue
            yield Record(audio=_resolve(d, path.strip()), text=texts.get(utt), lang=langs.get(utt),
                         duration_s=durations.get(utt), id=utt, line=n, raw={"id": utt, "path": path.strip()})


def _read_ljspeech(ds: Dataset):
    with _open_text(ds.path, newline="") as fh:
        for n, line in enumerate(_lines(fh, ds.path), 1):
            if not line.strip():
                continue
            cols = line.rstrip("\r\n").split("|")
            utt = cols[0].strip()
            if len(cols) < 2 or not utt or "\0" in utt:
                yield ManifestError(f"{ds.path} line {n}: expected 'id|text[|normalized text]'.")
                continue
            if len(cols) > 3:  # which columns are the text is a guess: a '|' inside it, or another layout
                yield ManifestError(f"{ds.path} line {n}: {len(cols)} columns, expected 'id|text[|normalized text]' "
                                    "(is there a '|' in the text?); fix the line.")
                continue
            audio = ds.root / "wavs" / (utt if is_audio_file(utt) else utt + ".wav")
            text = cols[2] if len(cols) > 2 and cols[2].strip() else cols[1]
            yield Record(audio=str(audio), text=text, id=utt, line=n, raw={"cols": cols})


def _read_dir(ds: Dataset):
    """Audio files under a folder, recursively (hidden ones skipped), in sorted order.

    What is named like audio but cannot be one — a broken or looping symbolic link, a folder named
    ``x.wav`` with no audio in it, a named pipe — is reported (a ``ManifestError`` naming it), not
    silently left out, so a folder run says how many inputs it could not read.
    """
    audio_dirs: set[Path] = set()
    entries = []
    for p in sorted(ds.path.rglob("*")):
        rel = p.relative_to(ds.path)
        if any(part.startswith(".") for part in rel.parts) or not is_audio_file(p):
            continue
        entries.append(p)
        if p.is_file():
            audio_dirs.update(p.parents)
    for p in entries:
        problem = _not_audio_file(p, audio_dirs)
        if problem:
            yield ManifestError(f"{p} {problem}")
            continue
        if not p.is_file():
            continue  # a folder named like audio, whose audio files are listed on their own
        text = None
        side = p.with_suffix(".txt")
        if side.is_file():  # the common "clip.wav + clip.txt" layout
            text = side.read_text(encoding="utf-8", errors="replace").strip()
        yield Record(audio=str(p), text=text, id=str(p.relative_to(ds.path).with_suffix("")))


def _not_audio_file(p: Path, audio_dirs: set[Path]) -> str | None:
    """Why a path named like audio is not a file to decode (None if it is one, or a folder of audio)."""
    import errno
    import stat

    try:
        st = p.stat()
    except FileNotFoundError:
        return "is a broken symbolic link (its target does not exist); fix or remove the link."
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that loops back on itself; fix or remove it."
        return f"cannot be read ({exc.strerror})."
    if stat.S_ISDIR(st.st_mode):
        if p in audio_dirs:
            return None  # a folder that happens to be named like audio: its files are listed on their own
        return "is a folder named like an audio file, with no audio in it; rename or remove it."
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        return f"is {kind}, not a regular file; give an audio file."
    return None


# ------------------------------------------------------------------------------ writing

class ManifestWriter:
    """Write records in a dataset's own format, atomically on ``close()``.

    jsonl/nemo/dir -> a .jsonl file; kaldi -> a folder with wav.scp and text; ljspeech -> a
    metadata.csv (audio paths stay where they are, written relative to the output when possible).
    """

    def __init__(self, path: str | os.PathLike, fmt: str) -> None:
        self.path = Path(path)
        self.format = fmt
        self._rows: list[Record] = []

    def write(self, record: Record) -> None:
        self._rows.append(record)

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()

    def close(self) -> Path:
        from ..util import atomic_write_text, json_text

        if self.format == "kaldi":
            self.path.mkdir(parents=True, exist_ok=True)
            scp = "".join(f"{r.id or Path(r.audio).stem} {r.raw.get('path', r.audio)}\n" for r in self._rows)
            text = "".join(f"{r.id or Path(r.audio).stem} {r.text}\n" for r in self._rows if r.text is not None)
            atomic_write_text(self.path / "wav.scp", scp)
            atomic_write_text(self.path / "text", text)
            return self.path
        if self.format == "ljspeech":
            out = io.StringIO()
            for r in self._rows:
                cols = list(r.raw.get("cols") or [r.id or Path(r.audio).stem, r.text or ""])
                out.write("|".join(cols) + "\n")
            atomic_write_text(self.path, out.getvalue())
            return self.path
        lines = []
        for r in self._rows:
            obj = dict(r.raw) if r.raw else {"audio": r.audio, "text": r.text, "lang": r.lang}
            if not r.raw:
                if r.duration_s is not None:
                    obj["duration_s"] = round(r.duration_s, 3)
                obj = {k: v for k, v in obj.items() if v is not None}
            lines.append(json_text(obj))
        atomic_write_text(self.path, "".join(line + "\n" for line in lines))
        return self.path


def write_jsonl(path: str | os.PathLike, rows: list[Mapping]) -> Path:
    """Write dicts as JSON lines, atomically."""
    from ..util import atomic_write_text, json_text

    return atomic_write_text(path, "".join(json_text(r) + "\n" for r in rows))


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return False


class JsonlAppender:
    """Append JSON lines as results arrive, flushed each time, so a crash loses at most one line.

    On open, a trailing partial line (from a crash mid-write) is cut off.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                tail = data[data.rfind(b"\n") + 1:]
                # Only a half-written line of ours is cut (a JSON object that does not parse); any other
                # last line — a file the user named that we never wrote — is kept and ended.
                if tail.lstrip().startswith(b"{") and not _parses(tail):
                    with open(self.path, "wb") as fh:
                        fh.write(data[: data.rfind(b"\n") + 1])
                else:
                    with open(self.path, "ab") as fh:
                        fh.write(b"\n")
        self._fh = open(self.path, "a", encoding="utf-8")

    def done_keys(self, key: str = "audio") -> set[str]:
        out = set()
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.add(json.loads(line)[key])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
        return out

    def write(self, row: Mapping) -> None:
        from ..util import json_text

        self._fh.write(json_text(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *_) -> None:
        self.close()


__all__ = ["AUDIO_EXTENSIONS", "Dataset", "JsonlAppender", "ManifestWriter", "Record", "is_audio_file",
           "iter_records", "open_dataset", "write_jsonl"]
