"""Writing to the index: one file's rows in one transaction, deleting a file, new vectors for its units.

``Store`` (``store.py``) takes these methods from ``StoreWrites``; they use its ``connection()`` and
``_write_lock``. Every write is one ``BEGIN IMMEDIATE`` transaction, rolled back whole on any error,
so a process killed at any moment leaves either the whole file or nothing of it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time

import numpy as np


class StoreWrites:
    """The writing half of ``Store`` (a mixin: ``Store`` provides ``connection()`` and ``_write_lock``)."""

    # ------------------------------------------------------------------ writing one file
    def write_file(self, doc, *, replace_id: int | None = None, if_hash: str | None = None) -> int | None:
        """Store one prepared document (``index.Document``) in one transaction; returns its file id.
        ``if_hash``: only when the file ``replace_id`` is still there with this content hash (a file made
        anew from its stored words must not overwrite one another process re-indexed meanwhile); else
        nothing is written and None returned."""
        vec16 = np.asarray(doc.vectors, np.float16)
        use16 = None if getattr(doc, "vectors_use", None) is None else np.asarray(doc.vectors_use, np.float16)
        with self._write_lock:
            con = self.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                if if_hash is not None:
                    now = con.execute("SELECT content_hash FROM files WHERE id=?", (replace_id,)).fetchone()
                    if now is None or now[0] != if_hash:
                        _rollback(con)
                        return None
                old = con.execute("SELECT id FROM files WHERE path=?", (doc.path,)).fetchone()
                for fid in {x for x in (replace_id, old[0] if old else None) if x is not None}:
                    self._delete_file(con, fid)
                cur = con.execute(
                    "INSERT INTO files(path, content_hash, size, mtime_ns, duration_s, language, transcript_source, "
                    "recogniser, n_passages, indexed_at, units_version) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.path, doc.content_hash, doc.size, doc.mtime_ns, doc.duration_s, doc.language,
                     doc.transcript_source, doc.recogniser, len(doc.passages), time.time(), doc.units_version))
                fid = cur.lastrowid
                con.executemany("INSERT INTO segments(file_id, start_s, end_s, text, language) VALUES(?,?,?,?,?)",
                                [(fid, s.start_s, s.end_s, s.text, s.language) for s in doc.segments])
                pids = []
                for k, p in enumerate(doc.passages):
                    words = json.dumps([[round(w.start_s, 3), round(w.end_s, 3), w.text, u]
                                        for w, u in zip(p.words, p.word_units)], ensure_ascii=False)
                    cur = con.execute(
                        "INSERT INTO passages(file_id, unit_lo, unit_hi, start_s, end_s, language, text, words, lex, py)"
                        " VALUES(?,?,?,?,?,?,?,?,?,?)",
                        (fid, p.unit_lo, p.unit_hi, p.start_s, p.end_s, p.language, p.text, words,
                         doc.lex[k], doc.py[k]))
                    pids.append(cur.lastrowid)
                    con.execute("INSERT INTO passages_fts(rowid, lex, py) VALUES(?,?,?)",
                                (pids[-1], doc.lex[k], doc.py[k]))
                con.executemany("INSERT INTO unit_vectors(passage_id, file_id, unit, vec, vec_use) VALUES(?,?,?,?,?)",
                                [(pids[k], fid, u, vec16[j].tobytes(), None if use16 is None else use16[j].tobytes())
                                 for j, (k, u) in enumerate(doc.vector_units)])
                _bump_version(con)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return fid

    def delete_file(self, file_id: int) -> None:
        with self._write_lock:
            con = self.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                self._delete_file(con, file_id)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    @staticmethod
    def _delete_file(con, file_id: int) -> None:
        con.execute("INSERT INTO passages_fts(passages_fts, rowid, lex, py) "
                    "SELECT 'delete', id, lex, py FROM passages WHERE file_id=?", (file_id,))
        con.execute("DELETE FROM unit_vectors WHERE file_id=?", (file_id,))
        con.execute("DELETE FROM passages WHERE file_id=?", (file_id,))
        con.execute("DELETE FROM segments WHERE file_id=?", (file_id,))
        con.execute("DELETE FROM files WHERE id=?", (file_id,))
        _bump_version(con)

    def replace_unit_vectors(self, rows, vectors, extra_meta: dict | None = None, vectors_use=None) -> None:
        """New vectors for units [(passage id, file id, unit)] (re-embedding; a unit's old vectors are
        replaced), with meta keys set in the same transaction."""
        vec16 = np.asarray(vectors, np.float16)
        use16 = None if vectors_use is None else np.asarray(vectors_use, np.float16)
        with self._write_lock:
            con = self.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT OR REPLACE INTO unit_vectors(passage_id, file_id, unit, vec, vec_use) VALUES(?,?,?,?,?)",
                                [(int(p), int(f), int(u), vec16[k].tobytes(),
                                  None if use16 is None else use16[k].tobytes()) for k, (p, f, u) in enumerate(rows)])
                if extra_meta:
                    con.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", list(extra_meta.items()))
                _bump_version(con)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    def set_use_vectors(self, units, vectors_use, extra_meta: dict | None = None) -> None:
        """Second-encoder vectors for units [(file id, unit)] whose e5 vectors stay (an index from before
        USE, or another USE version), with meta keys set in the same transaction."""
        use16 = np.asarray(vectors_use, np.float16)
        with self._write_lock:
            con = self.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("UPDATE unit_vectors SET vec_use=? WHERE file_id=? AND unit=?",
                                [(use16[k].tobytes(), int(f), int(u)) for k, (f, u) in enumerate(units)])
                if extra_meta:
                    con.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", list(extra_meta.items()))
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise


def _rollback(con) -> None:
    """Roll back if a transaction is still open: after a full disk (SQLITE_FULL) SQLite has already rolled
    back, and a second ROLLBACK ("no transaction is active") hid the real error behind a 'damaged' index."""
    if con.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")


def _bump_version(con) -> None:
    """Inside a write transaction: the stored vectors changed."""
    con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('vectors_version', "
                "coalesce((SELECT value FROM meta WHERE key='vectors_version'), 0) + 1)")
