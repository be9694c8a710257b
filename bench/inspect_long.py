"""Long recordings through `tingshuo inspect`: peak memory of the whole process tree, and wall time.

Used by ``bench/inspect.py --long MINUTES[,MINUTES]`` (see there); kept apart so the labelled
benchmark stays readable. Each long file is CMU ARCTIC prompts read by cathy (train-cathy, CC0)
joined with 0.5 s pauses and looped to length, 16 kHz mono 16-bit WAV; its transcript (the
prompts' text) is written beside it for the runs with the recogniser.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_S = 0.2  # how often the process tree's memory is read


def make_long(path: Path, minutes: float, source: Path) -> Path:
    """A ``minutes``-long WAV of train-cathy clips with pauses (kept, and reused when present)."""
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.with_suffix(".txt").exists():
        return path
    rows = [json.loads(line) for line in open(source / "manifest.jsonl", encoding="utf-8")]
    target = int(minutes * 60 * 16000)
    pause = np.zeros(8000, np.float32)
    texts, n, i = [], 0, 0
    tmp = path.with_suffix(".part.wav")
    with sf.SoundFile(str(tmp), "w", 16000, 1, "PCM_16") as f:
        while n < target:
            row = rows[i % len(rows)]
            x, rate = sf.read(str(source / row["audio"]), dtype="float32")
            assert rate == 16000
            x = np.concatenate([x, pause])[: target - n]
            f.write(x)
            n += x.size
            texts.append(row["text"])
            i += 1
    os.replace(tmp, path)
    path.with_suffix(".txt").write_text(" ".join(texts), encoding="utf-8")
    return path


def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for child in fh.read().split():
                    out += _tree(int(child))
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid: int) -> int:
    """Proportional set size: shared pages (a forked worker's copy of its parent) divided among sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd: list[str], env: dict, limit_s: float, rss_cap_mb: float, cwd: str) -> dict:
    """Run ``cmd``; sample the summed RSS of its process tree; stop it past ``limit_s`` or the cap."""
    t0 = time.time()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        peak = peak_one = peak_pss = 0
        stopped = None
        while p.poll() is None:
            pids = _tree(p.pid)
            sizes = [_rss(x) for x in pids]
            peak, peak_one = max(peak, sum(sizes)), max(peak_one, max(sizes))
            peak_pss = max(peak_pss, sum(_pss(x) for x in pids))
            over = "time limit" if time.time() - t0 > limit_s else "memory cap" if sum(sizes) > rss_cap_mb * 2 ** 20 else None
            if over:
                stopped = over
                for x in reversed(pids):
                    try:
                        os.kill(x, 9)
                    except OSError:
                        pass
                break
            time.sleep(SAMPLE_S)
        p.wait()
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")
    progress = [line for line in tail.replace("\r", "\n").splitlines() if "min measured" in line]
    return {"rc": p.returncode, "wall_s": round(time.time() - t0, 1), "peak_tree_rss_mb": round(peak / 2 ** 20),
            "peak_tree_pss_mb": round(peak_pss / 2 ** 20),
            "peak_process_rss_mb": round(peak_one / 2 ** 20), "stopped": stopped,
            "progress_updates": len(progress), "last_progress": progress[-1].strip()[-60:] if progress else None}


def run_long(minutes: list[float], source: Path, work: Path, *, before: str | None, dnsmos: str, asr: bool,
             jobs: int, limit_s: float, rss_cap_mb: float, before_limit_s: float | None = None,
             before_dnsmos: bool = True) -> dict:
    repo = str(Path(__file__).resolve().parent.parent)
    versions = {"after": repo}
    if before:
        versions["before"] = before
    modes = {"on": [True], "off": [False], "both": [False, True]}[dnsmos]
    before_limit_s = before_limit_s or limit_s
    out: dict = {"source": str(source), "jobs": jobs, "limit_s": limit_s, "before_limit_s": before_limit_s,
                 "rss_cap_mb": rss_cap_mb,
                 "cpu_count": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "runs": []}
    for m in minutes:
        folder = work.resolve() / f"long-{m:g}min"
        wav = make_long(folder / f"long-{m:g}min.wav", m, source)
        for with_dnsmos in modes:
            for name, root in versions.items():
                if name == "before" and with_dnsmos and not before_dnsmos:
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    # run from the temp folder: `python -m` puts the working directory first on the path
                    cmd = [sys.executable, "-m", "tingshuo", "inspect", str((folder if asr else wav).resolve()),
                           "-o", os.path.join(tmp, "out"),
                           "--jobs", str(jobs)] + ([] if asr else ["--no-asr"]) + ([] if with_dnsmos else ["--no-dnsmos"])
                    env = {**os.environ, "PYTHONPATH": root}
                    r = measure(cmd, env, before_limit_s if name == "before" else limit_s, rss_cap_mb, cwd=tmp)
                    r.update({"minutes": m, "version": name, "dnsmos": with_dnsmos, "asr": asr})
                    print(json.dumps(r), file=sys.stderr)
                    out["runs"].append(r)
    out["load_avg_at_end"] = os.getloadavg()
    return out


BEGIN, END = "<!-- long-files: bench/inspect.py --long -->", "<!-- /long-files -->"


def section(rep: dict) -> str:
    lines = [BEGIN, "## Long recordings (memory and time)", "",
             f"`python bench/inspect.py --long ...`: one long WAV (train-cathy prompts with 0.5 s pauses, looped), "
             f"`tingshuo inspect FILE --jobs {rep['jobs']}`; peak memory is the summed RSS of the whole process tree "
             f"(the CLI and its workers; pages a forked worker shares with its parent counted in each, so an upper bound; "
             f"PSS divides them among the sharers), sampled every {SAMPLE_S} s. "
             f"Machine: {rep['cpu_count']} cores shared with other jobs (load average {rep['load_avg_at_start'][0]:.1f} "
             f"at the start, {rep['load_avg_at_end'][0]:.1f} at the end): times are under shared load. 'before' is "
             "the previous version (whole-file analysis) where it was run; runs are stopped at the time limit "
             f"({rep['limit_s']:g} s; {rep['before_limit_s']:g} s for 'before') or the memory cap "
             f"({rep['rss_cap_mb']:g} MB). 'progress lines': updates of the per-file progress line.", "",
             "| length | version | DNSMOS | ASR | peak RSS (tree) | peak PSS (tree) | largest process | wall | progress lines | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rep["runs"]:
        note = f"stopped at the {r['stopped']}" if r["stopped"] else ("exit %d" % r["rc"])
        lines.append(f"| {r['minutes']:g} min | {r['version']} | {'on' if r['dnsmos'] else 'off'} | "
                     f"{'on' if r['asr'] else 'off'} | {r['peak_tree_rss_mb']} MB | {r.get('peak_tree_pss_mb', '–')} MB | "
                     f"{r['peak_process_rss_mb']} MB | "
                     f"{r['wall_s']} s | {r['progress_updates']} | {note} |")
    return "\n".join(lines + ["", END])


def write_section(doc: Path, rep: dict) -> None:
    """Replace the long-files section of the benchmark page (or append it)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    new = section(rep)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + new + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    doc.write_text(text, encoding="utf-8")


def kept_section(doc: Path) -> str:
    """The long-files section of the page as it stands ('' if none), for a rewrite to keep."""
    if not doc.exists():
        return ""
    text = doc.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END + "\n"
    return ""
