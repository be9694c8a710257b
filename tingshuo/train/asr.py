"""ASR training task and what is done with its runs: decode a manifest, reload a checkpoint.

    >>> from tingshuo.train import train
    >>> train(load_config(train="train.jsonl", valid="valid.jsonl", out="runs/x"))    # doctest: +SKIP
    >>> decode_manifest("runs/x", "test.jsonl", method="rescore")                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from .config import ASRModelConfig, RunConfig, config_from_mapping, saved_config
from .data import (CMVN, BucketSampler, Utterance, fbank_torch, load_utterances, normalise, pad_features,
                   pad_tokens, read_texts)
from .tokenizer import BPETokenizer, CharTokenizer, load_tokenizer, normalize


class ASRTask:
    best_key = "cer"
    best_higher = False

    def __init__(self, cfg: RunConfig, run_dir: Path, device: str, *, resume: bool = False) -> None:
        import torch

        from .augment import WaveAugmenter
        from .models.ctc_attention import CTCAttentionModel

        if not isinstance(cfg.model, ASRModelConfig):
            raise InputError("An ASR run needs an ASR model section.")
        if not cfg.train or not cfg.valid:
            raise InputError("Give both a training and a validation manifest (--train, --valid).")
        self.cfg = cfg
        self.device = device
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and (run_dir / "tokenizer.json").exists():
            self.tokenizer = load_tokenizer(run_dir)
        else:
            texts = read_texts(cfg.train)
            if cfg.tokenizer == "bpe":
                self.tokenizer = BPETokenizer.train(texts, cfg.lang, run_dir, cfg.bpe_vocab)
            else:
                self.tokenizer = CharTokenizer.build(texts, cfg.lang)
            self.tokenizer.save(run_dir)
        tok = self.tokenizer

        def encode(text):
            return tok.encode(text, strict=True)

        self.train_utts = load_utterances(cfg.train, encode, max_duration_s=cfg.max_duration_s,
                                          label="training manifest")
        self.valid_utts = load_utterances(cfg.valid, encode, label="validation manifest")
        cmvn_path = run_dir / "cmvn.json"
        if resume and cmvn_path.exists():
            self.cmvn = CMVN.from_dict(json.loads(cmvn_path.read_text()))
        else:
            self.cmvn = CMVN.estimate([u.wave() for u in self.train_utts[: cfg.cmvn_utts]], cfg.model.n_mels)
            from ..util import atomic_write_text

            atomic_write_text(cmvn_path, json.dumps(self.cmvn.to_dict()))
        torch.manual_seed(cfg.seed)
        self.model = CTCAttentionModel(cfg.model, len(tok)).to(device)
        self.sampler = BucketSampler([u.duration_s for u in self.train_utts], cfg.batch_s, cfg.seed, cfg.max_batch)
        a = cfg.augment
        self.wave_aug = WaveAugmenter(a) if (a.speed_perturb or a.noise_manifest or a.gain) else None

    def meta(self) -> dict:
        return {"kind": "asr", "tokenizer": self.tokenizer.to_dict(), "cmvn": self.cmvn.to_dict()}

    def batch_audio_s(self, indices: list[int]) -> float:
        return sum(self.train_utts[i].duration_s for i in indices)

    def make_batch(self, indices: list[int], rng: np.random.Generator, train: bool = True,
                   utts: list[Utterance] | None = None) -> dict:
        import torch

        from .augment import spec_augment

        utts = utts if utts is not None else self.train_utts
        feats = []
        for i in indices:
            w = utts[i].wave()
            if train and self.wave_aug is not None:
                w = self.wave_aug(w, rng)
            f = fbank_torch(torch.from_numpy(np.ascontiguousarray(w)), self.cfg.model.n_mels)
            feats.append(normalise(f, self.cmvn))
        x, lengths, mask = pad_features(feats, self.cfg.model.n_mels)
        if train:
            spec_augment(x, lengths, self.cfg.augment, rng)
        tokens, token_lengths = pad_tokens([utts[i].tokens for i in indices])
        d = self.device
        return {"feats": x.to(d), "lengths": lengths.to(d), "mask": mask.to(d), "tokens": tokens.to(d),
                "token_lengths": token_lengths.to(d)}

    def loss(self, batch: dict) -> dict:
        return self.model(batch["feats"], batch["lengths"], batch["tokens"], batch["token_lengths"])

    def validate(self) -> dict[str, float]:
        refs, hyps, total, n = [], [], 0.0, 0
        sampler = BucketSampler([u.duration_s for u in self.valid_utts], self.cfg.batch_s, 0, self.cfg.max_batch,
                                shuffle=False)
        for idx in sampler.batches(0):
            b = self.make_batch(idx, None, train=False, utts=self.valid_utts)
            out = self.loss(b)
            total += float(out["loss"]) * len(idx)
            n += len(idx)
            for i, ids in zip(idx, self.model.greedy_ctc(b["feats"], b["lengths"])):
                refs.append(normalize(self.valid_utts[i].text, self.tokenizer.lang))
                hyps.append(self.tokenizer.decode(ids))
        from .metrics import error_rates

        return {"loss": total / max(1, n), **error_rates(refs, hyps)}


# ------------------------------------------------------------------------------ using runs

def find_checkpoint(run_dir: str | os.PathLike, which: str = "best") -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"Run directory {run_dir} does not exist.")
    for name in ([f"{which}.pt"] + (["last.pt"] if which == "best" else [])):
        if (run_dir / name).exists():
            return run_dir / name
    if which == "averaged":
        raise InputError(f"{run_dir} holds no averaged.pt; train with average_last set (e.g. average_last: 20 "
                         "in the config), or use --checkpoint best.")
    raise InputError(f"{run_dir} holds no checkpoint ({which}.pt); train first with 'tingshuo train asr'.")


def load_asr(run_dir: str | os.PathLike, which: str = "best", device: str = "cpu"):
    """-> ``(model in eval mode, tokenizer, cmvn, RunConfig)`` from a run directory."""
    import torch

    from .models.ctc_attention import CTCAttentionModel

    run_dir = Path(run_dir)
    from .loop import read_checkpoint

    state = read_checkpoint(find_checkpoint(run_dir, which), device)
    cfg = config_from_mapping(state["config"])
    meta = state["meta"]
    tok = load_tokenizer(run_dir) if meta["tokenizer"]["kind"] == "bpe" else CharTokenizer(
        meta["tokenizer"]["vocab"][2:-1], meta["tokenizer"]["lang"])
    model = CTCAttentionModel(cfg.model, len(tok))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, tok, CMVN.from_dict(meta["cmvn"]), cfg


def decode_manifest(run_dir: str | os.PathLike, manifest: str | os.PathLike, *, method: str = "greedy",
                    beam: int = 10, ctc_weight: float = 0.5, out: str | os.PathLike | None = None,
                    which: str = "best", batch_s: float = 60.0, progress: bool = True) -> dict:
    """Decode a manifest with a trained run; writes ``hyps.jsonl`` (audio, ref, hyp) and returns
    the pooled CER/WER (when the manifest has texts) and the real-time factor."""
    import time

    import torch
    from tqdm import tqdm

    from .metrics import error_rates

    if method not in ("greedy", "beam", "rescore"):
        raise InputError("method must be greedy, beam or rescore.")
    model, tok, cmvn, cfg = load_asr(run_dir, which)
    utts = load_utterances(manifest, None, need_text=False, label="manifest")
    sampler = BucketSampler([u.duration_s for u in utts], batch_s, 0, 32, shuffle=False)
    rows, refs, hyps = [], [], []
    t0 = time.perf_counter()
    batches = sampler.batches(0)
    with torch.no_grad():
        for idx in tqdm(batches, desc=f"decoding ({method})", disable=not (progress and sys.stderr.isatty())):
            feats = [normalise(fbank_torch(torch.from_numpy(utts[i].wave()), cfg.model.n_mels), cmvn) for i in idx]
            x, lengths, _ = pad_features(feats, cfg.model.n_mels)
            if method == "greedy":
                ids = model.greedy_ctc(x, lengths)
            elif method == "beam":
                ids = model.attention_beam_search(x, lengths, beam=beam)
            else:
                ids = model.joint_rescoring(x, lengths, beam=beam, ctc_weight=ctc_weight)
            for i, h in zip(idx, ids):
                hyp = tok.decode(h)
                u = utts[i]
                rows.append({"audio": u.audio, "ref": u.text or None, "hyp": hyp, "duration_s": round(u.duration_s, 3)})
                if u.text:
                    refs.append(normalize(u.text, tok.lang))
                    hyps.append(hyp)
    wall = time.perf_counter() - t0
    audio_s = sum(u.duration_s for u in utts)
    result = {"manifest": str(manifest), "method": method, "n_utts": len(utts), "audio_s": round(audio_s, 1),
              "rtf": round(wall / max(audio_s, 1e-9), 4)}
    if refs:
        result.update({k: round(v, 4) for k, v in error_rates(refs, hyps).items()})
    if out is not None:
        from ..data.manifest import write_jsonl

        write_jsonl(out, rows)
        result["hyps"] = str(out)
    return result


def train_asr(cfg: RunConfig, *, resume: bool = False, progress: bool = True) -> dict:
    from .loop import Trainer, pick_device, print_config

    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    run_dir = Path(cfg.out)
    old = saved_config(run_dir) if resume else None  # the saved config wins, except where the run ends
    if old is not None:
        cfg = dataclasses.replace(old, epochs=max(cfg.epochs, old.epochs),
                                  max_minutes=cfg.max_minutes or old.max_minutes, out=cfg.out)
    if not resume and (run_dir / "last.pt").exists():
        raise InputError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out.")
    print_config(cfg)
    task = ASRTask(cfg, run_dir, device, resume=resume)
    n_params = sum(p.numel() for p in task.model.parameters())
    print(f"{len(task.train_utts)} training utterances ({sum(u.duration_s for u in task.train_utts) / 60:.1f} min), "
          f"{len(task.valid_utts)} validation; vocabulary {len(task.tokenizer)}; {n_params / 1e6:.2f} M parameters; "
          f"device {device}", file=sys.stderr)
    trainer = Trainer(cfg, task, run_dir, progress=progress)
    return trainer.fit(resume=resume)


__all__ = ["ASRTask", "decode_manifest", "find_checkpoint", "load_asr", "train_asr"]
