"""Benchmark of `tingshuo train`: throughput, peak memory, the 20-utterance overfit, the quality classifier.

    python bench/train.py                        # throughput (CPU, and GPU when torch sees one) + overfit
    python bench/train.py --parts throughput     # just the throughput figures
    python bench/train.py --labels labels.jsonl  # also the quality classifier vs the rule-based grades
    python bench/train.py --cathy-run runs/cathy # also score a finished cathy recipe run on dev cathy

Prints one JSON object. Figures:
  * throughput: training audio seconds per wall second and peak memory for the cathy recipe's model
    (Conformer d=144 x4 + 1 decoder block, batches of 50 s) on cathy clips; the peer in the same run
    is the same-sized stock ``torch.nn.TransformerEncoder`` (PyTorch's fused fast path) + CTC head.
  * overfit: 20 utterances of train-cathy, that model without dropout or augmentation; minutes of
    training until CER < 5 % on them (target: within 10 minutes on 2 CPU cores).
  * quality (with --labels, when tingshuo.quality is importable): the classifier trained on 70 % of
    the labelled clips, grade accuracy on the other 30 % beside the rule-based grades of
    ``tingshuo inspect`` on the same held-out clips.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, emit, peak_rss_mb  # noqa: E402

CATHY = Path(os.environ.get("TINGSHUO_TRAIN_CATHY", REPO.parent / "shared" / "data" / "train-cathy"))
RECIPE = REPO / "recipes" / "cathy-ctc" / "conf.yaml"


def cathy_rows(n: int | None = None, seed: int = 0) -> list[dict]:
    path = CATHY / "manifest.jsonl"
    if not path.exists():
        sys.exit(f"{path} not found; set TINGSHUO_TRAIN_CATHY to the train-cathy folder")
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    for r in rows:
        r["audio"] = str(CATHY / r["audio"])
    if n is not None:
        rows = random.Random(seed).sample(rows, n)
    return rows


def write_manifest(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps({k: r[k] for k in ("audio", "text", "lang", "duration_s") if k in r}) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def recipe_model() -> dict:
    import yaml

    return yaml.safe_load(RECIPE.read_text())["model"]


# ------------------------------------------------------------------------------ throughput

def throughput(device: str, steps: int, threads: int, tmp: Path) -> dict:
    import numpy as np
    import torch

    from tingshuo.train.asr import ASRTask
    from tingshuo.train.config import load_config
    from tingshuo.train.loop import Trainer

    rows = cathy_rows(120, seed=1)
    m = write_manifest(rows, tmp / f"tp-{device}.jsonl")
    cfg = load_config(None, train=str(m), valid=str(m), out=str(tmp / f"tp-{device}"), batch_s=50.0, max_batch=48,
                      device=device, threads=threads, model=recipe_model(), augment={"spec_augment": True})
    if threads:
        torch.set_num_threads(threads)
    task = ASRTask(cfg, Path(cfg.out), device)
    trainer = Trainer(cfg, task, Path(cfg.out), progress=False)
    rng = np.random.default_rng(0)
    batches = task.sampler.batches(0)
    out = {"device": device, "model_params_m": round(sum(p.numel() for p in task.model.parameters()) / 1e6, 2)}
    ours = _time_steps(lambda idx: task.loss(task.make_batch(idx, rng)), task, trainer, batches, steps, device)
    out["tingshuo_conformer"] = ours

    # peer: stock nn.TransformerEncoder of the same width/depth + the same front end and CTC head
    from torch import nn

    mc = cfg.model

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = task.model.encoder.embed.__class__(mc.n_mels, mc.d_model, mc.subsampling, mc.subsampling_channels)
            layer = nn.TransformerEncoderLayer(mc.d_model, mc.heads, mc.d_model * mc.ff_mult, mc.dropout,
                                               batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, mc.encoder_layers, enable_nested_tensor=False)
            self.ctc = nn.Linear(mc.d_model, len(task.tokenizer))

        def forward(self, b):
            x, lengths = self.embed(b["feats"], b["lengths"])
            pad = torch.arange(x.size(1), device=x.device)[None] >= lengths[:, None]
            lp = torch.log_softmax(self.ctc(self.enc(x, src_key_padding_mask=pad)).float(), -1)
            loss = nn.functional.ctc_loss(lp.transpose(0, 1), b["tokens"].clamp(min=0), lengths, b["token_lengths"],
                                          reduction="sum", zero_infinity=True) / x.size(0)
            return {"loss": loss}

    peer = Peer().to(device)
    popt = torch.optim.AdamW(peer.parameters(), 1e-3)
    out["peer_torch_transformer_ctc"] = _time_steps(lambda idx: peer(task.make_batch(idx, rng)), task, None,
                                                    batches, steps, device, model=peer, opt=popt)
    return out


def _time_steps(fn, task, trainer, batches, steps, device, model=None, opt=None) -> dict:
    import torch

    model = model or task.model
    opt = opt or trainer.optimizer
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    audio = 0.0
    t0 = None
    n = min(steps + 2, len(batches))
    for k in range(n):
        if k == 2:  # two warm-up steps are not timed
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        idx = batches[k]
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = fn(idx)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if k >= 2:
            audio += task.batch_audio_s(idx)
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    res = {"steps": n - 2, "audio_s": round(audio, 1), "wall_s": round(wall, 2),
           "audio_s_per_s": round(audio / wall, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
    if device == "cuda":
        res["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
    return res


# ------------------------------------------------------------------------------ overfit

def overfit(minutes: float, threads: int, tmp: Path) -> dict:
    import torch

    from tingshuo.train.asr import train_asr
    from tingshuo.train.config import load_config
    from tingshuo.train.loop import read_metrics

    torch.set_num_threads(threads)
    rows = cathy_rows(20, seed=20)
    m = write_manifest(rows, tmp / "overfit20.jsonl")
    model = {**recipe_model(), "dropout": 0.0}
    cfg = load_config(None, train=str(m), valid=str(m), out=str(tmp / "overfit20"), epochs=1000, max_minutes=minutes,
                      batch_s=50.0, lr=2e-3, warmup_steps=30, schedule="constant", threads=threads,
                      valid_every_epochs=5, log_every_steps=5, ckpt_every_steps=100000, stop_at=0.05,
                      model=model, augment={"spec_augment": False})
    t0 = time.perf_counter()
    summary = train_asr(cfg, progress=False)
    valid = [r for r in read_metrics(cfg.out) if r["split"] == "valid"]
    hit = next((r for r in valid if float(r["cer"]) < 0.05), None)
    return {"utterances": 20, "audio_s": round(sum(r["duration_s"] for r in rows), 1), "threads": threads,
            "limit_minutes": minutes, "reached_cer_below_5pct": hit is not None,
            "minutes_to_cer_below_5pct": round(float(hit["elapsed_s"]) / 60, 2) if hit else None,
            "epochs": summary["epoch"], "final_cer": round(float(valid[-1]["cer"]), 4) if valid else None,
            "best_cer": round(summary["best"], 4) if summary["best"] is not None else None,
            "wall_minutes": round((time.perf_counter() - t0) / 60, 2),
            "cer_curve": [(int(r["epoch"]), round(float(r["cer"]), 3)) for r in valid]}


# ------------------------------------------------------------------------------ quality

def quality(labels: Path, threads: int, tmp: Path, minutes: float) -> dict:
    try:
        from tingshuo.quality import Clip, InspectOptions, inspect_clips
    except ImportError as exc:
        return {"skipped": f"tingshuo.quality is not importable here ({exc}); the rule-based comparison "
                           "runs once the inspect verb is merged"}
    from tingshuo.train.config import load_config
    from tingshuo.train.quality import predict_quality, train_quality

    rows = [json.loads(line) for line in open(labels, encoding="utf-8") if line.strip()]
    for r in rows:
        r["audio"] = str((labels.parent / r["audio"]).resolve())
    random.Random(0).shuffle(rows)
    cut = int(len(rows) * 0.7)
    train_rows, held = rows[:cut], rows[cut:]
    for name, rs in (("q-train", train_rows), ("q-held", held)):
        (tmp / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs))
    cfg = load_config(None, kind="quality", train=str(tmp / "q-train.jsonl"), valid=str(tmp / "q-held.jsonl"),
                      out=str(tmp / "quality"), epochs=60, max_minutes=minutes, threads=threads, batch_s=120.0,
                      lr=1e-3, warmup_steps=20, valid_every_epochs=5)
    summary = train_quality(cfg, progress=False)
    preds = predict_quality(cfg.out, tmp / "q-held.jsonl")
    t0 = time.perf_counter()
    rules = inspect_clips([Clip(r["audio"], text=r.get("text"), lang=r.get("lang")) for r in held],
                          InspectOptions(dnsmos=False))
    rule_s = time.perf_counter() - t0
    want = [r["expected_grade"] for r in held]
    ours = sum(p["grade"] == w for p, w in zip(preds, want)) / len(held)
    rule = sum(x.grade == w for x, w in zip(rules, want)) / len(held)
    return {"labels": str(labels), "train_clips": len(train_rows), "held_out_clips": len(held),
            "classifier_grade_accuracy": round(ours, 4), "rule_based_grade_accuracy": round(rule, 4),
            "classifier_training_minutes": round(summary["elapsed_s"] / 60, 2), "rule_based_s": round(rule_s, 1)}


def cathy_eval(run_dir: Path) -> dict:
    from tingshuo.train.asr import decode_manifest
    from tingshuo.train.loop import read_metrics

    test = REPO / "runs" / "cathy-data" / "test.jsonl"
    if not test.exists():
        return {"skipped": "run recipes/cathy-ctc/prepare.py first"}
    out = {"run_dir": str(run_dir)}
    valid = [r for r in read_metrics(run_dir) if r["split"] == "valid"]
    if valid:
        best = min(valid, key=lambda r: float(r["cer"]))
        out["valid_curve"] = [(int(r["epoch"]), round(float(r["elapsed_s"]) / 60, 1), round(float(r["cer"]), 4))
                              for r in valid]
        out["best_epoch"], out["best_at_minutes"] = int(best["epoch"]), round(float(best["elapsed_s"]) / 60, 1)
    for method in ("greedy", "rescore"):
        out[f"dev_cathy_{method}"] = decode_manifest(run_dir, test, method=method, beam=8,
                                                     out=run_dir / f"hyps-{method}.jsonl", progress=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="throughput,overfit", help="comma list: throughput, overfit, quality, cathy")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per throughput measurement")
    ap.add_argument("--minutes", type=float, default=10.0, help="overfit time limit in minutes of training")
    ap.add_argument("--labels", type=Path, help="labels.jsonl from bench/make_inspect_set.py (quality part)")
    ap.add_argument("--cathy-run", type=Path, help="a finished cathy recipe run to score on dev cathy")
    a = ap.parse_args()
    import torch

    parts = set(a.parts.split(","))
    if a.labels:
        parts.add("quality")
    if a.cathy_run:
        parts.add("cathy")
    result: dict = {"torch": torch.__version__, "threads": a.threads, "cpu_count": os.cpu_count(),
                    "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "throughput" in parts:
            result["throughput_cpu"] = throughput("cpu", a.steps, a.threads, tmp)
            if torch.cuda.is_available():
                result["throughput_gpu"] = throughput("cuda", a.steps * 4, 0, tmp)
                result["gpu"] = torch.cuda.get_device_name(0)
            else:
                result["throughput_gpu"] = {"skipped": "no GPU visible to torch"}
        if "overfit" in parts:
            result["overfit_20"] = overfit(a.minutes, a.threads, tmp)
        if "quality" in parts:
            result["quality"] = (quality(a.labels, a.threads, tmp, a.minutes) if a.labels else
                                 {"skipped": "no --labels given (make one with bench/make_inspect_set.py)"})
        if "cathy" in parts and a.cathy_run:
            result["cathy"] = cathy_eval(a.cathy_run)
    result["load_avg_end"] = os.getloadavg()
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    emit(result)


if __name__ == "__main__":
    main()
