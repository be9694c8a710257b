"""The training loop, shared by every task: AdamW with warm-up and decay, gradient clipping and
accumulation, mixed precision on GPU, checkpoints every N steps and on SIGINT/SIGTERM, exact
resume, validation each epoch keeping the best checkpoint, a progress bar, ``metrics.csv``
(and TensorBoard when installed), and ``learning_curves.png``.

A task (``tingshuo.train.asr.ASRTask``, ``tingshuo.train.quality.QualityTask``) supplies the
model, the training sampler, ``make_batch(indices, rng)``, ``loss(batch)`` and ``validate()``.

Run folder::

    config.yaml  tokenizer.json  cmvn.json  metrics.csv  learning_curves.png
    last.pt (resume from here)  best.pt (best validation)  averaged.pt (with average_last)  events.* (TensorBoard)
"""

from __future__ import annotations

import csv
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import InputError
from .config import RunConfig, format_config, save_config

CSV_FIELDS = ("step", "epoch", "split", "loss", "ctc", "att", "grade", "defect", "acc", "grade_acc", "defect_f1", "cer", "wer",
              "lr", "elapsed_s", "audio_s_per_s")


class Task(Protocol):
    model: Any
    sampler: Any
    best_key: str  # metric from validate(); lower is better unless best_higher
    best_higher: bool

    def make_batch(self, indices: list[int], rng: np.random.Generator, train: bool) -> dict: ...

    def loss(self, batch: dict) -> dict: ...

    def validate(self) -> dict[str, float]: ...

    def batch_audio_s(self, indices: list[int]) -> float: ...


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for but torch sees no GPU; use --device cpu.")
    return name


def lr_factor(step: int, cfg: RunConfig, total_steps: int) -> float:
    """Multiplier of ``cfg.lr`` at optimiser ``step`` (0-based)."""
    w = max(1, cfg.warmup_steps)
    s = step + 1
    if s <= w:
        return s / w
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "noam":
        return math.sqrt(w / s)
    span = max(1, total_steps - w)
    progress = min(1.0, (s - w) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def read_checkpoint(path: Path, map_location: str = "cpu", what: str | None = None,
                    advice: str = "train the run again, or use another --checkpoint") -> dict:
    """A checkpoint's state dict; a damaged file (truncated, emptied, not a checkpoint) is one ``InputError``
    saying so, not whatever torch and pickle raise (EOFError, UnpicklingError, OSError ...)."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 — torch.load raises anything the unpickler meets
        raise InputError(f"{what or path} is damaged ({type(exc).__name__}: {exc}); {advice}.") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise InputError(f"{what or path} is not a tingshuo training checkpoint; {advice}.")
    return state


def _atomic_torch_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    def __init__(self, cfg: RunConfig, task: Task, run_dir: Path, *, progress: bool = True) -> None:
        import torch

        self.cfg = cfg
        self.task = task
        self.run_dir = Path(run_dir)
        self.device = task.device
        self.progress = progress
        self.model = task.model
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if p.dim() < 2 or "norm" in name else decay).append(p)
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        steps_per_epoch = max(1, math.ceil(len(task.sampler) / cfg.accum_steps))
        self.total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg, self.total_steps))
        self.use_amp = cfg.amp and self.device == "cuda"
        self.amp_dtype = (torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.rng = np.random.default_rng(cfg.seed)  # augmentation draws
        self.step = 0
        self.epoch = 0
        self.elapsed_s = 0.0  # training time, summed over resumed sessions
        self.best: float | None = None
        self.best_epoch = -1
        self._stop_signal: int | None = None
        self.running: dict[str, float] = {}  # sums since the last metrics row (saved: exact resume)
        self.avg: dict | None = None  # running mean of the weights over the last ``average_last`` epochs
        self.avg_n = 0
        self._tb = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        import torch

        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "step": self.step, "epoch": self.epoch, "sampler": self.task.sampler.state_dict(),
            "elapsed_s": self.elapsed_s, "running": dict(self.running), "best": self.best, "best_epoch": self.best_epoch,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "augment": self.rng.bit_generator.state},
            "config": self.cfg.to_dict(), "meta": self.task.meta(),
            "avg": {"n": self.avg_n, "state": self.avg} if self.avg is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        import torch

        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.task.sampler.load_state_dict(state["sampler"])
        self.elapsed_s = float(state["elapsed_s"])
        self.running = dict(state.get("running", {}))
        self.best, self.best_epoch = state["best"], int(state["best_epoch"])
        avg = state.get("avg")
        self.avg, self.avg_n = (avg["state"], int(avg["n"])) if avg else (None, 0)
        rng = state["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.rng.bit_generator.state = rng["augment"]

    def _resume_from(self, last: Path) -> None:
        """Load ``last.pt``; a damaged one (truncated by a full disk, emptied, overwritten) or one saved by
        another model is one ``InputError`` — it was 'unexpected EOFError / UnpicklingError / RuntimeError'."""
        advice = ("start a new run with another --out, or copy best.pt over it to go on from the best "
                  "checkpoint")
        state = read_checkpoint(last, self.device, f"Cannot resume: {last}", advice)
        try:
            self.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise InputError(f"Cannot resume: {last} was not saved by this run's model and settings "
                             f"({detail}); {advice}.") from None

    def save(self, name: str = "last.pt") -> Path:
        path = self.run_dir / name
        _atomic_torch_save(self.state_dict(), path)
        return path

    # ------------------------------------------------------------------ logging
    def _log(self, row: dict) -> None:
        path = self.run_dir / "metrics.csv"
        new = not path.exists()
        with open(path, "a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        if self._tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self._tb.add_scalar(f"{row['split']}/{k}", v, row["step"])

    def _truncate_metrics(self) -> None:
        """On resume, drop rows logged after the checkpoint so the curves continue cleanly."""
        path = self.run_dir / "metrics.csv"
        if not path.exists():
            return
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= self.step]
        import io

        from ..util import atomic_write_text

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(path, buf.getvalue())

    def plot(self) -> Path | None:
        return plot_curves(self.run_dir)

    # ------------------------------------------------------------------ run
    def _on_signal(self, signum, _frame) -> None:
        if self._stop_signal is not None:  # a second ^C stops at once
            raise KeyboardInterrupt
        self._stop_signal = signum
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step ...", file=sys.stderr)

    def fit(self, resume: bool = False) -> dict:
        """Train until ``epochs``, ``max_steps`` or ``max_minutes``; returns a summary."""
        import torch

        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            last = self.run_dir / "last.pt"
            if not last.exists():
                raise InputError(f"Cannot resume: {last} does not exist; start without --resume.")
            self._resume_from(last)
            self._truncate_metrics()
            print(f"resumed {self.run_dir} at step {self.step} (epoch {self.epoch + 1}, "
                  f"batch {self.task.sampler.position})", file=sys.stderr)
        elif (self.run_dir / "last.pt").exists():
            raise InputError(f"{self.run_dir} already holds a run; pass --resume to continue it, "
                             "or choose another --out.")
        save_config(self.cfg, self.run_dir / "config.yaml")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
        except Exception:  # TensorBoard is optional
            self._tb = None
        handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        try:
            reason = self._fit()
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            if self._tb is not None:
                self._tb.close()
        self.plot()
        return {"reason": reason, "step": self.step, "epoch": self.epoch, "elapsed_s": round(self.elapsed_s, 1),
                "best": self.best, "best_key": self.task.best_key, "best_epoch": self.best_epoch + 1,
                "run_dir": str(self.run_dir)}

    def _out_of_time(self) -> bool:
        return bool(self.cfg.max_minutes) and self.elapsed_s >= self.cfg.max_minutes * 60

    def _fit(self) -> str:
        import torch
        from tqdm import tqdm

        cfg, task = self.cfg, self.task
        sampler = task.sampler
        self.model.train()
        show = self.progress and sys.stderr.isatty()
        bar = tqdm(total=self.total_steps, initial=self.step, desc="training", unit="step", disable=not show,
                   dynamic_ncols=True)
        acc_time = 0.0
        reason = "done"
        try:
            while self.epoch < cfg.epochs:
                batches = sampler.batches(self.epoch)
                micro = 0
                t_last = time.perf_counter()
                while sampler.position < len(batches):
                    idx = batches[sampler.position]
                    batch = task.make_batch(idx, self.rng, train=True)
                    with torch.autocast(device_type="cuda", dtype=self.amp_dtype, enabled=self.use_amp):
                        out = task.loss(batch)
                    loss = out["loss"] / cfg.accum_steps
                    self.scaler.scale(loss).backward()
                    sampler.position += 1
                    micro += 1
                    run = self.running
                    run["_audio_s"] = run.get("_audio_s", 0.0) + task.batch_audio_s(idx)
                    run["_n"] = run.get("_n", 0) + 1
                    for k, v in out.items():
                        run[k] = run.get(k, 0.0) + float(v.detach())
                    if micro % cfg.accum_steps and sampler.position < len(batches):
                        continue
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scheduler.step()
                    self.step += 1
                    now = time.perf_counter()
                    self.elapsed_s += now - t_last
                    acc_time += now - t_last
                    t_last = now
                    bar.update(1)
                    if self.step % cfg.log_every_steps == 0 or sampler.position == len(batches):
                        run = self.running
                        row = {k: v / run["_n"] for k, v in run.items() if not k.startswith("_")}
                        bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
                        self._log({"step": self.step, "epoch": self.epoch + 1, "split": "train", **row,
                                   "lr": self.scheduler.get_last_lr()[0], "elapsed_s": self.elapsed_s,
                                   "audio_s_per_s": run["_audio_s"] / max(acc_time, 1e-9)})
                        self.running, acc_time = {}, 0.0
                    if self.step % cfg.ckpt_every_steps == 0:
                        self.save()
                    if self._stop_signal is not None:
                        self.save()
                        return "interrupted"
                    if (cfg.max_steps and self.step >= cfg.max_steps) or self._out_of_time():
                        reason = "max_steps" if cfg.max_steps and self.step >= cfg.max_steps else "max_minutes"
                        break
                    t_last = time.perf_counter()
                epoch_done = sampler.position >= len(batches)
                if epoch_done:
                    self.epoch += 1
                    sampler.position = 0
                    if cfg.average_last and self.epoch > cfg.epochs - cfg.average_last:
                        self._accumulate_average()
                if (epoch_done and self.epoch % cfg.valid_every_epochs == 0) or reason != "done" \
                        or self.epoch >= cfg.epochs:
                    value = self._validate(bar)
                    if cfg.stop_at and value is not None and reason == "done" and (
                            value >= cfg.stop_at if task.best_higher else value <= cfg.stop_at):
                        reason = "target"
                self.save()
                if reason != "done":
                    break
            if reason == "done" and self.avg_n > 1 and self.epoch >= cfg.epochs:
                self._validate_average(bar)
        finally:
            bar.close()
        return reason

    def _accumulate_average(self) -> None:
        """Fold this epoch's weights into the running mean (integer buffers: the latest value)."""
        import torch

        self.avg_n += 1
        with torch.no_grad():
            current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.avg is None or self.avg_n == 1:
                self.avg = current
                return
            for k, v in current.items():
                if v.is_floating_point():
                    self.avg[k] += (v - self.avg[k]) / self.avg_n
                else:
                    self.avg[k] = v

    def _validate_average(self, bar) -> None:
        """Score the averaged weights; save them as averaged.pt, and as best.pt when they beat it."""
        import torch

        last = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.avg)
        msg = f"averaged the weights of the last {self.avg_n} epochs:"
        (bar.write(msg, file=sys.stderr) if not bar.disable else print(msg, file=sys.stderr))
        self._validate(bar)
        self.save("averaged.pt")
        with torch.no_grad():
            self.model.load_state_dict(last)

    def _validate(self, bar) -> None:
        import torch

        t0 = time.perf_counter()
        self.model.eval()
        with torch.no_grad():
            metrics = self.task.validate()
        self.model.train()
        value = metrics.get(self.task.best_key)
        better = value is not None and (self.best is None or (value > self.best if self.task.best_higher
                                                              else value < self.best))
        if better:
            self.best, self.best_epoch = value, self.epoch - 1
            self.save("best.pt")
        self._log({"step": self.step, "epoch": self.epoch, "split": "valid", **metrics,
                   "elapsed_s": self.elapsed_s})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        msg = (f"epoch {self.epoch}: {shown}{' (best)' if better else ''} "
               f"[{self.elapsed_s / 60:.1f} min training, validation {time.perf_counter() - t0:.1f} s]")
        (bar.write(msg, file=sys.stderr) if not bar.disable else print(msg, file=sys.stderr))
        return value


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def plot_curves(run_dir: str | os.PathLike) -> Path | None:
    """Training loss and validation metrics against steps -> ``learning_curves.png``."""
    rows = read_metrics(run_dir)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(split, key):
        pts = [(int(r["step"]), float(r[key])) for r in rows if r["split"] == split and r.get(key)]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss", "ctc", "att"):
        x, y = series("train", key)
        if x:
            axes[0].plot(x, y, label=f"train {key}")
    x, y = series("valid", "loss")
    if x:
        axes[0].plot(x, y, "o-", label="valid loss")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend()
    for key in ("cer", "wer", "grade_acc", "defect_f1"):
        x, y = series("valid", key)
        if x:
            axes[1].plot(x, y, "o-", label=f"valid {key}")
    axes[1].set_xlabel("step")
    axes[1].set_ylim(bottom=0)
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend()
    axes[1].grid(alpha=0.3)
    fig.suptitle(Path(run_dir).name)
    fig.tight_layout()
    out = Path(run_dir) / "learning_curves.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def print_config(cfg: RunConfig) -> None:
    print(format_config(cfg).rstrip(), file=sys.stderr)


__all__ = ["CSV_FIELDS", "Trainer", "lr_factor", "pick_device", "plot_curves", "print_config", "read_metrics"]
