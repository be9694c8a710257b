"""Results kept as they are computed, in SQLite, keyed by the file's content (SHA-1 of its bytes).

A rerun (after a crash, or on a grown dataset) looks each file up by path, size and mtime, and
by content, and computes only what is missing. The runner commits after every clip; in WAL
mode with synchronous=NORMAL a commit is an append to the log (no fsync), and a killed process
keeps every committed clip. Tables:

  files(path, size, mtime_ns, key)        -- avoids re-hashing unchanged files
  signal(key, version, dnsmos, metrics, pcm, fp, loud)
  asr(key, model, hyp, lang, lang_prob, error)
  fpidx(word, key, frame)                 -- fingerprint words, for near-duplicate candidates
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, key TEXT);
CREATE TABLE IF NOT EXISTS signal (key TEXT PRIMARY KEY, version TEXT, dnsmos INTEGER, metrics TEXT,
                                   pcm TEXT, fp BLOB, loud BLOB);
CREATE TABLE IF NOT EXISTS asr (key TEXT PRIMARY KEY, model TEXT, hyp TEXT, lang TEXT, lang_prob REAL,
                                error TEXT);
CREATE TABLE IF NOT EXISTS fpidx (word INTEGER, key TEXT, frame INTEGER);
CREATE INDEX IF NOT EXISTS fpidx_word ON fpidx(word);
CREATE INDEX IF NOT EXISTS fpidx_key ON fpidx(key);
"""


def path_text(path: str) -> str:
    """The path as text SQLite can hold: a name that is not UTF-8 keeps its bytes as escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_key(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Store:
    def __init__(self, path: str | os.PathLike = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            from ..errors import InputError

            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=60)
                self.db.execute("PRAGMA user_version").fetchone()  # opens the file now
            except (OSError, sqlite3.Error) as exc:
                raise InputError(f"Cannot open the results store {self.path} ({exc}); choose a writable "
                                 "output folder.") from None
        else:
            self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    # ---------------------------------------------------------------- files
    def key_for(self, path: str) -> str | None:
        """Content key of ``path``: cached by (size, mtime), else hashed now; None if unreadable."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):  # a folder, or a named pipe that would block the read forever
            return None
        name = path_text(path)
        row = self.db.execute("SELECT size, mtime_ns, key FROM files WHERE path=?", (name,)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        try:
            key = file_key(path)
        except OSError:
            return None
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?)", (name, st.st_size, st.st_mtime_ns, key))
        return key

    # ---------------------------------------------------------------- signal
    def has_signal(self, key: str, version: str, dnsmos: bool) -> bool:
        row = self.db.execute("SELECT version, dnsmos FROM signal WHERE key=?", (key,)).fetchone()
        return bool(row) and row[0] == version and (row[1] or not dnsmos)

    def put_signal(self, key: str, version: str, dnsmos: bool, metrics: dict, pcm: str | None,
                   words: np.ndarray | None, loud: np.ndarray | None,
                   index_words: np.ndarray | None = None, index_frames: np.ndarray | None = None) -> None:
        """Keep one clip's signal result; ``index_*`` are the (word, frame) pairs of its fingerprint index."""
        self.db.execute("DELETE FROM fpidx WHERE key=?", (key,))
        self.db.execute("INSERT OR REPLACE INTO signal VALUES (?,?,?,?,?,?,?)",
                        (key, version, int(dnsmos), json.dumps(metrics), pcm,
                         None if words is None else words.astype("<u4").tobytes(),
                         None if loud is None else np.packbits(loud).tobytes()))
        if index_words is not None and index_words.size:
            signed = (index_words.astype(np.int64) - (1 << 31)).tolist()
            self.db.executemany("INSERT INTO fpidx VALUES (?,?,?)",
                                zip(signed, [key] * len(signed), index_frames.tolist()))

    def signal(self, key: str) -> tuple[dict, str | None] | None:
        row = self.db.execute("SELECT metrics, pcm FROM signal WHERE key=?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def fingerprint(self, key: str) -> np.ndarray | None:
        row = self.db.execute("SELECT fp FROM signal WHERE key=?", (key,)).fetchone()
        return np.frombuffer(row[0], "<u4") if row and row[0] is not None else None

    def index_of(self, key: str) -> list[tuple[int, int]]:
        return [(w + (1 << 31), f) for w, f in self.db.execute("SELECT word, frame FROM fpidx WHERE key=?", (key,))]

    def word_hits(self, words: list[int]) -> list[tuple[str, int, int]]:
        out = []
        uniq = sorted(set(words))
        for i in range(0, len(uniq), 500):
            part = [w - (1 << 31) for w in uniq[i:i + 500]]
            q = f"SELECT key, word, frame FROM fpidx WHERE word IN ({','.join('?' * len(part))})"
            out += [(k, w + (1 << 31), f) for k, w, f in self.db.execute(q, part)]
        return out

    # ---------------------------------------------------------------- asr
    def asr(self, key: str, model: str) -> tuple[str | None, str | None, float, str | None] | None:
        row = self.db.execute("SELECT hyp, lang, lang_prob, error FROM asr WHERE key=? AND model=?",
                              (key, model)).fetchone()
        return tuple(row) if row else None

    def put_asr(self, key: str, model: str, hyp: str | None, lang: str | None, prob: float,
                error: str | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO asr VALUES (?,?,?,?,?,?)", (key, model, hyp, lang, prob, error))

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()
