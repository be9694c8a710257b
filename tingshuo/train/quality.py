"""Quality-classifier training task and predictions, on ``inspect``'s labelled benchmark format.

A labels manifest is JSONL, one clip per line::

    {"audio": "clips/a.wav", "text": "...", "lang": "en", "defect": "noise", "strength": 0.5,
     "defective": true, "expected_grade": "medium"}

The grade label is ``expected_grade`` (high / medium / low); the per-defect labels come from
``defect`` (a name or a list of names; "clean" means none). Clips without text are allowed.
Augmentation is off here: adding noise to a clip would change its label.

    >>> train_quality(load_config(kind="quality", train="labels.jsonl", valid="held.jsonl", out="runs/q"))  # doctest: +SKIP
    >>> predict_quality("runs/q", "held.jsonl")                                                           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError, ManifestError
from .config import QualityModelConfig, RunConfig, config_from_mapping, saved_config
from .data import CMVN, BucketSampler, fbank_torch, normalise, pad_features
from .tokenizer import normalize

CLEAN = "clean"
MAX_AUDIO_S = 30.0  # the classifier reads at most this much of a clip


@dataclasses.dataclass
class LabelledClip:
    audio: str
    text: str
    lang: str
    grade: int
    defects: tuple[str, ...]
    duration_s: float
    line: int
    wave: np.ndarray


def _defects(value) -> tuple[str, ...]:
    """The defect names of a 'defect' field (a name or a list of names); ``ValueError`` for anything else
    (a number or true was 'unexpected TypeError: not iterable', a mapping's keys were taken as defects)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) or x is None for x in items):
        raise ValueError(f"'defect' must be a defect name or a list of names, not {value!r}")
    return tuple(sorted({x for x in items if x and x != CLEAN}))


def load_labels(manifest: str | os.PathLike, *, need_grade: bool = True) -> list[LabelledClip]:
    """Read a labels manifest; a missing file or a bad grade raises ``ManifestError`` naming the line."""
    from ..audio.io import load_audio
    from ..data.manifest import open_dataset
    from .models.fusion import GRADES

    ds = open_dataset(manifest)
    out = []
    for rec in ds:
        where = f"{ds.path} line {rec.line}"
        if not Path(rec.audio).is_file():
            raise ManifestError(f"{where}: audio file {rec.audio} not found; fix the path or drop the line.")
        grade = rec.raw.get("expected_grade", rec.raw.get("grade"))
        if need_grade and grade not in GRADES:
            raise ManifestError(f"{where}: 'expected_grade' must be one of {', '.join(GRADES)}, not {grade!r}.")
        try:
            defects = _defects(rec.raw.get("defect"))
        except ValueError as exc:
            raise ManifestError(f"{where}: {exc}.") from None
        wave = load_audio(rec.audio).samples[: int(MAX_AUDIO_S * 16000)]
        out.append(LabelledClip(rec.audio, rec.text or "", rec.lang or "en",
                                GRADES.index(grade) if grade in GRADES else -1, defects,
                                wave.size / 16000, rec.line, wave))
    if not out:
        raise ManifestError(f"{ds.path}: the labels manifest is empty.")
    return out


class CharVocab:
    """Characters of the texts (0 = padding, 1 = unknown); the text is an input here, so an
    unseen character maps to unknown instead of failing."""

    def __init__(self, chars: list[str]) -> None:
        self.chars = chars
        self._ids = {c: i + 2 for i, c in enumerate(chars)}

    @classmethod
    def build(cls, clips: list[LabelledClip]) -> "CharVocab":
        return cls(sorted({c for clip in clips for c in normalize(clip.text, clip.lang)}))

    def encode(self, text: str, lang: str, max_len: int) -> list[int]:
        return [self._ids.get(c, 1) for c in normalize(text, lang)][:max_len]

    def __len__(self) -> int:
        return len(self.chars) + 2


class QualityTask:
    best_key = "grade_acc"
    best_higher = True

    def __init__(self, cfg: RunConfig, run_dir: Path, device: str, *, resume: bool = False) -> None:
        import torch

        from .models.fusion import QualityModel

        if not isinstance(cfg.model, QualityModelConfig):
            raise InputError("A quality run needs a quality model section.")
        if not cfg.train or not cfg.valid:
            raise InputError("Give both a training and a validation labels manifest (--train, --valid).")
        self.cfg, self.device = cfg, device
        self.train_clips = load_labels(cfg.train)
        self.valid_clips = load_labels(cfg.valid)
        meta_path = run_dir / "quality.json"
        if resume and meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.vocab, self.defects = CharVocab(meta["chars"]), tuple(meta["defects"])
            self.cmvn = CMVN.from_dict(meta["cmvn"])
        else:
            self.vocab = CharVocab.build(self.train_clips)
            self.defects = tuple(sorted({d for c in self.train_clips for d in c.defects}))
            self.cmvn = CMVN.estimate([c.wave for c in self.train_clips[: cfg.cmvn_utts]], cfg.model.n_mels)
            run_dir.mkdir(parents=True, exist_ok=True)
            from ..util import atomic_write_text

            atomic_write_text(meta_path, json.dumps(self.meta(), ensure_ascii=False))
        torch.manual_seed(cfg.seed)
        self.model = QualityModel(cfg.model, len(self.vocab), self.defects).to(device)
        self.sampler = BucketSampler([c.duration_s for c in self.train_clips], cfg.batch_s, cfg.seed, cfg.max_batch)

    def meta(self) -> dict:
        return {"kind": "quality", "chars": self.vocab.chars, "defects": list(self.defects),
                "cmvn": self.cmvn.to_dict()}

    def batch_audio_s(self, indices: list[int]) -> float:
        return sum(self.train_clips[i].duration_s for i in indices)

    def make_batch(self, indices, rng, train: bool = True, clips=None) -> dict:
        import torch

        from .augment import spec_augment
        from .data import pad_tokens

        clips = clips if clips is not None else self.train_clips
        n_mels = self.cfg.model.n_mels
        feats = []
        for i in indices:
            w = clips[i].wave
            if w.size < 1600:  # at least 0.1 s so the subsampling has frames
                w = np.pad(w, (0, 1600 - w.size))
            feats.append(normalise(fbank_torch(torch.from_numpy(np.ascontiguousarray(w)), n_mels), self.cmvn))
        x, lengths, _ = pad_features(feats, n_mels)
        if train and rng is not None:
            spec_augment(x, lengths, self.cfg.augment, rng)
        chars, char_lengths = pad_tokens([self.vocab.encode(clips[i].text, clips[i].lang, self.cfg.model.max_text_chars)
                                          for i in indices], pad=0)
        defects = torch.tensor([[float(d in clips[i].defects) for d in self.defects] or [0.0] for i in indices])
        grades = torch.tensor([clips[i].grade for i in indices], dtype=torch.long)
        d = self.device
        return {"feats": x.to(d), "lengths": lengths.to(d), "chars": chars.to(d), "char_lengths": char_lengths.to(d),
                "grades": grades.to(d), "defects": defects.to(d)}

    def loss(self, batch: dict) -> dict:
        import torch

        out = self.model(batch["feats"], batch["lengths"], batch["chars"], batch["char_lengths"])
        grade = torch.nn.functional.cross_entropy(out["grade"].float(), batch["grades"])
        defect = torch.nn.functional.binary_cross_entropy_with_logits(out["defects"].float(), batch["defects"])
        if not self.defects:
            defect = defect * 0.0
        loss = grade + self.cfg.model.defect_weight * defect
        acc = (out["grade"].argmax(-1) == batch["grades"]).float().mean()
        return {"loss": loss, "grade": grade, "defect": defect, "acc": acc}

    def validate(self) -> dict[str, float]:
        preds = self.predict(self.valid_clips)
        grades = np.array([c.grade for c in self.valid_clips])
        acc = float((np.array([p["grade_id"] for p in preds]) == grades).mean())
        tp = fp = fn = 0
        for p, c in zip(preds, self.valid_clips):
            got, want = set(p["defects"]), set(c.defects)
            tp += len(got & want)
            fp += len(got - want)
            fn += len(want - got)
        f1 = 2 * tp / max(1, 2 * tp + fp + fn) if (tp + fp + fn) else 1.0
        return {"grade_acc": acc, "defect_f1": f1}

    def predict(self, clips: list[LabelledClip]) -> list[dict]:
        import torch

        from .models.fusion import GRADES

        sampler = BucketSampler([c.duration_s for c in clips], self.cfg.batch_s, 0, self.cfg.max_batch, shuffle=False)
        out: dict[int, dict] = {}
        with torch.no_grad():
            for idx in sampler.batches(0):
                b = self.make_batch(idx, None, train=False, clips=clips)
                o = self.model(b["feats"], b["lengths"], b["chars"], b["char_lengths"])
                probs = torch.softmax(o["grade"].float(), -1)
                dprob = torch.sigmoid(o["defects"].float())
                for j, i in enumerate(idx):
                    g = int(probs[j].argmax())
                    out[i] = {"audio": clips[i].audio, "grade": GRADES[g], "grade_id": g,
                              "grade_probs": {k: round(float(probs[j, n]), 4) for n, k in enumerate(GRADES)},
                              "defects": [d for n, d in enumerate(self.defects) if float(dprob[j, n]) >= 0.5]}
        return [out[i] for i in range(len(clips))]


def train_quality(cfg: RunConfig, *, resume: bool = False, progress: bool = True) -> dict:
    import torch

    from .loop import Trainer, pick_device, print_config

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out)
    old = saved_config(run_dir) if resume else None
    if old is not None:
        cfg = dataclasses.replace(old, epochs=max(cfg.epochs, old.epochs), out=cfg.out)
    if not resume and (run_dir / "last.pt").exists():
        raise InputError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out.")
    device = pick_device(cfg.device)
    print_config(cfg)
    task = QualityTask(cfg, run_dir, device, resume=resume)
    print(f"{len(task.train_clips)} training clips, {len(task.valid_clips)} validation; defects "
          f"{', '.join(task.defects) or 'none'}; {sum(p.numel() for p in task.model.parameters()) / 1e6:.2f} M "
          f"parameters; device {device}", file=sys.stderr)
    return Trainer(cfg, task, run_dir, progress=progress).fit(resume=resume)


def predict_quality(run_dir: str | os.PathLike, manifest: str | os.PathLike, which: str = "best") -> list[dict]:
    """Grades and defects for each clip of ``manifest`` (labels optional) from a trained run."""
    import torch

    from .asr import find_checkpoint
    from .loop import read_checkpoint

    state = read_checkpoint(find_checkpoint(run_dir, which), "cpu")
    cfg = config_from_mapping(state["config"])
    task = QualityTask.__new__(QualityTask)
    meta = state["meta"]
    task.cfg, task.device = cfg, "cpu"
    task.vocab, task.defects, task.cmvn = CharVocab(meta["chars"]), tuple(meta["defects"]), CMVN.from_dict(meta["cmvn"])
    from .models.fusion import QualityModel

    task.model = QualityModel(cfg.model, len(task.vocab), task.defects)
    task.model.load_state_dict(state["model"])
    task.model.eval()
    return task.predict(load_labels(manifest, need_grade=False))


__all__ = ["CharVocab", "LabelledClip", "QualityTask", "load_labels", "predict_quality", "train_quality"]
