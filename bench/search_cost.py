"""What indexing adds to transcription: both measured in one process, on the same episodes, in turn.

    python bench/search_cost.py --episodes episode_en_01,episode_zh_01     # prints JSON

For each benchmark episode (bench/search_library.py): recognition with our batched pipeline (word
timestamps on, as ``tingshuo index`` runs it), then indexing of that transcript (units, passages,
FTS5 terms, unit vectors, the SQLite write) into a fresh index, then the vector cache build. Wall
and CPU seconds of each; the ratio is the issue's "indexing adds <= 10 % to transcription". For
comparison, the CPU time of embedding the same file's units (what indexing does) and its two-unit
passages (what schema 1 did) is measured again after it.
The embedder runs on TINGSHUO_EMBED_THREADS threads (default 1), recognition on its defaults.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import emit  # noqa: E402
from search_library import CACHE, build_episodes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", default="episode_en_01,episode_zh_01")
    args = ap.parse_args()
    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.asr.pipeline import Transcriber
    from tingshuo.search.document import content_hash, embed_passages, file_state, make_document
    from tingshuo.search.passages import unit_texts
    from tingshuo.search.embed import load_embedder
    from tingshuo.search.store import Store
    from tingshuo.search.vectors import VectorCache, reference_means

    build_episodes()
    transcriber = Transcriber(options=TranscribeOptions(word_timestamps=True))
    embedder = load_embedder()
    means = reference_means(embedder)
    embedder.passages(["warm up"])
    out = {"episodes": {}}
    tot = {"asr_wall_s": 0.0, "asr_cpu_s": 0.0, "index_wall_s": 0.0, "index_cpu_s": 0.0}
    for name in args.episodes.split(","):
        path = CACHE / f"{name}.wav"
        w0, c0 = time.perf_counter(), time.process_time()
        [(_i, transcript)] = list(transcriber.transcribe_many([str(path)]))
        if isinstance(transcript, Exception):
            raise transcript
        w1, c1 = time.perf_counter(), time.process_time()
        folder = Path(tempfile.mkdtemp(prefix="tingshuo-cost-"))
        try:
            state = file_state(path)
            doc = make_document(state, transcript, content_hash=content_hash(state), source="asr",
                                recogniser=transcriber.model_name, embedder=embedder)
            store = Store(folder / "index.sqlite")
            store.write_file(doc)
            VectorCache(folder, store, lambda: means).ensure()
            store.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        w2, c2 = time.perf_counter(), time.process_time()
        # for comparison: what embedding the two-unit passages (the schema-1 scheme) costs on the same text
        c3 = time.process_time()
        embed_passages(embedder, [p.text for p in doc.passages])
        c4 = time.process_time()
        c5 = time.process_time()
        embed_passages(embedder, [t for _k, _u, t in unit_texts(doc.passages)])
        c6 = time.process_time()
        row = {"audio_s": round(transcript.duration_s, 1), "passages": len(doc.passages), "units": len(doc.vector_units),
               "asr_wall_s": round(w1 - w0, 2), "asr_cpu_s": round(c1 - c0, 2),
               "index_wall_s": round(w2 - w1, 2), "index_cpu_s": round(c2 - c1, 2),
               "embed_units_cpu_s": round(c6 - c5, 2), "embed_passages_cpu_s (schema 1, not used)": round(c4 - c3, 2)}
        row["index_over_asr_wall"] = round(row["index_wall_s"] / row["asr_wall_s"], 3)
        row["index_over_asr_cpu"] = round(row["index_cpu_s"] / row["asr_cpu_s"], 3)
        out["episodes"][name] = row
        for k in tot:
            tot[k] += row[k]
    out["total"] = {k: round(v, 2) for k, v in tot.items()}
    out["total"]["index_over_asr_wall"] = round(tot["index_wall_s"] / tot["asr_wall_s"], 3)
    out["total"]["index_over_asr_cpu"] = round(tot["index_cpu_s"] / tot["asr_cpu_s"], 3)
    emit(out)


if __name__ == "__main__":
    main()
