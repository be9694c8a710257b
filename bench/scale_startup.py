"""Where `--ray`'s start-up goes, on a local Ray: a timeline and the CPU each process spent.

    nice -n 10 python bench/scale_startup.py --runs 3           # prints JSON (also bench/results/scale-startup.json)
    python bench/scale_startup.py --cli --runs 3 [--existing] [-- --ray-actors 1]   # the real command

With --cli it times the real `tingshuo transcribe CLIPS --ray [ARGS]` (a local Ray started by the
command, or with --existing a one-node 2-CPU cluster already running, joined by --ray-address) from
launch to its first output file, and the same command without --ray (results in
bench/results/scale-startup-cli.json).

Each run is a fresh process (so its imports count) that does what `transcribe --ray` does with a
local Ray — import Ray, start it (`tingshuo.scale.connect`), run the transcribe worker on N clips
through the executor — with the worker wrapped in `tingshuo.testing.ray.TimedWorker`, which logs the
actor's own times. Timeline, in seconds from the run's process start:
  imports_done         ray, ray.data and tingshuo.scale imported
  ray_ready            the local Ray is up (ray.init returned)
  actor_process_start  the actor's process was started (by Ray)
  actor_class_import   TimedWorker's module imported in it (after Ray's worker start-up, ray.data, Ray Data's map worker)
  actor_model_ready    the recogniser loaded
  first_call_end       its first batch done
  first_result         the first result in the driver's hands
and the CPU seconds every process had used when the first result arrived (the driver; the actor;
Ray Data's helper actors; Ray's daemons), with the load average (the machine is shared).
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, dev_rows, emit  # noqa: E402

RESULTS = REPO / "bench" / "results"


def one_run(model: str, n: int, batch: int, log_dir: str) -> dict:
    from tingshuo.testing.ray import process_start_time

    t0 = process_start_time()
    marks: dict = {}

    def mark(key: str) -> None:
        marks[key] = round(time.time() - t0, 2)

    import ray  # noqa: F401
    import ray.data  # noqa: F401

    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.scale import Job, RayOptions, RunStats, connect, run_items
    from tingshuo.scale.transcribe import rows_for
    from tingshuo.testing.ray import MARKER_VARIABLE, cpu_seconds, ray_processes

    mark("imports_done")
    rows = sorted(dev_rows("read", langs=("en", "zh")), key=lambda r: r["audio"])[1::2][:n]  # split B
    opts = RayOptions(enabled=True, items_per_batch=batch, actors="1")
    job = Job("tingshuo.testing.ray:TimedWorker", {"worker": "tingshuo.scale.transcribe:TranscribeWorker",
              "config": {"model": model, "options": TranscribeOptions(), "threads": 1}, "log_dir": log_dir},
              memory_gb=1.0)
    cpu: dict = {}
    with connect(opts) as info:
        mark("ray_ready")
        for _out in run_items(rows_for([r["path"] for r in rows]), job, opts, info, RunStats()):
            if "first_result" not in marks:
                mark("first_result")
                for pid in ray_processes(f"{MARKER_VARIABLE}={os.environ[MARKER_VARIABLE]}"):
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    name = cmd.split()[0] if cmd.startswith("ray::") else next(
                        (m for m in ("gcs_server", "raylet", "dashboard.py", "log_monitor", "monitor.py") if m in cmd),
                        "other")
                    cpu[name] = round(cpu.get(name, 0.0) + cpu_seconds(pid), 2)
                cpu["driver"] = round(sum(os.times()[:2]), 2)
        mark("all_done")
    for f in Path(log_dir).glob("actor-*.json"):
        a = json.loads(f.read_text())
        marks["actor_process_start"] = round(a["process_start"] - t0, 2)
        marks["actor_class_import"] = round(a["module_imported"] - t0, 2)
        marks["actor_model_ready"] = round(a["model_ready"] - t0, 2)
        marks["first_call_end"] = round(a["calls"][0][1] - t0, 2)
        marks["first_call_inputs"] = a["calls"][0][2]
    return {"timeline_s": dict(sorted(marks.items(), key=lambda kv: kv[1])), "cpu_s_at_first_result": dict(
        sorted(cpu.items(), key=lambda kv: -kv[1])), "cpu_s_total": round(sum(cpu.values()), 2),
        "load_avg_1min": round(os.getloadavg()[0], 1)}


def cli_runs(args: argparse.Namespace, extra: list[str]) -> dict:
    """The real command, launched N times (and the plain one N times, interleaved)."""
    from tingshuo.testing.ray import LocalCluster, mark_environment, ray_processes

    mark = mark_environment()
    rows = sorted(dev_rows("read", langs=("en", "zh")), key=lambda r: r["audio"])[1::2][:args.clips]  # split B
    paths = [r["path"] for r in rows]
    with tempfile.TemporaryDirectory(prefix="tss-", dir="/tmp") as tmp:
        token = Path(tmp) / "token"
        token.write_text(os.urandom(16).hex())
        base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        base.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_TMPDIR=tmp, PYTHONPATH=str(REPO))
        cluster = LocalCluster(nodes=1, cpus_per_node=2).start() if args.existing else None
        try:
            ray_flags = ["--ray-address", cluster.address] if cluster else ["--ray"]
            env = {**base, **(cluster.env if cluster else {})}
            runs: dict[str, list] = {"ray": [], "plain": []}
            for k in range(args.runs):
                for name, flags in (("ray", ray_flags + extra), ("plain", [])):
                    out = Path(tmp) / f"{name}-{k}"
                    cmd = [sys.executable, "-m", "tingshuo", "transcribe", *paths, "-o", str(out), "-m", args.model,
                           "-f", "txt", *flags]
                    t0 = time.perf_counter()
                    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            text=True, cwd=str(REPO))
                    first = None
                    while proc.poll() is None:
                        if first is None and out.exists() and any(out.glob("*.txt")):
                            first = time.perf_counter() - t0
                        time.sleep(0.05)
                    err = proc.stderr.read()
                    wall = time.perf_counter() - t0
                    if proc.returncode:
                        sys.exit(err[-2000:])
                    runs[name].append({"first_output_s": round(first or wall, 2), "wall_s": round(wall, 2),
                                       "load_avg_1min": round(os.getloadavg()[0], 1),
                                       "ray": next((x for x in err.splitlines() if x.startswith("on Ray")), "")})
                    time.sleep(2)
        finally:
            if cluster:
                cluster.shutdown()
        deadline = time.monotonic() + 20
        while ray_processes(mark) and time.monotonic() < deadline:
            time.sleep(0.5)
        return {"model": args.model, "clips": args.clips, "cores": os.cpu_count(), "existing_cluster": args.existing,
                "ray_flags": ray_flags[:1] + extra, "note": "shared machine: read with the load average",
                "median_first_output_s": {n: statistics.median(r["first_output_s"] for r in rs) for n, rs in runs.items()},
                "runs": runs, "leftover_ray_processes": sorted(ray_processes(mark))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default="whisper-base")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4, help="--ray-batch")
    ap.add_argument("--cli", action="store_true", help="time the real command instead (see above)")
    ap.add_argument("--existing", action="store_true", help="with --cli: join a cluster started beforehand")
    ap.add_argument("_run", nargs="?", help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.cli:
        result = cli_runs(args, extra)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "scale-startup-cli.json").write_text(json.dumps(result, indent=2) + "\n")
        emit(result)
        return
    if args._run:  # a child: one run, JSON on stdout
        print(json.dumps(one_run(args.model, args.clips, args.batch, args._run)))
        return
    from tingshuo.testing.ray import mark_environment, ray_processes

    mark = mark_environment()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="tss-", dir="/tmp") as tmp:
            token = Path(tmp) / "token"
            token.write_text(os.urandom(16).hex())
            env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_TMPDIR=tmp,
                       PYTHONPATH=str(REPO))
            out = subprocess.run([sys.executable, __file__, "--model", args.model, "--clips", str(args.clips),
                                  "--batch", str(args.batch), tmp], env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr[-2000:])
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            deadline = time.monotonic() + 20  # Ray's processes end a moment after the run
            while ray_processes(mark) and time.monotonic() < deadline:
                time.sleep(0.5)
    keys = runs[0]["timeline_s"].keys()
    result = {"model": args.model, "clips": args.clips, "ray_batch": args.batch, "cores": os.cpu_count(),
              "note": "shared machine: read with the load average; a local Ray, one actor of 1 CPU",
              "median_timeline_s": {k: statistics.median(r["timeline_s"][k] for r in runs) for k in keys},
              "runs": runs, "leftover_ray_processes": sorted(ray_processes(mark))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale-startup.json").write_text(json.dumps(result, indent=2) + "\n")
    emit(result)


if __name__ == "__main__":
    main()
