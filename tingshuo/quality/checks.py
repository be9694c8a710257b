"""The checks: each measures a few numbers on one clip; the profile turns numbers into findings.

Every check is registered (``available("check")``) and can be run on its own::

    >>> from tingshuo.quality.checks import ClipAudio, run_check
    >>> clip = ClipAudio.load("a.wav")                                  # doctest: +SKIP
    >>> run_check("clipping", clip, "asr-training")                     # doctest: +SKIP
    CheckResult(metrics={'clipped_fraction': 0.012, ...}, findings=(Finding(...),))

A signal check is a ``Meter`` (``stream.py``): the file streams through it block by block (the
file's own rate for sample-exact checks, 16 kHz for the rest, Silero VAD speech regions as they
become certain), and it keeps fixed-size accumulators, so an hour-long file costs no more memory
than a short one. Transcript checks (``stage="text"``) see the recogniser's hypothesis and the
given transcript; they live in ``consistency.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..registry import register
from .base import Finding
from .grade import Profile, load_profile
from .accumulate import PowerHistogram, runs as _runs, sumsq as _sumsq
from .stream import SR, Block, ClipAudio, Meter, StreamState, run_stream

__all__ = ["CHECKS", "ClipAudio", "Rule", "check", "findings_for", "measure_signal", "run_check"]


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
    stage: str  # "signal" (a Meter over the audio stream) or "text" (a function of a TextClip)
    measure: Callable[..., Any]
    rules: tuple[Rule, ...]
    needs: tuple[str, ...] = ()  # InspectOptions switches it depends on: "dnsmos", "asr"


def check(name: str, *rules: Rule, stage: str = "signal", needs: tuple[str, ...] = ()):
    """Register a ``Meter`` class (signal) or ``fn(TextClip) -> metrics`` (text) as check ``name``."""

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
    spec = CHECKS[name]
    if spec.stage == "signal":
        state = run_stream(clip, [spec.measure])
        metrics = _unreadable(state) if state.error else state.meters[0].result()
    else:
        metrics = spec.measure(clip)
    return CheckResult(metrics, tuple(findings_for(name, metrics, load_profile(profile))))


def signal_meters(dnsmos_on: bool = True) -> list[type]:
    return [spec.measure for spec in CHECKS.values()
            if spec.stage == "signal" and not ("dnsmos" in spec.needs and not dnsmos_on)]


def measure_signal(clip: ClipAudio, dnsmos_on: bool = True) -> dict:
    """All signal metrics of one clip (what the store keeps)."""
    state = run_stream(clip, signal_meters(dnsmos_on))
    return metrics_of(state)


def metrics_of(state: StreamState) -> dict:
    if state.error:
        return _unreadable(state)
    metrics: dict = {}
    for m in state.meters:
        metrics.update(m.result())
    return metrics


def _unreadable(state: StreamState) -> dict:
    return {"readable": 0, "error": state.error}


def _db(p: float, floor: float = 1e-12) -> float:
    return 10.0 * math.log10(max(p, floor))


# ------------------------------------------------------------------------------------ checks

_EXT_FAMILY = {"wav": ("wav",), "wave": ("wav",), "flac": ("flac",), "mp3": ("mp3",), "ogg": ("ogg",),
               "oga": ("ogg",), "opus": ("ogg",), "m4a": ("mov", "mp4", "m4a"), "mp4": ("mov", "mp4"),
               "aiff": ("aiff",), "aif": ("aiff",), "webm": ("matroska", "webm"), "mkv": ("matroska",)}


@check("readable", Rule("readable", "readable"), Rule("format_mismatch", "format mismatch"))
class Readable(Meter):
    """The file decodes to samples; its extension agrees with its real container."""

    def result(self) -> dict:
        st = self.state
        m: dict[str, Any] = {"readable": 1}
        info = st.info
        ext = Path(st.path).suffix.lower().lstrip(".")
        fam = _EXT_FAMILY.get(ext)
        m["format_mismatch"] = int(bool(fam) and bool(info.container) and not any(f in info.container for f in fam))
        m["container"], m["codec"], m["channels"] = info.container, info.codec, info.channels
        return m


@check("duration", Rule("duration_s", "duration", " s"))
class Duration(Meter):
    def result(self) -> dict:
        return {"duration_s": self.state.duration_s}


@check("sample_rate", Rule("sample_rate_hz", "sample rate", " Hz"))
class SampleRate(Meter):
    def result(self) -> dict:
        return {"sample_rate_hz": int(self.state.rate)}


class _SpeechPower(Meter):
    """Mean power of the 20 ms frames inside speech regions, and of all frames."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.speech_sum = 0.0
        self.speech_n = 0
        self.all_sum = 0.0

    def feed(self, blk: Block) -> None:
        p = blk.frame_power
        if p.size:
            self.all_sum += float(p.sum())
            if blk.frame_speech.any():
                self.speech_sum += float(p[blk.frame_speech].sum())
                self.speech_n += int(blk.frame_speech.sum())

    def whole_mean(self) -> float:
        """Mean power of all frames; a clip shorter than one frame: of all its samples."""
        st = self.state
        if st.n_frames == 0:
            return st.sumsq16 / st.n16 if st.n16 else 0.0
        return self.all_sum / st.n_frames


@check("level", Rule("active_level_dbfs", "active speech level", " dBFS"), Rule("dc_offset", "DC offset"))
class Level(_SpeechPower):
    """Active speech level: RMS over the VAD's speech frames (whole clip when none), in dBFS."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.peak = 0.0
        self.native_sum = 0.0

    def feed(self, blk: Block) -> None:
        super().feed(blk)
        if blk.x16.size:
            self.peak = max(self.peak, float(np.max(np.abs(blk.x16))))
        if blk.native.size:
            self.native_sum += float(np.sum(blk.native, dtype=np.float64))

    def result(self) -> dict:
        active = self.speech_sum / self.speech_n if self.speech_n else self.whole_mean()
        n = self.state.n_native
        return {"active_level_dbfs": _db(active), "peak_dbfs": 20 * math.log10(max(self.peak, 1e-6)),
                "dc_offset": abs(self.native_sum / n) if n else 0.0}


@check("clipping", Rule("clipped_fraction", "clipped-sample fraction"))
class Clipping(Meter):
    """Samples in runs of >= 3 at the clip's own peak (full scale, or a plateau after later gain).

    The peak is the running one: when a louder sample arrives, runs counted at the old peak
    are forgotten (they are no longer at the peak), unless the two peaks are within 0.1 %.
    """

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.peak = 0.0
        self.level = math.inf
        self.clipped = self.runs = self.longest = self.carry = 0

    def _end_run(self, length: int) -> None:
        if length >= 3:
            self.clipped += length
            self.runs += 1
            self.longest = max(self.longest, length)

    def feed(self, blk: Block) -> None:
        a = np.abs(blk.native)
        if not a.size:
            return
        top = float(a.max())
        if top > self.peak:
            level = top * 0.999 - 1e-6
            if level > self.peak:  # everything counted so far is below the new peak's level
                self.clipped = self.runs = self.longest = self.carry = 0
            self.peak, self.level = top, level
        runs = _runs(a >= self.level).copy()
        if not runs.size:
            self._end_run(self.carry)
            self.carry = 0
            return
        open_at_end = bool(a[-1] >= self.level)
        if runs[0, 0] == 0:
            runs[0, 1] += self.carry  # continues the run open at the last block's end
        else:
            self._end_run(self.carry)
        self.carry = 0
        if open_at_end:
            self.carry = int(runs[-1, 1])
            runs = runs[:-1]
        for length in runs[:, 1]:
            self._end_run(int(length))

    def result(self) -> dict:
        self._end_run(self.carry)
        self.carry = 0
        n = self.state.n_native
        if self.peak < 0.25 or not n:
            return {"clipped_fraction": 0.0, "clip_runs": 0, "longest_clip_run": 0}
        return {"clipped_fraction": self.clipped / n, "clip_runs": self.runs, "longest_clip_run": self.longest}


@check("silence", Rule("leading_silence_s", "leading silence", " s"),
       Rule("trailing_silence_s", "trailing silence", " s"), Rule("speech_s", "speech", " s"),
       Rule("speech_ratio", "speech ratio"))
class Silence(Meter):
    """Silence before the first and after the last speech region (Silero VAD), speech share."""

    def result(self) -> dict:
        tl, dur = self.state.timeline, self.state.duration_s
        if not tl.n_regions:
            return {"speech_s": 0.0, "speech_ratio": 0.0, "leading_silence_s": dur, "trailing_silence_s": dur,
                    "n_speech_regions": 0}
        probs = tl.last_probs
        return {"speech_s": tl.speech_s, "speech_ratio": tl.speech_s / dur if dur else 0.0,
                "leading_silence_s": tl.first_start_s, "trailing_silence_s": max(0.0, dur - tl.last_end_s),
                "n_speech_regions": tl.n_regions,
                "end_speech_prob": float(probs.max()) if probs.size else 0.0}


LOWFREQ_SEGMENT = 30 * SR  # samples per FFT for the low-frequency share (one FFT for clips up to 30 s)


@check("snr", Rule("snr_db", "estimated SNR", " dB"),
       Rule("lowfreq_ratio", "share of power below 80 Hz (rumble/hum)"))
class SNR(_SpeechPower):
    """Estimated SNR: speech-frame power over the power of the quietest frames (the noise floor).

    The floor is the mean of the quietest 10% of 20 ms frames (pauses, or the quietest speech
    when a clip has none); speech power is that of the VAD's speech frames, floor removed.
    Bursty noise escapes that floor; low-frequency rumble is caught by ``lowfreq_ratio`` (the
    share of power below 80 Hz, from FFTs of 30 s stretches).
    """

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.hist = PowerHistogram()
        self.max_power = 0.0
        self.seg: list[np.ndarray] = []
        self.seg_n = 0
        self.low = 0.0
        self.total = 0.0

    def feed(self, blk: Block) -> None:
        super().feed(blk)
        if blk.frame_power.size:
            self.hist.add(blk.frame_power)
            self.max_power = max(self.max_power, float(blk.frame_power.max()))
        x = blk.x16
        while x.size:
            take = x[: LOWFREQ_SEGMENT - self.seg_n]
            self.seg.append(take)
            self.seg_n += take.size
            x = x[take.size:]
            if self.seg_n >= LOWFREQ_SEGMENT:
                self._spectrum()

    def _spectrum(self, cutoff_hz: float = 80.0) -> None:
        if not self.seg_n:
            return
        x = np.concatenate(self.seg).astype(np.float64)
        self.seg, self.seg_n = [], 0
        spec = np.abs(np.fft.rfft(x)) ** 2
        k = int(cutoff_hz * x.size / SR)
        self.low += float(spec[:k].sum()) / x.size
        self.total += float(spec.sum()) / x.size

    def result(self) -> dict:
        self._spectrum()
        lf = {"lowfreq_ratio": self.low / self.total if self.total > 0 else 0.0}
        n = self.state.n_frames
        if n < 5 or self.max_power <= 0:
            return {"snr_db": None, "noise_dbfs": _db(self.whole_mean()), **lf}
        noise = self.hist.mean_quietest(max(1, n // 10))
        speech = self.speech_sum / self.speech_n if self.speech_n else self.hist.mean_loudest(n - n // 2)
        if noise <= 1e-11:  # digital silence in the pauses: the SNR is as high as we can tell
            return {"snr_db": 60.0, "noise_dbfs": _db(noise), **lf}
        return {"snr_db": min(60.0, _db(max(speech - noise, 1e-12)) - _db(noise)), "noise_dbfs": _db(noise), **lf}


@check("bandwidth", Rule("bandwidth_hz", "effective bandwidth", " Hz"))
class Bandwidth(Meter):
    """Highest frequency whose long-term level is within 50 dB of the spectrum's peak (louder frames).

    Telephone audio upsampled to 16 kHz stops near 3.4-4 kHz; full-band 16 kHz audio reaches ~7.5 kHz.
    Measured at the file's own rate, so a 44.1 kHz file reports its own band. The long-term
    spectrum averages the louder half of the frames. Up to ``EXACT_FRAMES`` frames (~2 min at
    16 kHz, ~1.5 min at 48 kHz; at most 17 MB) their spectra are kept and that half is exact; past
    it they are folded into sums per 0.25 dB of frame energy (fixed memory), and the frames at
    the median energy are taken pro rata.
    """

    EXACT_FRAMES = 4096
    BIN_DB = 0.25
    BATCH = 256  # frames per FFT batch

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.n_fft = 1024 if state.rate <= 24000 else 2048
        self.hop = self.n_fft // 2
        self.window = np.hanning(self.n_fft).astype(np.float32)
        self.carry = np.zeros(0, np.float32)
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []  # (spectra, energies) while exact
        self.n_kept = 0
        self.count: dict[int, int] | None = None  # binned mode: energy bin -> frames, summed spectrum
        self.spec: dict[int, np.ndarray] = {}

    def feed(self, blk: Block) -> None:
        if not blk.native.size:
            return
        x = np.concatenate([self.carry, blk.native]) if self.carry.size else blk.native
        n = (x.size - self.n_fft) // self.hop + 1 if x.size >= self.n_fft else 0
        if n > 0:
            view = np.lib.stride_tricks.sliding_window_view(x, self.n_fft)[:: self.hop][:n]
            for i in range(0, n, self.BATCH):
                spec = np.abs(np.fft.rfft(view[i:i + self.BATCH] * self.window, axis=1)) ** 2
                self._add(spec, spec.sum(axis=1))
        self.carry = x[n * self.hop:].copy()

    def _add(self, spec: np.ndarray, energy: np.ndarray) -> None:
        if self.count is None:
            self.kept.append((spec, energy))
            self.n_kept += energy.size
            if self.n_kept <= self.EXACT_FRAMES:
                return
            self.count = {}
            kept, self.kept = self.kept, []
            for sp, en in kept:
                self._bin(sp, en)
            return
        self._bin(spec, energy)

    def _bin(self, spec: np.ndarray, energy: np.ndarray) -> None:
        e = np.asarray(energy, np.float64)
        bins = np.full(e.size, -(10 ** 6), np.int64)  # silent frames share one bin at the bottom
        live = e > 1e-30
        bins[live] = np.floor(10 * np.log10(e[live]) / self.BIN_DB).astype(np.int64)
        for b in np.unique(bins):
            sel = bins == b
            b = int(b)
            self.count[b] = self.count.get(b, 0) + int(sel.sum())
            s = spec[sel].sum(axis=0, dtype=np.float64)
            if b in self.spec:
                self.spec[b] += s
            else:
                self.spec[b] = s

    def _ltas(self) -> np.ndarray | None:
        if self.count is None:  # exact: the frames at or above the median energy
            if self.n_kept < 2:
                return None
            spec = np.concatenate([k[0] for k in self.kept])
            energy = np.concatenate([k[1] for k in self.kept])
            return spec[energy >= np.percentile(energy, 50)].mean(axis=0)
        total = sum(self.count.values())
        k = total - (total - 1) // 2  # as many frames as are at or above the median
        acc, got = None, 0
        for b in sorted(self.count, reverse=True):
            c = self.count[b]
            take = min(c, k - got)
            part = self.spec[b] * (take / c)
            acc = part if acc is None else acc + part
            got += take
            if got >= k:
                break
        return acc / k

    def result(self) -> dict:
        ltas = self._ltas()
        if ltas is None:
            return {"bandwidth_hz": None}
        rate = self.state.rate
        db = 10 * np.log10(ltas + 1e-20)
        db = np.convolve(db, np.ones(5) / 5, mode="same")
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / rate)
        usable = freqs < rate / 2 * 0.97
        peak = db[usable].max()
        above = np.flatnonzero(usable & (db >= peak - 50.0))
        return {"bandwidth_hz": float(freqs[above[-1]]) if above.size else None}


@check("dropouts", Rule("dropout_ms", "digital-zero gaps inside speech", " ms"))
class Dropouts(Meter):
    """Runs of exact digital zeros (>= 10 ms) between the first and last speech, next to sound.

    A run counts when the 30 ms on each side of it have some sound (RMS > 0.003). Runs wait
    until the VAD has decided where speech starts and ends around them; runs after the last
    region seen so far are summed in one bucket, which the next region's end takes in whole.
    """

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        rate = state.rate
        self.min_len, self.ctx = max(1, int(0.01 * rate)), max(1, int(0.03 * rate))
        self.tail = np.zeros(0, np.float32)  # the last ctx samples before this block
        self.open: tuple[int, float, int] | None = None  # a run still going: (start, before sumsq, before n)
        self.waiting: list[list] = []  # [start, end, before RMS, after sumsq, after n]
        self.undecided: list[tuple[int, int]] = []
        self.total = self.count = 0
        self.bucket_total = self.bucket_count = 0
        self.regions_seen = 0

    def feed(self, blk: Block) -> None:
        x, pos = blk.native, blk.native_pos
        final = not x.size  # the last step carries no new samples
        waiting = []
        for w in self.waiting:  # runs that waited for the sound after them
            got = x[: self.ctx - w[4]]
            w[3] += _sumsq(got)
            w[4] += got.size
            if w[4] >= self.ctx or final:
                self._closed(w)
            else:
                waiting.append(w)
        self.waiting = waiting
        if final:
            self.open = None  # a run that reaches the end of the file has no sound after it
        else:
            buf = np.concatenate([self.tail, x]) if self.tail.size else x
            off = buf.size - x.size
            if self.open is not None and x[0] != 0.0:  # the open run ended at the block boundary
                self._ended(self.open, pos, x[: self.ctx])
                self.open = None
            still_open = None
            for start, length in _runs(x == 0.0):
                if start == 0 and self.open is not None:
                    opened = self.open
                else:
                    before = buf[max(0, off + start - self.ctx): off + start]
                    opened = (pos + start, _sumsq(before), before.size)
                if start + length == x.size:
                    still_open = opened
                else:
                    self._ended(opened, pos + start + length, x[start + length: start + length + self.ctx])
            self.open = still_open
            self.tail = buf[-self.ctx:].copy()
        self._decide(final)

    def _ended(self, opened: tuple[int, float, int], end: int, after: np.ndarray) -> None:
        start, before_ss, before_n = opened
        if end - start < self.min_len or before_n == 0:
            return
        w = [start, end, math.sqrt(before_ss / before_n), _sumsq(after), after.size]
        if after.size >= self.ctx:
            self._closed(w)
        else:
            self.waiting.append(w)

    def _closed(self, w: list) -> None:
        start, end, before_rms, after_ss, after_n = w
        if after_n and before_rms > 0.003 and math.sqrt(after_ss / after_n) > 0.003:
            self.undecided.append((start, end))

    def _decide(self, final: bool) -> None:
        tl = self.state.timeline
        rate = self.state.rate
        if tl.n_regions != self.regions_seen:  # a region ended after everything in the bucket
            self.total += self.bucket_total
            self.count += self.bucket_count
            self.bucket_total = self.bucket_count = 0
            self.regions_seen = tl.n_regions
        if not self.undecided:
            return
        decided = math.inf if final else tl.decided_s * rate
        lo = int(tl.first_start_s * rate) if tl.first_start_s is not None else None
        hi = int(tl.last_end_s * rate) if tl.last_end_s is not None else None
        keep = []
        for a, b in self.undecided:
            if b > decided:
                keep.append((a, b))
            elif lo is None or a < lo:
                continue
            elif hi is not None and b <= hi:
                self.total += int(b - a)
                self.count += 1
            elif not final:
                self.bucket_total += int(b - a)
                self.bucket_count += 1
        self.undecided = keep

    def result(self) -> dict:
        rate = self.state.rate
        return {"dropout_ms": 1000.0 * self.total / rate, "dropout_count": self.count}


@check("dnsmos", Rule("dnsmos_bak", "DNSMOS BAK"), Rule("dnsmos_ovrl", "DNSMOS OVRL"), needs=("dnsmos",))
class DNSMOS(Meter):
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 scores, 1-5 (speechmos's ONNX models).

    9 s windows at 1 s steps, as speechmos scores; a long file is scored on an evenly spaced
    sample of at most ``dnsmos.MAX_WINDOWS`` windows (every window of clips up to ~40 s).
    """

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        from .dnsmos import WindowSampler

        self.sampler = WindowSampler()

    def feed(self, blk: Block) -> None:
        self.sampler.push(blk.x16)

    def result(self) -> dict:
        from .dnsmos import score_windows

        return score_windows(self.sampler.windows(self.state.n16))


from . import consistency as _text_checks  # noqa: E402,F401 - registers the transcript checks too
