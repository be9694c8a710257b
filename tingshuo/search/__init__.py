"""Spoken-content search over audio libraries, and the text embeddings it shares with the chat brain.

    >>> from tingshuo.search import Index
    >>> lib = Index("lib/")                                     # doctest: +SKIP
    >>> lib.add(["recordings/"])                                # doctest: +SKIP
    >>> for hit in lib.search("怎么退货", top=5).hits:          # doctest: +SKIP
    ...     print(hit.audio, hit.start_s, hit.end_s, hit.text, hit.matched_by)

Modules: text (normalisation, tokens), passages (transcript -> units -> passages), sidecar
(existing JSON/SRT/VTT transcripts), document (one file's contribution), store (SQLite + FTS5),
vectors (nearest-neighbour search), query (hybrid retrieval), index (the Index driver), clips
(hits as audio files), embed (multilingual-e5).
"""

from __future__ import annotations

__all__ = ["Index", "SearchOptions", "SearchResult", "Hit"]


def __getattr__(name: str):
    if name == "Index":
        from .index import Index

        return Index
    if name in ("SearchOptions", "SearchResult", "Hit"):
        from . import query

        return getattr(query, name)
    raise AttributeError(f"module 'tingshuo.search' has no attribute {name!r}")
