"""Build the labelled inspection benchmark: clean dev clips with injected defects at several strengths.

    python bench/make_inspect_set.py out/inspect-set [--per-defect 12] [--seed 0]

Writes OUTDIR/labels.jsonl (+ OUTDIR/audio/*) with rows:
  {"audio", "text", "lang", "defect", "strength", "defective", "expected_grade", "source"}
``text``/``lang`` are what the inspector is given (swapped or wrong-language for those defects).
``defective`` marks clearly defective strengths (precision/recall are scored on those); weaker
strengths are kept to show where detection fades. Deterministic for a seed; a finished set
(OUTDIR/.complete with the same parameters) is reused.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DEV, dev_rows  # noqa: E402

SR = 16000
NOISES = ["noise/speechbrain/noise2.wav", "noise/speechbrain/noise3.wav", "noise/speechbrain/noise4.wav",
          "noise/noisereduce/cafe_short.wav", "noise/pyroomacoustics/doing_the_dishes.wav",
          "noise/pyroomacoustics/exercise_bike.wav"]


def _load(path):
    from tingshuo.audio.io import load_audio

    return load_audio(path, SR).samples


def _save(out: Path, name: str, x: np.ndarray, fmt: str = "wav", rate: int = SR) -> str:
    from tingshuo.audio.io import encode_audio
    from tingshuo.types import Audio

    path = out / "audio" / f"{name}.{fmt}"
    path.write_bytes(encode_audio(Audio(np.clip(x, -1, 1).astype(np.float32), rate), fmt))
    return str(path.relative_to(out))


def _speech_span(x: np.ndarray) -> tuple[int, int]:
    from tingshuo.audio.vad import detect_speech

    reg = detect_speech(x)
    if not reg:
        return 0, x.size
    return int(reg[0][0] * SR), int(reg[-1][1] * SR)


def build(out: Path, per_defect: int, seed: int) -> Path:
    out = Path(out)
    stamp = out / ".complete"
    params = {"per_defect": per_defect, "seed": seed, "version": 1}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return out / "labels.jsonl"
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = [r for r in dev_rows("read") if 1.5 <= r["duration_s"] <= 12.0]
    en = [r for r in rows if r["lang"] == "en"]
    zh = [r for r in rows if r["lang"] == "zh"]
    rng.shuffle(en)
    rng.shuffle(zh)
    # half English, half Mandarin in every group; each clip used once
    pool = [x for pair in zip(en, zh) for x in pair]
    pool += en[len(zh):] + zh[len(en):]
    need = per_defect * 23
    if len(pool) < need:
        sys.exit(f"only {len(pool)} clean dev clips; --per-defect {per_defect} needs {need}")
    take = iter(pool)
    noises = [_load(DEV / n) for n in NOISES]
    labels: list[dict] = []
    later: list[dict] = []  # duplicates go after all originals

    def row(name, src, x, defect, strength, defective, grade, text=None, lang=None, fmt="wav", rate=SR):
        audio = _save(out, name, x, fmt, rate)
        return {"audio": audio, "text": src["text"] if text is None else text, "lang": lang or src["lang"],
                "defect": defect, "strength": strength, "defective": defective, "expected_grade": grade,
                "source": src["audio"]}

    n_clean = 3 * per_defect
    for k in range(n_clean):
        src = next(take)
        labels.append(row(f"clean_{k:03d}", src, _load(src["path"]), "clean", 0, False, "high"))
    originals = list(labels)
    for snr in (0, 5, 10, 20):
        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"])
            nz = noises[k % len(noises)]
            start = int(rng.integers(0, max(1, nz.size - x.size)))
            n = np.resize(nz[start:start + x.size], x.size)
            gain = np.sqrt(np.mean(x ** 2) / (np.mean(n ** 2) + 1e-12) / 10 ** (snr / 10))
            labels.append(row(f"noise{snr}_{k:03d}", src, x + gain * n, "noise", snr, snr <= 5,
                              "low" if snr <= 5 else "medium" if snr == 10 else "high"))
    for frac in (0.0005, 0.01, 0.05):
        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"])
            lvl = np.quantile(np.abs(x), 1 - frac)
            labels.append(row(f"clip{frac}_{k:03d}", src, np.clip(x / lvl, -1, 1), "clipping", frac, frac >= 0.01,
                              "low" if frac >= 0.01 else "medium"))
    for sil in (1.0, 4.0, 8.0):
        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"])
            pad = (rng.standard_normal(int(sil * SR)) * 10 ** (-70 / 20)).astype(np.float32)
            labels.append(row(f"sil{sil:g}_{k:03d}", src, np.concatenate([pad, x, pad[::-1]]), "silence", sil,
                              sil >= 4, "medium" if sil >= 4 else "high"))
    for k in range(per_defect):
        src = next(take)
        x = _load(src["path"])
        nz = noises[k % len(noises)][: x.size]
        quiet = np.resize(nz, x.size) * 10 ** (-45 / 20) / (np.sqrt(np.mean(nz ** 2)) + 1e-9)
        labels.append(row(f"silent_{k:03d}", src, quiet.astype(np.float32), "all_silent", "room noise -45 dBFS",
                          True, "low"))
    for gap_ms in (30, 100, 250):
        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"]).copy()
            a, b = _speech_span(x)
            g = int(gap_ms / 1000 * SR)
            for c in (0.3, 0.6):
                s = a + int((b - a) * c)
                x[s:s + g] = 0.0
            labels.append(row(f"drop{gap_ms}_{k:03d}", src, x, "dropout", gap_ms, gap_ms >= 100,
                              "low" if gap_ms >= 100 else "medium"))
    for rate in (8000, 11025):
        from tingshuo.audio.resample import resample

        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"])
            y = resample(resample(x, SR, rate), rate, SR)
            labels.append(row(f"band{rate}_{k:03d}", src, y, "bandlimit", rate, rate == 8000,
                              "medium" if rate == 8000 else "high"))
    for keep in (0.5, 0.7):
        for k in range(per_defect):
            src = next(take)
            x = _load(src["path"])
            a, b = _speech_span(x)
            cut = a + int((b - a) * keep)
            labels.append(row(f"trunc{keep}_{k:03d}", src, x[:cut], "truncation", keep, True, "low"))
    for k in range(per_defect):
        src = next(take)
        others = [r for r in pool if r["lang"] == src["lang"] and r is not src]
        wrong = others[int(rng.integers(0, len(others)))]
        labels.append(row(f"swap_{k:03d}", src, _load(src["path"]), "swapped_text", "other clip's text", True, "low",
                          text=wrong["text"]))
    for k in range(per_defect):
        src = next(take)
        other_lang = "zh" if src["lang"] == "en" else "en"
        others = [r for r in pool if r["lang"] == other_lang]
        wrong = others[int(rng.integers(0, len(others)))]
        labels.append(row(f"wronglang_{k:03d}", src, _load(src["path"]), "wrong_language", other_lang, True, "low",
                          text=wrong["text"], lang=other_lang))
    for k in range(per_defect):  # exact: the same PCM in another container
        o = originals[k % len(originals)]
        import soundfile as sf

        name = f"audio/dupx_{k:03d}.flac"
        x, rate = sf.read(str(out / o["audio"]), dtype="int16")
        sf.write(str(out / name), x, rate, subtype="PCM_16")  # the same 16-bit samples, losslessly
        later.append({"audio": name, "text": o["text"], "lang": o["lang"], "defect": "duplicate_exact",
                      "strength": "flac copy", "defective": True, "expected_grade": "low", "source": o["source"]})
    from tingshuo.audio.resample import resample

    for k in range(per_defect):  # near: re-encoded / resampled / gain / trimmed
        o = originals[(k + per_defect) % len(originals)]
        x = _load(out / o["audio"])
        kind = ("mp3 48 kbps, -6 dB", "22.05 kHz, +4 dB", "trim 0.2 s + opus", "8 kHz mp3")[k % 4]
        meta = {"text": o["text"], "lang": o["lang"], "audio": o["source"]}
        if k % 4 == 0:
            from tingshuo.audio.io import encode_audio, load_audio
            from tingshuo.types import Audio

            y = load_audio(encode_audio(Audio(x * 0.5, SR), "mp3", bitrate=48000), SR).samples
            r = row(f"dupn_{k:03d}", meta, y, "duplicate_reencoded", kind, True, "low", fmt="mp3")
        elif k % 4 == 1:
            r = row(f"dupn_{k:03d}", meta, resample(x * 1.6, SR, 22050), "duplicate_reencoded", kind, True, "low",
                    rate=22050)
        elif k % 4 == 2:
            r = row(f"dupn_{k:03d}", meta, x[int(0.2 * SR):], "duplicate_reencoded", kind, True, "low", fmt="ogg")
        else:
            r = row(f"dupn_{k:03d}", meta, resample(x, SR, 8000), "duplicate_reencoded", kind, True, "low",
                    fmt="mp3", rate=8000)
        later.append(r)
    order = rng.permutation(len(labels))
    final = [labels[i] for i in order] + later
    (out / "labels.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in final),
                                      encoding="utf-8")
    stamp.write_text(json.dumps(params))
    return out / "labels.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-defect", type=int, default=8, help="clips per defect and strength (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    path = build(a.out, a.per_defect, a.seed)
    n = sum(1 for _ in open(path, encoding="utf-8"))
    print(json.dumps({"labels": str(path), "rows": n}))


if __name__ == "__main__":
    main()
