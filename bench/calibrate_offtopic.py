"""Calibrate the second out-of-scope test (the e5 passage-vs-background evidence) on TUNE data only.

    TINGSHUO_DEV_DATA=/work/shared/data/dev python bench/calibrate_offtopic.py [--read-statements] \\
        [--cathy /work/shared/data/train-cathy] [--subsets 1] [--out bench/results/calibrate_offtopic.json]

The scope model (``scope.ScopeModel``, USE vectors) learned from questions; read sentences
(audiobooks, news) that a caller's microphone picks up are not questions and often fall on the
knowledge base's side. This script measures, on the tune knowledge bases (every question file
marked ``split: tune``: telecom, university, rail; whole and random 4/7/10-entry subsets), for
the brain's "elsewhere" score (``Scores.elsewhere``: the scope model's probability less
``EVIDENCE_WEIGHT`` times the best entry's e5 passage-vs-background evidence) for every weight and
line ``OUT_OF_SCOPE`` (weight 0: the scope model alone), and the earlier candidate "scope model OR
the e5 evidence below a line" (the first chat branch's rule):

* the tune KBs' in-domain questions: right entry, clarified, declined;
* their typed out-of-domain questions: declined;
* off-topic *statements*: transcripts of dev recordings (``TINGSHUO_DEV_DATA``) that the spoken
  benchmark (bench/dialogue.py ``run_off_topic``) does NOT play — its ten clips are excluded by
  the same selection, and any clip with the same text — and the read sentences of train-cathy
  (CMU Arctic prompts, mostly from novels): declined.

Typed transcripts stand in for recognised speech (recognition errors aside). The report knowledge
bases and the benchmark's own off-topic clips are never looked at here.

The choice (printed as "chosen"): the most statements declined among the settings that lose no
right entries against the scope model alone at 0.7 (at every KB size), keep clarifications at
5 % or less and decline at least 90 % of the typed out-of-domain questions at every size.
"""

from __future__ import annotations

import _benchpath  # noqa: F401

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from calibrate_kb import CachedEmbedder, variants  # noqa: E402
from kb import DATA, ROOT, load_set  # noqa: E402

sys.path.insert(0, str(ROOT))


def bench_offtopic_texts(dev: Path) -> set[str]:
    """The transcripts of the clips bench/dialogue.py plays as off-topic turns (kept out of tuning)."""
    os.environ.setdefault("TINGSHUO_DEV_DATA", str(dev))
    from common import dev_rows

    rows = [r for lang in ("en", "zh") for r in
            [r for r in dev_rows("read", langs=(lang,)) if 2.0 <= r.get("duration_s", 0) <= 8.0][::7][:5]]
    return {r["text"] for r in rows}


def statements(dev: Path, cathy: Path | None) -> list[tuple[str, str]]:
    """(source, text) of off-topic statements: dev transcripts not used by the spoken benchmark, and cathy's."""
    held = bench_offtopic_texts(dev)
    out, seen = [], set(held)
    for line in open(dev / "manifest.jsonl", encoding="utf-8"):
        r = json.loads(line)
        t = r.get("text")
        if t and not r.get("text_quality") and r.get("lang") in ("en", "zh") and t not in seen:
            seen.add(t)
            out.append(("dev-" + r["lang"], t))
    if cathy and (cathy / "manifest.jsonl").exists():
        for line in open(cathy / "manifest.jsonl", encoding="utf-8"):
            t = json.loads(line).get("text")
            if t and t not in seen:
                seen.add(t)
                out.append(("cathy", t))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", default=os.environ.get("TINGSHUO_DEV_DATA", str(ROOT.parent / "shared" / "data" / "dev")))
    ap.add_argument("--cathy", help="train-cathy folder (default: next to the dev folder)")
    ap.add_argument("--subsets", type=int, default=1, help="random entry subsets per size (0: whole KBs only)")
    ap.add_argument("--read-statements", action="store_true",
                    help="train the scope model on data/background_statements.yaml too (kb.READ_STATEMENTS)")
    ap.add_argument("--out", default="bench/results/calibrate_offtopic.json")
    args = ap.parse_args()
    names = sorted(p.name.removesuffix(".questions.yaml") for p in DATA.glob("*.questions.yaml")
                   if load_set(p.name.removesuffix(".questions.yaml"))["split"] == "tune")
    specs = [load_set(n) for n in names]
    said = statements(Path(args.dev), Path(args.cathy) if args.cathy else Path(args.dev).parent / "train-cathy")
    print(f"tune KBs {names}; {len(said)} off-topic statements "
          f"({sum(s == 'cathy' for s, _ in said)} cathy)", file=sys.stderr, flush=True)

    import tingshuo.dialogue.brains.kb as K
    from tingshuo.dialogue.kb import load_kb, text_language
    from tingshuo.search.embed import load_embedder

    K.READ_STATEMENTS = args.read_statements
    emb, use = CachedEmbedder(load_embedder()), CachedEmbedder(load_embedder("use"))
    rows = []  # one per (KB variant, text): the evidence the rule needs
    for spec in specs:
        kb = load_kb(spec["kb_path"])
        ids = [e.id for e in kb.entries]
        items = [(ids.index(e), t) for e, t in spec["questions"]] + [(-1, t) for t in spec["out_of_domain"]]
        for label, sub, its in variants(kb, items, args.subsets):
            brain = K.KBBrain(sub, embedder=emb, scope_embedder=use)
            kind = {t: ("in" if y >= 0 else "ood") for y, t in its}
            for y, t in its + [(-2, t) for _, t in said]:
                s = brain.index.scores(t, text_language(t))
                brain.threshold = 99.0  # never declines here: the out-of-scope lines are tried below
                rest = brain.judge(s)
                rows.append({"kb": spec["name"], "size": label, "kind": kind.get(t, "said") if y > -2 else "said",
                             "y": y, "top": int(s.ranked()[0]), "rest": rest, "outside": round(s.outside, 4),
                             "evidence": round(s.evidence(), 4), "text": t})
            print(f"{spec['name']} {label}: {len(rows)} rows", file=sys.stderr, flush=True)
    table = evaluate(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    base = next(r for r in table if r["rule"] == "weighted" and r["EVIDENCE_WEIGHT"] == 0 and r["OUT_OF_SCOPE"] == 0.7)
    ok = [r for r in table if all(r["by_size"][k]["right"] >= base["by_size"][k]["right"]
                                  and r["by_size"][k]["clarified"] <= 0.05 and r["by_size"][k]["ood_declined"] >= 0.9
                                  for k in r["by_size"])]
    ok.sort(key=lambda r: (-r["all"]["said_declined"], -r["all"]["right"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"tune_sets": names, "n_statements": len(said), "scope_alone_0.7": base,
                                          "chosen": ok[:10], "table": table, "rows": rows},
                                         ensure_ascii=False), encoding="utf-8")
    print(json.dumps({"scope_alone_0.7": base, "chosen": ok[:5]}, indent=1))
    return 0


def evaluate(rows: list[dict]) -> list[dict]:
    """Rates for every rule setting: pooled over the whole tune KBs ("all") and per KB size."""
    rules = [("weighted", {"EVIDENCE_WEIGHT": w, "OUT_OF_SCOPE": c},
              lambda r, w=w, c=c: r["outside"] - w * r["evidence"] >= c)
             for w in (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
             for c in [round(float(x), 4) for x in np.arange(0.55, 1.3, 0.025)]]
    rules += [("or", {"OUT_OF_SCOPE": c, "EVIDENCE_LINE": ev},
               lambda r, c=c, ev=ev: r["outside"] >= c or r["evidence"] < ev)
              for c in (0.6, 0.65, 0.7, 0.75, 0.8) for ev in [round(float(x), 3) for x in np.arange(-0.30, 0.001, 0.025)]]
    out = []
    for name, setting, declines in rules:
        per = {}
        for r in rows:
            verdict = "out_of_scope" if declines(r) else r["rest"]
            c = per.setdefault(r["size"], dict.fromkeys(("n", "right", "clarified", "declined", "ood", "ood_declined",
                                                         "said", "said_declined", "said_zh", "said_zh_declined"), 0))
            if r["kind"] == "in":
                c["n"] += 1
                c["right"] += verdict == "answer" and r["top"] == r["y"]
                c["clarified"] += verdict == "clarify"
                c["declined"] += verdict == "out_of_scope"
            elif r["kind"] == "ood":
                c["ood"] += 1
                c["ood_declined"] += verdict == "out_of_scope"
            else:
                zh = any("\u4e00" <= ch <= "\u9fff" for ch in r["text"])
                c["said"] += 1
                c["said_declined"] += verdict == "out_of_scope"
                c["said_zh"] += zh
                c["said_zh_declined"] += zh and verdict == "out_of_scope"
        rates = {size: {"right": round(c["right"] / c["n"], 3), "clarified": round(c["clarified"] / c["n"], 3),
                        "declined": round(c["declined"] / c["n"], 3), "ood_declined": round(c["ood_declined"] / c["ood"], 3),
                        "said_declined": round(c["said_declined"] / c["said"], 3),
                        "said_zh_declined": round(c["said_zh_declined"] / max(1, c["said_zh"]), 3)}
                 for size, c in per.items()}
        out.append({"rule": name} | setting | {"all": rates.get("all"), "by_size": rates})
    return out


if __name__ == "__main__":
    sys.exit(main())
