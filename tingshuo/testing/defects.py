"""A tiny labelled quality set made from real clips with numpy-injected defects (for tests).

Rows follow bench/make_inspect_set.py's labels.jsonl: audio, text, lang, defect, strength,
defective, expected_grade. Clean clips are graded high; noise at 5 dB medium; clipping and
silence (the speech replaced by a faint hiss) low.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEFECTS = ("clean", "noise", "clipping", "silence")
GRADE = {"clean": "high", "noise": "medium", "clipping": "low", "silence": "low"}


def inject(wave: np.ndarray, defect: str, rng: np.random.Generator) -> np.ndarray:
    if defect == "clean":
        return wave
    if defect == "noise":  # white noise at 5 dB SNR
        p = float(np.mean(wave.astype(np.float64) ** 2))
        return (wave + rng.standard_normal(wave.size) * np.sqrt(p / 10 ** 0.5)).astype(np.float32)
    if defect == "clipping":  # 8x gain, hard clipped at 0.3 of full scale
        return np.clip(wave * 8.0, -0.3, 0.3).astype(np.float32)
    if defect == "silence":
        return (rng.standard_normal(wave.size) * 1e-4).astype(np.float32)
    raise ValueError(defect)


def make_labelled_set(out_dir: str | Path, clips: list[tuple[str, str, str]], seed: int = 0,
                      defects: tuple[str, ...] = DEFECTS) -> Path:
    """Write ``out_dir/labels.jsonl`` and the WAVs for each (path, text, lang) clip x defect."""
    from ..audio.io import load_audio
    from . import write_wav

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for path, text, lang in clips:
        wave = load_audio(path).samples
        for d in defects:
            name = f"{Path(path).stem}-{d}.wav"
            write_wav(out / name, inject(wave, d, rng))
            rows.append({"audio": name, "text": text, "lang": lang, "defect": d, "strength": 1.0 if d != "clean" else 0.0,
                         "defective": d != "clean", "expected_grade": GRADE[d]})
    labels = out / "labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return labels
