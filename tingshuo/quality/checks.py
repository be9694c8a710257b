"""The checks: each measures a few numbers on one clip; the profile turns numbers into findings.

Every check is registered (``available("check")``) and can be run on its own::

    >>> from tingshuo.quality.checks import ClipAudio, run_check
    >>> clip = ClipAudio.load("a.wav")                                  # doctest: +SKIP
    >>> run_check("clipping", clip, "asr-training")                     # doctest: +SKIP
    CheckResult(metrics={'clipped_fraction': 0.012, ...}, findings=(Finding(...),))

Signal checks see the decoded audio (``ClipAudio``: the file's own rate for sample-exact checks,
16 kHz for the rest, Silero VAD speech regions). Transcript checks (``stage="text"``) see the
recogniser's hypothesis and the given transcript; they live in ``consistency.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..registry import register
from .base import Finding
from .grade import Profile, load_profile

SR = 16000
FRAME = 320  # 20 ms at 16 kHz, for level statistics


@dataclass(frozen=True)
class Rule:
    """Which metric a threshold applies to, and how to say it."""

    metric: str
    what: str
    unit: str = ""


@dataclass(frozen=True)
class CheckResult:
    metrics: dict
    findings: tuple[Finding, ...]


CHECKS: dict[str, "CheckSpec"] = {}


@dataclass(frozen=True)
class CheckSpec:
    name: str
    stage: str  # "signal" (workers, on audio) or "text" (after ASR, on transcripts) or "dataset"
    measure: Callable[..., dict]
    rules: tuple[Rule, ...]
    needs: tuple[str, ...] = ()  # InspectOptions switches it depends on: "dnsmos", "asr"


def check(name: str, *rules: Rule, stage: str = "signal", needs: tuple[str, ...] = ()):
    """Register ``fn(clip) -> metrics`` as check ``name`` with its threshold rules."""

    def deco(fn):
        CHECKS[name] = CheckSpec(name, stage, fn, tuple(rules), needs)
        register("check", name)(fn)
        return fn

    return deco


def findings_for(name: str, metrics: dict, profile: Profile) -> list[Finding]:
    out: list[Finding] = []
    for r in CHECKS[name].rules:
        out += profile.judge(r.metric, metrics.get(r.metric), name, r.what, r.unit)
    return out


def run_check(name: str, clip: Any, profile: str | Profile = "asr-training") -> CheckResult:
    """Run one check on one clip and judge it against a profile."""
    from ..registry import get

    get("check", name)  # unknown names raise with the list
    metrics = CHECKS[name].measure(clip)
    return CheckResult(metrics, tuple(findings_for(name, metrics, load_profile(profile))))


# ------------------------------------------------------------------------------------ the clip

@dataclass
class ClipAudio:
    """A decoded clip with what several checks share (computed once, lazily)."""

    path: str
    native: np.ndarray | None = None  # float32 mono at the file's own rate
    native_rate: int = SR
    samples: np.ndarray | None = None  # float32 mono, 16 kHz
    error: str | None = None
    container: str = ""
    codec: str = ""
    channels: int = 1
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str) -> "ClipAudio":
        from ..audio.io import load_audio, probe
        from ..audio.resample import resample
        from ..errors import TingshuoError

        fast = _read_soundfile(path)  # WAV/FLAC through libsndfile: several times faster than FFmpeg
        if fast is not None:
            native, rate, container, codec, channels = fast
        else:
            try:
                info = probe(path)
                audio = load_audio(path, None)
            except TingshuoError as exc:
                return cls(path, error=str(exc))
            native, rate = np.asarray(audio.samples, np.float32), audio.sample_rate
            container, codec, channels = info.container, info.codec, info.channels
        if native.size == 0:
            return cls(path, error=f"{path} holds no audio samples.")
        return cls(path, native=native, native_rate=rate, samples=resample(native, rate, SR),
                   container=container, codec=codec, channels=channels)

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int = SR, path: str = "<array>") -> "ClipAudio":
        from ..audio.resample import resample

        native = np.asarray(samples, np.float32)
        return cls(path, native=native, native_rate=sample_rate, samples=resample(native, sample_rate, SR))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def duration_s(self) -> float:
        return 0.0 if self.samples is None else self.samples.size / SR

    @property
    def vad_probs(self) -> np.ndarray:
        """Silero speech probability per 32 ms frame."""
        if "probs" not in self._cache:
            from ..audio.vad import FRAME_SAMPLES

            vad = _vad()
            vad.reset()
            x = self.samples
            padded = np.concatenate([x, np.zeros((-x.size) % FRAME_SAMPLES, np.float32)])
            self._cache["probs"] = vad.probabilities(padded)
        return self._cache["probs"]

    @property
    def regions(self) -> list[tuple[float, float]]:
        """Unpadded speech regions in seconds."""
        if "regions" not in self._cache:
            from ..audio.vad import VADOptions, VADSegmenter

            seg = VADSegmenter(VADOptions(min_speech_s=0.1, min_silence_s=0.3, speech_pad_s=0.0))
            events = seg.push(self.vad_probs) + seg.flush()
            self._cache["regions"] = [(e.start_s, min(e.end_s, self.duration_s)) for e in events if e.kind == "end"]
        return self._cache["regions"]

    def speech_mask(self, hop: int = FRAME) -> np.ndarray:
        """Per ``hop``-sample frame of the 16 kHz signal: inside a speech region?"""
        n = self.samples.size // hop
        t = (np.arange(n) + 0.5) * hop / SR
        mask = np.zeros(n, bool)
        for s, e in self.regions:
            mask |= (t >= s) & (t < e)
        return mask


def _read_soundfile(path: str):
    """(samples, rate, container, codec, channels) for plain PCM WAV/FLAC files, else None."""
    if Path(path).suffix.lower() not in (".wav", ".flac"):
        return None
    try:
        import soundfile as sf

        with sf.SoundFile(path) as f:
            if f.subtype not in ("PCM_16", "PCM_24", "PCM_32", "FLOAT") or f.frames == 0:
                return None
            x = f.read(dtype="float32", always_2d=True)
            container = {"WAV": "wav", "FLAC": "flac"}.get(f.format, f.format.lower())
            codec = "flac" if container == "flac" else {"PCM_16": "pcm_s16le", "PCM_24": "pcm_s24le",
                                                        "PCM_32": "pcm_s32le", "FLOAT": "pcm_f32le"}[f.subtype]
            return (x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]).astype(np.float32), f.samplerate, container, \
                codec, x.shape[1]
    except Exception:  # anything odd goes through FFmpeg, which gives the precise error
        return None


_VAD = None


def _vad():
    global _VAD
    if _VAD is None:
        from ..audio.vad import SileroVAD

        _VAD = SileroVAD()
    return _VAD


def _frame_power(x: np.ndarray, hop: int = FRAME) -> np.ndarray:
    n = x.size // hop
    if n == 0:
        return np.array([float(np.mean(x ** 2)) if x.size else 0.0])
    return np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)


def _db(p: float, floor: float = 1e-12) -> float:
    return 10.0 * math.log10(max(p, floor))


# ------------------------------------------------------------------------------------ checks

_EXT_FAMILY = {"wav": ("wav",), "wave": ("wav",), "flac": ("flac",), "mp3": ("mp3",), "ogg": ("ogg",),
               "oga": ("ogg",), "opus": ("ogg",), "m4a": ("mov", "mp4", "m4a"), "mp4": ("mov", "mp4"),
               "aiff": ("aiff",), "aif": ("aiff",), "webm": ("matroska", "webm"), "mkv": ("matroska",)}


@check("readable", Rule("readable", "readable"), Rule("format_mismatch", "format mismatch"))
def readable(clip: ClipAudio) -> dict:
    """The file decodes to samples; its extension agrees with its real container."""
    m: dict[str, Any] = {"readable": int(clip.ok)}
    if not clip.ok:
        m["error"] = clip.error
        return m
    ext = Path(clip.path).suffix.lower().lstrip(".")
    fam = _EXT_FAMILY.get(ext)
    m["format_mismatch"] = int(bool(fam) and not any(f in clip.container for f in fam))
    m["container"], m["codec"], m["channels"] = clip.container, clip.codec, clip.channels
    return m


@check("duration", Rule("duration_s", "duration", " s"))
def duration(clip: ClipAudio) -> dict:
    return {"duration_s": clip.duration_s}


@check("sample_rate", Rule("sample_rate_hz", "sample rate", " Hz"))
def sample_rate(clip: ClipAudio) -> dict:
    return {"sample_rate_hz": int(clip.native_rate)}


@check("level", Rule("active_level_dbfs", "active speech level", " dBFS"), Rule("dc_offset", "DC offset"))
def level(clip: ClipAudio) -> dict:
    """Active speech level: RMS over the VAD's speech frames (whole clip when none), in dBFS."""
    x = clip.samples
    power = _frame_power(x)
    mask = clip.speech_mask()[: power.size]
    active = power[: mask.size][mask] if mask.any() else power
    return {"active_level_dbfs": _db(float(np.mean(active))), "peak_dbfs": 20 * math.log10(max(float(np.max(np.abs(x))), 1e-6)),
            "dc_offset": abs(float(np.mean(clip.native)))}


@check("clipping", Rule("clipped_fraction", "clipped-sample fraction"))
def clipping(clip: ClipAudio) -> dict:
    """Samples in runs of >= 3 at the clip's own peak (full scale, or a plateau after later gain)."""
    x = np.abs(clip.native)
    peak = float(x.max())
    if peak < 0.25:
        return {"clipped_fraction": 0.0, "clip_runs": 0, "longest_clip_run": 0}
    at = x >= peak * 0.999 - 1e-6
    runs = _runs(at)
    long_runs = runs[runs[:, 1] >= 3] if runs.size else runs
    clipped = int(long_runs[:, 1].sum()) if long_runs.size else 0
    return {"clipped_fraction": clipped / x.size, "clip_runs": int(len(long_runs)),
            "longest_clip_run": int(long_runs[:, 1].max()) if long_runs.size else 0}


def _runs(mask: np.ndarray) -> np.ndarray:
    """(start, length) of each run of True, as an (n, 2) int array."""
    if not mask.any():
        return np.zeros((0, 2), np.int64)
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return np.stack([starts, ends - starts], axis=1)


@check("silence", Rule("leading_silence_s", "leading silence", " s"),
       Rule("trailing_silence_s", "trailing silence", " s"), Rule("speech_s", "speech", " s"),
       Rule("speech_ratio", "speech ratio"))
def silence(clip: ClipAudio) -> dict:
    """Silence before the first and after the last speech region (Silero VAD), speech share."""
    regions, dur = clip.regions, clip.duration_s
    speech = sum(e - s for s, e in regions)
    if not regions:
        return {"speech_s": 0.0, "speech_ratio": 0.0, "leading_silence_s": dur, "trailing_silence_s": dur,
                "n_speech_regions": 0}
    probs = clip.vad_probs
    return {"speech_s": speech, "speech_ratio": speech / dur if dur else 0.0,
            "leading_silence_s": regions[0][0], "trailing_silence_s": max(0.0, dur - regions[-1][1]),
            "n_speech_regions": len(regions),
            "end_speech_prob": float(probs[-3:].max()) if probs.size else 0.0}


def _lowfreq_ratio(x: np.ndarray, cutoff_hz: float = 80.0) -> float:
    """Share of the signal's power below ``cutoff_hz`` (speech has almost none: rumble, hum, wind)."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    total = float(spec.sum())
    if total <= 0:
        return 0.0
    k = int(cutoff_hz * x.size / SR)
    return float(spec[:k].sum() / total)


@check("snr", Rule("snr_db", "estimated SNR", " dB"),
       Rule("lowfreq_ratio", "share of power below 80 Hz (rumble/hum)"))
def snr(clip: ClipAudio) -> dict:
    """Estimated SNR: speech-frame power over the power of the quietest frames (the noise floor).

    The floor is the mean of the quietest 10% of 20 ms frames (pauses, or the quietest speech
    when a clip has none); speech power is that of the VAD's speech frames, floor removed.
    Bursty noise escapes that floor; low-frequency rumble is caught by ``lowfreq_ratio``.
    """
    lf = {"lowfreq_ratio": _lowfreq_ratio(clip.samples)}
    return {**_snr(clip), **lf}


def _snr(clip: ClipAudio) -> dict:
    power = _frame_power(clip.samples)
    if power.size < 5 or power.max() <= 0:
        return {"snr_db": None, "noise_dbfs": _db(float(power.mean()))}
    srt = np.sort(power)
    noise = float(np.mean(srt[: max(1, power.size // 10)]))
    mask = clip.speech_mask()[: power.size]
    speech = float(np.mean(power[: mask.size][mask])) if mask.any() else float(np.mean(srt[power.size // 2:]))
    if noise <= 1e-11:  # digital silence in the pauses: the SNR is as high as we can tell
        return {"snr_db": 60.0, "noise_dbfs": _db(noise)}
    return {"snr_db": min(60.0, _db(max(speech - noise, 1e-12)) - _db(noise)), "noise_dbfs": _db(noise)}


@check("bandwidth", Rule("bandwidth_hz", "effective bandwidth", " Hz"))
def bandwidth(clip: ClipAudio) -> dict:
    """Highest frequency whose long-term level is within 50 dB of the spectrum's peak (speech frames).

    Telephone audio upsampled to 16 kHz stops near 3.4-4 kHz; full-band 16 kHz audio reaches ~7.5 kHz.
    Measured at the file's own rate, so a 44.1 kHz file reports its own band.
    """
    x, rate = clip.native, clip.native_rate
    n_fft = 1024 if rate <= 24000 else 2048
    hop = n_fft // 2
    n = (x.size - n_fft) // hop + 1
    if n < 2:
        return {"bandwidth_hz": None}
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(n_fft).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = spec.sum(axis=1)
    loud = energy >= np.percentile(energy, 50)  # the louder half: speech, not pauses
    ltas = spec[loud].mean(axis=0) + 1e-20
    db = 10 * np.log10(ltas)
    db = np.convolve(db, np.ones(5) / 5, mode="same")
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    usable = freqs < rate / 2 * 0.97
    peak = db[usable].max()
    above = np.flatnonzero(usable & (db >= peak - 50.0))
    return {"bandwidth_hz": float(freqs[above[-1]]) if above.size else None}


@check("dropouts", Rule("dropout_ms", "digital-zero gaps inside speech", " ms"))
def dropouts(clip: ClipAudio) -> dict:
    """Runs of exact digital zeros (>= 10 ms) between the first and last speech, next to sound."""
    x, rate = clip.native, clip.native_rate
    regions = clip.regions
    if not regions:
        return {"dropout_ms": 0.0, "dropout_count": 0}
    lo, hi = int(regions[0][0] * rate), int(regions[-1][1] * rate)
    runs = _runs(x[lo:hi] == 0.0)
    min_len, ctx = int(0.01 * rate), int(0.03 * rate)
    total, count = 0, 0
    for start, length in runs:
        if length < min_len:
            continue
        a, b = lo + start, lo + start + length
        before, after = x[max(0, a - ctx):a], x[b:b + ctx]
        if before.size and after.size and min(np.sqrt(np.mean(before ** 2)), np.sqrt(np.mean(after ** 2))) > 0.003:
            total += length
            count += 1
    return {"dropout_ms": 1000.0 * total / rate, "dropout_count": count}


@check("dnsmos", Rule("dnsmos_bak", "DNSMOS BAK"), Rule("dnsmos_ovrl", "DNSMOS OVRL"), needs=("dnsmos",))
def dnsmos(clip: ClipAudio) -> dict:
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 scores, 1-5 (speechmos's ONNX models)."""
    from .dnsmos import score

    return score(clip.samples)


SIGNAL_CHECKS = [name for name, spec in CHECKS.items() if spec.stage == "signal"]


def measure_signal(clip: ClipAudio, dnsmos_on: bool = True) -> dict:
    """All signal metrics of one clip (what the store keeps)."""
    metrics = readable(clip)
    if not clip.ok:
        return metrics
    for name, spec in CHECKS.items():
        if spec.stage != "signal" or name == "readable" or ("dnsmos" in spec.needs and not dnsmos_on):
            continue
        metrics.update(spec.measure(clip))
    return metrics
