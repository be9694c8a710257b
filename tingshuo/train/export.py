"""Export a trained ASR run to ONNX: CMVN + encoder + CTC head, checked against torch.

The export folder is what ``tingshuo transcribe --model DIR`` loads (``tingshuo.asr.onnx_ctc``)::

    model.onnx          inputs  feats (batch, frames, n_mels) float32 raw log-mel, feat_lengths (batch,) int64
                        outputs log_probs (batch, frames', vocab) float32, out_lengths (batch,) int64
    tingshuo-asr.json   vocabulary, language, feature settings, frame shift, parity figures
    tokenizer.json      the training tokenizer (and bpe.model for BPE)

    >>> export_run("runs/cathy")                      # doctest: +SKIP
    {'export_dir': 'runs/cathy/export', 'parity_max_abs_diff': 2e-06, ...}
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..audio import features as F
from ..errors import EngineError

MARKER = "tingshuo-asr.json"
FORMAT_VERSION = 1
PARITY_TOLERANCE = 1e-3  # max |log-prob difference| between torch and onnxruntime


def _wrapper(model, cmvn):
    import torch
    from torch import nn

    class EncoderCTC(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = model.encoder
            self.ctc = model.ctc
            self.register_buffer("mean", torch.tensor(cmvn.mean, dtype=torch.float32))
            self.register_buffer("istd", torch.tensor(cmvn.istd, dtype=torch.float32))

        def forward(self, feats, feat_lengths):
            x = (feats - self.mean) * self.istd
            mask = torch.arange(x.size(1), device=x.device)[None, :] < feat_lengths[:, None]
            x = x * mask.unsqueeze(-1).to(x.dtype)  # padding stays zero after CMVN, as in training
            enc, lengths, _ = self.encoder(x, feat_lengths)
            return torch.log_softmax(self.ctc(enc), dim=-1), lengths

    return EncoderCTC().eval()


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, which: str = "best",
               opset: int = 17) -> dict:
    """Write the export folder and return a summary with the torch/onnxruntime parity figures."""
    import torch

    from .asr import load_asr

    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "export"
    model, tok, cmvn, cfg = load_asr(run_dir, which)
    out.mkdir(parents=True, exist_ok=True)
    wrapper = _wrapper(model, cmvn)
    n_mels = cfg.model.n_mels
    dummy = torch.randn(2, 300, n_mels) * 2 + torch.tensor(cmvn.mean)
    dummy_len = torch.tensor([300, 217], dtype=torch.long)
    onnx_path = out / "model.onnx"
    tmp = out / ".model.onnx.tmp"
    # The TorchScript exporter (dynamo=False) needs no onnxscript and handles these plain modules.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapper, (dummy, dummy_len), str(tmp), input_names=["feats", "feat_lengths"],
                          output_names=["log_probs", "out_lengths"], opset_version=opset, dynamo=False,
                          dynamic_axes={"feats": {0: "batch", 1: "frames"}, "feat_lengths": {0: "batch"},
                                        "log_probs": {0: "batch", 1: "enc_frames"}, "out_lengths": {0: "batch"}})
    os.replace(tmp, onnx_path)
    parity = check_parity(wrapper, onnx_path, n_mels, cmvn)
    if parity["max_abs_diff"] > PARITY_TOLERANCE:
        raise EngineError(f"The ONNX export of {run_dir} disagrees with torch (max |diff| "
                          f"{parity['max_abs_diff']:.2g} > {PARITY_TOLERANCE}); please report it.")
    tok.save(out)
    if tok.kind == "bpe":
        shutil.copy(run_dir / "bpe.model", out / "bpe.model")
    sub = cfg.model.subsampling
    meta = {
        "format": "tingshuo-asr", "version": FORMAT_VERSION, "name": run_dir.resolve().name,
        "architecture": f"{cfg.model.encoder}-ctc", "lang": tok.lang, "vocab": tok.vocab, "blank_id": 0,
        "tokenizer": tok.kind,
        "features": {"type": "log-mel", "sample_rate": F.SAMPLE_RATE, "n_mels": n_mels, "win_length": F.WIN_LENGTH,
                     "hop_length": F.HOP_LENGTH, "n_fft": F.N_FFT, "window": "hann", "mel": "htk", "f_min_hz": 20.0,
                     "log_floor": F.LOG_FLOOR},
        "subsampling": sub, "frame_shift_s": F.HOP_LENGTH * sub / F.SAMPLE_RATE,
        "max_chunk_s": 30.0, "checkpoint": which,
        "parity": parity,
        "model_config": dataclasses.asdict(cfg.model),
    }
    from ..util import atomic_write_text

    atomic_write_text(out / MARKER, json.dumps(meta, ensure_ascii=False, indent=1))
    return {"export_dir": str(out), "onnx": str(onnx_path), "bytes": onnx_path.stat().st_size,
            "parity_max_abs_diff": parity["max_abs_diff"], "parity_greedy_equal": parity["greedy_equal"]}


def check_parity(wrapper, onnx_path: Path, n_mels: int, cmvn, seed: int = 0) -> dict:
    """Run torch and onnxruntime on the same padded batch (lengths unlike the export's dummy)."""
    import onnxruntime as ort
    import torch

    g = torch.Generator().manual_seed(seed)
    mean = torch.tensor(cmvn.mean)
    istd = torch.tensor(cmvn.istd)
    feats = torch.randn(3, 411, n_mels, generator=g) / istd + mean
    lengths = torch.tensor([411, 250, 97], dtype=torch.long)
    with torch.no_grad():
        ref_lp, ref_len = wrapper(feats, lengths)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    lp, out_len = sess.run(None, {"feats": feats.numpy(), "feat_lengths": lengths.numpy()})
    ref = ref_lp.numpy()
    diffs = [float(np.abs(ref[i, :n] - lp[i, :n]).max()) for i, n in enumerate(ref_len.tolist())]
    same_len = bool((out_len == ref_len.numpy()).all())
    greedy_equal = all((ref[i, :n].argmax(-1) == lp[i, :n].argmax(-1)).all() for i, n in enumerate(ref_len.tolist()))
    return {"max_abs_diff": max(diffs) if same_len else float("inf"), "lengths_equal": same_len,
            "greedy_equal": bool(greedy_equal), "batch": [int(x) for x in lengths]}


__all__ = ["MARKER", "check_parity", "export_run"]
