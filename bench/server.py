"""Server benchmark: `tingshuo serve` under 1, 4 and 16 concurrent clients vs faster-whisper behind FastAPI.

    python bench/server.py            # 24 dev clips (14 English, 10 Mandarin); prints JSON (~8 min on 2 cores)
    python bench/server.py --en 24 --zh 16    # the 40 clips of docs/benchmarks-server.md (~12 min)
    python bench/server.py --quick    # 16 clips, concurrency 1 and 16

Both servers are real processes on 127.0.0.1, measured one after the other with the same clips,
the same language per clip, and the same model files (tingshuo.models.resolve("whisper-base"),
CTranslate2 int8, beam 5):
  * ours - `tingshuo serve` (VAD chunking, requests batched dynamically across clients)
  * peer - faster-whisper's WhisperModel.transcribe called per request from a plain FastAPI
           endpoint (sync def, so FastAPI's thread pool calls the one shared model concurrently):
           the common way to put Whisper behind HTTP.
Each client sends its next clip as soon as the previous answer arrives (multipart upload, JSON
answer). Figures per level: throughput (audio seconds transcribed per wall second), p50/p95
request latency, errors, and WER (English) / CER (Mandarin) of the answers. Also: our TTS
time to first byte (streamed WAV, median/p95 of 10 sentences), and each server's peak RSS.
"""

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

# no `from __future__ import annotations`: FastAPI reads the peer endpoint's annotations at run time
import argparse
import concurrent.futures
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import dev_rows, emit, error_rate  # noqa: E402


# ------------------------------------------------------------------ the peer server
def peer_app():
    from fastapi import FastAPI, File, Form, UploadFile
    from faster_whisper import WhisperModel

    from tingshuo.models import resolve

    model = WhisperModel(str(resolve("whisper-base")), device="cpu", compute_type="int8")
    app = FastAPI()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/v1/audio/transcriptions")
    def transcribe(file: UploadFile = File(...), language: str | None = Form(None), model_name: str = Form("x", alias="model")):
        segments, _info = model.transcribe(file.file, beam_size=5, language=language)
        return {"text": "".join(s.text for s in segments).strip()}

    return app


def serve_peer(port: int) -> None:
    import uvicorn

    uvicorn.run(peer_app(), host="127.0.0.1", port=port, log_level="warning")


# ------------------------------------------------------------------ clients
def pick_clips(n_en: int, n_zh: int) -> list[dict]:
    out = []
    for lang, n in (("en", n_en), ("zh", n_zh)):
        rows = [r for r in dev_rows("read", langs=(lang,)) if 1.0 <= r.get("duration_s", 0) <= 15.0]
        step = max(1, len(rows) // n)
        out += rows[::step][:n]
    for r in out:
        r["bytes"] = Path(r["path"]).read_bytes()
    return out


class RSSSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.samples, self._halt = pid, 0.0, [], threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    rss = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
                self.peak_mb = max(self.peak_mb, rss)
                self.samples.append(rss)
            except (OSError, StopIteration):
                pass
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


def run_level(url: str, clips: list[dict], clients: int) -> dict:
    import httpx

    todo = list(range(len(clips)))
    lock = threading.Lock()
    latencies, errors, texts = [], [], {}

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop(0)
                r = clips[i]
                t0 = time.perf_counter()
                try:
                    resp = http.post(url + "/v1/audio/transcriptions",
                                     files={"file": (Path(r["path"]).name, r["bytes"], "audio/wav")},
                                     data={"model": "whisper-1", "language": r["lang"]})
                    ok = resp.status_code == 200
                    if ok:
                        texts[i] = resp.json()["text"]
                    else:
                        errors.append(f"{resp.status_code}: {resp.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - t0
    audio_s = sum(clips[i]["duration_s"] for i in texts)
    lat = sorted(latencies)
    acc = {}
    for lang in ("en", "zh"):
        idx = [i for i, c in enumerate(clips) if c["lang"] == lang]
        if idx:
            acc[lang] = error_rate(lang, [clips[i]["text"] for i in idx], [texts.get(i, "") for i in idx])["value"]
    return {"clients": clients, "requests": len(clips), "errors": len(errors), "error_samples": errors[:3],
            "wall_s": round(wall, 2), "audio_s": round(audio_s, 1),
            "throughput_audio_s_per_s": round(audio_s / wall, 2),
            "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
            "latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
            "wer_en": acc.get("en"), "cer_zh": acc.get("zh")}


def tts_ttfb(url: str, sentences: list[str]) -> dict:
    import httpx

    first, total = [], []
    with httpx.Client(timeout=120) as http:
        for text in sentences:
            t0 = time.perf_counter()
            with http.stream("POST", url + "/v1/audio/speech",
                             json={"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}) as r:
                r.raise_for_status()
                t_first = None
                for chunk in r.iter_bytes():
                    if t_first is None and chunk:
                        t_first = time.perf_counter() - t0
            first.append(t_first)
            total.append(time.perf_counter() - t0)
    first.sort()
    return {"requests": len(sentences), "ttfb_p50_ms": round(1000 * statistics.median(first)),
            "ttfb_p95_ms": round(1000 * first[min(len(first) - 1, int(0.95 * len(first)))]),
            "total_p50_ms": round(1000 * statistics.median(total))}


def engine_batch_gain(data_dir: Path) -> dict:
    """How much one batch of 8 chunks gains over 8 single decodes on this CPU (the ceiling for batching)."""
    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.asr.pipeline import load_engine
    from tingshuo.audio.io import load_audio

    engine = load_engine()
    x = load_audio(data_dir / "jfk.wav").samples[:8 * 16000]
    opts = TranscribeOptions(beam_size=5, batch_size=8)
    engine.transcribe_batch([x], opts, ["en"])
    t0 = time.perf_counter()
    for _ in range(8):
        engine.transcribe_batch([x], opts, ["en"])
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.transcribe_batch([x] * 8, opts, ["en"] * 8)
    batch = time.perf_counter() - t0
    return {"eight_single_s": round(single, 2), "one_batch_of_eight_s": round(batch, 2),
            "gain": round(single / batch, 2)}


def batch_stats(url: str) -> tuple[float, int]:
    """(sum, count) of the server's ASR batch-size histogram; (0, 0) for a server without /metrics."""
    import re

    import httpx

    try:
        text = httpx.get(url + "/metrics", timeout=10).text
        return (float(re.search(r"tingshuo_asr_batch_size_sum (\S+)", text).group(1)),
                int(re.search(r"tingshuo_asr_batch_size_count (\d+)", text).group(1)))
    except (httpx.HTTPError, AttributeError):
        return 0.0, 0


def measure(name: str, srv, clips, levels) -> dict:
    rss = RSSSampler(srv.proc.pid)
    rss.start()
    idle_mb = srv.rss_mb()
    out = {"rss_idle_mb": round(idle_mb, 1)}
    run_level(srv.url, clips[:2], 1)  # warm-up
    for c in levels:
        s0, n0 = batch_stats(srv.url)
        out[f"c{c}"] = run_level(srv.url, clips, c)
        s1, n1 = batch_stats(srv.url)
        if n1 > n0:
            out[f"c{c}"]["asr_batches"] = n1 - n0
            out[f"c{c}"]["mean_requests_per_batch"] = round((s1 - s0) / (n1 - n0), 2)
        out[f"c{c}"]["rss_after_mb"] = round(srv.rss_mb(), 1)
        print(f"{name} c={c}: {out[f'c{c}']['throughput_audio_s_per_s']} audio s/s, "
              f"p50 {out[f'c{c}']['latency_p50_s']} s, errors {out[f'c{c}']['errors']} "
              f"{out[f'c{c}']['error_samples'][:1]}", file=sys.stderr)
    rss.stop()
    out["rss_peak_mb"] = round(rss.peak_mb, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="16 clips, concurrency 1 and 16")
    ap.add_argument("--en", type=int, default=14, help="English dev clips (default: 14)")
    ap.add_argument("--zh", type=int, default=10, help="Mandarin dev clips (default: 10)")
    ap.add_argument("--peer-serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_serve:
        return serve_peer(args.peer_serve)
    from tingshuo.testing.server import ServerProcess

    clips = pick_clips(*((10, 6) if args.quick else (args.en, args.zh)))
    levels = (1, 16) if args.quick else (1, 4, 16)
    result = {"clips": len(clips), "audio_s": round(sum(c["duration_s"] for c in clips), 1),
              "cpu_cores": len(os.sched_getaffinity(0)), "model": "whisper-base int8 beam 5",
              "note": "2 shared CPU cores; other jobs ran on the machine during the measurement"}
    t0 = time.perf_counter()
    with ServerProcess(["--workers", "4", "--batch-size", "16", "--queue-size", "64"]) as srv:
        result["ours"] = measure("ours", srv, clips, levels)
        en = [c["text"] for c in clips if c["lang"] == "en"][:5]
        zh = [c["text"] for c in clips if c["lang"] == "zh"][:5]
        result["ours"]["tts"] = tts_ttfb(srv.url, en + zh)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--peer-serve", "{port}"]
    with ServerProcess(command=cmd) as peer:
        result["peer_faster_whisper_fastapi"] = measure("peer", peer, clips, levels)
    ours, peer = result["ours"], result["peer_faster_whisper_fastapi"]
    top = f"c{levels[-1]}"
    def ratio(m: dict) -> float | None:
        base = m["c1"]["throughput_audio_s_per_s"]
        return round(m[top]["throughput_audio_s_per_s"] / base, 2) if base else None

    result["scaling_16_vs_1"] = {"ours": ratio(ours), "peer": ratio(peer)}
    result["targets"] = {
        "scaling_ge_1.5x": (result["scaling_16_vs_1"]["ours"] or 0) >= 1.5,
        "zero_errors": all(ours[f"c{c}"]["errors"] == 0 for c in levels),
        "rss_bounded_mb": ours["rss_peak_mb"]}
    result["engine_batch_gain_in_process"] = engine_batch_gain(Path(__file__).resolve().parent.parent / "tests" / "data")
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    emit(result)


if __name__ == "__main__":
    main()
