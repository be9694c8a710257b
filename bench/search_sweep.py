"""Sweep the fusion constants of ``tingshuo search`` on the TUNE splits only (never report/report2/report3).

    python bench/search.py --split tune,tune2 --systems ours      # builds bench/results/search/index-ours
    python bench/search_sweep.py --w-use 0,0.3,0.5,0.7,1 --w-lexical 0.35 --thresholds 0.30:0.50:0.01

Each setting runs every tune query through the real pipeline with threshold 0 (top 10); a threshold t
is then applied after the fact (a hit counts when it scores >= t; a no-answer query is a false hit
when its best hit scores >= t). Prints, per setting and threshold, recall@5 per category and the
no-answer false-hit rate, as JSON lines (bench/results/search-sweep.jsonl). Same judge as
bench/search.py (overlap >= 50 % of the shorter of hit and utterance).
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import itertools
import json

import numpy as np

from search import CACHE, QUERIES, QUERIES_TUNE2, RESULTS, TOP, correct, locate  # noqa: E402
from search_library import build_episodes  # noqa: E402

TUNE_SPLITS = ("tune", "tune2")


def floats(spec: str) -> list[float]:
    if ":" in spec:
        a, b, step = (float(x) for x in spec.split(":"))
        return [round(x, 4) for x in np.arange(a, b + step / 2, step)]
    return [float(x) for x in spec.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="tune,tune2")
    ap.add_argument("--w-use", default="0,0.5")
    ap.add_argument("--w-lexical", default="0.35")
    ap.add_argument("--thresholds", default="0.30:0.50:0.01")
    args = ap.parse_args()
    splits = args.split.split(",")
    if any(sp not in TUNE_SPLITS for sp in splits):
        ap.error("the sweep runs on tune splits only (tune, tune2): report splits (report, report2, report3) "
                 "are for the final run")
    from tingshuo.search import Index, query
    from tingshuo.search.query import SearchOptions

    where = locate(build_episodes())
    queries = [json.loads(line) for path in (QUERIES, QUERIES_TUNE2) for line in open(path, encoding="utf-8")]
    queries = [q for q in queries if q["split"] in splits]
    index = Index(CACHE / "index-ours")
    index.search("warm up", top=1)
    thresholds = floats(args.thresholds)
    out = []
    for w_use, w_lex in itertools.product(floats(args.w_use), floats(args.w_lexical)):
        query.W_USE, query.W_LEXICAL = w_use, w_lex
        rows = []
        for q in queries:
            hits = index.search(q["query"], options=SearchOptions(top=TOP, threshold=0.0)).hits
            ranks = [k for k, h in enumerate(hits[:5], 1) if q["target"] and correct(h.to_dict(), where[q["target"]])]
            rows.append((q, [h.score for h in hits], ranks))
        for t in thresholds:
            res = {"w_use": w_use, "w_lexical": w_lex, "threshold": t}
            for cat in ("verbatim", "paraphrase", "crosslingual", "homophone"):
                sel = [(s, r) for q, s, r in rows if q["category"] == cat]
                res[cat] = round(np.mean([any(s[k - 1] >= t for k in r) for s, r in sel]), 3)
            na = [s for q, s, r in rows if not q["target"]]
            res["noanswer_false_hits"] = round(np.mean([bool(s) and s[0] >= t for s in na]), 3)
            out.append(res)
            print(json.dumps(res), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "search-sweep.jsonl", "w", encoding="utf-8") as fh:
        for r in out:
            fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
