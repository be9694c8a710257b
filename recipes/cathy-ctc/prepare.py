"""Prepare the cathy recipe's manifests from the shared data (nothing is copied or changed).

    python recipes/cathy-ctc/prepare.py [--data ../shared/data] [--out data/cathy]

Writes, with absolute audio paths:
  train.jsonl  the train-cathy clips minus a held-out validation slice (for checkpoint selection)
  valid.jsonl  that slice (every 25th clip, 33 clips)
  test.jsonl   the cathy clips of dev/ (disjoint prompts), used only for the final evaluation
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rows(manifest: Path):
    for line in open(manifest, encoding="utf-8"):
        if line.strip():
            r = json.loads(line)
            r["audio"] = str((manifest.parent / r["audio"]).resolve())
            yield r


def is_cathy(r: dict) -> bool:
    return r.get("speaker") == "cathy" or "cathy" in Path(r["audio"]).parts[-2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    ap.add_argument("--out", default=str(REPO / "runs" / "cathy-data"), help="where the manifests go")
    ap.add_argument("--valid-every", type=int, default=25, help="every Nth training clip is held out")
    a = ap.parse_args(argv)
    data, out = Path(a.data), Path(a.out)
    train_src, dev_src = data / "train-cathy" / "manifest.jsonl", data / "dev" / "manifest.jsonl"
    for p in (train_src, dev_src):
        if not p.exists():
            sys.exit(f"{p} not found; pass --data with the folder holding train-cathy/ and dev/")
    out.mkdir(parents=True, exist_ok=True)
    keep = ("audio", "text", "lang", "duration_s")
    train, valid = [], []
    for i, r in enumerate(rows(train_src)):
        (valid if i % a.valid_every == a.valid_every - 1 else train).append({k: r[k] for k in keep})
    test = [{k: r[k] for k in keep} for r in rows(dev_src) if is_cathy(r) and r.get("text")]
    for name, rs in (("train", train), ("valid", valid), ("test", test)):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)
        print(f"{out / (name + '.jsonl')}: {len(rs)} clips, {sum(r['duration_s'] for r in rs) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
