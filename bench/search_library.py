"""The search benchmark's library: dev clips and train-cathy joined into multi-minute episodes.

    python bench/search_library.py            # build episodes, transcribe them (ours and the peer), cache all

Episodes are built once into ``bench/results/search/`` (deterministic: seeded order and pauses), each
with a ground-truth file listing its utterances (reference text, language, start_s, end_s, source
clip). Reference transcripts are used only to write queries and to judge, never indexed (except by
the oracle run, which is labelled so).

Transcripts are cached next to the episodes with the wall time they took, so reruns while tuning
do not transcribe again; ``--retranscribe`` forces a fresh measurement.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

from common import DEV, REPO, dev_rows  # noqa: E402

CACHE = REPO / "bench" / "results" / "search"
CATHY = DEV.parent / "train-cathy"
SEED = 14
EPISODE_S = 240.0  # target episode length
N_CATHY = 300  # train-cathy clips used (of 832), to keep the peer's transcription under ~15 min
PAUSE_S = (0.4, 1.2)  # silence between utterances, uniform


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def library_rows() -> list[dict]:
    """Utterances for the library: strong transcripts, en and zh, no duplicated texts or degraded copies."""
    rows = []
    for r in dev_rows(None):
        if r["kind"] in ("format-variant", "noisy-speech", "degraded-speech", "reverberant-speech",
                         "overlapped-speech", "enhanced-speech"):
            continue
        rows.append({"id": "dev/" + r["audio"], "path": r["path"], "text": r["text"], "lang": r["lang"],
                     "duration_s": r["duration_s"]})
    cathy = [json.loads(line) for line in open(CATHY / "manifest.jsonl", encoding="utf-8")]
    random.Random(SEED).shuffle(cathy)
    for r in cathy[:N_CATHY]:
        rows.append({"id": "cathy/" + r["audio"], "path": str(CATHY / r["audio"]), "text": r["text"],
                     "lang": "en", "duration_s": r["duration_s"]})
    seen, out = set(), []
    for r in rows:
        key = _norm(r["text"])
        if key and key not in seen:
            seen.add(key)
            out.append(r)
    return out


def build_episodes(cache: Path = CACHE) -> list[dict]:
    """Write the episode WAVs and their truth files; return [{"audio", "utterances": [...]}]."""
    import numpy as np
    import soundfile as sf

    from tingshuo.audio.io import load_audio

    cache.mkdir(parents=True, exist_ok=True)
    truth_path = cache / "episodes.json"
    if truth_path.exists():
        eps = json.loads(truth_path.read_text())
        if all((cache / e["audio"]).exists() for e in eps):
            return eps
    rng = random.Random(SEED)
    rows = library_rows()
    episodes = []
    for lang in ("en", "zh"):
        sel = [r for r in rows if r["lang"] == lang]
        rng.shuffle(sel)
        n_eps = max(1, round(sum(r["duration_s"] for r in sel) / EPISODE_S))
        groups = [sel[i::n_eps] for i in range(n_eps)]
        for k, group in enumerate(groups, 1):
            name = f"episode_{lang}_{k:02d}.wav"
            parts, t, utts = [], 0.0, []
            for r in group:
                pause = np.zeros(int(rng.uniform(*PAUSE_S) * 16000), np.float32)
                samples = load_audio(r["path"]).samples
                parts += [pause, samples]
                t += pause.size / 16000
                utts.append({"id": r["id"], "text": r["text"], "lang": lang, "start_s": round(t, 3),
                             "end_s": round(t + samples.size / 16000, 3)})
                t += samples.size / 16000
            parts.append(np.zeros(8000, np.float32))
            sf.write(str(cache / name), np.concatenate(parts), 16000, subtype="PCM_16")
            episodes.append({"audio": name, "lang": lang, "duration_s": round(t + 0.5, 3), "utterances": utts})
    truth_path.write_text(json.dumps(episodes, ensure_ascii=False, indent=1))
    return episodes


def transcribe_ours(paths: list[str], out_dir: Path) -> dict:
    """Our batched pipeline, word timestamps on; JSON transcripts written next to nothing else."""
    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.asr.formats import to_json
    from tingshuo.asr.pipeline import Transcriber

    out_dir.mkdir(parents=True, exist_ok=True)
    t = Transcriber(options=TranscribeOptions(word_timestamps=True))
    started, cpu0 = time.perf_counter(), time.process_time()
    audio_s = 0.0
    for i, res in t.transcribe_many(paths):
        if isinstance(res, Exception):
            sys.exit(f"ours failed on {paths[i]}: {res}")
        (out_dir / (Path(paths[i]).stem + ".json")).write_text(to_json(res), encoding="utf-8")
        audio_s += res.duration_s
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu0, 2), "audio_s": round(audio_s, 2),
            "model": t.model_name}


def transcribe_peer(paths: list[str], out_dir: Path) -> dict:
    """faster-whisper used directly with its defaults (beam 5), same model (whisper-base int8), one file at a time."""
    from faster_whisper import WhisperModel

    from tingshuo import models

    out_dir.mkdir(parents=True, exist_ok=True)
    model = WhisperModel(str(models.resolve("whisper-base")), device="cpu", compute_type="int8")
    started, cpu0 = time.perf_counter(), time.process_time()
    audio_s = 0.0
    for p in paths:
        segments, info = model.transcribe(p)
        segs = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
        (out_dir / (Path(p).stem + ".json")).write_text(
            json.dumps({"language": info.language, "segments": segs}, ensure_ascii=False), encoding="utf-8")
        audio_s += info.duration
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu0, 2), "audio_s": round(audio_s, 2),
            "model": "whisper-base (faster-whisper)"}


def transcripts(system: str, episodes: list[dict], retranscribe: bool = False, cache: Path = CACHE) -> dict:
    """Cached transcription of every episode by ``system`` ('ours' or 'peer'): {"dir", "wall_s", ...}."""
    out_dir = cache / f"asr-{system}"
    meta_path = cache / f"asr-{system}.json"
    paths = [str(cache / e["audio"]) for e in episodes]
    if meta_path.exists() and not retranscribe:
        meta = json.loads(meta_path.read_text())
        if meta.get("n_files") == len(paths) and all((out_dir / (Path(p).stem + ".json")).exists() for p in paths):
            return {**meta, "dir": str(out_dir), "cached": True}
    meta = (transcribe_ours if system == "ours" else transcribe_peer)(paths, out_dir)
    meta["n_files"] = len(paths)
    meta_path.write_text(json.dumps(meta))
    return {**meta, "dir": str(out_dir), "cached": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retranscribe", action="store_true", help="transcribe again even when cached")
    ap.add_argument("--only", choices=("ours", "peer"))
    args = ap.parse_args()
    eps = build_episodes()
    n_utts = sum(len(e["utterances"]) for e in eps)
    print(f"{len(eps)} episodes, {n_utts} utterances, {sum(e['duration_s'] for e in eps) / 60:.1f} min", file=sys.stderr)
    for system in ("ours", "peer"):
        if args.only and system != args.only:
            continue
        meta = transcripts(system, eps, args.retranscribe)
        print(system, json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
