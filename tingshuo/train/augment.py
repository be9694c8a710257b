"""Training-time augmentation, each part switched in ``AugmentConfig``.

Waveform level (numpy): speed perturbation (resampling by 0.9/1.0/1.1, which changes tempo and
pitch like Kaldi's ``sox speed``), additive noise from a noise manifest at a random SNR, gain.
Feature level (torch): SpecAugment frequency and time masks, kept inside each utterance's
real frames so padding stays zero and lengths stay right.

All randomness comes from one ``numpy.random.Generator`` owned by the caller, whose state is
saved in checkpoints, so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import numpy as np

from ..audio.resample import resample
from .config import AugmentConfig

SAMPLE_RATE = 16000


class WaveAugmenter:
    def __init__(self, cfg: AugmentConfig, noises: list[np.ndarray] | None = None) -> None:
        self.cfg = cfg
        self.noises = [n for n in (noises or []) if n.size > 0]
        if cfg.noise_manifest and not self.noises:
            self.noises = load_noises(cfg.noise_manifest)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        x = wave
        if c.speed_perturb:
            factor = float(c.speeds[rng.integers(len(c.speeds))])
            x = speed_perturb(x, factor)
        if self.noises and rng.random() < c.noise_prob:
            noise = self.noises[rng.integers(len(self.noises))]
            snr = float(rng.uniform(c.snr_db[0], c.snr_db[1]))
            x = add_noise(x, noise, snr, rng)
        if c.gain:
            x = x * np.float32(10 ** (rng.uniform(c.gain_db[0], c.gain_db[1]) / 20))
            x = np.clip(x, -1.0, 1.0)
        return x.astype(np.float32, copy=False)


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster: ``len(out) ~= len(wave) / factor``."""
    if factor == 1.0:
        return wave
    return resample(wave, int(round(SAMPLE_RATE * factor)), SAMPLE_RATE)


def add_noise(wave: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Mix a random stretch of ``noise`` (looped if short) into ``wave`` at ``snr_db``; same length."""
    n = wave.size
    if noise.size < n:
        noise = np.tile(noise, -(-n // noise.size))
    start = int(rng.integers(0, noise.size - n + 1))
    piece = noise[start:start + n]
    p_speech = float(np.mean(wave.astype(np.float64) ** 2)) + 1e-10
    p_noise = float(np.mean(piece.astype(np.float64) ** 2)) + 1e-10
    scale = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (wave + scale * piece).astype(np.float32)


def load_noises(manifest: str) -> list[np.ndarray]:
    from ..audio.io import load_audio
    from ..data.manifest import open_dataset
    from ..errors import ManifestError

    out = [load_audio(r.audio).samples for r in open_dataset(manifest)]
    if not out:
        raise ManifestError(f"{manifest}: the noise manifest lists no clips.")
    return out


def spec_augment(feats, lengths, cfg: AugmentConfig, rng: np.random.Generator):
    """Mask ``(batch, frames, n_mels)`` features in place (masked values -> 0, i.e. the mean after
    CMVN); masks never reach into padding. Returns ``feats``."""
    if not cfg.spec_augment:
        return feats
    _, _, n_mels = feats.shape
    for b in range(feats.shape[0]):
        t = int(lengths[b])
        for _ in range(cfg.freq_masks):
            w = int(rng.integers(0, cfg.freq_mask_width + 1))
            if w:
                f0 = int(rng.integers(0, max(1, n_mels - w)))
                feats[b, :t, f0:f0 + w] = 0.0
        max_w = int(cfg.time_mask_ratio * t)
        for _ in range(cfg.time_masks):
            w = int(rng.integers(0, max_w + 1)) if max_w > 0 else 0
            if w:
                t0 = int(rng.integers(0, max(1, t - w)))
                feats[b, t0:t0 + w, :] = 0.0
    return feats


__all__ = ["WaveAugmenter", "add_noise", "load_noises", "spec_augment", "speed_perturb"]
