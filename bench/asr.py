"""Speech recognition benchmark: tingshuo vs faster-whisper used directly, same model, same data.

    python bench/asr.py               # both workloads, prints JSON (also bench/results/asr.json)
    python bench/asr.py --quick       # 40 clips and a 3-minute long file, for a smoke run

Workload (a): every English and Mandarin read-speech clip of the dev set with a strong transcript,
as one folder of short files. Workload (b): one long file per language made by joining those
clips with short pauses (English >= 10 min). Each system runs in its own process (so peak memory
is its own), with the same model (whisper-base, int8), the same CPU threads and auto language.
The peer is faster-whisper's ``WhisperModel.transcribe`` with its defaults (beam 5), one file at
a time. Model loading is excluded from the times; audio decoding is included.
Normalisation: see bench/common.py.
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

from common import REPO, dev_rows, emit, error_rate, peak_rss_mb  # noqa: E402

RESULTS = REPO / "bench" / "results"
PAUSE_S = 0.6


def workloads(quick: bool) -> dict:
    rows = [r for r in dev_rows("read") if r["lang"] in ("en", "zh")]
    if quick:
        rows = [r for r in rows if r["lang"] == "en"][:20] + [r for r in rows if r["lang"] == "zh"][:20]
    RESULTS.mkdir(parents=True, exist_ok=True)
    long_files = {}
    for lang in ("en", "zh"):
        clips = [r for r in rows if r["lang"] == lang]
        path = RESULTS / f"long_{lang}{'_quick' if quick else ''}.wav"
        long_files[lang] = {"path": str(path), "text": _join_texts(lang, [r["text"] for r in clips]),
                            "duration_s": _make_long(path, [r["path"] for r in clips])}
    return {"a": rows, "b": long_files}


def _join_texts(lang: str, texts: list[str]) -> str:
    return ("" if lang == "zh" else " ").join(t.strip() for t in texts)


def _make_long(path: Path, clips: list[str]) -> float:
    import numpy as np
    import soundfile as sf

    from tingshuo.audio.io import load_audio

    pause = np.zeros(int(PAUSE_S * 16000), np.float32)
    parts = []
    for c in clips:
        parts += [load_audio(c).samples, pause]
    audio = np.concatenate(parts)
    if not path.exists() or abs(sf.info(str(path)).frames - audio.size) > 0:
        sf.write(str(path), audio, 16000, subtype="PCM_16")
    return audio.size / 16000


# ------------------------------------------------------------------------------- children

def child(system: str, paths: list[str], threads: int) -> dict:
    if system == "ours":
        from tingshuo.asr.pipeline import Transcriber

        t = Transcriber(cpu_threads=threads)
        started = time.perf_counter()
        hyps = {}
        audio_s = 0.0
        for i, res in t.transcribe_many(paths):
            if isinstance(res, Exception):
                hyps[paths[i]] = ""
                continue
            hyps[paths[i]] = res.text
            audio_s += res.duration_s
        wall = time.perf_counter() - started
    else:
        from faster_whisper import WhisperModel

        from tingshuo import models

        model = WhisperModel(str(models.resolve("whisper-base")), device="cpu", compute_type="int8",
                             cpu_threads=threads)
        started = time.perf_counter()
        hyps = {}
        audio_s = 0.0
        for p in paths:
            segments, info = model.transcribe(p)
            hyps[p] = "".join(s.text for s in segments)
            audio_s += info.duration
        wall = time.perf_counter() - started
    return {"system": system, "wall_s": round(wall, 2), "audio_s": round(audio_s, 2),
            "rtf": round(wall / audio_s, 4) if audio_s else None, "peak_rss_mb": round(peak_rss_mb(), 1),
            "hyps": hyps}


def run_child(system: str, paths: list[str], threads: int) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lst = RESULTS / f".paths-{os.getpid()}.json"
    lst.write_text(json.dumps(paths))
    out = subprocess.run([sys.executable, __file__, "--child", system, "--paths", str(lst), "--threads", str(threads)],
                         capture_output=True, text=True)
    lst.unlink(missing_ok=True)
    if out.returncode != 0:
        sys.exit(f"{system} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


# ------------------------------------------------------------------------------- report

def score_a(rows: list[dict], res: dict) -> dict:
    out = {}
    for lang in ("en", "zh"):
        sel = [r for r in rows if r["lang"] == lang]
        out[lang] = error_rate(lang, [r["text"] for r in sel], [res["hyps"].get(r["path"], "") for r in sel])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subset, for a smoke run")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--only", choices=("a", "b"), help="run one workload")
    ap.add_argument("--reps", type=int, default=3, help="alternating runs of each system on workload (b)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(Path(args.paths).read_text()), args.threads),
                         ensure_ascii=False))
        return

    w = workloads(args.quick)
    report: dict = {"benchmark": "asr", "model": "whisper-base int8", "threads": args.threads,
                    "normalisation": "en: Whisper EnglishTextNormalizer; zh: OpenCC t2s, punctuation and "
                                     "spaces removed, numerals not converted", "workloads": {}}
    if args.only in (None, "a"):
        paths = [r["path"] for r in w["a"]]
        res = {s: run_child(s, paths, args.threads) for s in ("ours", "peer")}
        wl = {"description": f"{len(paths)} short clips (en + zh read speech), auto language",
              "n_files": len(paths), "audio_s": res["ours"]["audio_s"]}
        for s, r in res.items():
            wl[s] = {k: r[k] for k in ("wall_s", "rtf", "peak_rss_mb")} | {"accuracy": score_a(w["a"], r)}
        wl["speedup_vs_peer"] = round(res["peer"]["wall_s"] / res["ours"]["wall_s"], 2)
        wl["targets"] = {"speedup>=2": wl["speedup_vs_peer"] >= 2.0,
                         "accuracy_not_worse": all(wl["ours"]["accuracy"][lg]["value"] <= wl["peer"]["accuracy"][lg]["value"]
                                                   for lg in ("en", "zh")),
                         "peak_rss<=1500MB": wl["ours"]["peak_rss_mb"] <= 1500}
        report["workloads"]["a_short_clips"] = wl
    if args.only in (None, "b"):
        for lang, info in w["b"].items():
            # Alternate the two systems and keep each one's median run: the machine's speed drifts.
            runs = {"ours": [], "peer": []}
            for _ in range(args.reps):
                for s in ("ours", "peer"):
                    runs[s].append(run_child(s, [info["path"]], args.threads))
            wl = {"description": f"one {info['duration_s'] / 60:.1f}-minute {lang} file of joined dev clips "
                                 f"({PAUSE_S} s pauses)", "audio_s": round(info["duration_s"], 1), "reps": args.reps}
            ratios = sorted(p["wall_s"] / o["wall_s"] for o, p in zip(runs["ours"], runs["peer"]))
            for s, rs in runs.items():
                r = sorted(rs, key=lambda x: x["wall_s"])[len(rs) // 2]
                hyp = r["hyps"][info["path"]]
                wl[s] = {k: r[k] for k in ("wall_s", "rtf")} | {
                    "peak_rss_mb": max(x["peak_rss_mb"] for x in rs),
                    "wall_s_runs": [x["wall_s"] for x in rs],
                    "accuracy": error_rate(lang, [info["text"]], [hyp])}
            wl["speedup_vs_peer"] = round(ratios[len(ratios) // 2], 2)
            wl["targets"] = {"speedup>=1.5": wl["speedup_vs_peer"] >= 1.5,
                             "accuracy_not_worse": wl["ours"]["accuracy"]["value"] <= wl["peer"]["accuracy"]["value"],
                             "peak_rss<=1500MB": wl["ours"]["peak_rss_mb"] <= 1500}
            report["workloads"][f"b_long_{lang}"] = wl
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("asr-quick.json" if args.quick else "asr.json")).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    emit(report)


if __name__ == "__main__":
    main()
