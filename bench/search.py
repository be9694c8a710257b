"""Spoken-content search benchmark: ours vs faster-whisper + SQLite FTS5 (BM25), same model, same library.

    python bench/search.py                    # tune and report splits, prints JSON (also bench/results/search-*.json)
    python bench/search.py --split tune,tune2 # only the tuning data (what constants were fitted on)
    python bench/search.py --split report     # only the held-back split (run once, after the method is frozen)
    python bench/search.py --split report2    # the fresh held-out split of the third round (run once, at the end)
    python bench/search.py --split report3    # the fresh held-out split of the fourth round (run once, at the end)

Library: dev clips (en, zh) and 300 train-cathy clips joined into 9 episodes of 4.5-5 min with
0.4-1.2 s pauses (bench/search_library.py), so a hit must be found inside a long file. Reference
transcripts only make queries and judge; they are indexed only by the oracle run.
Queries: bench/data/search/queries.jsonl, written and frozen before tuning (bench/make_search_queries.py),
each with a ``split`` (tune/report), and bench/data/search/queries-tune2.jsonl (split ``tune2``, a second
tune set frozen before the second round of tuning, bench/make_search_queries_tune2.py) and
bench/data/search/queries-report2.jsonl (split ``report2``, a fresh held-out set frozen before the third
round, after ``report`` had been looked at, bench/make_search_queries_report2.py) and
bench/data/search/queries-report3.jsonl (split ``report3``, frozen before the fourth round, after ``report2``
had been looked at, bench/make_search_queries_report3.py).
Judge, both readings of "overlaps the target utterance by >= 50 % and is <= 45 s long" (same episode,
<= 45 s in both): ``recall@k`` — the overlap is >= 50 % of the shorter of hit and utterance (a hit
inside the utterance counts); ``recall@k_covering`` — the hit covers >= 50 % of the utterance.

Systems, all in this run: ours (hybrid), ours dense-only, ours lexical-only, the oracle (ours on the
reference transcripts, as SRT sidecars with utterance times), and the peer: faster-whisper's own
transcripts (defaults: beam 5, no VAD, same whisper-base int8) indexed per segment in SQLite FTS5 with
its default tokenizer (unicode61), ranked by BM25, the query's words OR-ed (kinder to the peer than
FTS5's implicit AND). Transcription is cached (bench/results/search/asr-*) with the time it took when
measured; indexing time is measured in this run.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import time
from pathlib import Path

from common import REPO, emit  # noqa: E402
from search_library import CACHE, build_episodes, transcripts  # noqa: E402

QUERIES = REPO / "bench" / "data" / "search" / "queries.jsonl"
QUERIES_TUNE2 = REPO / "bench" / "data" / "search" / "queries-tune2.jsonl"
QUERIES_REPORT2 = REPO / "bench" / "data" / "search" / "queries-report2.jsonl"
QUERIES_REPORT3 = REPO / "bench" / "data" / "search" / "queries-report3.jsonl"
SPLITS = ("tune", "tune2", "report", "report2", "report3")
RESULTS = REPO / "bench" / "results"
TOP = 10
MAX_HIT_S = 45.0
MIN_OVERLAP = 0.5


def _clock(s: float) -> str:
    return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d},{int(round(s % 1 * 1000)) % 1000:03d}"


def make_library(name: str, episodes: list[dict], sidecar) -> Path:
    """A folder of links to the episode WAVs with a transcript sidecar beside each (``sidecar(ep, stem)``)."""
    folder = CACHE / f"lib-{name}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for ep in episodes:
        wav = folder / ep["audio"]
        os.symlink(CACHE / ep["audio"], wav)
        sidecar(ep, wav)
    return folder


def ours_sidecar(ep: dict, wav: Path) -> None:
    shutil.copyfile(CACHE / "asr-ours" / (wav.stem + ".json"), wav.with_suffix(".json"))


def oracle_sidecar(ep: dict, wav: Path) -> None:
    blocks = [f"{k}\n{_clock(u['start_s'])} --> {_clock(u['end_s'])}\n{u['text']}\n"
              for k, u in enumerate(ep["utterances"], 1)]
    wav.with_suffix(".srt").write_text("\n".join(blocks), encoding="utf-8")


def build_ours(name: str, folder: Path, reuse: bool = False) -> tuple[object, dict]:
    from tingshuo.search import Index

    lib_dir = CACHE / f"index-{name}"
    if reuse and lib_dir.exists():
        return Index(lib_dir), {"reused": True}
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    index = Index(lib_dir)
    index.embedder  # model loading is not indexing time
    index.means()
    t0, c0 = time.perf_counter(), time.process_time()
    report = index.add([folder])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(p.stat().st_size for p in lib_dir.iterdir() if p.is_file())
    return index, {"index_wall_s": round(wall, 2), "index_cpu_s": round(cpu, 2), "files": report.added, "audio_s": report.audio_s,
                   "passages": index.store.counts()["passages"], "index_bytes": size,
                   "failed": len(report.failed)}


# ---------------------------------------------------------------------------------- the peer

def build_peer(episodes: list[dict]) -> tuple[sqlite3.Connection, dict]:
    db = CACHE / "peer.sqlite"
    db.unlink(missing_ok=True)
    con = sqlite3.connect(str(db))
    con.execute("CREATE VIRTUAL TABLE segs USING fts5(text, audio UNINDEXED, start_s UNINDEXED, end_s UNINDEXED)")
    t0 = time.perf_counter()
    for ep in episodes:
        data = json.loads((CACHE / "asr-peer" / (Path(ep["audio"]).stem + ".json")).read_text())
        con.executemany("INSERT INTO segs(text, audio, start_s, end_s) VALUES(?,?,?,?)",
                        [(s["text"], ep["audio"], s["start"], s["end"]) for s in data["segments"]])
    con.commit()
    return con, {"index_wall_s": round(time.perf_counter() - t0, 3), "index_bytes": db.stat().st_size}


def peer_search(con: sqlite3.Connection, query: str) -> list[dict]:
    words = re.findall(r"\w+", query)
    if not words:
        return []
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    rows = con.execute("SELECT audio, start_s, end_s, text FROM segs WHERE segs MATCH ? ORDER BY bm25(segs) LIMIT ?",
                       (match, TOP)).fetchall()
    return [{"audio": a, "start_s": s, "end_s": e, "text": t} for a, s, e, t in rows]


# ---------------------------------------------------------------------------------- judging

def locate(episodes: list[dict]) -> dict:
    return {u["id"]: (Path(ep["audio"]).stem, u["start_s"], u["end_s"]) for ep in episodes for u in ep["utterances"]}


def correct(hit: dict, target: tuple, strict: bool = False) -> bool:
    """Same episode, <= 45 s, and overlapping the target by >= 50 % of the shorter of the two (a hit
    cut down to a three-word fragment inside the utterance counts); ``strict``: of the utterance."""
    stem, t0, t1 = target
    if Path(hit["audio"]).stem != stem or hit["end_s"] - hit["start_s"] > MAX_HIT_S:
        return False
    overlap = min(hit["end_s"], t1) - max(hit["start_s"], t0)
    shorter = t1 - t0 if strict else min(t1 - t0, hit["end_s"] - hit["start_s"])
    return overlap > 0 and overlap >= MIN_OVERLAP * shorter


def score(rows: list[dict]) -> dict:
    """recall@1/@5, MRR@10 over answerable queries; false-hit rate over no-answer ones; latency."""
    ans = [r for r in rows if r["target"]]
    no = [r for r in rows if not r["target"]]
    out = {}
    if ans:
        out["n"] = len(ans)
        out["recall@1"] = round(sum(1 for r in ans if r["rank"] == 1) / len(ans), 3)
        out["recall@5"] = round(sum(1 for r in ans if r["rank"] and r["rank"] <= 5) / len(ans), 3)
        out["mrr@10"] = round(sum(1 / r["rank"] for r in ans if r["rank"]) / len(ans), 3)
        out["recall@1_covering"] = round(sum(1 for r in ans if r["strict_rank"] == 1) / len(ans), 3)
        out["recall@5_covering"] = round(sum(1 for r in ans if r["strict_rank"] and r["strict_rank"] <= 5) / len(ans), 3)
        lens = [r["hit_len_s"] for r in ans if r["hit_len_s"] is not None]
        out["median_hit_s"] = round(statistics.median(lens), 2) if lens else None
    if no:
        out["n_noanswer"] = len(no)
        out["noanswer_false_hits"] = round(sum(1 for r in no if r["n_hits"]) / len(no), 3)
    lat = sorted(r["latency_ms"] for r in rows)
    out["latency_ms_p50"] = round(lat[len(lat) // 2], 1)
    out["latency_ms_p95"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1)
    return out


def run_queries(system: str, queries: list[dict], where: dict, search_fn) -> list[dict]:
    rows = []
    for q in queries:
        t0 = time.perf_counter()
        hits = search_fn(q["query"])
        ms = (time.perf_counter() - t0) * 1000
        rank = strict_rank = None
        if q["target"]:
            for k, h in enumerate(hits[:TOP], 1):
                if rank is None and correct(h, where[q["target"]]):
                    rank = k
                if strict_rank is None and correct(h, where[q["target"]], strict=True):
                    strict_rank = k
        rows.append({"id": q["id"], "system": system, "category": q["category"], "query_lang": q["query_lang"],
                     "split": q["split"], "kind": q.get("kind"), "target": q["target"], "rank": rank, "strict_rank": strict_rank, "n_hits": len(hits),
                     "hit_len_s": round(hits[0]["end_s"] - hits[0]["start_s"], 2) if hits else None,
                     "latency_ms": round(ms, 2), "top": hits[0] if hits else None})
    return rows


def summarise(rows: list[dict], splits: list[str]) -> dict:
    out = {}
    for split in splits:
        sel = [r for r in rows if r["split"] == split]
        by_sys = {}
        for system in dict.fromkeys(r["system"] for r in sel):
            s_rows = [r for r in sel if r["system"] == system]
            cats = {}
            for cat in dict.fromkeys(r["category"] for r in s_rows):
                c_rows = [r for r in s_rows if r["category"] == cat]
                cats[cat] = score(c_rows)
                for lang in ("en", "zh"):
                    l_rows = [r for r in c_rows if r["query_lang"] == lang]
                    if l_rows and cat != "homophone":
                        cats[f"{cat}/{lang}-query"] = score(l_rows)
                for kind in sorted({r["kind"] for r in c_rows if r.get("kind")}):
                    cats[f"{cat}/{kind}"] = score([r for r in c_rows if r.get("kind") == kind])
            cats["all"] = score(s_rows)
            by_sys[system] = cats
        out[split] = by_sys
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="tune,report",
                    help="comma-separated splits: tune, tune2 (queries-tune2.jsonl), report, report2 "
                         "(queries-report2.jsonl), report3 (queries-report3.jsonl); 'both' = tune,report")
    ap.add_argument("--systems", default="ours,dense,lexical,oracle,peer")
    ap.add_argument("--details", action="store_true", help="also write every query's outcome to bench/results/")
    ap.add_argument("--reuse-index", action="store_true", help="search the indexes of the last run (while tuning)")
    args = ap.parse_args()
    from tingshuo.search.query import SearchOptions

    episodes = build_episodes()
    where = locate(episodes)
    splits = ["tune", "report"] if args.split == "both" else args.split.split(",")
    if not splits or any(sp not in SPLITS for sp in splits):
        ap.error(f"--split takes a comma-separated list of {', '.join(SPLITS)}")
    queries = [json.loads(line) for path in (QUERIES, QUERIES_TUNE2, QUERIES_REPORT2, QUERIES_REPORT3) for line in open(path, encoding="utf-8")]
    queries = [q for q in queries if q["split"] in splits]
    systems = args.systems.split(",")
    asr_ours = transcripts("ours", episodes)
    asr_peer = transcripts("peer", episodes) if "peer" in systems else None
    audio_s = sum(e["duration_s"] for e in episodes)
    result = {"library": {"episodes": len(episodes), "utterances": len(where), "audio_min": round(audio_s / 60, 1)},
              "queries": len(queries), "splits": splits, "systems": {},
              "judge": {"recall@k": "same episode, hit <= 45 s, overlap >= 50 % of the shorter of hit and utterance",
                        "recall@k_covering": "same episode, hit <= 45 s, overlap >= 50 % of the utterance"}}
    rows = []
    index = None
    if {"ours", "dense", "lexical"} & set(systems):
        index, build = build_ours("ours", make_library("ours", episodes, ours_sidecar) if not args.reuse_index else None,
                                   args.reuse_index)
        build["transcribe_wall_s"] = asr_ours["wall_s"]
        if "index_wall_s" in build:
            build["indexing_over_transcription"] = round(build["index_wall_s"] / asr_ours["wall_s"], 3)
            build["index_bytes_per_audio_hour"] = round(build["index_bytes"] / (audio_s / 3600))
        result["systems"]["ours"] = build

        def ours_fn(matchers):
            opts = SearchOptions(top=TOP, matchers=matchers)
            return lambda text: [h.to_dict() for h in index.search(text, options=opts).hits]

        index.search("warm up", top=1)
        for system, matchers in (("ours", "hybrid"), ("dense", "dense"), ("lexical", "lexical")):
            if system in systems:
                rows += run_queries(system, queries, where, ours_fn(matchers))
    if "oracle" in systems:
        oracle, build = build_ours("oracle", make_library("oracle", episodes, oracle_sidecar) if not args.reuse_index else None,
                                  args.reuse_index)
        result["systems"]["oracle"] = build
        opts = SearchOptions(top=TOP)
        rows += run_queries("oracle", queries, where,
                            lambda text: [h.to_dict() for h in oracle.search(text, options=opts).hits])
    if "peer" in systems:
        con, build = build_peer(episodes)
        build["transcribe_wall_s"] = asr_peer["wall_s"]
        result["systems"]["peer"] = build
        rows += run_queries("peer", queries, where, lambda text: peer_search(con, text))
    result["transcription"] = {"ours": {k: asr_ours[k] for k in ("wall_s", "audio_s", "cached")},
                               **({"peer": {k: asr_peer[k] for k in ("wall_s", "audio_s", "cached")}} if asr_peer else {})}
    result["scores"] = summarise(rows, splits)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = "+".join(splits)
    (RESULTS / f"search-{tag}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    if args.details:
        with open(RESULTS / f"search-{tag}-details.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    emit(result)


if __name__ == "__main__":
    main()
