"""Train the knowledge-base brain's re-ranker on TUNE data only, and validate it leave-one-KB-out.

    python bench/train_reranker.py [--subsets 2] [--rows bench/results/reranker_rows.json] [--write]

The brain ranks a knowledge base's entries for a caller's question by a weighted sum of per-entry
evidence (``KBIndex.features``: the e5 classifier's and the USE scope model's log-probabilities,
the lexical share, e5 cosines to the entry as a passage, to its best listed question, its answer
and its title, whether it hands over to a person, and the reciprocal rank of the entry by four of
those). Until round 6 the weights were set by hand on a grid (bench/calibrate_ensemble.py:
e5 1, USE 0.3, lexical 0.5, passage 4.0, hand-off -1.0, the rest 0). This script learns them
instead: a conditional logit (softmax over the KB's entries of the weighted sum, L2-penalised
towards 0), on the in-domain caller questions of every question file marked ``split: tune``
(telecom, university, rail), whole and in random 4/7/10-entry parts (so that the weights hold for
small and large KBs). No feature names a KB, an entry or a word: the weights must carry over to
knowledge bases never seen.

It reports, per held-out tune KB (trained on the other two), the share of questions whose first
entry is the expected one with the hand-set weights and with the learned ones, for each L2
strength, and picks the strength with the most held-out firsts. ``--write`` then trains on all
three tune KBs with that strength and writes ``tingshuo/dialogue/data/reranker.yaml``.
First-entry accuracy is not the brain's whole decision (out of scope and clarify come after):
bench/kb.py measures that.
"""

from __future__ import annotations

import _benchpath  # noqa: F401

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from calibrate_kb import CachedEmbedder, variants  # noqa: E402
from kb import ROOT, load_set, saved_rows, tune_names  # noqa: E402

sys.path.insert(0, str(ROOT))
HAND_SET = {"e5_logp": 1.0, "use_logp": 0.3, "lexical": 0.5, "passage": 4.0, "handoff": -1.0}  # round 4's ensemble
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def collect(specs, subsets: int) -> list[dict]:
    import tingshuo.dialogue.brains.kb as K
    from tingshuo.dialogue.kb import load_kb
    from tingshuo.search.embed import load_embedder

    emb, use = CachedEmbedder(load_embedder()), CachedEmbedder(load_embedder("use"))
    rows = []
    for spec in specs:
        kb = load_kb(spec["kb_path"])
        ids = [e.id for e in kb.entries]
        items = [(ids.index(e), t) for e, t in spec["questions"]]
        for label, sub, its in variants(kb, items, subsets):
            brain = K.KBBrain(sub, embedder=emb, scope_embedder=use)
            for y, t in its:
                rows.append({"kb": spec["name"], "size": label, "y": y, "text": t,
                             "f": np.round(brain.index.features(t), 5).tolist(),
                             "statement": not t.rstrip().endswith(("?", "？"))})
            print(f"{spec['name']} {label}: {len(rows)} rows", file=sys.stderr, flush=True)
    return rows


def fit(rows: list[dict], C: float, n_features: int) -> np.ndarray:
    """Conditional logit: maximise C × Σ log softmax(F w)[y] − ½‖w‖²."""
    from scipy.optimize import minimize

    Fs = [np.array(r["f"]) for r in rows]
    ys = [r["y"] for r in rows]

    def loss(w):
        total, grad = 0.5 * w @ w, w.copy()
        for F, y in zip(Fs, ys):
            z = F @ w
            z = z - z.max()
            p = np.exp(z)
            p /= p.sum()
            total -= C * (z[y] - np.log(np.exp(z).sum()) + 0.0)
            grad -= C * (F[y] - p @ F)
        return total, grad

    res = minimize(loss, np.zeros(n_features), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x


def first_right(rows: list[dict], w: np.ndarray) -> np.ndarray:
    return np.array([int(np.argmax(np.array(r["f"]) @ w)) == r["y"] for r in rows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subsets", type=int, default=2, help="random entry parts per size (4, 7, 10) per tune KB")
    ap.add_argument("--rows", help="reuse the features saved by an earlier run")
    ap.add_argument("--out", default="bench/results/reranker_rows.json")
    ap.add_argument("--write", action="store_true", help="write tingshuo/dialogue/data/reranker.yaml")
    args = ap.parse_args()
    import tingshuo.dialogue.brains.kb as K

    names = tune_names()
    if args.rows:
        rows = saved_rows(args.rows)
    else:
        rows = collect([load_set(n) for n in names], args.subsets)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"tune_sets": names, "features": K.RERANK_FEATURES, "rows": rows}),
                                  encoding="utf-8")
    feats = list(K.RERANK_FEATURES)
    hand = np.array([HAND_SET.get(f, 0.0) for f in feats])
    report: dict = {"tune_sets": names, "hand_set": {}, "learned": {}}
    sizes = sorted({r["size"] for r in rows})

    def share(mask_rows, ok):
        return round(float(ok[mask_rows].mean()), 4) if mask_rows.any() else None

    for kb in names:
        test = np.array([r["kb"] == kb for r in rows])
        ok = first_right(rows, hand)
        report["hand_set"][kb] = {sz: share(test & np.array([r["size"] == sz for r in rows]), ok) for sz in sizes}
    for C in C_GRID:
        out = {}
        for kb in names:
            train = [r for r in rows if r["kb"] != kb]
            w = fit(train, C, len(feats))
            ok = first_right(rows, w)
            test = np.array([r["kb"] == kb for r in rows])
            out[kb] = {sz: share(test & np.array([r["size"] == sz for r in rows]), ok) for sz in sizes}
            st = test & np.array([r["statement"] and r["size"] == "all" for r in rows])
            out[kb]["statements_all"] = share(st, ok)
        report["learned"][str(C)] = out
        print(f"C={C}: " + json.dumps(out), file=sys.stderr, flush=True)

    def pooled(per_kb):
        return float(np.mean([v for kb in names for sz, v in per_kb[kb].items() if sz in sizes and v is not None]))

    report["hand_set_pooled"] = round(pooled(report["hand_set"]), 4)
    report["learned_pooled"] = {C: round(pooled(v), 4) for C, v in report["learned"].items()}
    best_C = float(max(report["learned_pooled"], key=lambda c: report["learned_pooled"][c]))
    report["chosen_C"] = best_C
    w = fit(rows, best_C, len(feats))
    report["weights_all_tune"] = dict(zip(feats, np.round(w, 4).tolist()))
    print(json.dumps({k: v for k, v in report.items() if k != "learned"} | {"learned_at_chosen": report["learned"][str(best_C)]},
                     indent=1))
    if args.write:
        import yaml

        path = K.RERANKER_FILE
        header = (f"# The knowledge-base brain's re-ranker (brains/kb.py RERANK_FEATURES): written by bench/train_reranker.py\n"
                  f"# on {datetime.date.today()} from the tune KBs' in-domain caller questions ({', '.join(names)}; whole and in\n"
                  f"# 4/7/10-entry parts), L2 C={best_C} chosen leave-one-KB-out. No feature is tied to a KB.\n")
        body = {"features": feats, "weights": {f: round(float(v), 4) for f, v in zip(feats, w)},
                "C": best_C, "leave_one_kb_out_first_right": {"hand_set": report["hand_set_pooled"],
                                                                "learned": report["learned_pooled"][str(best_C)]}}
        path.write_text(header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
