"""What a training run is: one frozen dataclass per model and one per run, loadable from YAML.

A YAML file holds the run's fields at the top level and the model's and augmentation's in
``model:`` and ``augment:`` sections; unknown keys fail with the list of valid ones::

    kind: asr
    train: data/train.jsonl
    valid: data/valid.jsonl
    out: runs/cathy
    epochs: 40
    model: {encoder: conformer, d_model: 144, encoder_layers: 6}
    augment: {spec_augment: true, speed_perturb: true}

    >>> cfg = load_config("cfg.yaml", out="runs/x")          # doctest: +SKIP
    >>> cfg.model.d_model                                      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from ..options import from_mapping, opt


def _check_ranges(obj, ranges: dict[str, tuple[float, float]]) -> None:
    """A ``ValueError`` naming the first field outside its [low, high] range (the loader makes it one
    line): a zero, negative or absurd hyper-parameter otherwise failed deep in torch ('unexpected
    ZeroDivisionError', 'Invalid learning rate') or trained silently on nonsense."""
    for name, (low, high) in ranges.items():
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"{name} must be from {_number(low)} to {_number(high)}, not {value!r}.")


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class ASRModelConfig:
    """Encoder (Conformer or Transformer) + attention decoder + CTC head."""

    encoder: str = opt("conformer", "encoder type", choices=("conformer", "transformer"))
    n_mels: int = opt(80, "log-mel filterbank channels")
    subsampling: int = opt(4, "convolutional subsampling of the 10 ms frames", choices=(4, 6, 8))
    subsampling_channels: int = opt(64, "channels of the subsampling convolutions (the costliest layer)")
    d_model: int = opt(144, "model width")
    heads: int = opt(4, "attention heads")
    encoder_layers: int = opt(6, "encoder blocks")
    decoder_layers: int = opt(2, "attention decoder blocks (0 = CTC only)")
    ff_mult: int = opt(4, "feed-forward width as a multiple of d_model")
    conv_kernel: int = opt(15, "Conformer depthwise convolution kernel")
    dropout: float = opt(0.1, "dropout")
    ctc_weight: float = opt(0.3, "weight of the CTC loss in the joint loss (1 = CTC only)")
    label_smoothing: float = opt(0.1, "label smoothing of the attention decoder's loss")

    def __post_init__(self) -> None:
        _check_ranges(self, {"n_mels": (1, 512), "subsampling_channels": (1, 4096), "d_model": (1, 8192),
                             "heads": (1, 256), "encoder_layers": (1, 256), "decoder_layers": (0, 256),
                             "ff_mult": (1, 64), "conv_kernel": (1, 255), "dropout": (0.0, 0.99),
                             "label_smoothing": (0.0, 0.99)})
        if self.d_model % self.heads:
            raise ValueError("d_model must be a multiple of heads.")
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError("ctc_weight must be between 0 and 1.")
        if self.decoder_layers == 0 and self.ctc_weight < 1.0:
            raise ValueError("a model without a decoder needs ctc_weight 1.")


@dataclass(frozen=True)
class QualityModelConfig:
    """Audio encoder + text encoder, cross-attention, gated fusion -> grade and defect heads."""

    n_mels: int = opt(80, "log-mel filterbank channels")
    d_model: int = opt(96, "model width")
    heads: int = opt(4, "attention heads")
    audio_layers: int = opt(2, "audio encoder blocks")
    text_layers: int = opt(2, "text encoder blocks")
    dropout: float = opt(0.1, "dropout")
    defect_weight: float = opt(0.5, "weight of the per-defect loss beside the grade loss")
    max_text_chars: int = opt(200, "longest text the text encoder reads")

    def __post_init__(self) -> None:
        _check_ranges(self, {"n_mels": (1, 512), "d_model": (1, 8192), "heads": (1, 256), "audio_layers": (1, 256),
                             "text_layers": (1, 256), "dropout": (0.0, 0.99), "defect_weight": (0.0, 1000.0),
                             "max_text_chars": (1, 100_000)})
        if self.d_model % self.heads:
            raise ValueError("d_model must be a multiple of heads.")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation, each part switchable."""

    spec_augment: bool = opt(True, "SpecAugment time and frequency masks")
    freq_masks: int = opt(2, "frequency masks per utterance")
    freq_mask_width: int = opt(10, "widest frequency mask, in mel channels")
    time_masks: int = opt(2, "time masks per utterance")
    time_mask_ratio: float = opt(0.05, "widest time mask as a fraction of the utterance")
    speed_perturb: bool = opt(False, "speed perturbation by a factor from speeds")
    speeds: tuple[float, ...] = opt((0.9, 1.0, 1.1), "speed factors drawn uniformly")
    noise_manifest: str | None = opt(None, "manifest of noise clips mixed in (none = no additive noise)")
    noise_prob: float = opt(0.5, "share of utterances that get noise")
    snr_db: tuple[float, ...] = opt((5.0, 20.0), "SNR range of the added noise, dB (low, high)")
    gain: bool = opt(False, "random gain")
    gain_db: tuple[float, ...] = opt((-6.0, 6.0), "gain range, dB (low, high)")

    def __post_init__(self) -> None:
        if len(self.snr_db) != 2 or len(self.gain_db) != 2:
            raise ValueError("snr_db and gain_db are ranges: give two numbers, low and high.")
        if not self.speeds or min(self.speeds) <= 0:
            raise ValueError("speeds must be positive factors.")
        if max(self.speeds) > 4.0 or min(self.speeds) < 0.25:
            raise ValueError(f"speeds must be factors from 0.25 to 4, not {list(self.speeds)}.")
        if self.snr_db[0] > self.snr_db[1] or self.gain_db[0] > self.gain_db[1]:
            raise ValueError("snr_db and gain_db are ranges: give the low number first.")
        _check_ranges(self, {"freq_masks": (0, 100), "freq_mask_width": (0, 512), "time_masks": (0, 100),
                             "time_mask_ratio": (0.0, 1.0), "noise_prob": (0.0, 1.0)})


@dataclass(frozen=True)
class RunConfig:
    """A training run: data, output folder, optimisation, and the model/augment sections."""

    kind: str = opt("asr", "what to train", choices=("asr", "quality"))
    train: str = opt("", "training manifest (JSONL, NeMo, Kaldi dir, LJSpeech)", metavar="MANIFEST")
    valid: str = opt("", "validation manifest", metavar="MANIFEST")
    out: str = opt("", "run directory (checkpoints, metrics, plots, config)", metavar="DIR")
    lang: str = opt("en", "language of the text: en (words) or zh (characters)", choices=("en", "zh"))
    tokenizer: str = opt("char", "output units", choices=("char", "bpe"))
    bpe_vocab: int = opt(256, "BPE vocabulary size (tokenizer bpe)")
    epochs: int = opt(30, "epochs (passes over the training set)")
    max_minutes: float = opt(0.0, "stop after this many minutes of training (0 = no limit)")
    max_steps: int = opt(0, "stop after this many optimiser steps (0 = no limit)")
    batch_s: float = opt(120.0, "audio seconds per batch (duration bucketing packs to this)")
    max_batch: int = opt(64, "most utterances per batch")
    max_duration_s: float = opt(20.0, "longer training utterances are skipped")
    lr: float = opt(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = opt(1e-2, "AdamW weight decay")
    warmup_steps: int = opt(200, "linear warm-up steps")
    schedule: str = opt("cosine", "decay after warm-up", choices=("cosine", "noam", "constant"))
    min_lr_ratio: float = opt(0.05, "cosine decay ends at this fraction of lr")
    grad_clip: float = opt(5.0, "gradient norm clip")
    accum_steps: int = opt(1, "batches accumulated per optimiser step")
    amp: bool = opt(True, "mixed precision on GPU (ignored on CPU)")
    device: str = opt("auto", "cpu, cuda, or auto")
    threads: int = opt(0, "torch CPU threads (0 = torch's default)")
    seed: int = opt(1234, "random seed")
    ckpt_every_steps: int = opt(200, "save a checkpoint every N optimiser steps")
    valid_every_epochs: int = opt(1, "validate every N epochs")
    log_every_steps: int = opt(10, "write a metrics row every N optimiser steps")
    average_last: int = opt(0, "average the weights of the last N epochs (averaged.pt; it becomes best.pt when it "
                               "validates better; 0 = off)")
    stop_at: float = opt(0.0, "stop once the validation metric (CER, or grade accuracy) reaches this (0 = never)")
    cmvn_utts: int = opt(500, "utterances used for the global mean/variance statistics")
    model: ASRModelConfig | QualityModelConfig = field(default_factory=ASRModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.accum_steps < 1 or self.epochs < 1:
            raise ValueError("epochs and accum_steps must be at least 1.")
        if self.batch_s <= 0:
            raise ValueError("batch_s must be positive.")
        _check_ranges(self, {"bpe_vocab": (2, 1_000_000), "max_minutes": (0.0, 1e7), "max_steps": (0, 10**12),
                             "max_batch": (1, 1_000_000), "max_duration_s": (0.0, 1e6), "lr": (1e-12, 10.0),
                             "weight_decay": (0.0, 10.0), "warmup_steps": (0, 10**12), "min_lr_ratio": (0.0, 1.0),
                             "grad_clip": (1e-12, 1e12), "threads": (0, 1024), "ckpt_every_steps": (1, 10**12),
                             "valid_every_epochs": (1, 10**9), "log_every_steps": (1, 10**12),
                             "average_last": (0, 10**9), "stop_at": (0.0, 1e12), "cmvn_utts": (1, 10**9)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _section(cls, values: Any, name: str):
    if values is None:
        return cls()
    if dataclasses.is_dataclass(values):
        return values
    if not isinstance(values, Mapping):
        raise InputError(f"The '{name}' section of the config must be a mapping of options.")
    return from_mapping(cls, values)


def config_from_mapping(values: Mapping[str, Any]) -> RunConfig:
    """A RunConfig from nested mappings (YAML); the ``model`` section follows ``kind``."""
    values = dict(values)
    kind = values.get("kind", "asr")
    model_cls = QualityModelConfig if kind == "quality" else ASRModelConfig
    model = _section(model_cls, values.pop("model", None), "model")
    augment = _section(AugmentConfig, values.pop("augment", None), "augment")
    for key in ("train", "valid", "out"):
        if isinstance(values.get(key), os.PathLike):
            values[key] = str(values[key])
    cfg = from_mapping(RunConfig, values)
    if kind == "quality" and "augment" not in values:
        augment = dataclasses.replace(augment, spec_augment=False)
    return dataclasses.replace(cfg, model=model, augment=augment)


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> RunConfig:
    """Read a YAML config (or start from defaults) and apply ``overrides`` (None values ignored)."""
    from ..util import read_yaml_mapping

    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        values = read_yaml_mapping(p, "Config file")
        base = p.parent
        for key in ("train", "valid"):  # paths in a config are relative to the config
            if values.get(key) and not os.path.isabs(str(values[key])):
                values[key] = os.path.abspath(base / str(values[key]))
        if values.get("augment", {}) and values["augment"].get("noise_manifest"):
            nm = str(values["augment"]["noise_manifest"])
            if not os.path.isabs(nm):
                values["augment"]["noise_manifest"] = os.path.abspath(base / nm)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("model", "augment") and isinstance(value, Mapping):
            values[key] = {**(values.get(key) or {}), **value}
        else:
            values[key] = value
    return config_from_mapping(values)


def saved_config(run_dir: str | os.PathLike) -> RunConfig | None:
    """The config a run folder was started with (``config.yaml``), None if it has none; a damaged one
    (not YAML, not a mapping, values out of range) is one ``InputError`` naming it."""
    from ..util import read_yaml_mapping

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return None
    values = read_yaml_mapping(path, "The run's config")
    try:
        return config_from_mapping(values)
    except InputError as exc:
        raise InputError(f"The run's config {path} is damaged ({str(exc).rstrip('.')}); fix it, or start a new run.") from None


def save_config(cfg: RunConfig, path: str | os.PathLike) -> Path:
    import yaml

    from ..util import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False, allow_unicode=True))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def format_config(cfg: RunConfig) -> str:
    import yaml

    return yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False, allow_unicode=True)


__all__ = ["ASRModelConfig", "AugmentConfig", "QualityModelConfig", "RunConfig", "config_from_mapping",
           "format_config", "load_config", "save_config"]
