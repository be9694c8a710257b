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
        if fmt in ("wav", "flac"):  # libsndfile: FLAC holds exactly the WAV's 16-bit samples
            write_wav(path, np.clip(x, -1, 1))
        else:
            path.write_bytes(encode_audio(Audio(np.clip(x, -1, 1), SR), fmt))
        rows.append({"audio": path.name, "text": (refs[src]["text"] if text is None else text) or None,
                     "lang": lang or refs[src]["lang"], "note": note})

    a1, a5 = clip("cathy_a0001.wav"), clip("cathy_a0005.wav")
    z1, z2 = clip("zh_funasr_example.wav"), clip("zh_aishell_S0724W0121.wav")
    o3 = clip("onetwothree_u8_44k.wav")
    # jfk.wav cut at its pauses gives five different phrases (no transcripts), so that each defect
    # below has audio of its own and only the planted duplicates are duplicates.
    from tingshuo.audio.vad import detect_speech

    jfk = clip("jfk.wav")
    parts = [jfk[int(s * SR):int(e * SR)] for s, e in detect_speech(jfk)]
    parts = (parts + parts)[:5] if len(parts) < 5 else parts
    add("clean_en", a1, "cathy_a0001.wav", note="clean")
    add("clean_zh", z2, "zh_aishell_S0724W0121.wav", note="clean")
    add("clean_en_44k_u8", o3, "onetwothree_u8_44k.wav", note="clean (8-bit 44.1 kHz original)")
    noise = np.resize(clip("noise_cafe.wav"), parts[0].size)
    noisy = parts[0] + noise * np.sqrt(np.mean(parts[0] ** 2) / np.mean(noise ** 2))
    add("noisy_0db", noisy * (0.9 / np.abs(noisy).max()), "jfk.wav", text="", note="cafe noise at 0 dB SNR")
    add("clipped", parts[1] / np.quantile(np.abs(parts[1]), 0.97), "jfk.wav", text="", note="3% clipped")
    pad = (rng.standard_normal(5 * SR) * 3e-4).astype(np.float32)
    add("long_silence", np.concatenate([pad, a5, pad]), "cathy_a0005.wav", note="5 s silence at each end")
    d = parts[2].copy()
    d[d.size // 3:d.size // 3 + int(0.2 * SR)] = 0.0
    add("dropout", d, "jfk.wav", text="", note="200 ms of digital zeros inside speech")
    add("telephone", resample(resample(parts[3], SR, 8000), 8000, SR), "jfk.wav", text="", note="8 kHz, upsampled")
    add("truncated", z1[: int(z1.size * 0.55)], "zh_funasr_example.wav", note="audio cut at 55%, full transcript")
    add("dup_exact", a1, "cathy_a0001.wav", fmt="flac", note="exact copy of clean_en (FLAC)")
    add("dup_mp3", a1[4000:] * 0.6, "cathy_a0001.wav", fmt="mp3", note="clean_en trimmed, quieter, MP3")
    add("swapped_text", parts[4], "jfk.wav", text=refs["cathy_a0005.wav"]["text"], lang="en",
        note="another clip's transcript")
    add("wrong_language", z1[int(z1.size * 0.55):], "zh_funasr_example.wav", text="Will we ever forget it?",
        lang="en", note="Mandarin audio (the rest of the truncated clip), English transcript and language")
    add("all_silent", (rng.standard_normal(3 * SR) * 3e-4).astype(np.float32), "noise_cafe.wav", note="no speech")
    corrupt_copy(DATA / "cathy_a0005.wav", out / "corrupt.wav")
    rows.append({"audio": "corrupt.wav", "text": refs["cathy_a0005.wav"]["text"], "lang": "en", "note": "corrupt"})
    (out / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    print(out / "manifest.jsonl")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/inspect-demo-set"))
