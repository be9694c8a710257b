"""Benchmark `tingshuo inspect` on the labelled set from bench/make_inspect_set.py.

    python bench/inspect.py [--per-defect 8] [--jobs 2] [--set out/inspect-set] [--no-full]
    python bench/inspect.py --long 20,60 [--long-dnsmos both] [--before /path/to/old/checkout] [--long-asr]

Two runs over the same clips, each with a fresh store: signal-only (no DNSMOS, no ASR) and
full (DNSMOS + ASR consistency). Prints JSON: per-defect precision/recall (each defect's own
checks, at its clearly-defective strengths, against the clean controls), recall at the weaker
strengths, false alarms on clean controls, the grade confusion matrix, throughput in audio-hours
per wall-hour, and the peer: DNSMOS OVRL alone as the filter (3.0, and the best threshold on
these labels). Writes docs/benchmarks-inspect.md.

``--long MINUTES`` instead measures long recordings (bench/inspect_long.py): peak memory of the
whole process tree and wall time of `tingshuo inspect` on one file of each length, with and
without DNSMOS, and the same for another checkout given with ``--before`` (the peer: the
previous version); it rewrites only the long-files section of the page.
"""

from __future__ import annotations

import os as _os
import sys as _sys

# This file is called inspect.py: keep it from shadowing the standard library's inspect module.
_here = _os.path.dirname(_os.path.abspath(__file__))
_sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
_sys.path.append(_here)  # at the end, like _benchpath: the helpers (make_inspect_set imports it) still load

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DETECTORS = {  # defect -> checks whose review/drop findings count as detecting it
    "noise": {"snr", "dnsmos"}, "clipping": {"clipping"}, "silence": {"silence"}, "all_silent": {"silence"},
    "dropout": {"dropouts"}, "bandlimit": {"bandwidth"}, "truncation": {"truncation"},
    "duplicate_exact": {"duplicates"}, "duplicate_reencoded": {"duplicates"},
    "swapped_text": {"asr_consistency"}, "wrong_language": {"language"},
}
SIGNAL_ONLY = {"noise", "clipping", "silence", "all_silent", "dropout", "bandlimit", "duplicate_exact",
               "duplicate_reencoded"}


def run(labels_path: Path, options, only: set | None = None, dump: Path | None = None) -> tuple[list[dict], list, dict]:
    from tingshuo.quality.runner import Item, inspect_items

    rows = [json.loads(x) for x in open(labels_path, encoding="utf-8")]
    if only:
        rows = [r for r in rows if r["defect"] in only]
    root = labels_path.parent
    items = [Item(i, str(root / r["audio"]), r["text"], r["lang"]) for i, r in enumerate(rows)]
    import resource

    def cpu_s() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    with tempfile.TemporaryDirectory() as tmp:
        c0 = cpu_s()
        t0 = time.time()
        run_, results = inspect_items(items, options, store_path=os.path.join(tmp, "s.sqlite"))
        res = [r for _, r in results]
        wall = time.time() - t0
        cpu = cpu_s() - c0
    audio_s = sum(r.metrics.get("duration_s") or 0 for r in res)
    if dump:
        with open(dump, "w", encoding="utf-8") as fh:
            for row, r in zip(rows, res):
                fh.write(json.dumps({"label": row, "result": r.to_dict()}, ensure_ascii=False) + "\n")
    # CPU seconds do not depend on what else the shared machine runs: audio / (CPU / 2) is what
    # two idle cores would reach if the work splits evenly over them.
    return rows, res, {"wall_s": round(wall, 1), "audio_s": round(audio_s, 1),
                       "x_real_time": round(audio_s / wall, 1), "cpu_s": round(cpu, 1),
                       "x_real_time_2_idle_cores_from_cpu": round(2 * audio_s / cpu, 1),
                       "stages_s": run_.stats.wall_s}


def flagged(result, checks) -> bool:
    return any(f.check in checks and f.severity in ("review", "drop") for f in result.findings)


def score(rows, res, defects) -> dict:
    clean = [r for row, r in zip(rows, res) if row["defect"] == "clean"]
    out = {}
    for d in defects:
        det = DETECTORS[d]
        pos = [r for row, r in zip(rows, res) if row["defect"] == d and row["defective"]]
        weak = [r for row, r in zip(rows, res) if row["defect"] == d and not row["defective"]]
        tp = sum(flagged(r, det) for r in pos)
        fp = sum(flagged(r, det) for r in clean)
        out[d] = {"n": len(pos), "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                  "recall": round(tp / len(pos), 3) if pos else None,
                  "recall_any_grade": round(sum(r.grade != "high" for r in pos) / len(pos), 3) if pos else None}
        if weak:
            by = defaultdict(list)
            for row, r in zip(rows, res):
                if row["defect"] == d and not row["defective"]:
                    by[str(row["strength"])].append(flagged(r, det))
            out[d]["weak_strengths_flagged"] = {k: round(sum(v) / len(v), 3) for k, v in by.items()}
    fa = [r for r in clean if r.grade != "high"]
    out["_clean"] = {"n": len(clean), "false_alarm_rate": round(len(fa) / len(clean), 3),
                     "false_alarm_reasons": Counter(f.check for r in fa for f in r.findings
                                                    if f.severity != "note").most_common()}
    return out


def confusion(rows, res) -> dict:
    m = {e: {p: 0 for p in ("high", "medium", "low")} for e in ("high", "medium", "low")}
    for row, r in zip(rows, res):
        m[row["expected_grade"]][r.grade] += 1
    acc = sum(m[g][g] for g in m) / len(rows)
    return {"expected_by_predicted": m, "accuracy": round(acc, 3)}


def peer(rows, res) -> dict:
    vals = [(row, r.metrics.get("dnsmos_ovrl")) for row, r in zip(rows, res)]
    clean = [v for row, v in vals if row["defect"] == "clean" and v is not None]
    defective = [(row["defect"], v) for row, v in vals if row["defective"] and v is not None]

    def at(t):
        fa = sum(v < t for v in clean) / len(clean)
        per = defaultdict(list)
        for d, v in defective:
            per[d].append(v < t)
        rec = {d: round(sum(x) / len(x), 3) for d, x in per.items()}
        tp = sum(v < t for _, v in defective)
        fp = sum(v < t for v in clean)
        return {"threshold": round(t, 2), "false_alarm_rate": round(fa, 3),
                "precision_vs_clean": round(tp / (tp + fp), 3) if tp + fp else None,
                "recall_all_defective": round(tp / len(defective), 3), "recall_per_defect": rec}

    best = max((at(t / 20) for t in range(30, 80)), key=lambda s: s["recall_all_defective"] - s["false_alarm_rate"])
    return {"ovrl_3.0": at(3.0), "ovrl_tuned": best}


def ours_overall(rows, res) -> dict:
    clean = [r for row, r in zip(rows, res) if row["defect"] == "clean"]
    pos = [r for row, r in zip(rows, res) if row["defective"]]
    tp = sum(r.grade != "high" for r in pos)
    fp = sum(r.grade != "high" for r in clean)
    return {"recall_all_defective": round(tp / len(pos), 3), "precision_vs_clean": round(tp / (tp + fp), 3),
            "false_alarm_rate": round(fp / len(clean), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=Path("out/inspect-set"))
    ap.add_argument("--per-defect", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-full", action="store_true", help="signal-only run only")
    ap.add_argument("--only", default="", help="comma-separated defects to run (default: all)")
    ap.add_argument("--dump", type=Path, help="write each row's label and result to this JSONL (full run)")
    ap.add_argument("--doc", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "benchmarks-inspect.md")
    ap.add_argument("--long", default="", metavar="MINUTES", help="comma-separated lengths of long files to measure")
    ap.add_argument("--long-source", type=Path, default=None, help="train-cathy folder (default: beside the dev data)")
    ap.add_argument("--long-work", type=Path, default=Path("out/inspect-long"), help="where the long files are kept")
    ap.add_argument("--long-dnsmos", choices=("on", "off", "both"), default="both")
    ap.add_argument("--long-asr", action="store_true", help="also run the recogniser (with the file's transcript)")
    ap.add_argument("--before", help="another checkout to measure the same way (PYTHONPATH), e.g. the last release")
    ap.add_argument("--limit-s", type=float, default=1800.0, help="stop a long run after this many seconds")
    ap.add_argument("--before-limit-s", type=float, help="the same for the --before runs (default: --limit-s)")
    ap.add_argument("--before-no-dnsmos", action="store_true", help="skip the --before runs with DNSMOS")
    ap.add_argument("--rss-cap-mb", type=float, default=6000.0, help="stop a long run whose tree passes this RSS")
    a = ap.parse_args()
    if a.long:
        from bench.common import DEV
        from bench.inspect_long import run_long, write_section

        source = a.long_source or DEV.parent / "train-cathy"
        rep = run_long([float(x) for x in a.long.split(",")], source, a.long_work, before=a.before,
                       dnsmos=a.long_dnsmos, asr=a.long_asr, jobs=a.jobs, limit_s=a.limit_s, rss_cap_mb=a.rss_cap_mb,
                       before_limit_s=a.before_limit_s, before_dnsmos=not a.before_no_dnsmos)
        print(json.dumps(rep, indent=1))
        write_section(a.doc, rep)
        return
    from bench.make_inspect_set import build
    from tingshuo.quality import InspectOptions

    labels = build(a.set, a.per_defect, 0)
    report: dict = {"set": str(labels), "cpu_count": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
                    "note": "2-core VM shared with other jobs; throughput is a lower bound"}
    only = set(a.only.split(",")) if a.only else None
    rows, res, t = run(labels, InspectOptions(asr=False, dnsmos=False, jobs=a.jobs), only)
    report["signal_only"] = {"throughput": t, "per_defect": score(rows, res, sorted(SIGNAL_ONLY & {r["defect"] for r in rows})),
                             "overall": ours_overall([r for r in rows], res)}
    if not a.no_full:
        rows, res, t = run(labels, InspectOptions(asr=True, dnsmos=True, jobs=a.jobs, asr_threads=a.jobs), only,
                           a.dump)
        report["full"] = {"throughput": t, "per_defect": score(rows, res, sorted(set(DETECTORS) & {r["defect"] for r in rows})),
                          "overall": ours_overall(rows, res), "grades": confusion(rows, res)}
        report["peer_dnsmos_ovrl"] = peer(rows, res)
    report["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    write_doc(a.doc, report)


def write_doc(path: Path, rep: dict) -> None:
    from bench.inspect_long import kept_section

    long_files = kept_section(path)
    lines = ["# `tingshuo inspect` benchmark (latest run)", "",
             "Produced by `python bench/inspect.py` on the labelled set of `bench/make_inspect_set.py` "
             "(clean read-speech dev clips, en + zh, with injected defects). Precision and recall are per defect, "
             "using that defect's own checks, at its clearly-defective strengths, against the clean controls. "
             f"Machine: {rep['cpu_count']} CPU cores, shared with other jobs (throughput is a lower bound)"
             + (f"; load average {rep['load_avg_at_start'][0]:.1f} at the start and "
                f"{rep['load_avg_at_end'][0]:.1f} at the end of the run" if "load_avg_at_end" in rep else "") + ".",
             "", "Labels: `bench/make_inspect_set.py` (seeded). Per-row labels and results of the full run: "
             "`--dump FILE`.", ""]
    for run_name in ("signal_only", "full"):
        if run_name not in rep:
            continue
        r = rep[run_name]
        th = r["throughput"]
        lines += [f"## {run_name.replace('_', '-')} run", "",
                  f"{th['audio_s']:.0f} s of audio in {th['wall_s']} s wall: **{th['x_real_time']}x real time** "
                  f"(audio-hours per wall-hour) on the shared machine; {th.get('cpu_s')} CPU-seconds, i.e. "
                  f"**{th.get('x_real_time_2_idle_cores_from_cpu')}x** on two idle cores if the work splits evenly. "
                  f"Stages (wall s): {th['stages_s']}.", "",
                  "| defect | n | precision | recall | weaker strengths flagged |", "|---|---|---|---|---|"]
        for d, s in r["per_defect"].items():
            if d.startswith("_"):
                continue
            lines.append(f"| {d} | {s['n']} | {s['precision']} | {s['recall']} | {s.get('weak_strengths_flagged', '')} |")
        c = r["per_defect"]["_clean"]
        lines += ["", f"Clean controls: {c['n']}, false alarms (grade not high): **{c['false_alarm_rate']}** "
                      f"({c['false_alarm_reasons']}).", f"Overall (grade != high): {r['overall']}.", ""]
        if "grades" in r:
            lines += [f"Grade confusion (rows expected, columns predicted), accuracy {r['grades']['accuracy']}:", "",
                      "| expected \\ predicted | high | medium | low |", "|---|---|---|---|"]
            for e, row in r["grades"]["expected_by_predicted"].items():
                lines.append(f"| {e} | {row['high']} | {row['medium']} | {row['low']} |")
            lines.append("")
    if "peer_dnsmos_ovrl" in rep:
        lines += ["## Peer: DNSMOS OVRL alone as the filter", ""]
        for k, v in rep["peer_dnsmos_ovrl"].items():
            lines.append(f"- **{k}** (flag when OVRL < {v['threshold']}): false alarms {v['false_alarm_rate']}, "
                         f"recall over all defective {v['recall_all_defective']}, precision vs clean "
                         f"{v['precision_vs_clean']}; per defect {v['recall_per_defect']}")
        lines.append("")
    if long_files:
        lines += [long_files]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
