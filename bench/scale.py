"""Scale-out benchmark: the same corpus transcribed plainly and with --ray, in one run.

    nice -n 10 python bench/scale.py            # prints JSON (also bench/results/scale.json)
    python bench/scale.py --quick               # 16 clips, whisper-tiny.en, a smoke run

Corpus: the dev set's English and Mandarin read-speech clips with strong transcripts, sorted by
path; split B (odd positions) is reported, split A (even) was used while building (--split A).
Runs, each its own `tingshuo transcribe` process (so start-up and memory are its own):
  plain        the local executor, all cores
  ray-1        --ray (a local Ray started by the run), one actor with every CPU
  ray-2        --ray, two actors of one CPU each
  nodes-2      two Ray nodes on this machine (1 CPU each), --ray-address, two actors
  kill-actor   as nodes-2, with one actor SIGKILLed a third of the way through
  index-plain  `tingshuo index` over the same clips, locally (recognise, passages, embed, SQLite)
  index-ray-2  `tingshuo index --ray`, two actors of one CPU: the index compared with index-plain's
  align-plain  `tingshuo align --segment` over the same clips and their transcripts, locally
  align-ray-2  `tingshuo align --segment --ray`, two actors of one CPU: every file compared with align-plain's
  startup     `--startup-runs N`: N short `transcribe --ray` runs (12 clips, a local Ray each), with
              `--baseline-repo DIR` interleaved with the same runs of another checkout's code
Then the driver's own cost per result: a few thousand model-free items (EchoWorker) through the
executor, one per Ray batch and eight per batch.
Figures: start-up (process start to first output file; with Ray also "Ray ready" and "first result
after ready" as the run reports them), wall time, clips/s and audio hours per hour
over the whole run and after the first output (steady), peak memory per actor process (VmHWM) and
of all the run's processes together (the largest sum of RSS seen, sampled every 0.25 s).
Outputs of every --ray run are compared byte for byte with the plain run's.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO, dev_rows, emit  # noqa: E402

from tingshuo.testing.ray import LocalCluster, descendants, mark_environment, ray_processes  # noqa: E402

RESULTS = REPO / "bench" / "results"
MARK: str | None = None  # this run's mark on its Ray processes (others may use Ray on this machine)


def corpus(split: str, quick: bool, limit: int | None) -> list[dict]:
    rows = sorted(dev_rows("read", langs=("en", "zh")), key=lambda r: r["audio"])
    rows = rows[1::2] if split == "B" else rows[0::2]
    if quick:
        rows = [r for r in rows if r["lang"] == "en"][:16]
    if limit and len(rows) > limit:  # evenly spaced, so both languages stay in
        rows = [rows[int(i * len(rows) / limit)] for i in range(limit)]
    return rows


class Sampler:
    """Peak memory of a process tree (plus extra roots), sampled from /proc."""

    def __init__(self, roots: set[int]) -> None:
        self.roots = set(roots)
        self.peak_total_mb = 0.0
        self.hwm_mb: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0.0
            # the run's process tree, and every Ray actor on the machine (a node's daemons may not
            # descend from the process that started them)
            actors = {p for p in ray_processes(MARK) if "MapWorker" in _cmd(p)}
            for pid in self.roots | descendants(self.roots) | actors:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                fields = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
                rss = float(fields.get("VmRSS", "0 kB").split()[0]) / 1024
                hwm = float(fields.get("VmHWM", "0 kB").split()[0]) / 1024
                total += rss
                self.hwm_mb[pid] = max(self.hwm_mb.get(pid, 0.0), hwm)
                self.names[pid] = cmd[:80]
            self.peak_total_mb = max(self.peak_total_mb, total)
            self._stop.wait(0.25)

    def actors(self) -> list[float]:
        return sorted(round(v) for p, v in self.hwm_mb.items() if "MapWorker" in self.names[p] or "_Actor" in self.names[p])


def run_cli(name: str, rows: list[dict], model: str, out: Path, extra: list[str], env: dict,
            cluster: LocalCluster | None = None, kill_at: int | None = None, cwd: str | None = None) -> dict:
    manifest = out.parent / f"{name}-input.jsonl"
    manifest.write_text("".join(json.dumps({"audio": r["path"], "lang": r["lang"], "duration_s": r["duration_s"]})
                                + "\n" for r in rows))
    cmd = ["nice", "-n", "10", sys.executable, "-m", "tingshuo", "transcribe", str(manifest), "-m", model,
           "-f", "json", "-o", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd)
    first, killed = None, None
    roots = {proc.pid} | (cluster.pids if cluster else set())
    with Sampler(roots) as mem:
        while proc.poll() is None:
            n = sum(1 for _ in out.rglob("*.json")) if out.exists() else 0
            if n and first is None:
                first = time.perf_counter() - t0
            if kill_at is not None and killed is None and n >= kill_at:
                actors = [p for p in ray_processes(MARK) if "MapWorker" in _cmd(p)]
                if actors:
                    killed = actors[0]
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.1)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read()
    audio_s = sum(r["duration_s"] for r in rows)
    done = sum(1 for _ in out.rglob("*.json"))
    steady = wall - (first or 0.0)
    return {"name": name, "returncode": proc.returncode, "clips": done, "audio_s": round(audio_s, 1),
            "startup_s": round(first or 0.0, 2), "wall_s": round(wall, 2),
            "clips_per_s": round(done / wall, 3), "steady_clips_per_s": round((done - 1) / steady, 3) if steady else None,
            "audio_h_per_h": round(audio_s / wall, 2), "steady_audio_h_per_h": round(audio_s / steady, 2),
            "peak_total_mb": round(mem.peak_total_mb), "actor_peak_mb": mem.actors(),
            "killed_actor": killed, **ray_times(stderr), "load_avg_1min": round(os.getloadavg()[0], 1),
            "stderr_tail": stderr.strip().splitlines()[-2:]}


def ray_times(stderr: str) -> dict:
    """"Ray ready in X s, first result Y s later" from a run's summary line."""
    import re

    m = re.search(r"Ray ready in ([\d.]+) s, first result ([\d.]+) s later", stderr)
    return {"ray_ready_s": float(m.group(1)), "first_result_after_ready_s": float(m.group(2))} if m else {}


def run_index(name: str, rows: list[dict], model: str, lib: Path, extra: list[str], env: dict) -> dict:
    """`tingshuo index` over the clips: start-up to the first file committed, wall time, memory."""
    import sqlite3

    lib.parent.mkdir(parents=True, exist_ok=True)
    manifest = lib.parent / f"{name}-input.jsonl"
    manifest.write_text("".join(json.dumps({"audio": r["path"], "lang": r["lang"], "duration_s": r["duration_s"]})
                                + "\n" for r in rows))
    cmd = ["nice", "-n", "10", sys.executable, "-m", "tingshuo", "index", str(manifest), "--index", str(lib),
           "-m", model, *extra]

    def committed() -> int:
        from tingshuo.search.store import files_committed

        return files_committed(lib, timeout_s=1)

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    with Sampler({proc.pid}) as mem:
        while proc.poll() is None:
            if first is None and committed():
                first = time.perf_counter() - t0
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read()
    steady = wall - (first or 0.0)
    done = committed()
    return {"name": name, "returncode": proc.returncode, "clips": done, "startup_s": round(first or 0.0, 2),
            "wall_s": round(wall, 2), "clips_per_s": round(done / wall, 3),
            "steady_clips_per_s": round((done - 1) / steady, 3) if steady else None,
            "peak_total_mb": round(mem.peak_total_mb), "actor_peak_mb": mem.actors(), **ray_times(stderr),
            "load_avg_1min": round(os.getloadavg()[0], 1), "stderr_tail": stderr.strip().splitlines()[-2:]}


def same_index(a: Path, b: Path) -> dict:
    """Searchable content of two indexes, per file: rows, passages and terms equal; vectors within float16 rounding."""
    import sqlite3

    import numpy as np

    def read(lib: Path) -> dict:
        con = sqlite3.connect(lib / "index.sqlite")
        out = {}
        for fid, path, *row in con.execute("SELECT id, path, content_hash, size, duration_s, language, "
                                           "transcript_source, recogniser, n_passages FROM files"):
            ps = con.execute("SELECT start_s, end_s, text, words, lex, py FROM passages WHERE file_id=? ORDER BY id",
                             (fid,)).fetchall()
            vs = con.execute("SELECT unit, vec FROM unit_vectors WHERE file_id=? ORDER BY unit", (fid,)).fetchall()
            out[path] = (tuple(row), ps, [np.frombuffer(v, np.float16).astype(np.float32) for _u, v in vs])
        con.close()
        return out

    x, y = read(a), read(b)
    same = sum(1 for k in x if k in y and x[k][:2] == y[k][:2])
    diffs = [float(np.abs(u - v).max()) for k in x if k in y for u, v in zip(x[k][2], y[k][2])]
    return {"files": len(x), "other_files": len(y), "same_rows_and_passages": same,
            "max_vector_diff": round(max(diffs, default=0.0), 5)}


def startup_runs(n: int, clips: list[dict], model: str, tmp: Path, env: dict, baseline: str | None) -> list[dict]:
    """Short `transcribe --ray` runs on a local Ray: start-up only. With a baseline checkout, its
    code runs the same command, alternating with ours (the load drifts; pairs are adjacent)."""
    out = []
    for k in range(n):
        for label, repo in (("this", str(REPO)), ("baseline", baseline)):
            if repo is None:
                continue
            name = f"startup-{label}-{k}"
            # `python -m` puts the working folder first on sys.path: run each checkout from its own folder
            r = run_cli(name, clips, model, tmp / name, ["--ray", "--ray-actors", "1:1"], {**env, "PYTHONPATH": repo},
                        cwd=repo)
            r["tingshuo"] = subprocess.run([sys.executable, "-c", "import tingshuo; print(tingshuo.__file__)"],
                                           env={**env, "PYTHONPATH": repo}, cwd=repo, capture_output=True,
                                           text=True).stdout.strip()
            out.append({"code": label, **{key: r.get(key) for key in ("tingshuo", "startup_s", "ray_ready_s",
                        "first_result_after_ready_s", "wall_s", "clips", "load_avg_1min")}})
            shutil.rmtree(tmp / name, ignore_errors=True)
    return out


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def run_inspect(name: str, rows: list[dict], out: Path, extra: list[str], env: dict) -> dict:
    """`tingshuo inspect` over the same clips (with their transcripts): wall time and peak memory."""
    manifest = out.parent / f"{name}-input.jsonl"
    manifest.write_text("".join(json.dumps({"audio": r["path"], "text": r["text"], "lang": r["lang"],
                                            "duration_s": r["duration_s"]}) + "\n" for r in rows))
    cmd = ["nice", "-n", "10", sys.executable, "-m", "tingshuo", "inspect", str(manifest), "-o", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with Sampler({proc.pid}) as mem:
        stderr = proc.communicate()[1]
    wall = time.perf_counter() - t0
    return {"name": name, "returncode": proc.returncode, "clips": len(rows), "wall_s": round(wall, 2),
            "clips_per_s": round(len(rows) / wall, 3), "peak_total_mb": round(mem.peak_total_mb),
            "actor_peak_mb": mem.actors(), "stderr_tail": stderr.strip().splitlines()[-3:]}


def run_align(name: str, rows: list[dict], model: str, out: Path, extra: list[str], env: dict) -> dict:
    """`tingshuo align --segment` over the clips and their transcripts: start-up to the first
    alignment file, wall time, memory."""
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = out.parent / f"{name}-input.jsonl"
    manifest.write_text("".join(json.dumps({"audio": r["path"], "text": r["text"], "lang": r["lang"]}) + "\n"
                                for r in rows))
    cmd = ["nice", "-n", "10", sys.executable, "-m", "tingshuo", "align", str(manifest), "-o", str(out), "--model", model,
           "--segment", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    with Sampler({proc.pid}) as mem:
        while proc.poll() is None:
            if first is None and out.exists() and any(out.glob("*.json")):
                first = time.perf_counter() - t0
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read()
    done = sum(1 for p in out.glob("*.json") if p.name != "summary.json") if out.exists() else 0
    return {"name": name, "returncode": proc.returncode, "clips": done, "startup_s": round(first or 0.0, 2),
            "wall_s": round(wall, 2), "clips_per_s": round(done / wall, 3), "peak_total_mb": round(mem.peak_total_mb),
            "actor_peak_mb": mem.actors(), **ray_times(stderr), "load_avg_1min": round(os.getloadavg()[0], 1),
            "stderr_tail": stderr.strip().splitlines()[-3:]}


def same_files(a: Path, b: Path) -> dict:
    """Every file under two output folders, byte for byte."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    others = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    same = sum(1 for f in files if (b / f).is_file() and (a / f).read_bytes() == (b / f).read_bytes())
    return {"files": len(files), "other_files": len(others), "identical": same}


def same_outputs(a: Path, b: Path) -> dict:
    files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    same = sum(1 for f in files if (b / f).exists() and (a / f).read_bytes() == (b / f).read_bytes())
    return {"files": len(files), "identical": same}


def driver_cost(n: int, env_cluster: LocalCluster) -> list[dict]:
    """Results per second the driver absorbs: model-free items through the real executor."""
    from tingshuo.scale import Job, RayOptions, connect, run_items

    out = []
    for per_batch in (1, 8):
        opts = RayOptions(address=env_cluster.address, items_per_batch=per_batch)
        rows = [{"index": i, "path": f"p{i}"} for i in range(n)]
        with connect(opts) as info:
            t0 = time.perf_counter()
            first = None
            count = 0
            for _ in run_items(rows, Job("tingshuo.testing.ray:EchoWorker", {}, memory_gb=0.1), opts, info):
                count += 1
                if first is None:
                    first = time.perf_counter()
            end = time.perf_counter()
        out.append({"items": count, "items_per_batch": per_batch, "wall_s": round(end - t0, 2),
                    "results_per_s_after_first": round((count - 1) / (end - first), 1),
                    "driver_ms_per_result": round(1000 * (end - first) / max(1, count - 1), 3)})
    return out


def sink_cost(n: int = 2000) -> dict:
    """What the driver spends writing one transcript: render txt/srt/json, three atomic writes and a
    manifest line (the same TranscriptSink both executors use)."""
    from tingshuo.asr.batch import Item, TranscriptSink
    from tingshuo.types import Segment, Transcript, Word

    segs = tuple(Segment(i * 3.0, i * 3.0 + 2.5, f" this is segment number {i} of a clip",
                         words=tuple(Word(i * 3 + 0.1 * k, i * 3 + 0.1 * k + 0.1, f" w{k}") for k in range(8)))
                 for i in range(3))
    t = Transcript.from_segments(segs, language="en", language_probability=0.99, duration_s=9.5, source="x.wav")
    with tempfile.TemporaryDirectory() as d:
        sink = TranscriptSink(d, ("txt", "srt", "json"), manifest_out=Path(d) / "m.jsonl")
        items, _ = sink.pending([Item(f"a{i}.wav", Path(f"sub/a{i}"), None, None) for i in range(n)], False)
        t0 = time.perf_counter()
        for i, it in enumerate(items):
            sink.write(i, it, t)
        sink.close()
        ms = 1000 * (time.perf_counter() - t0) / n
    return {"items": n, "formats": "txt,srt,json + manifest line", "driver_ms_per_result": round(ms, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--split", choices=("A", "B"), default="B")
    ap.add_argument("--model", default=None, help="default: whisper-base (whisper-tiny.en with --quick)")
    ap.add_argument("--driver-items", type=int, default=3000)
    ap.add_argument("--limit", type=int, default=None, help="at most this many clips of the split")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat plain/ray-1/ray-2 this many times, interleaved (a shared machine's load drifts)")
    ap.add_argument("--only", default="plain,ray-1,ray-2,nodes-2,kill-actor,driver",
                    help="runs to do; also inspect-plain,inspect-ray-2, index-plain,index-ray-2 and "
                         "align-plain,align-ray-2 (those verbs, same clips; align with --segment)")
    ap.add_argument("--startup-runs", type=int, default=0, help="short --ray runs timing start-up")
    ap.add_argument("--startup-clips", type=int, default=12,
                    help="clips per start-up run (more than one batch, so that a result held back by the next "
                         "batch would show)")
    ap.add_argument("--baseline-repo", default=None,
                    help="a checkout whose code the start-up runs also time, alternating (e.g. an older main)")
    args = ap.parse_args()
    model = args.model or ("whisper-tiny.en" if args.quick else "whisper-base")
    rows = corpus(args.split, args.quick, args.limit)
    only = set(args.only.split(","))
    global MARK
    MARK = mark_environment()  # before the environment below is copied
    before = ray_processes(MARK)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    token = tmp / "token"
    token.write_text("bench-" + os.urandom(16).hex())
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), PYTHONPATH=str(REPO),
               RAY_TMPDIR=str(tmp / "ray"))  # a local Ray's session folder goes with the rest
    load = os.getloadavg()
    result = {"corpus": {"split": args.split, "clips": len(rows), "audio_s": round(sum(r["duration_s"] for r in rows), 1),
                         "langs": sorted({r["lang"] for r in rows})},
              "model": model, "cores": os.cpu_count(), "load_avg_at_start": [round(x, 1) for x in load],
              "note": "shared machine: other jobs ran at the same time; compare runs within this run only",
              "runs": []}
    try:
        local = {"plain": [], "ray-1": ["--ray", "--ray-actors", "1:1", "--ray-cpus-per-actor", "2"],
                 "ray-2": ["--ray", "--ray-actors", "2:2", "--ray-cpus-per-actor", "1"]}
        rounds: dict[str, list[dict]] = {}
        for k in range(args.rounds):
            for name, flags in local.items():
                if name in only:
                    out = tmp / name  # each round overwrites; the last one is compared with plain's
                    shutil.rmtree(out, ignore_errors=True)
                    rounds.setdefault(name, []).append(run_cli(name, rows, model, out, flags, env))
        for name, runs in rounds.items():
            ranked = sorted(runs, key=lambda r: r["steady_clips_per_s"] or 0)
            median = dict(ranked[len(ranked) // 2])
            if len(runs) > 1:
                median["rounds_steady_clips_per_s"] = [r["steady_clips_per_s"] for r in runs]
                median["rounds_startup_s"] = [r["startup_s"] for r in runs]
                if name != "plain" and "plain" in rounds:  # each round against the plain run just before it
                    ratios = sorted(r["steady_clips_per_s"] / p["steady_clips_per_s"]
                                    for r, p in zip(runs, rounds["plain"]))
                    median["paired_steady_vs_plain"] = [round(x, 3) for x in ratios]
            result["runs"].append(median)
        for name, flags in (("inspect-plain", []), ("inspect-ray-2", ["--ray", "--ray-actors", "2:2"])):
            if name in only:
                result["runs"].append(run_inspect(name, rows, tmp / name, flags, env))
        for name, flags in (("index-plain", []), ("index-ray-2", ["--ray", "--ray-actors", "2:2"])):
            if name in only:
                result["runs"].append(run_index(name, rows, model, tmp / name / "lib", flags, env))
        for name, flags in (("align-plain", []), ("align-ray-2", ["--ray", "--ray-actors", "2:2"])):
            if name in only:
                result["runs"].append(run_align(name, rows, model, tmp / name / "out", flags, env))
        if "align-plain" in only and "align-ray-2" in only:
            result["align_same_files"] = same_files(tmp / "align-plain" / "out", tmp / "align-ray-2" / "out")
        if "index-plain" in only and "index-ray-2" in only:
            result["index_same_contents"] = same_index(tmp / "index-plain" / "lib", tmp / "index-ray-2" / "lib")
        if args.startup_runs:
            if args.baseline_repo:
                result["baseline_commit"] = subprocess.run(["git", "-C", args.baseline_repo, "rev-parse", "--short",
                                                            "HEAD"], capture_output=True, text=True).stdout.strip()
            result["startup"] = startup_runs(args.startup_runs, rows[:args.startup_clips], model, tmp, env,
                                             args.baseline_repo)
        if "inspect-plain" in only and "inspect-ray-2" in only:
            res = [[json.loads(x) for x in (tmp / n / "results.jsonl").read_text().splitlines()]
                   for n in ("inspect-plain", "inspect-ray-2")]
            result["inspect_same_results"] = res[0] == res[1]
        if only & {"nodes-2", "kill-actor", "driver"}:
            t0 = time.perf_counter()
            with LocalCluster(nodes=2, cpus_per_node=1) as cluster:
                result["cluster_start_s"] = round(time.perf_counter() - t0, 2)
                cenv = {**env, **cluster.env}
                flags = ["--ray-address", cluster.address, "--ray-actors", "2:2"]
                if "nodes-2" in only:
                    result["runs"].append(run_cli("nodes-2", rows, model, tmp / "nodes-2", flags, cenv, cluster))
                if "kill-actor" in only:
                    result["runs"].append(run_cli("kill-actor", rows, model, tmp / "kill-actor", flags, cenv, cluster,
                                                  kill_at=max(1, len(rows) // 3)))
                if "driver" in only:
                    result["driver_cost"] = driver_cost(args.driver_items, cluster)
                    result["driver_write_cost"] = sink_cost()
            result["leftover_ray_processes"] = sorted(cluster.leftovers | (ray_processes(MARK) - before))
        base = next((r for r in result["runs"] if r["name"] == "plain"), None)
        for r in result["runs"]:
            if base and r is not base and not r["name"].startswith(("inspect", "index")):
                r["same_outputs_as_plain"] = same_outputs(tmp / "plain", tmp / r["name"])
                r["steady_vs_plain"] = round(r["steady_clips_per_s"] / base["steady_clips_per_s"], 3)
                r["whole_run_vs_plain"] = round(r["clips_per_s"] / base["clips_per_s"], 3)
        kill = next((r for r in result["runs"] if r["name"] == "kill-actor"), None)
        nodes = next((r for r in result["runs"] if r["name"] == "nodes-2"), None)
        if kill and nodes:
            result["kill_actor_recovery_s"] = round(kill["wall_s"] - nodes["wall_s"], 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "scale-quick.json" if args.quick else "scale.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    emit(result)


if __name__ == "__main__":
    main()
