"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

A handful of counters, gauges and histograms do not justify a dependency; the format is the
one https://prometheus.io/docs/instrumenting/exposition_formats/ specifies.
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Histogram:
    def __init__(self, buckets) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1


def _labels(**kw) -> str:
    def esc(v) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kw.items()) + "}" if kw else ""


class Metrics:
    """Thread-safe: worker threads add audio seconds and batch sizes, the event loop the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        self.audio_s: dict[str, float] = defaultdict(float)
        self.batches = Histogram(BATCH_BUCKETS)
        self.websockets: dict[str, int] = defaultdict(int)
        self.queue_depth = 0  # requests admitted: waiting or running
        self.ws_open = 0

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            self.latency.setdefault(route, Histogram(LATENCY_BUCKETS_S)).observe(seconds)

    def audio(self, route: str, seconds: float) -> None:
        with self._lock:
            self.audio_s[route] += seconds

    def batch(self, n: int) -> None:
        with self._lock:
            self.batches.observe(n)

    def render(self) -> str:
        with self._lock:
            out = ["# HELP tingshuo_requests_total HTTP requests by route, method and status.",
                   "# TYPE tingshuo_requests_total counter"]
            for (route, method, status), n in sorted(self.requests.items()):
                out.append(f"tingshuo_requests_total{_labels(route=route, method=method, status=status)} {n}")
            out += ["# HELP tingshuo_request_duration_seconds Time from request to the end of the response.",
                    "# TYPE tingshuo_request_duration_seconds histogram"]
            for route, h in sorted(self.latency.items()):
                out += _histogram("tingshuo_request_duration_seconds", h, route=route)
            out += ["# HELP tingshuo_queue_depth Requests admitted and not finished (waiting or running).",
                    "# TYPE tingshuo_queue_depth gauge", f"tingshuo_queue_depth {self.queue_depth}",
                    "# HELP tingshuo_audio_seconds_total Seconds of audio processed, by route.",
                    "# TYPE tingshuo_audio_seconds_total counter"]
            for route, s in sorted(self.audio_s.items()):
                out.append(f"tingshuo_audio_seconds_total{_labels(route=route)} {s:.3f}")
            out += ["# HELP tingshuo_asr_batch_size Requests decoded together in one ASR batch.",
                    "# TYPE tingshuo_asr_batch_size histogram"]
            out += _histogram("tingshuo_asr_batch_size", self.batches)
            out += ["# HELP tingshuo_websocket_sessions_total WebSocket sessions opened, by route.",
                    "# TYPE tingshuo_websocket_sessions_total counter"]
            for route, n in sorted(self.websockets.items()):
                out.append(f"tingshuo_websocket_sessions_total{_labels(route=route)} {n}")
            out += ["# HELP tingshuo_websocket_open WebSocket sessions open now.",
                    "# TYPE tingshuo_websocket_open gauge", f"tingshuo_websocket_open {self.ws_open}"]
        return "\n".join(out) + "\n"


def _histogram(name: str, h: Histogram, **labels) -> list[str]:
    lines = [f"{name}_bucket{_labels(**labels, le=b)} {c}" for b, c in zip(h.buckets, h.counts)]
    lines.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {h.total}")
    lines.append(f"{name}_sum{_labels(**labels)} {h.sum:.6f}")
    lines.append(f"{name}_count{_labels(**labels)} {h.total}")
    return lines
