"""Soak test: `tingshuo serve` under mixed good and hostile traffic for a long time.

    python bench/soak.py                    # 30 min, 16 clients; prints JSON, writes bench/results/soak.json
    python bench/soak.py --minutes 3 --warmup-minutes 0.5     # a short check

One real server process on 127.0.0.1 (the default model, --workers 4, 2 decoder processes), started
with the decoder fault-injection marker set, and 16 client threads that loop for the whole run, each
picking its next action at random (weights in ACTIONS):

* good uploads (tests/data speech clips and the corpus files that must be accepted) -> 200;
* bad uploads (every corpus file that must be refused: empty, truncated, random bytes, NaN, 65
  channels, ...) -> 4xx JSON;
* an upload named with the fault-injection marker: its decoder process kills itself (SIGSEGV)
  -> 422 DecoderCrashed, and the server goes on;
* uploads abandoned half-way through the body, and requests abandoned while waiting for the answer;
* live transcription over WebSocket (a clip streamed, then "end"), half of them cut off mid-stream
  without a close frame; WebSocket garbage (text that is not a command, odd-length and random
  binary); typed chat turns (speak=false), some cut off; speech synthesis, some read only in part;
* /healthz and /metrics.

Reported: requests and status codes per action, anything unexpected (a 5xx, a 200 for bad input, a
4xx for good input, a connection refused), the server's RSS (and with its decoder processes) sampled
every --sample-s seconds, its level after the warm-up and at the end, and whether the server was
still answering at the end. Targets (issue 13): zero crashes, zero 5xx from bad input, RSS after the
soak within 20 % of its level after warm-up.
"""

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ACTIONS = {  # action -> weight
    "good_upload": 30, "bad_upload": 25, "crash_upload": 1, "abandon_upload_body": 4, "abandon_waiting": 4,
    "ws_stream": 6, "ws_stream_cut": 6, "ws_garbage": 6, "chat_text": 4, "chat_cut": 2, "speech": 4,
    "speech_cut": 2, "health": 4,
}
MARKER = "soak-decoder-crash-marker"


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


class Soak:
    def __init__(self, url: str, good: list[tuple[str, bytes]], bad: list[tuple[str, bytes]], pcm: list[bytes],
                 deadline: float, seed: int, think_s: float) -> None:
        self.url, self.good, self.bad, self.pcm, self.deadline = url, good, bad, pcm, deadline
        self.think_s = think_s
        self.host, self.port = url.split("//")[1].split(":")
        self.port = int(self.port)
        self.lock = threading.Lock()
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.unexpected: list[dict] = []
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.seed = seed

    def record(self, action: str, outcome, ok: bool, started: float, detail: str = "") -> None:
        with self.lock:
            self.status[action][str(outcome)] += 1
            self.latency[action].append(time.perf_counter() - started)
            if not ok and len(self.unexpected) < 200:
                self.unexpected.append({"t": round(time.time(), 1), "action": action, "outcome": str(outcome),
                                        "detail": detail[:300]})

    # ------------------------------------------------------------------ actions
    def client(self, k: int) -> None:
        import httpx

        rng = random.Random(self.seed * 1000 + k)
        names, weights = zip(*ACTIONS.items())
        with httpx.Client(base_url=self.url, timeout=600) as http:
            while time.monotonic() < self.deadline:
                time.sleep(rng.uniform(0, 2 * self.think_s))  # a pause between one client's actions
                action = rng.choices(names, weights)[0]
                t0 = time.perf_counter()
                try:
                    getattr(self, action)(http, rng, t0)
                except Exception as exc:  # noqa: BLE001 — a client-side failure is a finding, not a stop
                    refused = isinstance(exc, (ConnectionRefusedError, httpx.ConnectError))
                    self.record(action, "refused" if refused else type(exc).__name__, False, t0, repr(exc))
                    if refused:
                        time.sleep(1.0)

    def good_upload(self, http, rng, t0):
        name, data = rng.choice(self.good)
        r = http.post("/v1/audio/transcriptions", files={"file": (name, data)}, data={"response_format": "json"})
        self.record("good_upload", r.status_code, r.status_code == 200, t0, r.text)

    def bad_upload(self, http, rng, t0):
        name, data = rng.choice(self.bad)
        r = http.post("/v1/audio/transcriptions", files={"file": (name, data)})
        ok = 400 <= r.status_code < 500 and "error" in r.json()
        self.record("bad_upload", r.status_code, ok, t0, f"{name}: {r.text}")

    def crash_upload(self, http, rng, t0):
        name, data = rng.choice(self.good)
        r = http.post("/v1/audio/transcriptions", files={"file": (f"{MARKER}-{name}", data)})
        ok = r.status_code == 422 and r.json()["error"]["type"] == "DecoderCrashed"
        self.record("crash_upload", r.status_code, ok, t0, r.text)

    def _raw_request(self, body_fraction: float, data: bytes, wait_s: float) -> None:
        boundary = "soakboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection((self.host, self.port), timeout=30) as s:
            s.sendall(head + body[: int(len(body) * body_fraction)])
            time.sleep(wait_s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST

    def abandon_upload_body(self, http, rng, t0):
        self._raw_request(rng.uniform(0.05, 0.9), rng.choice(self.good)[1], 0.05)
        self.record("abandon_upload_body", "closed", True, t0)

    def abandon_waiting(self, http, rng, t0):
        self._raw_request(1.0, rng.choice(self.good)[1], rng.uniform(0.0, 1.5))
        self.record("abandon_waiting", "closed", True, t0)

    def _ws(self, coro):
        return asyncio.run(coro)

    def ws_stream(self, http, rng, t0, cut: bool = False):
        from websockets.asyncio.client import connect

        pcm = rng.choice(self.pcm)

        async def run():
            ws = await connect(self.url.replace("http", "ws") + "/v1/stream/transcribe", open_timeout=60,
                               max_size=None)
            first = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if first["type"] != "ready":
                await ws.close()
                return "not-ready:" + first.get("error", {}).get("type", "?")
            stop = rng.randrange(len(pcm) // 2) if cut else len(pcm)
            for i in range(0, stop, 6400):  # 0.2 s messages, faster than real time
                await ws.send(pcm[i:min(i + 6400, stop)])
            if cut:
                ws.transport.abort()
                return "cut"
            await ws.send(json.dumps({"type": "end"}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 300))
                if msg["type"] in ("done", "error"):
                    await ws.close()
                    return msg["type"] if msg["type"] == "done" else "error:" + msg["error"]["type"]

        outcome = self._ws(run())
        ok = outcome in ("done", "cut") or outcome in ("not-ready:Overloaded", "error:Overloaded")
        self.record("ws_stream_cut" if cut else "ws_stream", outcome, ok, t0)

    def ws_stream_cut(self, http, rng, t0):
        self.ws_stream(http, rng, t0, cut=True)

    def ws_garbage(self, http, rng, t0):
        from websockets.asyncio.client import connect

        async def run():
            route = rng.choice(["/v1/stream/transcribe", "/v1/chat?speak=false"])
            ws = await connect(self.url.replace("http", "ws") + route, open_timeout=60)
            await asyncio.wait_for(ws.recv(), 120)
            for _ in range(rng.randrange(1, 6)):
                if rng.random() < 0.5:
                    await ws.send(rng.choice(["nope", "{}", '{"type": 7}', "[]", "\x00" * 50]))
                else:
                    await ws.send(os.urandom(rng.randrange(1, 20000)))
            ws.transport.abort()
            return "aborted"

        self.record("ws_garbage", self._ws(run()), True, t0)

    def chat_text(self, http, rng, t0, cut: bool = False):
        from websockets.asyncio.client import connect

        question = rng.choice(["How do I open an account?", "我的卡丢了怎么办？", "What are your opening hours?",
                               "Can I transfer money abroad?", "asdf qwerty", "Привет"])

        async def run():
            ws = await connect(self.url.replace("http", "ws") + "/v1/chat?speak=false", open_timeout=60)
            first = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if first["type"] != "ready":
                return "not-ready"
            await ws.send(json.dumps({"type": "text", "text": question}))
            if cut:
                ws.transport.abort()
                return "cut"
            await ws.send(json.dumps({"type": "close"}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 300))
                if msg["type"] in ("bot_text_end", "error"):
                    await ws.close()
                    return msg["type"]

        outcome = self._ws(run())
        self.record("chat_cut" if cut else "chat_text", outcome, outcome in ("bot_text_end", "cut"), t0)

    def chat_cut(self, http, rng, t0):
        self.chat_text(http, rng, t0, cut=True)

    def speech(self, http, rng, t0, cut: bool = False):
        text = rng.choice(["Hello, this is a soak test.", "我们明天上午九点见。", "Add ½ cup of water.", "Привет! Hello.",
                           "😀"])
        with http.stream("POST", "/v1/audio/speech", json={"input": text, "response_format": "wav"}) as r:
            n = 0
            for chunk in r.iter_bytes():
                n += len(chunk)
                if cut and n > 2000:
                    break
        expect = 400 if text == "😀" else 200
        self.record("speech_cut" if cut else "speech", r.status_code, r.status_code == expect, t0, text)

    def speech_cut(self, http, rng, t0):
        self.speech(http, rng, t0, cut=True)

    def health(self, http, rng, t0):
        r = http.get(rng.choice(["/healthz", "/metrics"]))
        self.record("health", r.status_code, r.status_code == 200, t0)


def inputs(tmp: Path):
    import numpy as np

    from tingshuo.audio.io import load_audio
    from tingshuo.testing.badaudio import make_corpus

    data = REPO / "tests" / "data"
    speech = [p for p in sorted(data.glob("*.wav")) if "silence" not in p.name and "noise" not in p.name]
    good = [(p.name, p.read_bytes()) for p in speech] * 4  # real speech: the recogniser's work
    # The odd-but-valid corpus files (channels, rates, names, ...) hold quiet noise: their point is decoding,
    # and the voice activity detector spares the recogniser.
    quiet = (np.random.default_rng(0).standard_normal(16000) * 1e-3).astype(np.float32)
    cases = make_corpus(tmp, long_s=60.0, fifo=False, speech=quiet)
    def name(p: Path) -> str:  # a file name that is not UTF-8 cannot go into a multipart header as it is
        return p.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    good += [(name(c.path), c.path.read_bytes()) for c in cases if c.expect_ok and c.path.is_file()]
    bad = [(name(c.path), c.path.read_bytes())
           for c in cases if not c.expect_ok and c.path.is_file() and not c.path.is_symlink()]
    pcm = [(np.clip(load_audio(p).samples, -1, 1) * 32767).astype("<i2").tobytes() for p in speech]
    return good, bad, pcm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the soak (default: 30)")
    ap.add_argument("--warmup-minutes", type=float, default=3.0,
                    help="RSS after this much traffic is the baseline (default: 3)")
    ap.add_argument("--clients", type=int, default=16, help="client threads (default: 16)")
    ap.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval (default: 10)")
    ap.add_argument("--think-s", type=float, default=1.0,
                    help="mean pause between one client's actions, uniform in [0, 2x] (default: 1)")
    ap.add_argument("--model", default=None, help="recogniser (default: the catalog default)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "soak.json"))
    args = ap.parse_args()

    from tingshuo.audio.isolated import CRASH_ENV
    from tingshuo.testing.server import ServerProcess

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tingshuo-soak-"))
    good, bad, pcm = inputs(tmp / "corpus")
    server_args = ["--workers", "4"] + (["--model", args.model] if args.model else [])
    with ServerProcess(server_args, env={CRASH_ENV: MARKER}, tmp_dir=tmp / "server-tmp") as srv:
        pid = srv.proc.pid
        start = time.monotonic()
        deadline = start + args.minutes * 60
        soak = Soak(srv.url, good, bad, pcm, deadline, args.seed, args.think_s)
        rss: list[dict] = []
        threads = [threading.Thread(target=soak.client, args=(k,), daemon=True) for k in range(args.clients)]
        for t in threads:
            t.start()
        rss.append({"t_s": 0.0, "server_mb": rss_mb(pid), "with_decoders_mb": rss_mb(pid)})
        while time.monotonic() < deadline and srv.proc.poll() is None:
            time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
            kids = children(pid)
            rss.append({"t_s": round(time.monotonic() - start, 1), "server_mb": round(rss_mb(pid), 1),
                        "with_decoders_mb": round(rss_mb(pid) + sum(rss_mb(c) for c in kids), 1),
                        "decoders": len(kids)})
        for t in threads:
            t.join(timeout=660)
        alive = srv.proc.poll() is None
        health = None
        if alive:
            import httpx

            health = httpx.get(srv.url + "/healthz", timeout=30).json()
        exit_code = srv.proc.returncode
    log = srv.log_path.read_text(errors="replace")
    shutil.copyfile(srv.log_path, Path(args.out).with_suffix(".server.log"))
    shutil.rmtree(tmp, ignore_errors=True)

    warm = [r for r in rss if r["t_s"] <= args.warmup_minutes * 60][-3:] or rss[:1]
    warm_mb = statistics.median(r["server_mb"] for r in warm)
    end_mb = statistics.median(r["server_mb"] for r in rss[-3:])
    total = sum(sum(c.values()) for c in soak.status.values())
    fives = sum(n for c in soak.status.values() for code, n in c.items() if code.isdigit() and int(code) >= 500)
    result = {
        "minutes": args.minutes, "clients": args.clients, "think_s": args.think_s, "model": args.model or "default",
        "load_average_at_end": os.getloadavg(),
        "requests": total, "by_action": {a: dict(c) for a, c in sorted(soak.status.items())},
        "median_latency_s": {a: round(statistics.median(v), 3) for a, v in sorted(soak.latency.items()) if v},
        "max_latency_s": {a: round(max(v), 3) for a, v in sorted(soak.latency.items()) if v},
        "unexpected": soak.unexpected, "n_unexpected": len(soak.unexpected), "http_5xx": fives,
        "server_alive_at_end": alive, "server_exit_code": exit_code, "healthz_at_end": health,
        "server_log_tracebacks": log.count("Traceback"),
        "server_log_errors": [ln for ln in log.splitlines() if ln.startswith(("ERROR", "Traceback", "Task exception"))][:20],
        "rss_after_warmup_mb": round(warm_mb, 1), "rss_end_mb": round(end_mb, 1),
        "rss_end_vs_warmup": round(end_mb / warm_mb, 3) if warm_mb else None,
        "rss_peak_mb": round(max(r["server_mb"] for r in rss), 1),
        "rss_with_decoders_peak_mb": round(max(r["with_decoders_mb"] for r in rss), 1),
        "rss_series": rss,
    }
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    brief = {k: v for k, v in result.items() if k != "rss_series"}
    brief["rss_series_every_min"] = [r for r in rss if int(r["t_s"]) % 60 < args.sample_s]
    print(json.dumps(brief, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
