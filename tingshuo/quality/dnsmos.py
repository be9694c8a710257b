"""DNSMOS P.835 / P.808 on onnxruntime with one thread per process (the speechmos package's models).

Long files are scored on an evenly spaced sample of windows (``MAX_WINDOWS``), so an hour
costs about as much as 40 seconds.

speechmos itself opens its sessions on all cores and reloads audio with librosa; this runs its
model files and its feature/polynomial code on our decoded 16 kHz array, one session per process.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelNotInstalled

INPUT_S = 9.01
_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        check_installed()
        import os

        import onnxruntime as ort
        from speechmos import dnsmos as sm

        from .. import models

        base = os.path.dirname(str(models.resolve("dnsmos")))  # the catalog's copy: .../speechmos/dnsmos_models
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        model = sm.DNSMOS.__new__(sm.DNSMOS)
        model.primary_model_path = os.path.join(base, "dnsmos_models", "sig_bak_ovr.onnx")
        model.onnx_sess = ort.InferenceSession(model.primary_model_path, opts, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(os.path.join(base, "dnsmos_models", "model_v8.onnx"), opts,
                                                    providers=["CPUExecutionProvider"])
        _MODEL = model
    return _MODEL


MAX_WINDOWS = 32  # a long file is scored on at most this many windows (each costs ~0.3-1 s of CPU)


def check_installed() -> None:
    """Raise ``ModelNotInstalled`` (with the pip command) unless DNSMOS can run; loads nothing."""
    try:
        import onnxruntime  # noqa: F401
        from speechmos import dnsmos  # noqa: F401
    except ImportError as exc:
        raise ModelNotInstalled("DNSMOS needs speechmos and librosa; install them with: "
                                "pip install 'tingshuo[quality]' (or rerun with --no-dnsmos).") from exc


class WindowSampler:
    """The windows speechmos would score (9.01 s, starting every whole second), from a stream.

    Keeps every ``stride``-th window; when more than ``max_windows`` are kept the stride doubles
    and every other one is dropped, so a file of any length ends with an evenly spaced sample
    of ``max_windows / 2`` to ``max_windows`` windows (all of them for clips up to ~40 s).
    Memory: the kept windows plus one window of recent audio.
    """

    def __init__(self, sample_rate: int = 16000, max_windows: int = MAX_WINDOWS) -> None:
        self.sr = sample_rate
        self.n = int(INPUT_S * sample_rate)
        self.max_windows = max_windows
        self.stride = 1
        self.kept: dict[int, np.ndarray] = {}  # window index (start second) -> samples
        self.head: list[np.ndarray] = []  # the first n samples (short clips are repeated)
        self.head_n = 0
        self.buf = np.zeros(0, np.float32)
        self.buf_start = 0  # sample index of buf[0]
        self.next_k = 0  # next window index to take

    def push(self, x: np.ndarray) -> None:
        if not x.size:
            return
        if self.head_n < self.n:
            part = x[: self.n - self.head_n]
            self.head.append(part.copy())
            self.head_n += part.size
        self.buf = np.concatenate([self.buf, x]) if self.buf.size else x.copy()
        end = self.buf_start + self.buf.size
        while self.next_k * self.sr + self.n <= end:
            lo = self.next_k * self.sr - self.buf_start
            self.kept[self.next_k] = self.buf[lo:lo + self.n].copy()
            self.next_k += self.stride
            if len(self.kept) > self.max_windows:
                self.stride *= 2
                self.kept = {k: w for k, w in self.kept.items() if k % self.stride == 0}
                self.next_k = -(-self.next_k // self.stride) * self.stride
        drop = min(self.next_k * self.sr - self.buf_start, self.buf.size)
        if drop > 0:
            self.buf = self.buf[drop:]
            self.buf_start += drop

    def windows(self, n_samples: int) -> list[np.ndarray]:
        """The windows to score for a stream of ``n_samples`` in all (speechmos's count of hops)."""
        if n_samples == 0:
            return []
        if n_samples < self.n:  # speechmos repeats short clips to fill the window
            audio = np.concatenate(self.head)
            while audio.size < self.n:
                audio = np.concatenate([audio, audio])
            hops = max(1, int(np.floor(audio.size / self.sr) - INPUT_S) + 1)
            return [audio[k * self.sr: k * self.sr + self.n] for k in range(hops)
                    if k * self.sr + self.n <= audio.size]
        hops = max(1, int(np.floor(n_samples / self.sr) - INPUT_S) + 1)
        return [w for k, w in sorted(self.kept.items()) if k < hops]


def score_windows(windows: list[np.ndarray]) -> dict:
    """{'dnsmos_sig', 'dnsmos_bak', 'dnsmos_ovrl', 'dnsmos_p808'} averaged over 9.01 s windows."""
    if not windows:
        return {}
    m = _model()
    sig, bak, ovr, p808 = [], [], [], []
    for seg in windows:
        seg = np.clip(np.asarray(seg, np.float32), -1.0, 1.0)
        p808.append(float(m.p808_onnx_sess.run(None, {"input_1": m.audio_melspec(seg[:-160]).astype(np.float32)[None]})[0][0][0]))
        raw = m.onnx_sess.run(None, {"input_1": seg[None, :]})[0][0]
        s, b, o = m.get_polyfit_val(raw[0], raw[1], raw[2], False)
        sig.append(float(s)), bak.append(float(b)), ovr.append(float(o))
    return {"dnsmos_sig": float(np.mean(sig)), "dnsmos_bak": float(np.mean(bak)),
            "dnsmos_ovrl": float(np.mean(ovr)), "dnsmos_p808": float(np.mean(p808))}


def score(samples: np.ndarray, sample_rate: int = 16000, max_windows: int = MAX_WINDOWS) -> dict:
    """DNSMOS of a whole 16 kHz signal (speechmos's windows; a sample of them on long signals)."""
    sampler = WindowSampler(sample_rate, max_windows)
    x = np.asarray(samples, np.float32)
    for i in range(0, x.size, 10 * sample_rate):
        sampler.push(x[i:i + 10 * sample_rate])
    return score_windows(sampler.windows(x.size))
