"""DNSMOS P.835 / P.808 on onnxruntime with one thread per process (the speechmos package's models).

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
        try:
            import onnxruntime as ort
            from speechmos import dnsmos as sm
        except ImportError as exc:
            raise ModelNotInstalled("DNSMOS needs speechmos and librosa; install them with: "
                                    "pip install 'tingshuo[quality]' (or rerun with --no-dnsmos).") from exc
        import os

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


def score(samples: np.ndarray, sample_rate: int = 16000) -> dict:
    """{'dnsmos_sig', 'dnsmos_bak', 'dnsmos_ovrl', 'dnsmos_p808'} averaged over 9 s windows, 1 s hop."""
    m = _model()
    audio = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    n = int(INPUT_S * sample_rate)
    if audio.size == 0:
        return {}
    while audio.size < n:  # speechmos repeats short clips to fill the window
        audio = np.concatenate([audio, audio])
    hops = int(np.floor(audio.size / sample_rate) - INPUT_S) + 1
    sig, bak, ovr, p808 = [], [], [], []
    for k in range(max(1, hops)):
        seg = audio[k * sample_rate: k * sample_rate + n]
        if seg.size < n:
            continue
        p808.append(float(m.p808_onnx_sess.run(None, {"input_1": m.audio_melspec(seg[:-160]).astype(np.float32)[None]})[0][0][0]))
        raw = m.onnx_sess.run(None, {"input_1": seg[None, :]})[0][0]
        s, b, o = m.get_polyfit_val(raw[0], raw[1], raw[2], False)
        sig.append(float(s)), bak.append(float(b)), ovr.append(float(o))
    return {"dnsmos_sig": float(np.mean(sig)), "dnsmos_bak": float(np.mean(bak)),
            "dnsmos_ovrl": float(np.mean(ovr)), "dnsmos_p808": float(np.mean(p808))}
