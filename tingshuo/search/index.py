"""An audio library index: a folder with one SQLite database and its derived vector files.

    >>> lib = Index("lib/")                                   # doctest: +SKIP
    >>> report = lib.add(["recordings/", "calls.jsonl"])      # new and changed files; deleted ones dropped
    >>> lib.search("怎么退货", top=5).hits                     # doctest: +SKIP
    >>> lib.remove(["recordings/old.mp3"])                    # doctest: +SKIP

Layout of LIB: ``index.sqlite`` (files, segments, passages, FTS5 terms, vectors — the truth),
``vectors.*`` (a memory-mapped copy for fast nearest-neighbour search, rebuilt from SQLite when
stale), ``media/`` (audio uploaded through the server). The index records the recogniser and the
embedder that made it: a run with another recogniser stops and says what to do; another embedder
version gets every passage embedded again (resumably) on the next ``add``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import InputError, TingshuoError
from ..util import same_file
from .document import (Document, FileState, abs_path, content_hash, file_state, make_document,
                       sidecar_transcript)
from .query import SearchOptions, SearchResult, search
from .store import DamagedRow, IndexDamaged, Store
from .upgrade import IndexUpgrades, embedder_name
from .vectors import VectorCache

DB_NAME = "index.sqlite"
MAX_AUDIO_QUERY_S = 120.0  # a spoken query longer than this is refused before it is recognised
ERRORS_LOG = "errors.log"  # in the index folder: the traceback of each file an unexpected error skipped
DERIVED = ("hot_terms.json", "index.sqlite-wal", "index.sqlite-shm", "index.sqlite-journal")


@dataclass(frozen=True)
class IndexReport:
    """What one ``add`` did, with where its time went."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    moved: int = 0
    removed: int = 0
    reembedded: int = 0
    remade: int = 0  # files whose units an older tingshuo made, made anew from their stored words
    failed: tuple[tuple[str, str], ...] = ()  # (path, one-line message)
    audio_s: float = 0.0  # of the files indexed in this run
    wall_s: float = 0.0
    index_s: float = 0.0  # passages, embedding and writing: the cost on top of transcription

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["failed"] = [{"audio": p, "error": m} for p, m in self.failed]
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in d.items()}


def recogniser_name(model: str | None) -> str:
    """The name a model is recorded under: its catalog name, or the folder it was loaded from."""
    from .. import models

    if model and (os.sep in model or Path(model).is_dir()):
        return str(Path(model).resolve())
    return (models.get(model) if model else models.default("asr")).name


class Index(IndexUpgrades):
    """A searchable audio library in the folder ``lib``."""

    def __init__(self, lib: str | os.PathLike, *, model: str | None = None, transcribe_options=None,
                 embedder=None, create: bool = True, cpu_threads: int = 0) -> None:
        if not str(lib).strip():  # Path("") is the current folder: the index would land among the user's files
            raise InputError("The index folder is empty (--index \"\"); name the folder of the index, e.g. --index lib/.")
        self.folder = Path(lib)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder} is a file; an index is a folder (give a new or existing folder).")
        self.store = Store(self.folder / DB_NAME, create=create)
        self.vectors = VectorCache(self.folder, self.store, self.means)
        self.model = model
        self.cpu_threads = cpu_threads
        self.transcribe_options = transcribe_options
        self._embedder = embedder
        self._rescorer = None
        self._transcriber = None

    # ------------------------------------------------------------------ models
    @property
    def embedder(self):
        if self._embedder is None:
            from .embed import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    @property
    def rescorer(self):
        """The second encoder (USE multilingual v3): every unit is embedded with it too, and the
        candidates of a search are re-scored with both encoders' cosines."""
        if self._rescorer is None:
            from .document import load_rescorer

            self._rescorer = load_rescorer()
        return self._rescorer

    def means(self) -> dict:
        """The reference means vectors are centred with: computed once per embedder, kept in the index."""
        import numpy as np

        from .vectors import reference_means

        if getattr(self, "_means", None) is not None:
            return self._means
        name = embedder_name()
        raw = self.store.get_meta("reference_means")
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):  # derived: recomputed if unreadable
            data = json.loads(raw or "{}")
            if data.get("embedder") == name:
                means = {lg: [np.asarray(v, np.float32) for v in pair] for lg, pair in data["means"].items()}
                if all(len(means.get(lg, ())) == 2 and all(v.shape == (self.vectors.dim,) for v in means[lg])
                       for lg in ("en", "zh")):
                    self._means = means
                    return means
        means = self._means = reference_means(self.embedder)
        self.store.set_meta("reference_means", json.dumps(
            {"embedder": name, "means": {lg: [[round(float(x), 6) for x in v] for v in pair]
                                         for lg, pair in means.items()}}))
        return means

    def transcriber(self):
        if self._transcriber is None:
            from ..asr.base import TranscribeOptions
            from ..asr.pipeline import Transcriber

            opts = dataclasses.replace(self.transcribe_options or TranscribeOptions(), word_timestamps=True)
            self._transcriber = Transcriber(self.model, opts, cpu_threads=self.cpu_threads)
        return self._transcriber

    def info(self) -> dict:
        with self.store.guarded():
            return {"index": str(self.folder), **self.store.counts(), "recogniser": self.store.get_meta("recogniser"),
                    "embedder": self.store.get_meta("embedder")}

    def check_embedder(self) -> None:
        """Searching needs vectors from this installation's embedder."""
        made, have = self.store.get_meta("embedder"), embedder_name()
        if made and made != have:
            n = self.store.counts()["passages"]
            raise InputError(f"The index {self.folder} was embedded with {made}; this installation has {have}. "
                             f"Run 'tingshuo index --index {self.folder}' to embed its {n} passages again "
                             f"(about {n / 60 / 60:.1f} min).")

    # ------------------------------------------------------------------ adding
    def add(self, paths: Iterable[str | os.PathLike], *, retranscribe: bool = False,
            on_file: Callable[[str, str, str], None] | None = None,
            on_progress: Callable[[float], None] | None = None, prune: bool = True,
            documents: Callable | None = None, strict: bool = False) -> IndexReport:
        """Index new and changed files among ``paths`` (files, folders, manifests as ``transcribe``
        reads them), skip unchanged ones, drop indexed files that no longer exist (``prune``).

        ``on_file(status, path, message)`` hears each file's outcome (added, updated, skipped, moved,
        removed, failed); ``on_progress`` gets the seconds of audio of each file done.
        ``documents(index, work)`` makes the documents elsewhere (``tingshuo.scale.index.RayDocuments``:
        on Ray actors): given ``[(FileState, content hash or "" to compute there, language)]`` for the
        files to (re)index, it yields ``(k, Document or TingshuoError)`` as each is done; every decision
        before it and every write after it stays here.

        A file whose document fails with an unexpected error (a bug, not bad input) is one failed line
        naming the error, its traceback appended to ``errors.log`` in the index folder, and the run goes
        on; ``strict`` raises it instead (``--debug``).
        """
        self._check_writable()
        with self.store.guarded():
            return self._add(_path_list(paths), retranscribe=retranscribe, on_file=on_file, on_progress=on_progress,
                             prune=prune, documents=documents, strict=strict)

    def _unexpected(self, path: str, exc: Exception) -> str:
        """The one line for a file an unexpected error stopped; the traceback goes to ``errors.log``."""
        log = self.folder / ERRORS_LOG
        try:
            with open(log, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {path}\n")
                fh.write("".join(traceback.format_exception(exc)))
            where = f"the traceback is in {log}"
        except OSError:
            where = "rerun with --debug for the traceback"
        return (f"{path}: unexpected {type(exc).__name__} while indexing it ({exc}); skipped. This is a bug in "
                f"tingshuo: please report it ({where}).")

    def _add(self, paths, *, retranscribe, on_file, on_progress, prune, documents, strict) -> IndexReport:
        from ..cli.transcribe import expand_inputs

        started = time.perf_counter()
        note = on_file or (lambda *_: None)
        counts = {"added": 0, "updated": 0, "skipped": 0, "moved": 0, "removed": 0}
        failed: list[tuple[str, str]] = []
        errors: list = []
        items = expand_inputs([str(p) for p in paths], errors)
        for raw, exc in errors:
            failed.append((str(raw), str(exc)))
            note("failed", str(raw), str(exc))
        recogniser = recogniser_name(self.model)
        made_by = self.store.get_meta("recogniser")
        reembedded = self._reembed_if_needed(note)
        remade = self._remake_units(note, on_progress)

        todo: list[tuple[FileState, str, int | None, str | None]] = []  # state, hash, old id, language
        seen: set[str] = set()
        # With documents made elsewhere, a new file is hashed where it is processed (the driver would
        # otherwise read every byte of a corpus before shipping anything) unless it could be a moved
        # one: a vanished indexed file of the same size.
        vanished = {f.size for f in self.store.files() if not os.path.exists(f.path)} if documents else set()
        twins = _same_files([it.audio for it in items])
        for it in items:
            try:
                state = file_state(it.audio)
            except OSError as exc:
                failed.append((it.audio, f"{it.audio}: cannot be read ({exc.strerror or exc})."))
                note("failed", it.audio, failed[-1][1])
                continue
            if state.path in seen:
                continue
            seen.add(state.path)
            if state.path in twins:  # a symlink or hard link to a file indexed under its other path
                counts["skipped"] += 1
                note("skipped", state.path, f"the same file as {twins[state.path]}")
                continue
            if _not_utf8(state.path):
                failed.append((state.path, f"{state.path}: the file name is not UTF-8, which the index cannot "
                                           "store; rename the file (e.g. convmv -f latin1 -t utf8)."))
                note("failed", state.path, failed[-1][1])
                continue
            old = self.store.file_by_path(state.path)
            redo = retranscribe and old is not None and old.transcript_source == "asr" and state.sidecar is None
            if old and not redo and old.size == state.size and old.mtime_ns == state.mtime_ns:
                counts["skipped"] += 1
                note("skipped", state.path, "")
                continue
            real = os.path.realpath(state.path)
            if not old and real != state.path and self.store.file_by_path(real):  # a symlink made since
                counts["skipped"] += 1
                note("skipped", state.path, f"the same file as {real}")
                continue
            if documents is not None and not old and state.size not in vanished:
                todo.append((state, "", None, it.language))
                continue
            try:
                chash = content_hash(state)
            except OSError as exc:
                failed.append((state.path, f"{state.path}: cannot be read ({exc.strerror or exc})."))
                note("failed", state.path, failed[-1][1])
                continue
            if old and not redo and old.content_hash == chash:
                self.store.touch(old.id, state.path, state.size, state.mtime_ns)
                counts["skipped"] += 1
                note("skipped", state.path, "")
                continue
            if not old:
                same = [f for f in self.store.file_by_hash(chash)
                        if f.path != state.path and same_file(f.path, state.path)]
                if same:  # already indexed under another path to this very file (a hard link made since)
                    counts["skipped"] += 1
                    note("skipped", state.path, f"the same file as {same[0].path}")
                    continue
                gone = [f for f in self.store.file_by_hash(chash) if not os.path.exists(f.path)]
                if gone:
                    self.store.touch(gone[0].id, state.path, state.size, state.mtime_ns)
                    counts["moved"] += 1
                    note("moved", state.path, f"was {gone[0].path}")
                    continue
            todo.append((state, chash, old.id if old else None, it.language))

        needs_asr = [t for t in todo if t[0].sidecar is None]
        if needs_asr and made_by and made_by != recogniser and not retranscribe and \
                any(f.transcript_source == "asr" for f in self.store.files()):
            raise InputError(f"The index {self.folder} was transcribed with {made_by}; this run uses {recogniser}. "
                             f"Run with --model {made_by} to add files consistently, or add --retranscribe to "
                             f"transcribe every file again with {recogniser}.")
        if retranscribe:  # every recognised file again, with this recogniser
            for f in self.store.files():
                if f.transcript_source == "asr" and f.path not in seen and os.path.exists(f.path):
                    st = file_state(f.path)
                    if st.sidecar is None:
                        needs_asr.append((st, content_hash(st), f.id, f.language))

        if prune:
            for f in self.store.files():
                if not os.path.exists(f.path):
                    self.store.delete_file(f.id)
                    counts["removed"] += 1
                    note("removed", f.path, "no longer exists")
        index_s = 0.0
        audio_s = 0.0

        def failure(path: str, exc: Exception) -> None:
            """A TingshuoError is the file's own problem; anything else is a bug, reported and skipped."""
            if isinstance(exc, (IndexDamaged, DamagedRow)) or _database_broken(exc):
                raise exc  # the index, not this file: the run stops (``Store.guarded`` says so in one line)
            if isinstance(exc, TingshuoError):
                message = str(exc)
            elif strict:
                raise exc
            else:
                message = self._unexpected(path, exc)
            failed.append((path, message))
            note("failed", path, message)

        def store_doc(doc: Document, old_id: int | None) -> None:
            nonlocal audio_s
            self.store.write_file(doc, replace_id=old_id)
            audio_s += doc.duration_s
            counts["updated" if old_id else "added"] += 1
            note("updated" if old_id else "added", doc.path, f"{len(doc.passages)} passages")

        if documents is not None:  # made elsewhere (Ray actors); each committed here as it arrives
            work = [t for t in todo if t[0].sidecar is not None] + needs_asr
            made_by = recogniser if needs_asr else None
            todo, needs_asr = [], []
            for k, result in documents(self, [(st, h, lang) for st, h, _old, lang in work]):
                state, _chash, old_id, _lang = work[k]
                if isinstance(result, Exception):
                    failed.append((state.path, str(result)))
                    note("failed", state.path, str(result))
                    continue
                t0 = time.perf_counter()
                try:
                    store_doc(result, old_id)
                except Exception as exc:
                    failure(state.path, exc)
                    continue
                index_s += time.perf_counter() - t0
                made_by = result.recogniser or made_by
                if on_progress:
                    on_progress(result.duration_s)
            if made_by:
                self.store.set_meta("recogniser", made_by)
        for state, chash, old_id, _lang in todo:
            if state.sidecar is None:
                continue
            t0 = time.perf_counter()
            try:
                transcript, source = sidecar_transcript(state)
                doc = make_document(state, transcript, content_hash=chash, source=source, recogniser=None,
                                    embedder=self.embedder, rescorer=self.rescorer)
                store_doc(doc, old_id)
            except Exception as exc:
                failure(state.path, exc)
            index_s += time.perf_counter() - t0
            if on_progress:
                on_progress(0.0)

        if needs_asr:
            transcriber = self.transcriber()
            for i, result in transcriber.transcribe_many([t[0].path for t in needs_asr],
                                                         languages=[t[3] for t in needs_asr]):
                state, chash, old_id, _lang = needs_asr[i]
                if isinstance(result, Exception):
                    failed.append((state.path, str(result)))
                    note("failed", state.path, str(result))
                    continue
                t0 = time.perf_counter()
                try:
                    doc = make_document(state, result, content_hash=chash, source="asr",
                                        recogniser=transcriber.model_name or recogniser, embedder=self.embedder,
                                        rescorer=self.rescorer)
                    store_doc(doc, old_id)
                except Exception as exc:
                    failure(state.path, exc)
                index_s += time.perf_counter() - t0
                if on_progress:
                    on_progress(result.duration_s)
            self.store.set_meta("recogniser", transcriber.model_name or recogniser)
        if self.store.get_meta("embedder") is None:
            self.store.set_meta("embedder", embedder_name())

        t0 = time.perf_counter()
        self.vectors.ensure()  # so the first search does not pay for it
        index_s += time.perf_counter() - t0
        return IndexReport(**counts, reembedded=reembedded, remade=remade, failed=tuple(failed),
                           audio_s=round(audio_s, 2),
                           wall_s=round(time.perf_counter() - started, 2), index_s=round(index_s, 2))

    # ------------------------------------------------------------------ removing
    def remove(self, paths: Iterable[str | os.PathLike]) -> int:
        """Drop these files (or every indexed file under these folders) from the index."""
        self._check_writable()
        with self.store.guarded():
            return self._remove(_path_list(paths))

    def _check_writable(self) -> None:
        if self.store.readonly:
            raise InputError(f"The index {self.folder} is on read-only storage: it can be searched, not changed; "
                             "copy it to writable storage to add or remove files.")

    def _remove(self, paths) -> int:
        n = 0
        files = self.store.files()
        for raw in paths:
            if not str(raw).strip():  # Path("") is the current folder: every file under it would go
                raise InputError("An empty path was given to remove; name the file or folder to drop.")
            hit = []
            for p in dict.fromkeys((abs_path(raw), os.path.realpath(raw))):  # as given, then through links
                hit = [f for f in files if f.path == p or f.path.startswith(p.rstrip(os.sep) + os.sep)]
                if hit:
                    break
            if not hit:
                raise InputError(f"{raw} is not in the index {self.folder}.")
            for f in hit:
                self.store.delete_file(f.id)
                n += 1
        return n

    # ------------------------------------------------------------------ searching
    def search(self, query: str, top: int | None = None, options: SearchOptions | None = None,
               **overrides) -> SearchResult:
        """Hits for a typed query (English or Mandarin); see ``SearchOptions`` for the knobs."""
        opts = options or SearchOptions()
        if top is not None:
            overrides["top"] = top
        if overrides:
            try:
                opts = dataclasses.replace(opts, **overrides)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        with self.store.guarded():
            self.check_embedder()
            return search(self.store, self.vectors, self.embedder, query, opts, self.means(), rescorer=self.rescorer)

    def query_from_audio(self, path: str | os.PathLike) -> str:
        """The transcript of a spoken query (query by example). A recording longer than
        ``MAX_AUDIO_QUERY_S`` is refused before recognition: a 2-hour film given by mistake was transcribed
        for half an hour, then refused as a query over the character limit."""
        from ..audio.io import probe

        try:
            seconds = probe(str(path)).duration_s
        except TingshuoError:
            seconds = None  # the transcriber says what is wrong with the file, in its words
        if seconds is not None and seconds > MAX_AUDIO_QUERY_S:
            raise InputError(f"{path}: the spoken query is {seconds / 60:.1f} min long; a query is a sentence or "
                             f"two (at most {MAX_AUDIO_QUERY_S:.0f} s): cut the part with the question.")
        text = self.transcriber().transcribe(str(path), word_timestamps=False).text.strip()
        if not text:
            raise InputError(f"{path}: no speech was recognised in the spoken query; record it again, closer to the microphone.")
        return text

    def close(self) -> None:
        self.store.close()


def reset(lib: str | os.PathLike) -> int:
    """Delete an index's database and derived files (for ``tingshuo index --rebuild``), keeping uploaded
    audio (``media/``) and ``errors.log``; returns how many files went. Refuses a folder that holds
    anything else, so a mistyped --index does not empty some other folder."""
    folder = Path(lib)
    if not folder.exists():
        return 0
    if not folder.is_dir():
        raise InputError(f"{folder} is a file; an index is a folder (give a new or existing folder).")
    from .vectors import is_cache_file

    ours = [folder / DB_NAME] + [p for pat in DERIVED for p in folder.glob(pat)]
    ours += [p for p in folder.glob("vectors.*") if is_cache_file(p.name)]  # not a recording called vectors.wav
    other = [p.name for p in folder.iterdir() if p not in ours and p.name not in ("media", ERRORS_LOG)]
    if other:
        raise InputError(f"{folder} holds {', '.join(sorted(other)[:3])}{' ...' if len(other) > 3 else ''}, which "
                         "is not part of a search index; --rebuild deletes only an index's own files, so give "
                         "the index folder itself.")
    n = 0
    for p in ours:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n


def _path_list(paths) -> list:
    """``paths`` as a list: one path given alone (``lib.remove("/data/old.wav")``) is one path. It was
    iterated character by character, and its "/" removed every indexed file (``add`` walked the whole disk)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [os.fsdecode(paths) if isinstance(paths, bytes) else paths]
    return list(paths)


def _same_files(paths: list[str]) -> dict[str, str]:
    """{path: the path kept} for paths that name a file another path names too (a symlink to it, a hard
    link, a folder reached twice through a link): each file is indexed once, under its own path (not a
    symlink's) where there is one, else the first given."""
    groups: dict[tuple[int, int], list[str]] = {}
    for raw in paths:
        p = abs_path(raw)
        try:
            st = os.stat(p)
        except OSError:
            continue  # reported where it is read
        groups.setdefault((st.st_dev, st.st_ino), []).append(p)
    out = {}
    for group in groups.values():
        group = list(dict.fromkeys(group))
        if len(group) < 2:
            continue
        keep = next((p for p in group if os.path.realpath(p) == p), group[0])
        out.update({p: keep for p in group if p != keep})
    return out


def _database_broken(exc: Exception) -> bool:
    """SQLite errors other than one row's constraint: the index itself, not this file (the run stops)."""
    import sqlite3

    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError))


def _not_utf8(path: str) -> bool:
    """A name read from a file system that is not UTF-8 holds lone surrogates (Python's escape)."""
    try:
        path.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True
