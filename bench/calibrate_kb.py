"""Calibrate the knowledge-base brain's decision rule on the TUNE question sets only.

    python bench/calibrate_kb.py [--kb telecom --kb university --kb rail] [--subsets 4]

Every question file marked ``split: tune`` (telecom, university, rail) is used; the report set
(every other file) is never looked at here. For each setting of the scope model (which
background sentences a KB keeps, ``BACKGROUND_KEEP``; its L2 strength, ``scope.SCOPE_C``; the
weight of "elsewhere", ``scope.BACKGROUND_SHARE``) and of the ranking (``SCOPE_WEIGHT``,
``LEXICAL_WEIGHT``; with ``--ranking`` the scope model is kept as it is and ``CLASSIFIER_C`` is varied too), the brains are built once and every out-of-scope line ``OUT_OF_SCOPE`` is
tried on the standalone in-domain and out-of-domain questions. It prints, per setting and line:
right entry, clarified, declined (in-domain questions said to be out of scope) and out-of-domain
declined, pooled over the tune sets, for the whole KBs and (``--subsets N``) for N random subsets
of 4, 7 and 10 entries of each (questions of the entries left out are dropped), so that a rule
that only works at one KB size shows. The chosen values are written into the brain by hand: the
largest right-entry rate with out-of-domain declined >= 90 % and clarified <= 5 % (the issue's
targets) at every size.
"""

from __future__ import annotations

import _benchpath  # noqa: F401

import argparse
import dataclasses
import itertools
import json
import random
import sys

import numpy as np

from kb import ROOT, load_set  # noqa: E402  (bench/kb.py)

sys.path.insert(0, str(ROOT))


class CachedEmbedder:
    """The embedder with every vector kept: the grid asks the same questions many times."""

    def __init__(self, inner) -> None:
        self.inner, self.memo = inner, {}

    def _get(self, kind: str, texts: list[str]):
        missing = [t for t in dict.fromkeys(texts) if (kind, t) not in self.memo]
        if missing:
            for t, v in zip(missing, getattr(self.inner, kind)(missing)):
                self.memo[(kind, t)] = v
        return np.array([self.memo[(kind, t)] for t in texts])

    def queries(self, texts):
        return self._get("queries", list(texts))

    def passages(self, texts):
        return self._get("passages", list(texts))


def variants(kb, items, n_subsets: int, seed: int = 0):
    """(label, KB, items) for the whole KB and for random subsets of its entries."""
    yield "all", kb, items
    rng = random.Random(seed)
    n = len(kb.entries)
    for size in (4, 7, 10):
        if size >= n:
            continue
        for _ in range(n_subsets):
            keep = sorted(rng.sample(range(n), size))
            remap = {k: j for j, k in enumerate(keep)}
            sub = dataclasses.replace(kb, entries=tuple(kb.entries[k] for k in keep))
            yield f"{size}", sub, [(remap[y], t) for y, t in items if y in remap] + [(-1, t) for y, t in items if y < 0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb", action="append", help="a tune question set (default: every file marked split: tune)")
    ap.add_argument("--ranking", action="store_true",
                    help="keep the scope model's constants; vary the ranking's (SCOPE_WEIGHT, LEXICAL_WEIGHT, CLASSIFIER_C)")
    ap.add_argument("--subsets", type=int, default=2, help="random entry subsets per size (0: whole KBs only)")
    args = ap.parse_args()
    names = args.kb or sorted(p.name.removesuffix(".questions.yaml")
                              for p in (ROOT / "bench" / "data" / "kb").glob("*.questions.yaml")
                              if load_set(p.name.removesuffix(".questions.yaml"))["split"] == "tune")
    specs = [load_set(n) for n in names]
    for spec in specs:
        if spec["split"] != "tune":
            sys.exit(f"{spec['name']} is marked split: {spec['split']}; calibrate on the tune sets only.")

    import tingshuo.dialogue.brains.kb as K
    import tingshuo.dialogue.scope as S
    from tingshuo.dialogue.kb import load_kb, text_language
    from tingshuo.search.embed import load_embedder

    emb, use = CachedEmbedder(load_embedder()), CachedEmbedder(load_embedder("use"))
    sets = []
    for spec in specs:
        kb = load_kb(spec["kb_path"])
        ids = [e.id for e in kb.entries]
        items = [(ids.index(e), t) for e, t in spec["questions"]] + [(-1, t) for t in spec["out_of_domain"]]
        sets += [(spec["name"], label, sub, its) for label, sub, its in variants(kb, items, args.subsets)]
    lines = np.round(np.arange(0.55, 1.001, 0.05), 2)  # on the "elsewhere" score (Scores.elsewhere)
    if args.ranking:  # the scope model as the brain has it; the ranking's constants varied
        grid = itertools.product([K.BACKGROUND_KEEP], [S.SCOPE_C], [S.BACKGROUND_SHARE], [0.0, 0.3, 0.6, 1.0],
                                 [0.0, 0.5], [1.0, 2.0, 4.0, 8.0])
    else:
        grid = itertools.product([0.3, 0.4, 0.5], [1.0, 2.0, 4.0], [0.7, 1.0, 1.5], [0.0, 0.3], [0.0, 1.0],
                                 [K.CLASSIFIER_C])
    results = []
    for keep, scope_c, share, scope_w, lex_w, clf_c in grid:
        K.BACKGROUND_KEEP, S.SCOPE_C, S.BACKGROUND_SHARE, K.SCOPE_WEIGHT, K.LEXICAL_WEIGHT = keep, scope_c, share, scope_w, lex_w
        K.CLASSIFIER_C = clf_c
        tally = {}  # (size label, line) -> counts
        for name, label, kb, items in sets:
            brain = K.KBBrain(kb, embedder=emb, scope_embedder=use)
            for y, t in items:
                s = brain.index.scores(t, text_language(t))
                for line in lines:
                    brain.threshold = float(line)
                    verdict = brain.judge(s)
                    c = tally.setdefault((label, float(line)), dict.fromkeys(("n", "right", "clarified", "declined", "ood", "ood_declined"), 0))
                    if y >= 0:
                        c["n"] += 1
                        c["right"] += verdict == "answer" and int(s.ranked()[0]) == y
                        c["clarified"] += verdict == "clarify"
                        c["declined"] += verdict == "out_of_scope"
                    else:
                        c["ood"] += 1
                        c["ood_declined"] += verdict == "out_of_scope"
        setting = {"BACKGROUND_KEEP": keep, "SCOPE_C": scope_c, "BACKGROUND_SHARE": share,
                   "SCOPE_WEIGHT": scope_w, "LEXICAL_WEIGHT": lex_w, "CLASSIFIER_C": clf_c}
        for line in lines:
            per_size = {}
            for label in sorted({lb for lb, _ in tally}):
                c = tally[(label, float(line))]
                per_size[label] = {"right": round(c["right"] / c["n"], 3), "clarified": round(c["clarified"] / c["n"], 3),
                                   "declined": round(c["declined"] / c["n"], 3),
                                   "ood_declined": round(c["ood_declined"] / c["ood"], 3)}
            ok = all(v["ood_declined"] >= 0.9 and v["clarified"] <= 0.05 for v in per_size.values())
            results.append({"setting": setting | {"OUT_OF_SCOPE": float(line)}, "meets_targets_at_every_size": ok,
                            "by_size": per_size})
        best = max((r for r in results if r["meets_targets_at_every_size"]), default=None,
                   key=lambda r: r["by_size"]["all"]["right"])
        print(f"{setting}: best so far {best and (best['setting'], best['by_size']['all'])}", file=sys.stderr, flush=True)
    ok = sorted((r for r in results if r["meets_targets_at_every_size"]), key=lambda r: -r["by_size"]["all"]["right"])
    print(json.dumps({"tune_sets": names, "subsets_per_size": args.subsets, "best": ok[:10],
                      "n_settings": len(results)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
