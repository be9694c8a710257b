"""Search at scale: query latency p50/p95 at 10k, 100k and 1M passages, index size, vector methods.

    python bench/search_scale.py --sizes 10000,100000,1000000     # prints JSON (also bench/results/search-scale.json)

The large indexes are SYNTHESISED from the real transcripts of the search benchmark (bench/search.py
must have run once: it leaves index-ours and index-oracle in bench/results/search/): each synthetic
passage joins the first half of one real passage's words with the second half of another's, drops a
few words at random, and gets the matching vector perturbation — the normalised sum of two real
unit vectors (one of each parent passage) plus Gaussian noise, stored as the vector of its first unit
(one vector per passage, as a real index has about one per unit) — since embedding a million real passages
at ~40/s would take seven hours. Text statistics (vocabulary, passage length, languages) are therefore those of real
speech transcripts; the vectors keep the real ones' geometry. Rows are written straight into the
SQLite store (the same schema and FTS5 table ``tingshuo index`` writes), 500 passages per file.

Queries: the benchmark's frozen queries (both splits; latency only, no relevance judged here), run
through ``Index.search`` (hybrid: FTS5 + vectors + localisation), embedding included.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import random
import resource
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

from common import REPO, emit  # noqa: E402
from search_library import CACHE  # noqa: E402

QUERIES = REPO / "bench" / "data" / "search" / "queries.jsonl"
PER_FILE = 500
NOISE = 0.02  # per-component std of the added noise (unit vectors of 384 components)


def real_passages() -> list[tuple]:
    rows = []
    for name in ("index-ours", "index-oracle"):
        db = CACHE / name / "index.sqlite"
        if not db.exists():
            sys.exit(f"{db} not found: run bench/search.py first (it builds the real indexes this one is made from).")
        con = sqlite3.connect(str(db))
        # each unit vector with the words of the passage that holds it (its owner)
        rows += con.execute("SELECT p.language, p.words, v.vec FROM unit_vectors v JOIN passages p "
                            "ON p.id = v.passage_id").fetchall()
        con.close()
    return [(lang, json.loads(words), np.frombuffer(vec, np.float16).astype(np.float32)) for lang, words, vec in rows]


def synthesise(folder: Path, n: int, seed: int = 7) -> dict:
    """Write an index of ``n`` passages made from the real ones (see the module docstring)."""
    from tingshuo.search.document import terms
    from tingshuo.search.passages import Passage, TimedWord, join_words
    from tingshuo.search.store import Store

    real = real_passages()
    by_lang = {lg: [r for r in real if r[0] == lg] for lg in ("en", "zh")}
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    store = Store(folder / "index.sqlite")
    con = store.connection()
    con.execute("PRAGMA synchronous=OFF")
    t0 = time.perf_counter()
    made = 0
    file_no = 0
    while made < n:
        k = min(PER_FILE, n - made)
        con.execute("BEGIN")
        cur = con.execute("INSERT INTO files(path, content_hash, size, mtime_ns, duration_s, language, transcript_source, "
                          "recogniser, n_passages, indexed_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                          (f"/synthetic/file{file_no:06d}.wav", f"synthetic{file_no}", 0, 0, k * 5.0, "en", "asr",
                           "whisper-base", k, time.time()))
        fid = cur.lastrowid
        for j in range(k):
            lang = "zh" if rng.random() < 0.3 else "en"
            a, b = rng.choice(by_lang[lang]), rng.choice(by_lang[lang])
            words = a[1][:max(1, len(a[1]) // 2)] + b[1][len(b[1]) // 2:]
            words = [w for w in words if rng.random() > 0.1] or words[:1]
            t = j * 5.0
            tw = tuple(TimedWord(t + 0.3 * i, t + 0.3 * i + 0.25, w[2]) for i, w in enumerate(words))
            text = join_words(tw)
            p = Passage(tw[0].start_s, tw[-1].end_s, text, lang, tw, j, j + 1, tuple(j for _ in tw))
            lex, py = terms(p)
            vec = a[2] + b[2] + nprng.normal(0, NOISE * 2, a[2].shape).astype(np.float32)
            vec /= np.linalg.norm(vec)
            wjson = json.dumps([[w.start_s, w.end_s, w.text, j] for w in tw], ensure_ascii=False)
            cur = con.execute("INSERT INTO passages(file_id, unit_lo, unit_hi, start_s, end_s, language, text, words, lex, py)"
                              " VALUES(?,?,?,?,?,?,?,?,?,?)", (fid, j, j + 1, p.start_s, p.end_s, lang, text, wjson, lex, py))
            pid = cur.lastrowid
            con.execute("INSERT INTO passages_fts(rowid, lex, py) VALUES(?,?,?)", (pid, lex, py))
            con.execute("INSERT INTO unit_vectors(id, passage_id, file_id, unit, vec) VALUES(?,?,?,?,?)",
                        (pid, pid, fid, j, vec.astype(np.float16).tobytes()))
        con.execute("COMMIT")
        made += k
        file_no += 1
        if file_no % 100 == 0:
            print(f"  {made} passages, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    store.set_meta("recogniser", "whisper-base")
    from tingshuo.search.index import embedder_name

    store.set_meta("embedder", embedder_name())
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"synthesise_s": round(time.perf_counter() - t0, 1)}


def vector_methods(index, queries: list[str]) -> dict:
    """Exact float16 scan against sign codes + re-scoring, on the same cache: latency and recall@10."""
    from tingshuo.search import vectors as V
    from tingshuo.search.document import embed_text
    from tingshuo.search.text import guess_language

    vc = index.vectors
    vc.ensure()
    means = index.means()
    qvs = [V.centre(index.embedder.queries([embed_text(q)])[0], [guess_language(q)], means, side=0)[0] for q in queries]
    n = len(vc._ids)
    out = {}
    saved = vc._codes
    exact_ids, exact_sum, lat = [], [], []
    vc._codes = None
    for q in qvs:
        t0 = time.perf_counter()
        ids, sims = vc.search(q, 10)
        lat.append((time.perf_counter() - t0) * 1000)
        exact_ids.append(set(ids.tolist()))
        exact_sum.append(float(sims.sum()))
    out["exact_f16"] = {"p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1)}
    vc._codes = saved
    if saved is not None:
        for pre, rescore in ((1, 1000), (16, 250), (16, 1000), (16, 4000)):
            V.PRESELECT, V.RESCORE = pre, rescore
            lat, rec, ratio = [], [], []
            for q, ex, ex_sum in zip(qvs, exact_ids, exact_sum):
                t0 = time.perf_counter()
                ids, sims = vc.search(q, 10)
                lat.append((time.perf_counter() - t0) * 1000)
                rec.append(len(ex & set(ids.tolist())) / 10)
                ratio.append(float(sims.sum()) / ex_sum)
            name = "hamming" if pre == 1 else "hamming+lookup"
            out[f"{name}, rescore {rescore}"] = {
                "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
                "recall@10_vs_exact": round(float(np.mean(rec)), 3), "top10_score_vs_exact": round(float(np.mean(ratio)), 4)}
        V.PRESELECT, V.RESCORE = 16, 1000
    out["n"] = n
    return out


def steps(index, queries: list[str]) -> dict:
    """The two steps that run side by side in a search, each alone: FTS5 (with the hot-term bound the
    search uses, and with every term OR-ed as before it) and the vector step (embedding + cache)."""
    from tingshuo.search.document import embed_text
    from tingshuo.search.query import K_DENSE, K_LEXICAL, PY_WEIGHT, parse_query
    from tingshuo.search.text import guess_language
    from tingshuo.search.vectors import centre

    hot = index.store.hot_terms()
    means = index.means()
    out = {"hot_terms": len(hot)}
    for name, fn in (
            ("fts5_bounded", lambda q: index.store.lexical(parse_query(q).match_bounded(hot), K_LEXICAL, PY_WEIGHT)),
            ("fts5_all_or", lambda q: index.store.lexical(parse_query(q).match, K_LEXICAL, PY_WEIGHT)),
            ("vectors", lambda q: index.vectors.search(centre(index.embedder.queries([embed_text(q)])[0],
                                                              [guess_language(q)], means, side=0)[0], K_DENSE))):
        lat = []
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            lat.append((time.perf_counter() - t0) * 1000)
        out[name] = {"p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1)}
    return out


def run_size(n: int, queries: list[str], keep: bool, methods: bool = True) -> dict:
    import shutil

    from tingshuo.search import Index

    folder = CACHE / f"scale-{n}"
    info = {"passages": n}
    if not (folder / "index.sqlite").exists() or not keep:
        if folder.exists():
            shutil.rmtree(folder)
        info.update(synthesise(folder, n))
    index = Index(folder)
    index.embedder
    t0 = time.perf_counter()
    index.vectors.ensure()
    info["vector_cache_build_s"] = round(time.perf_counter() - t0, 1)
    index.search("warm up", top=5)
    index.search("预热一下", top=5)  # pypinyin's dictionaries load on the first Mandarin query
    lat, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        index.search(q, top=10)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # all threads of the process: what a query costs the machine
    info["query_cpu_ms_p50"] = round(float(np.percentile(cpu, 50)), 1)
    info["query_cpu_ms_p95"] = round(float(np.percentile(cpu, 95)), 1)
    info["load_average"] = [round(x, 1) for x in os.getloadavg()]
    info["query_ms_p50"] = round(float(np.percentile(lat, 50)), 1)
    info["query_ms_p95"] = round(float(np.percentile(lat, 95)), 1)
    info["query_ms_max"] = round(float(np.max(lat)), 1)
    info["steps"] = steps(index, queries)
    if methods:
        info["vector_methods"] = vector_methods(index, queries[:60])
    info["bytes"] = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    index.close()
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--keep", action="store_true", help="reuse indexes synthesised by an earlier run")
    ap.add_argument("--no-methods", action="store_true", help="skip the table of vector methods (bench/search_ann.py has more)")
    args = ap.parse_args()
    queries = [json.loads(line)["query"] for line in open(QUERIES, encoding="utf-8")]
    out = {}
    for n in [int(x) for x in args.sizes.split(",")]:
        out[str(n)] = run_size(n, queries, args.keep, not args.no_methods)
        print(json.dumps({n: out[str(n)]}), file=sys.stderr, flush=True)
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / f"search-scale-{args.sizes.replace(',', '-')}.json").write_text(json.dumps(out, indent=2))
    emit(out)


if __name__ == "__main__":
    main()
