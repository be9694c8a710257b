"""Transcription as a batch job: inputs to items, finished items skipped, outputs written as they arrive.

The same driver code serves both executors — the local :class:`~tingshuo.asr.pipeline.Transcriber`
and Ray actors (:mod:`tingshuo.scale`) — so a run writes the same files, byte for byte, wherever
the recognition happened::

    items = expand_inputs(["clips/"], errors)
    sink = TranscriptSink("out/", ("txt", "srt"), manifest_out="asr.jsonl")
    items, skipped = sink.pending(items, skip_existing=True)
    for i, result in transcriber.transcribe_many([it.audio for it in items]):
        sink.write(i, items[i], result)                       # or sink.fail(i, items[i], error)
    sink.close()

Per-input files are written atomically the moment a result arrives. The two ordered streams — the
``--manifest-out`` lines and text sent to stdout — come out in input order whatever order the
results arrive in (a reorder buffer of at most ``REORDER_WINDOW`` inputs), so they are identical
for every executor.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

from ..errors import InputError, TingshuoError
from ..types import Transcript
from ..util import InputFiles

# Manifest lines and stdout text wait for earlier inputs, but at most this many: an input that
# takes far longer than the rest (a re-pass after a lost node) is written when it arrives, so a
# crash never costs the lines of more than this many finished inputs.
REORDER_WINDOW = 1000


@dataclass(frozen=True)
class Item:
    """One audio input of a batch run."""

    audio: str  # the path as the user gave it (also the transcript's ``source``)
    out_stem: Path  # output path without suffix, relative to the output folder
    language: str | None
    duration_s: float | None


def expand_inputs(inputs: Iterable[str], errors: list[tuple[str, TingshuoError]],
                  references: set[str] | None = None) -> list[Item]:
    """Turn command-line inputs (files, folders, manifests) into audio items with unique output stems.

    Inputs that cannot be read are appended to ``errors`` as ``(input, error)``; the rest go on.
    ``references`` collects the absolute paths of the ``clip.txt`` files a folder's ``clip.wav`` took
    its reference text from: inputs too, never to be overwritten by a ``txt`` transcript.
    """
    from ..asr.text import normalize_language
    from ..data.manifest import open_dataset

    items: list[Item] = []
    for raw in inputs:
        p = Path(raw)
        try:
            if not str(raw):  # Path("") is the current folder: an empty field would process all of it
                raise InputError("An empty path was given; name a file or folder.")
            manifest = p.suffix.lower() in MANIFEST_SUFFIXES or p.name in ("wav.scp", "metadata.csv")
            if not p.is_dir() and not (manifest and p.is_file()):
                if not (p.exists() or p.is_symlink()):
                    raise InputError(f"{raw}: file or folder not found.")
                # An audio file, or something that is not one (a pipe, a broken link): the decoder says which.
                items.append(Item(str(p), Path(p.stem), None, None))
                continue
            ds = open_dataset(p)
            root = dataset_root(ds)

            def bad_line(exc, _raw=raw):
                errors.append((_raw, exc))

            for rec in ds.records(on_error=bad_line):
                if references is not None and p.is_dir() and rec.text is not None:
                    side = Path(rec.audio).with_suffix(".txt")
                    if side.is_file():
                        references.add(os.path.abspath(side))
                items.append(Item(rec.audio, record_stem(rec.audio, root), normalize_language(rec.lang),
                                  rec.duration_s))
        except TingshuoError as exc:
            errors.append((raw, exc))
    stems = unique_stems([it.out_stem for it in items])
    return [Item(it.audio, stem, it.language, it.duration_s) for it, stem in zip(items, stems)]


def dataset_root(ds) -> Path:
    """The folder a dataset's records are named under (not resolve(): a symlinked clip is named by its
    link, and a link that loops is the decoder's to report, not a crash here)."""
    return Path(os.path.abspath(ds.root))


def record_stem(audio: str, root: Path) -> Path:
    """A dataset record's output path without suffix: its place under ``root``, or its file name."""
    try:
        rel = Path(os.path.abspath(audio)).relative_to(root)
    except ValueError:
        rel = Path(Path(audio).name)
    if not rel.name:  # the root itself ("audio": "."), or "/": a name to report it under, not a crash
        rel = Path(os.path.basename(os.path.abspath(audio)) or "audio")
    return rel.with_suffix("")


def unique_stems(stems: list[Path]) -> list[Path]:
    """Output stems, shortened to what a file system allows, so that two inputs never write the same
    output file (a repeat gets -2, -3 ...)."""
    seen: dict[Path, int] = {}
    unique = []
    for original in stems:
        stem = _short_stem(original)
        if stem in seen:
            seen[stem] += 1
            stem = stem.with_name(f"{stem.name}-{seen[_short_stem(original)]}")
        seen.setdefault(stem, 1)
        unique.append(stem)
    return unique


MANIFEST_SUFFIXES = (".jsonl", ".json", ".csv", ".ndjson")
MAX_STEM_BYTES = 240  # outputs add a suffix (-2.json: 7 bytes); the file system allows 255


def _short_stem(stem: Path) -> Path:
    """The stem, or for a name too long to take a suffix, its first bytes plus a hash of the rest."""
    raw = os.fsencode(stem.name)
    if len(raw) <= MAX_STEM_BYTES:
        return stem
    import hashlib

    head = os.fsdecode(raw[:MAX_STEM_BYTES - 9])
    return stem.with_name(f"{head}-{hashlib.sha1(raw).hexdigest()[:8]}")


def sweep_stale_temp_files(out_dir: Path, items: list[Item], formats) -> int:
    """Remove the temp files a killed run left next to the outputs it was writing (``.NAME.FMT.xxxxxxxx.tmp``,
    see ``util.atomic_write_bytes``); returns how many. Only names of this run's outputs are touched."""
    import re

    wanted = {(out_dir / f"{it.out_stem}.{fmt}") for it in items for fmt in formats}
    by_dir: dict[Path, set[str]] = {}
    for target in wanted:
        by_dir.setdefault(target.parent, set()).add(target.name[:64])
    removed = 0
    pattern = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")
    for folder, prefixes in by_dir.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            m = pattern.match(name)
            if m and m.group(1) in prefixes:
                try:
                    os.unlink(folder / name)
                    removed += 1
                except OSError:
                    pass
    return removed


class TranscriptSink:
    """Where a batch run's transcripts go: one file per format per input, an optional JSONL
    manifest, or stdout (``out_dir='-'``). Files appear atomically as results arrive; manifest
    lines and stdout text come in input order."""

    def __init__(self, out_dir: str | os.PathLike, formats: tuple[str, ...], *,
                 manifest_out: str | os.PathLike | None = None, stdout: TextIO | None = None,
                 inputs: Iterable[str | os.PathLike] = ()) -> None:
        from ..data.manifest import JsonlAppender

        self.formats = tuple(formats)
        self.to_stdout = str(out_dir) == "-"
        self.out_dir = Path(out_dir)
        self.stdout = stdout or sys.stdout
        self.appender = None
        if manifest_out:
            # Opening it cuts a trailing partial line and appends: '--manifest-out clip.wav' (an input)
            # cut the audio file at its last newline byte and wrote JSON into it.
            if manifest_out in InputFiles(inputs):
                raise InputError(f"--manifest-out {manifest_out} is one of the inputs; choose another path.")
            try:
                self.appender = JsonlAppender(manifest_out)
            except OSError as exc:
                raise InputError(f"Cannot write --manifest-out {manifest_out} ({exc.strerror}); "
                                 "choose another path.") from None
        self._inputs = InputFiles()
        self._pending: dict[int, tuple[str, dict | None]] = {}  # index -> (stdout text, manifest row)
        self._next = 0  # first index whose ordered output is not out yet
        self._written: set[int] = set()

    def pending(self, items: list[Item], skip_existing: bool,
                protect: Iterable[str | os.PathLike] = ()) -> tuple[list[Item], int]:
        """The items still to do, and how many were skipped because all their outputs exist.

        Call before anything is transcribed (or shipped to a cluster): it also records the inputs,
        which are never overwritten — the audio, and the ``protect`` paths (the manifests the items came
        from: ``clips.json`` listing ``clips.wav`` would otherwise be replaced by its transcript).
        """
        skipped = 0
        if skip_existing:
            done = self.appender.done_keys() if self.appender else set()
            keep = []
            for it in items:
                outputs_exist = not self.to_stdout and all(self.target(it, f).exists() for f in self.formats)
                if outputs_exist and (self.appender is None or it.audio in done):
                    skipped += 1
                else:
                    keep.append(it)
            items = keep
        self._inputs = InputFiles([*(it.audio for it in items), *protect])
        if not self.to_stdout:
            for it in items:  # say so now, not after the model has loaded and other files are done
                for fmt in self.formats:
                    if self.target(it, fmt) in self._inputs:
                        raise InputError(f"Refusing to overwrite input {self.target(it, fmt)} with the {fmt} "
                                         f"transcript of {it.audio}; choose another --output-dir (or leave {fmt} out of --format).")
            sweep_stale_temp_files(self.out_dir, items, self.formats)
        return items, skipped

    def target(self, item: Item, fmt: str) -> Path:
        return self.out_dir / f"{item.out_stem}.{fmt}"

    def write(self, index: int, item: Item, result: Transcript) -> bool:
        """Write ``result`` for the ``index``-th pending item; False if that index was written already
        (a retried batch delivering twice), so each input appears exactly once. An ``OSError`` (disk
        full, a name the file system refuses) leaves the index unsettled: call ``fail`` for it."""
        from ..util import atomic_write_text
        from .formats import render

        if index in self._written:
            return False
        texts = [render(result, fmt) for fmt in self.formats]
        if not self.to_stdout:
            for fmt, text in zip(self.formats, texts):
                target = self.target(item, fmt)
                if target in self._inputs:
                    raise InputError(f"Refusing to overwrite input {target}; choose another --output-dir.")
                atomic_write_text(target, text)
        row = None
        if self.appender:
            row = {"audio": item.audio, "text": result.text, "lang": result.language,
                   "duration_s": round(result.duration_s, 3)}
        self._ordered(index, "".join(texts) if self.to_stdout else "", row)
        return True

    def fail(self, index: int, item: Item | None = None) -> bool:
        """Record that the ``index``-th item failed (nothing written); False if it was settled already."""
        if index in self._written:
            return False
        self._ordered(index, "", None)
        return True

    def _ordered(self, index: int, text: str, row: dict | None) -> None:
        self._written.add(index)
        if index < self._next:  # it fell out of the reorder window: out of order, but never held forever
            self._emit(text, row)
            return
        self._pending[index] = (text, row)
        while self._next in self._pending or len(self._pending) > REORDER_WINDOW:
            self._next = self._next if self._next in self._pending else min(self._pending)
            self._emit(*self._pending.pop(self._next))
            self._next += 1

    def _emit(self, text: str, row: dict | None) -> None:
        if text:
            self.stdout.write(text)
            self.stdout.flush()
        if row is not None:
            self.appender.write(row)

    def close(self) -> None:
        """Flush what is held back for order (items that never finished are left out) and close."""
        for index in sorted(self._pending):
            self._emit(*self._pending.pop(index))
        if self.appender:
            self.appender.close()
