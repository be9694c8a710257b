"""Training data: manifests checked line by line, log-mel features in torch, global CMVN,
duration-bucketed batches with padding masks.

    >>> utts = load_utterances("train.jsonl", tokenizer)        # doctest: +SKIP
    >>> sampler = BucketSampler([u.duration_s for u in utts], batch_s=120, seed=1)   # doctest: +SKIP
    >>> batch = collate([...], ...)                              # doctest: +SKIP

Shapes: features ``(batch, frames, n_mels)`` float32, ``feature_lengths`` ``(batch,)``,
``mask`` ``(batch, frames)`` True on real frames; tokens ``(batch, max_tokens)`` padded with -1.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..audio import features as F
from ..errors import ManifestError

IGNORE_ID = -1


# ------------------------------------------------------------------------------ features

def fbank_torch(wave, n_mels: int = 80):
    """Log-mel features of ``(samples,)`` or ``(batch, samples)`` float tensors -> ``(..., frames, n_mels)``.

    Matches :func:`tingshuo.audio.features.log_mel` (numpy) to float precision.
    """
    import torch

    squeeze = wave.dim() == 1
    if squeeze:
        wave = wave[None]
    if wave.shape[-1] < F.WIN_LENGTH:
        out = wave.new_zeros(wave.shape[0], 0, n_mels)
        return out[0] if squeeze else out
    frames = wave.unfold(-1, F.WIN_LENGTH, F.HOP_LENGTH)  # (B, T, 400)
    win = torch.from_numpy(F.window()).to(wave)
    spec = torch.fft.rfft(frames * win, n=F.N_FFT)
    power = spec.real ** 2 + spec.imag ** 2
    mel = torch.from_numpy(F.mel_filterbank(n_mels)).to(wave)
    out = torch.log(torch.clamp(power @ mel, min=F.LOG_FLOOR))
    return out[0] if squeeze else out


@dataclass(frozen=True)
class CMVN:
    """Global mean and inverse standard deviation per mel channel (saved with the model)."""

    mean: tuple[float, ...]
    istd: tuple[float, ...]

    @classmethod
    def estimate(cls, waves: Sequence[np.ndarray], n_mels: int) -> "CMVN":
        total = np.zeros(n_mels, np.float64)
        sq = np.zeros(n_mels, np.float64)
        n = 0
        for w in waves:
            f = F.log_mel(w, n_mels).astype(np.float64)
            total += f.sum(0)
            sq += (f ** 2).sum(0)
            n += f.shape[0]
        if n == 0:
            raise ManifestError("No audio long enough to estimate feature statistics; the training set is empty.")
        mean = total / n
        var = np.maximum(sq / n - mean ** 2, 1e-8)
        return cls(tuple(float(x) for x in mean), tuple(float(x) for x in 1.0 / np.sqrt(var)))

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "istd": list(self.istd)}

    @classmethod
    def from_dict(cls, d: dict) -> "CMVN":
        return cls(tuple(d["mean"]), tuple(d["istd"]))


# ------------------------------------------------------------------------------ manifests

@dataclass
class Utterance:
    audio: str
    text: str
    tokens: list[int]
    duration_s: float
    line: int
    lang: str | None = None
    extra: dict = field(default_factory=dict)
    _wave: np.ndarray | None = None

    def wave(self) -> np.ndarray:
        if self._wave is None:
            from ..audio.io import load_audio

            self._wave = load_audio(self.audio).samples
        return self._wave


def _duration(path: str) -> float:
    import soundfile as sf

    try:
        if str(path).lower().endswith((".wav", ".flac")):  # libsndfile hands MP3s to libmpg123, which prints
            return float(sf.info(path).duration)
    except Exception:
        pass
    from ..audio.io import probe

    return float(probe(path).duration_s or 0.0)


def load_utterances(manifest: str | os.PathLike, encode: Callable[[str], list[int]] | None, *,
                    need_text: bool = True, max_duration_s: float | None = None, preload: bool = True,
                    label: str = "manifest") -> list[Utterance]:
    """Read and check a manifest: every audio file exists, every text is non-empty and (given
    ``encode``) every character is known. The first bad line raises ``ManifestError`` naming it.

    ``encode`` may raise ``tokenizer.UnknownCharacter``. Audio is decoded once up front when
    ``preload`` (a few hundred MB for an hour of speech).
    """
    from ..audio.io import load_audio
    from ..data.manifest import open_dataset
    from .tokenizer import UnknownCharacter, normalize

    ds = open_dataset(manifest)
    out: list[Utterance] = []
    for rec in ds:
        where = f"{ds.path} line {rec.line}" if rec.line else f"{rec.audio}"
        if not Path(rec.audio).is_file():
            raise ManifestError(f"{where}: audio file {rec.audio} not found; fix the path or drop the line.")
        text = rec.text
        if need_text:
            if text is None or not normalize(text, rec.lang or "en").strip():
                raise ManifestError(f"{where}: the text is empty; every {label} line needs a transcript.")
        tokens: list[int] = []
        if encode is not None and text is not None:
            try:
                tokens = encode(text)
            except UnknownCharacter as exc:
                raise ManifestError(f"{where}: character {str(exc)!r} is not in the model's vocabulary "
                                    "(built from the training set); fix the text or add it to the training data."
                                    ) from None
            if need_text and not tokens:
                raise ManifestError(f"{where}: the text has no characters the model can learn.")
        wave = None
        if preload:
            wave = load_audio(rec.audio).samples
            duration = wave.size / F.SAMPLE_RATE
        else:
            duration = rec.duration_s or _duration(rec.audio)
        if max_duration_s and duration > max_duration_s:
            continue
        out.append(Utterance(rec.audio, text or "", tokens, duration, rec.line, rec.lang, dict(rec.raw), wave))
    if not out:
        raise ManifestError(f"{ds.path}: no usable utterances in the {label}.")
    return out


def read_texts(manifest: str | os.PathLike) -> list[str]:
    """The transcripts of a manifest (to build a vocabulary), empty ones skipped."""
    from ..data.manifest import open_dataset

    return [r.text for r in open_dataset(manifest) if r.text]


# ------------------------------------------------------------------------------ batching

class BucketSampler:
    """Batches of similar durations, up to ``batch_s`` seconds of audio (and ``max_batch`` items).

    The batch order of each epoch is a pure function of ``(seed, epoch)``; the position within
    the epoch is saved in checkpoints, so a resumed run sees exactly the batches it would have.
    """

    def __init__(self, durations: Sequence[float], batch_s: float, seed: int, max_batch: int = 64,
                 shuffle: bool = True) -> None:
        self.durations = list(durations)
        self.batch_s = batch_s
        self.max_batch = max_batch
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.position = 0  # batches of this epoch already consumed

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1000003 + epoch)
        order = sorted(range(len(self.durations)), key=lambda i: (self.durations[i], i))
        if self.shuffle:
            # jitter within ~neighbouring durations so batches differ between epochs
            order = sorted(order, key=lambda i: self.durations[i] * (1 + 0.1 * rng.random()))
        out, cur, longest = [], [], 0.0
        for i in order:
            d = self.durations[i]
            # padded cost of the batch = longest item x count
            if cur and (max(longest, d) * (len(cur) + 1) > self.batch_s or len(cur) >= self.max_batch):
                out.append(cur)
                cur, longest = [], 0.0
            cur.append(i)
            longest = max(longest, d)
        if cur:
            out.append(cur)
        if self.shuffle:
            rng.shuffle(out)
        return out

    def __len__(self) -> int:
        return len(self.batches(0))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])


def lengths_to_mask(lengths, max_len: int | None = None):
    """``(batch,)`` lengths -> ``(batch, max_len)`` bool mask, True on real positions."""
    import torch

    max_len = int(max_len if max_len is not None else lengths.max())
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def pad_features(feats: list, n_mels: int):
    """Stack ``(frames, n_mels)`` tensors: ``(features, lengths, mask)``; padding is zero."""
    import torch

    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    t = int(lengths.max()) if len(feats) else 0
    out = torch.zeros(len(feats), t, n_mels)
    for i, f in enumerate(feats):
        out[i, : f.shape[0]] = f
    return out, lengths, lengths_to_mask(lengths, t)


def pad_tokens(seqs: list[list[int]], pad: int = IGNORE_ID):
    import torch

    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), max(1, int(lengths.max()) if seqs else 1)), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


def normalise(feats, cmvn: CMVN):
    import torch

    mean = torch.tensor(cmvn.mean, dtype=feats.dtype, device=feats.device)
    istd = torch.tensor(cmvn.istd, dtype=feats.dtype, device=feats.device)
    return (feats - mean) * istd


def frames_after_subsampling(n: int, factor: int) -> int:
    """Encoder frames for ``n`` feature frames (matches the conv front end)."""
    if factor == 4:
        return max(0, ((n - 1) // 2 - 1) // 2)
    if factor == 6:
        return max(0, ((n - 1) // 2 - 2) // 3)
    return max(0, (((n - 1) // 2 - 1) // 2 - 1) // 2)


def seconds(n_frames_: int) -> float:
    return n_frames_ * F.HOP_LENGTH / F.SAMPLE_RATE


__all__ = ["CMVN", "BucketSampler", "IGNORE_ID", "Utterance", "fbank_torch", "frames_after_subsampling",
           "lengths_to_mask", "load_utterances", "normalise", "pad_features", "pad_tokens", "read_texts"]
