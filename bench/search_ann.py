"""Vector search methods at scale: the index's own sign codes against ANN libraries from PyPI.

    pip install 'tingshuo[bench-search]'             # faiss-cpu, usearch, hnswlib: measured here only
    python bench/search_ann.py --size 1000000       # needs bench/results/search/scale-1000000 (bench/search_scale.py)

On the vector cache of a synthetic index (bench/search_scale.py: passages and vectors SYNTHESISED
from the real benchmark transcripts), each method runs in its own process (clean memory figures):
build time, resident memory added by the method (RSS after building and querying, minus RSS
before, with the float16 matrix memory-mapped), query latency p50/p95 for the 60 nearest of each of
the 180 benchmark queries (the number the search asks for), and recall of the exact top 10
(float32 scan of all rows) over the first 60 queries. Prints JSON (also bench/results/search-ann.json).

Methods: ``codes`` (what tingshuo uses: 384-bit sign codes, Hamming preselect, lookup-table ranking,
exact float16 re-score of 1 000), ``faiss-ivf-sq8`` (faiss IndexIVFScalarQuantizer, 4 096 lists,
8-bit components, inner product; nprobe 16/32/64), ``usearch-hnsw-i8`` (usearch HNSW, int8 vectors,
connectivity 16, expansion 64/128), ``hnswlib`` (float32 HNSW, M 16, ef 64/128).
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import REPO, emit  # noqa: E402
from search_library import CACHE  # noqa: E402

QUERIES = REPO / "bench" / "data" / "search" / "queries.jsonl"
K = 60  # what the search asks the vector step for (query.K_DENSE)
N_TRUTH = 60
METHODS = ("codes", "faiss-ivf-sq8", "usearch-hnsw-i8", "hnswlib")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anon_mb() -> float:
    """Resident anonymous memory (not the page cache of memory-mapped files)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def prepare(size: int) -> dict:
    """The cache files, query vectors and exact top 10 (cached under bench/results/search/ann-SIZE/)."""
    from tingshuo.search import Index
    from tingshuo.search.document import embed_text
    from tingshuo.search.text import guess_language
    from tingshuo.search.vectors import centre

    out = CACHE / f"ann-{size}"
    out.mkdir(exist_ok=True)
    index = Index(CACHE / f"scale-{size}")
    index.vectors.ensure()
    meta = json.loads((index.folder / "vectors.json").read_text())
    paths = {"mat": str(index.folder / f"vectors.{meta['tag']}.f16"), "n": meta["n"], "dir": str(out)}
    if not (out / "queries.npy").exists():
        texts = [json.loads(line)["query"] for line in open(QUERIES, encoding="utf-8")]
        means = index.means()
        qv = np.stack([centre(index.embedder.queries([embed_text(t)])[0], [guess_language(t)], means, side=0)[0]
                       for t in texts]).astype(np.float32)
        np.save(out / "queries.npy", qv)
    if not (out / "truth.npy").exists():
        qv = np.load(out / "queries.npy")[:N_TRUTH]
        mat = np.memmap(paths["mat"], np.float16, "r", shape=(meta["n"], 384))
        scores = np.empty((len(qv), meta["n"]), np.float32)
        for s in range(0, meta["n"], 65536):
            scores[:, s:s + 65536] = qv @ np.asarray(mat[s:s + 65536], np.float32).T
        np.save(out / "truth.npy", np.argsort(-scores, axis=1)[:, :10])
    index.close()
    return paths


def worker(method: str, paths: dict, size: int) -> dict:
    n = paths["n"]
    mat = np.memmap(paths["mat"], np.float16, "r", shape=(n, 384))
    qv = np.load(Path(paths["dir"]) / "queries.npy")
    truth = np.load(Path(paths["dir"]) / "truth.npy")
    base_rss, base_anon = rss_mb(), anon_mb()
    t0 = time.perf_counter()
    searchers = {}
    if method == "codes":
        from tingshuo.search import Index

        index = Index(CACHE / f"scale-{size}")
        index.vectors.ensure()
        ids_map = index.vectors._ids
        row_of = {int(v): k for k, v in enumerate(ids_map)} if n <= 2_000_000 else None

        def run(q, k):
            ids, _ = index.vectors.search(q, k)
            return np.array([row_of[int(i)] for i in ids])
        searchers["rescore 1000"] = run
    elif method == "faiss-ivf-sq8":
        import faiss

        faiss.omp_set_num_threads(2)
        nlist = 4096
        quant = faiss.IndexFlatIP(384)
        ivf = faiss.IndexIVFScalarQuantizer(quant, 384, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        sample = np.asarray(mat[np.random.default_rng(0).choice(n, min(n, 100_000), replace=False)], np.float32)
        ivf.train(sample)
        for s in range(0, n, 65536):
            ivf.add(np.asarray(mat[s:s + 65536], np.float32))
        faiss.omp_set_num_threads(1)
        for nprobe in (16, 32, 64):
            def run(q, k, nprobe=nprobe):
                ivf.nprobe = nprobe
                _, ids = ivf.search(q[None, :], k)
                return ids[0]
            searchers[f"nprobe {nprobe}"] = run
    elif method == "usearch-hnsw-i8":
        from usearch.index import Index as UIndex

        ui = UIndex(ndim=384, metric="ip", dtype="i8", connectivity=16, expansion_add=64)
        for s in range(0, n, 65536):
            block = np.asarray(mat[s:s + 65536], np.float32)
            ui.add(np.arange(s, s + len(block)), block, threads=2)
        for ef in (64, 128):
            def run(q, k, ef=ef):
                ui.expansion_search = ef
                return ui.search(q, k, threads=1).keys
            searchers[f"ef {ef}"] = run
    elif method == "hnswlib":
        import hnswlib

        hi = hnswlib.Index(space="ip", dim=384)
        hi.init_index(max_elements=n, M=16, ef_construction=64)
        hi.set_num_threads(2)
        for s in range(0, n, 65536):
            block = np.asarray(mat[s:s + 65536], np.float32)
            hi.add_items(block, np.arange(s, s + len(block)))
        hi.set_num_threads(1)
        for ef in (64, 128):
            def run(q, k, ef=ef):
                hi.set_ef(max(ef, k))
                return hi.knn_query(q[None, :], k)[0][0]
            searchers[f"ef {ef}"] = run
    build_s = time.perf_counter() - t0
    out = {"build_s": round(build_s, 1)}
    for name, run in searchers.items():
        run(qv[0], K)
        lat, rec = [], []
        for j, q in enumerate(qv):
            t = time.perf_counter()
            ids = run(q, K)
            lat.append((time.perf_counter() - t) * 1000)
            if j < len(truth):
                exact = np.asarray(mat[np.asarray(ids, np.int64)], np.float32) @ q  # re-rank the K by exact score
                top10 = np.asarray(ids)[np.argsort(-exact)[:10]]
                rec.append(len(set(top10.tolist()) & set(truth[j].tolist())) / 10)
        out[name] = {"p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
                     "recall@10_vs_exact": round(float(np.mean(rec)), 3)}
    out["rss_added_mb"] = round(rss_mb() - base_rss, 0)
    out["anon_added_mb"] = round(anon_mb() - base_anon, 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.paths), args.size)))
        return
    paths = prepare(args.size)
    result = {"passages": paths["n"], "synthetic": True, "k": K, "methods": {}}
    for m in args.methods.split(","):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--worker", m, "--paths", json.dumps(paths), "--size", str(args.size)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            result["methods"][m] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
        else:
            result["methods"][m] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["methods"][m]["wall_s"] = round(time.perf_counter() - t0, 1)
        print(m, json.dumps(result["methods"][m]), file=sys.stderr, flush=True)
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / f"search-ann-{args.size}.json").write_text(json.dumps(result, indent=2))
    emit(result)


if __name__ == "__main__":
    main()
