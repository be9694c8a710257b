"""The index on disk: one SQLite database (files, segments, passages, FTS5 terms, unit vectors).

    >>> store = Store("lib/index.sqlite")                   # doctest: +SKIP
    >>> store.file_by_path("/data/talk.wav")                 # doctest: +SKIP

Files are keyed by content hash; everything one file contributes (its segments, passages, their
FTS5 terms and vectors) is written in one transaction, so a process killed at any moment leaves
either the whole file or nothing of it, and the next run picks up where it stopped. WAL mode lets
searches read while an indexing run writes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, TingshuoError
from .writes import StoreWrites, _bump_version, _rollback

HOT_MIN_PASSAGES = 50_000  # below this every query term is OR-ed (posting lists are short)
HOT_FRACTION = 0.005  # above it, a term in more than this fraction of passages is "hot" (Query.match_bounded)
SCHEMA_VERSION = "2"  # 2: one vector per unit (sentence) in unit_vectors; 1 had one per passage
LEGACY_EMBEDDER = "passage vectors of an older tingshuo (schema 1)"
VEC_BYTES = 384 * 2  # one e5 unit vector, float16
USE_BYTES = 512 * 2  # one USE unit vector, float16
TABLES = ("meta", "files", "segments", "passages", "passages_fts", "unit_vectors")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, content_hash TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, duration_s REAL NOT NULL, language TEXT, transcript_source TEXT NOT NULL,
    recogniser TEXT, n_passages INTEGER NOT NULL, indexed_at REAL NOT NULL, units_version INTEGER);
CREATE INDEX IF NOT EXISTS files_hash ON files(content_hash);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    text TEXT NOT NULL, language TEXT);
CREATE INDEX IF NOT EXISTS segments_file ON segments(file_id);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, unit_lo INTEGER NOT NULL, unit_hi INTEGER NOT NULL,
    start_s REAL NOT NULL, end_s REAL NOT NULL, language TEXT NOT NULL, text TEXT NOT NULL,
    words TEXT NOT NULL, lex TEXT NOT NULL, py TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_file ON passages(file_id, unit_lo);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    lex, py, content='passages', content_rowid='id', tokenize="unicode61 remove_diacritics 0");
CREATE TABLE IF NOT EXISTS unit_vectors (
    id INTEGER PRIMARY KEY, passage_id INTEGER NOT NULL, file_id INTEGER NOT NULL, unit INTEGER NOT NULL,
    vec BLOB NOT NULL, vec_use BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS unit_vectors_unit ON unit_vectors(file_id, unit);
"""


class IndexDamaged(TingshuoError):
    """The index's own content is broken (a truncated or hand-edited database): not the user's input, and
    not a bug of this run; the way out is to build it again."""

    http_status = 500

    def __init__(self, folder: Path, what: str) -> None:
        super().__init__(f"The index {folder} is damaged ({what}); build it again with "
                         f"'tingshuo index PATH... --index {folder} --rebuild' (PATH: the audio it held; "
                         "files without a transcript beside them are recognised again).")


@dataclass(frozen=True)
class FileRow:
    id: int
    path: str
    content_hash: str
    size: int
    mtime_ns: int
    duration_s: float
    language: str | None
    transcript_source: str
    recogniser: str | None
    n_passages: int


@dataclass(frozen=True)
class PassageRow:
    id: int
    file_id: int
    unit_lo: int
    unit_hi: int
    start_s: float
    end_s: float
    language: str
    text: str
    words_json: str
    path: str
    duration_s: float = 0.0  # the file's (a hit's padding stays inside it)

    @functools.cached_property
    def words(self) -> list:
        """[[start_s, end_s, text, unit], ...], decoded on first use (most candidates never need it)."""
        return passage_words_of(self.words_json, self.id)


def passage_words_of(words_json, passage_id: int) -> list:
    """A passage's stored words, checked: a hand-edited or damaged row is ``IndexDamaged``'s ValueError."""
    try:
        words = json.loads(words_json)
        if not isinstance(words, list) or not all(
                isinstance(w, list) and len(w) == 4 and isinstance(w[0], (int, float)) and
                isinstance(w[1], (int, float)) and isinstance(w[2], str) and isinstance(w[3], int) for w in words):
            raise ValueError("not a list of [start_s, end_s, text, unit]")
        return words
    except (ValueError, TypeError) as exc:
        raise DamagedRow(f"passage {passage_id} has unreadable words: {type(exc).__name__}") from None


OPEN_WAIT_S = 60.0  # how long opening an index waits for another process that is creating or changing it


def _busy(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class DamagedRow(Exception):
    """A row that cannot be decoded; ``Store.guarded`` names the index in the message."""


class Store(StoreWrites):
    """SQLite access for one index; one connection per thread, writes serialised."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise InputError(f"No search index at {self.path.parent}; build one with "
                             f"'tingshuo index PATH... --index {self.path.parent}'.")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._hot: tuple | None = None
        # An index on read-only storage (a DVD, a read-only volume or share) is opened read-only: it can
        # be searched, not changed (it was "not a tingshuo search index ... remove that file").
        self.readonly = self.path.exists() and not (os.access(self.path.parent, os.W_OK)
                                                    and os.access(self.path, os.W_OK))
        if self.readonly:
            self._open_readonly()
            return
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            try:
                self._check_tables()
                # One transaction: another process sees either no tables or every table with the
                # schema recorded, never a half-made index (which it would call damaged).
                self.connection().executescript(
                    "BEGIN IMMEDIATE;" + SCHEMA + "INSERT OR IGNORE INTO meta(key, value) "
                    f"VALUES('schema_version', '{SCHEMA_VERSION}');COMMIT;")
                break
            except sqlite3.DatabaseError as exc:
                self.close()
                if _busy(exc):
                    # Two processes opening one new index: switching it to WAL and creating its tables
                    # can fail at once with "database is locked" (SQLite does not wait there); try again.
                    if time.monotonic() < deadline:
                        time.sleep(0.05 + (os.getpid() % 7) * 0.03)
                        continue
                    raise InputError(f"The index {self.path.parent} is busy (another process holds it); "
                                     "try again when it is done.") from None
                raise self._open_error(exc, writable=True) from None
            except IndexDamaged:
                self.close()
                raise
        self._add_use_column()
        self._add_units_column()
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version == "1":
            self._upgrade_from_1()
        elif version != SCHEMA_VERSION:
            raise InputError(f"The index {self.path.parent} has schema {version}, this tingshuo reads {SCHEMA_VERSION}; "
                             "build a new index with 'tingshuo index'.")

    def _open_error(self, exc: sqlite3.DatabaseError, *, writable: bool) -> Exception:
        """What a database error on opening means: a damaged index, a full disk (where it can be written),
        or a file that is not an index (removing it is advised only where it can be removed)."""
        if "malformed" in str(exc) or "corrupt" in str(exc):
            return IndexDamaged(self.path.parent, str(exc))
        if writable and _storage_problem(exc):
            return _storage_error(self.path.parent, exc)
        return InputError(f"{self.path} is not a tingshuo search index ({exc}); give another --index"
                          + (" or remove that file." if writable else "."))

    def _open_readonly(self) -> None:
        """Open for searching only: ``mode=ro`` (or ``immutable`` where SQLite cannot make the WAL's shared
        memory file beside it), nothing written; an index that would need an upgrade says where to do it."""
        try:
            self._check_tables()
            have = {r[1] for r in self.connection().execute("PRAGMA table_info(unit_vectors)")}
            have_files = {r[1] for r in self.connection().execute("PRAGMA table_info(files)")}
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._open_error(exc, writable=False) from None
        if version is None:
            raise InputError(f"{self.path} is not a tingshuo search index (it has no schema); give another --index.")
        if version != SCHEMA_VERSION or "vec_use" not in have or "units_version" not in have_files:
            raise InputError(f"The index {self.path.parent} is on read-only storage and was made by an older tingshuo; "
                             f"bring it up to date with 'tingshuo index --index LIB' where it can be written, then "
                             "search it here.")

    def _check_tables(self) -> None:
        """An index that has been written (its schema recorded) must still have every table: creating a
        lost one empty would turn the damage into silently missing hits."""
        con = self.connection()
        con.execute("BEGIN")  # one snapshot for both reads: tables and schema from the same moment
        try:
            have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            row = (con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                   if "meta" in have else None)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                _rollback(con)
            raise
        con.execute("COMMIT")
        if "meta" not in have:
            if have & set(TABLES):
                raise IndexDamaged(self.path.parent, "its table meta is missing")
            return  # a new index
        if row is None:
            return
        need = [t for t in TABLES if t != "unit_vectors" or row[0] != "1"]  # schema 1: vectors come later
        lost = [t for t in need if t not in have]
        if lost:
            raise IndexDamaged(self.path.parent, f"table{'s' if len(lost) > 1 else ''} {', '.join(lost)} missing")

    @contextlib.contextmanager
    def guarded(self):
        """Database errors and undecodable rows inside become ``IndexDamaged`` (one sentence: what, and
        how to rebuild); a busy database stays what it is."""
        try:
            yield
        except DamagedRow as exc:
            raise IndexDamaged(self.path.parent, str(exc)) from None
        except (sqlite3.IntegrityError, sqlite3.DataError):
            raise
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise InputError(f"The index {self.path.parent} is busy (another process holds it); "
                                 "try again when it is done.") from None
            if _storage_problem(exc):  # a full disk is not a damaged index (it said: rebuild it)
                raise _storage_error(self.path.parent, exc) from None
            raise IndexDamaged(self.path.parent, str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise IndexDamaged(self.path.parent, str(exc)) from None

    def _add_use_column(self) -> None:
        """An index from before the second encoder has no ``vec_use`` column: add it (empty). Its
        recorded embedder then differs from this installation's, so ``search`` says to run
        ``tingshuo index``, which embeds every unit again from the stored words."""
        con = self.connection()
        cols = {r[1] for r in con.execute("PRAGMA table_info(unit_vectors)")}
        if "vec_use" not in cols:
            with self._write_lock:
                try:
                    con.execute("ALTER TABLE unit_vectors ADD COLUMN vec_use BLOB")
                    con.commit()
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    def _add_units_column(self) -> None:
        """An index from before the units were versioned has no ``files.units_version``: add it, with 2
        for the files of an index whose meta said every file had the round-4 units, else empty (made by
        an older tingshuo: ``Index.add`` makes their units anew from the stored words)."""
        con = self.connection()
        if "units_version" in {r[1] for r in con.execute("PRAGMA table_info(files)")}:
            return
        with self._write_lock:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute("ALTER TABLE files ADD COLUMN units_version INTEGER")
                con.execute("UPDATE files SET units_version = 2 WHERE "
                            "(SELECT value FROM meta WHERE key = 'units_version') = '2'")
                con.execute("DELETE FROM meta WHERE key = 'units_version'")
                con.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _rollback(con)
                if "duplicate column" not in str(exc):  # another process added it first
                    raise
            except BaseException:
                _rollback(con)
                raise

    def _upgrade_from_1(self) -> None:
        """Schema 1 kept one vector per passage: drop them (the text stays) and record that every unit
        must be embedded; ``Index.add`` does that from the stored words, ``search`` says to run it."""
        with self._write_lock:
            con = self.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute("DROP TABLE IF EXISTS vectors")
                con.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                                [("schema_version", SCHEMA_VERSION), ("embedder", LEGACY_EMBEDDER)])
                con.execute("DELETE FROM meta WHERE key IN ('reembed_target', 'reembed_upto')")
                _bump_version(con)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    def connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None and self.readonly:
            from urllib.parse import quote

            uri = "file:" + quote(str(self.path.absolute()))
            con = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=60.0, isolation_level=None)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # WAL without its -shm file, which cannot be made here
                con.close()
                con = sqlite3.connect(uri + "?immutable=1", uri=True, timeout=60.0, isolation_level=None)
            self._local.con = con
        if con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        row = self.connection().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def delete_meta(self, *keys: str) -> None:
        if self.readonly:  # derived values only reach here when searching
            return
        with self._write_lock:
            con = self.connection()
            con.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in keys])
            con.commit()

    def set_meta(self, key: str, value: str) -> None:
        if self.readonly:  # derived values only (reference means) reach here when searching
            return
        with self._write_lock:
            self.connection().execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    # ------------------------------------------------------------------ files
    def files(self) -> list[FileRow]:
        rows = self.connection().execute(
            "SELECT id, path, content_hash, size, mtime_ns, duration_s, language, transcript_source, recogniser, "
            "n_passages FROM files ORDER BY path").fetchall()
        return [FileRow(*r) for r in rows]

    def file_by_path(self, path: str) -> FileRow | None:
        r = self.connection().execute(
            "SELECT id, path, content_hash, size, mtime_ns, duration_s, language, transcript_source, recogniser, "
            "n_passages FROM files WHERE path=?", (path,)).fetchone()
        return FileRow(*r) if r else None

    def file_by_hash(self, content_hash: str) -> list[FileRow]:
        rows = self.connection().execute(
            "SELECT id, path, content_hash, size, mtime_ns, duration_s, language, transcript_source, recogniser, "
            "n_passages FROM files WHERE content_hash=?", (content_hash,)).fetchall()
        return [FileRow(*r) for r in rows]

    def touch(self, file_id: int, path: str, size: int, mtime_ns: int) -> None:
        """Record a file's new path or modification time (same content: nothing else changes)."""
        with self._write_lock:
            self.connection().execute("UPDATE files SET path=?, size=?, mtime_ns=? WHERE id=?",
                                      (path, size, mtime_ns, file_id))

    def file_directly_in(self, folder: str) -> str | None:
        """An indexed file directly in ``folder`` (not in a subfolder of it), or None (a range on the path index)."""
        prefix = folder.rstrip(os.sep) + os.sep
        row = self.connection().execute(
            "SELECT path FROM files WHERE path >= ? AND path < ? AND instr(substr(path, ?), ?) = 0 LIMIT 1",
            (prefix, prefix[:-1] + chr(ord(os.sep) + 1), len(prefix) + 1, os.sep)).fetchone()
        return row[0] if row else None

    def files_with_old_units(self, version: int) -> list[FileRow]:
        """Files whose units were made by an older tingshuo (``units_version`` below ``version``), in id order."""
        rows = self.connection().execute(
            "SELECT id, path, content_hash, size, mtime_ns, duration_s, language, transcript_source, recogniser, "
            "n_passages FROM files WHERE units_version IS NULL OR units_version < ? ORDER BY id", (version,)).fetchall()
        return [FileRow(*r) for r in rows]

    def file_texts(self, file_id: int) -> tuple[list, list]:
        """A file's stored segments [(start_s, end_s, text, language)] and passages [(unit_lo, unit_hi,
        words_json)], in order: what its units can be made anew from."""
        con = self.connection()
        segs = con.execute("SELECT start_s, end_s, text, language FROM segments WHERE file_id=? ORDER BY id",
                           (file_id,)).fetchall()
        pas = con.execute("SELECT id, unit_lo, unit_hi, words FROM passages WHERE file_id=? ORDER BY unit_lo, id",
                          (file_id,)).fetchall()
        return segs, pas

    def unit_vectors_of_file(self, file_id: int) -> dict[int, tuple[bytes, bytes | None]]:
        """{unit: (e5 blob, USE blob or None)} of one file, as stored."""
        return {u: (v, vu) for u, v, vu in self.connection().execute(
            "SELECT unit, vec, vec_use FROM unit_vectors WHERE file_id=?", (file_id,))}

    # ------------------------------------------------------------------ writing: ``StoreWrites`` (writes.py)

    # ------------------------------------------------------------------ reading for search
    def lexical(self, match: str, limit: int, py_weight: float) -> list[tuple[int, float]]:
        """(passage id, bm25) of the best FTS5 matches; bm25 is negative, lower is better."""
        if not match:
            return []
        sql = ("SELECT rowid, bm25(passages_fts, 1.0, ?) AS r FROM passages_fts WHERE passages_fts MATCH ? "
               "ORDER BY r LIMIT ?")
        try:
            return self.connection().execute(sql, (py_weight, match, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            raise InputError(f"The query could not be searched ({exc}).") from None

    def hot_terms(self) -> frozenset:
        """Terms in more than HOT_FRACTION of the passages of a library of HOT_MIN_PASSAGES or more
        (empty below that). Derived: kept in ``hot_terms.json`` beside the database for the current
        vector_state (every write changes it) and recomputed from FTS5's vocabulary when stale."""
        state = self.vector_state()
        if self._hot is not None and self._hot[0] == state:
            return self._hot[1]
        cache = self.path.parent / "hot_terms.json"
        hot = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # unreadable, or not ours: recomputed
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data["state"] == list(state) and data["rule"] == [HOT_MIN_PASSAGES, HOT_FRACTION]:
                hot = frozenset(data["terms"])
        if hot is None:
            con = self.connection()
            n = con.execute("SELECT count(*) FROM passages").fetchone()[0]
            hot = frozenset()
            if n >= HOT_MIN_PASSAGES:
                con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab USING fts5vocab(main, 'passages_fts', 'row')")
                hot = frozenset(t for (t,) in con.execute("SELECT term FROM temp.passages_vocab WHERE doc > ?",
                                                          (int(HOT_FRACTION * n),)))
            with contextlib.suppress(OSError):
                tmp = cache.with_suffix(f".{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps({"state": list(state), "rule": [HOT_MIN_PASSAGES, HOT_FRACTION],
                                           "terms": sorted(hot)}, ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, cache)
        self._hot = (state, hot)
        return hot

    def passages(self, ids) -> dict[int, PassageRow]:
        ids = list({int(i) for i in ids})
        out = {}
        con = self.connection()
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            q = ("SELECT p.id, p.file_id, p.unit_lo, p.unit_hi, p.start_s, p.end_s, p.language, p.text, p.words, f.path, f.duration_s "
                 f"FROM passages p JOIN files f ON f.id = p.file_id WHERE p.id IN ({','.join('?' * len(chunk))})")
            for r in con.execute(q, chunk):
                out[r[0]] = PassageRow(*r)
        return out

    def unit_vectors(self, rows) -> dict[int, dict[int, tuple[np.ndarray, str, np.ndarray | None]]]:
        """{passage id: {unit: (e5 vector float32 as embedded, passage language, USE vector or None)}}
        for PassageRows."""
        out: dict[int, dict] = {}
        con = self.connection()
        for r in rows:
            out[r.id] = {u: (_vector(blob, VEC_BYTES, r.id), r.language,
                             None if use is None else _vector(use, USE_BYTES, r.id))
                         for u, blob, use in con.execute(
                             "SELECT unit, vec, vec_use FROM unit_vectors WHERE file_id=? AND unit BETWEEN ? AND ?",
                             (r.file_id, r.unit_lo, r.unit_hi))}
        return out

    def vector_owners(self, ids) -> dict[int, tuple[int, int]]:
        """{vector id: (passage id, unit)}."""
        ids = [int(i) for i in ids]
        out = {}
        con = self.connection()
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            for vid, pid, unit in con.execute(
                    f"SELECT id, passage_id, unit FROM unit_vectors WHERE id IN ({','.join('?' * len(chunk))})", chunk):
                out[vid] = (pid, unit)
        return out

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        """(vector ids int64, unit vectors float16 (n, dim), languages) in id order, a batch at a time."""
        con = self.connection()
        last = -1
        while True:
            rows = con.execute("SELECT v.id, v.vec, p.language FROM unit_vectors v JOIN passages p ON p.id = v.passage_id "
                               "WHERE v.id > ? ORDER BY v.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], np.int64)
            bad = next((r for r in rows if not isinstance(r[1], bytes) or len(r[1]) != VEC_BYTES), None)
            if bad is not None:
                raise DamagedRow(f"unit vector {bad[0]} has {_size(bad[1])}, not {VEC_BYTES}")
            mat = np.frombuffer(b"".join(r[1] for r in rows), np.float16).reshape(len(rows), -1)
            yield ids, mat, [r[2] for r in rows]
            last = int(ids[-1])

    def vector_state(self) -> tuple[int]:
        """A counter every write of vectors increments: what a vector cache must match to be current
        (one indexed read, unlike count(*), which scans the table)."""
        row = self.connection().execute("SELECT value FROM meta WHERE key='vectors_version'").fetchone()
        return (int(row[0]) if row else 0,)

    def passage_words(self, batch: int = 256) -> Iterator[list]:
        """Passages in id order with their file and words (for embedding units again), a batch at a time:
        [(passage id, file id, words_json)]."""
        con = self.connection()
        last = -1
        while True:
            rows = con.execute("SELECT id, file_id, words FROM passages WHERE id > ? ORDER BY id LIMIT ?",
                               (last, batch)).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def counts(self) -> dict:
        con = self.connection()
        n_files, audio_s = con.execute("SELECT count(*), coalesce(sum(duration_s), 0) FROM files").fetchone()
        n_passages = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        n_units = con.execute("SELECT count(*) FROM unit_vectors").fetchone()[0]
        return {"files": n_files, "passages": n_passages, "units": n_units, "audio_s": round(audio_s, 1)}


def files_committed(lib: str | os.PathLike, timeout_s: float = 5.0) -> int:
    """How many files the index at ``lib`` holds, read without a lock on it (0 when it cannot be read
    yet) — for watching an indexing run from another process."""
    try:
        con = sqlite3.connect(f"file:{Path(lib) / 'index.sqlite'}?mode=ro", uri=True, timeout=timeout_s)
        try:
            return con.execute("SELECT count(*) FROM files").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _storage_problem(exc: Exception) -> bool:
    """The storage under the index, not the index: a full disk, read-only storage, a folder not openable."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and any(
        k in text for k in ("disk is full", "readonly database", "unable to open database file"))


def _storage_error(folder: Path, exc: Exception) -> InputError:
    text = str(exc)
    if "disk is full" in text:
        return InputError(f"The disk holding the index {folder} is full ({text}); free some space and run again "
                          "(every file finished is kept).")
    if "readonly" in text:
        return InputError(f"The index {folder} is on read-only storage ({text}); it can be searched, not changed: "
                          "copy it to writable storage to add or remove files.")
    return InputError(f"The index {folder} cannot be opened ({text}): check that its folder exists and can be read "
                      "(and written, to add files).")


def _size(blob) -> str:
    return f"{len(blob)} bytes" if isinstance(blob, (bytes, str)) else f"a {type(blob).__name__}"


def _vector(blob, nbytes: int, passage_id: int) -> np.ndarray:
    if not isinstance(blob, bytes) or len(blob) != nbytes:
        raise DamagedRow(f"a unit vector of passage {passage_id} has {_size(blob)}, not {nbytes}")
    return np.frombuffer(blob, np.float16).astype(np.float32)
