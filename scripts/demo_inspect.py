"""Build a small mixed-quality dataset from the bundled clips (tests/data) for the inspect demo.

    python scripts/demo_inspect.py out/inspect-demo-set     # writes manifest.jsonl + wavs

Clean English and Mandarin clips, and copies with known defects: noise, clipping, long
silences, a dropout, telephone band-limiting, truncation, exact and re-encoded duplicates,
a swapped transcript, a wrong-language transcript, an all-silent clip and a corrupt file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tingshuo.audio.io import encode_audio, load_audio  # noqa: E402
from tingshuo.audio.resample import resample  # noqa: E402
from tingshuo.testing import corrupt_copy, write_wav  # noqa: E402
from tingshuo.types import Audio  # noqa: E402

DATA = ROOT / "tests" / "data"
SR = 16000


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    refs = {json.loads(x)["audio"]: json.loads(x) for x in open(DATA / "manifest.jsonl", encoding="utf-8")}
    clip = lambda name: load_audio(DATA / name, SR).samples  # noqa: E731
    rng = np.random.default_rng(0)
    rows = []

    def add(name, x, src, text=None, lang=None, fmt="wav", note=""):
        path = out / f"{name}.{fmt}"
        if fmt == "wav":
            write_wav(path, np.clip(x, -1, 1))
        else:
            path.write_bytes(encode_audio(Audio(np.clip(x, -1, 1), SR), fmt))
        rows.append({"audio": path.name, "text": refs[src]["text"] if text is None else text,
                     "lang": lang or refs[src]["lang"], "note": note})

    a1, a5 = clip("cathy_a0001.wav"), clip("cathy_a0005.wav")
    z1, z2 = clip("zh_funasr_example.wav"), clip("zh_aishell_S0724W0121.wav")
    add("clean_en_1", a1, "cathy_a0001.wav", note="clean")
    add("clean_en_2", a5, "cathy_a0005.wav", note="clean")
    add("clean_zh_1", z1, "zh_funasr_example.wav", note="clean")
    add("clean_zh_2", z2, "zh_aishell_S0724W0121.wav", note="clean")
    noise = np.resize(clip("noise_cafe.wav"), a5.size)
    add("noisy_0db", a5 + noise * np.sqrt(np.mean(a5 ** 2) / np.mean(noise ** 2)), "cathy_a0005.wav", note="noise 0 dB")
    add("clipped", a1 / np.quantile(np.abs(a1), 0.97), "cathy_a0001.wav", note="3% clipped")
    pad = (rng.standard_normal(5 * SR) * 3e-4).astype(np.float32)
    add("long_silence", np.concatenate([pad, z2, pad]), "zh_aishell_S0724W0121.wav", note="5 s silence each end")
    d = z1.copy()
    d[int(2.0 * SR):int(2.2 * SR)] = 0.0
    add("dropout", d, "zh_funasr_example.wav", note="200 ms digital zeros")
    add("telephone", resample(resample(a1, SR, 8000), 8000, SR), "cathy_a0001.wav", note="8 kHz upsampled")
    add("truncated", z1[: int(z1.size * 0.55)], "zh_funasr_example.wav", note="cut at 55%")
    add("dup_exact", a5, "cathy_a0005.wav", fmt="flac", note="exact copy (FLAC)")
    add("dup_mp3", a1[4000:] * 0.6, "cathy_a0001.wav", fmt="mp3", note="trimmed, quieter, MP3")
    add("swapped_text", z2, "zh_aishell_S0724W0121.wav", text=refs["zh_funasr_example.wav"]["text"],
        note="another clip's transcript")
    add("wrong_language", a5, "cathy_a0005.wav", text="广州市房地产中介协会分析", lang="zh",
        note="transcript and declared language are Mandarin")
    add("all_silent", (rng.standard_normal(3 * SR) * 3e-4).astype(np.float32), "noise_cafe.wav", note="no speech")
    corrupt_copy(DATA / "cathy_a0005.wav", out / "corrupt.wav")
    rows.append({"audio": "corrupt.wav", "text": refs["cathy_a0005.wav"]["text"], "lang": "en", "note": "corrupt"})
    (out / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    print(out / "manifest.jsonl")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/inspect-demo-set"))
