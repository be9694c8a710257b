"""What every request shares: the models (loaded once), the worker pool, admission, the ASR batcher.

Admission bounds the work in the process: at most ``queue_size`` requests are waiting or running;
one more gets 429 with ``Retry-After``. Model calls run in worker threads (the event loop only
moves bytes). Concurrent transcription requests are batched dynamically: the batcher thread
takes every request waiting (after ``batch_window_ms`` when it was idle, up to ``batch_size``)
and decodes them together with ``Transcriber.transcribe_many``, whose batches mix chunks of
all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import math
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import TingshuoError
from .config import ServerConfig
from .errors import Overloaded, RequestTimeout
from .metrics import Metrics

log = logging.getLogger("tingshuo.server")
DECODE_TIMEOUT_S = 120.0  # a 25 MB upload decodes in a few seconds; this is for a decoder that hangs


@dataclass
class _Job:
    audio: Any  # tingshuo.types.Audio at 16 kHz
    options: Any  # TranscribeOptions, language included
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    cancelled: bool = False
    queued_at: float = field(default_factory=time.perf_counter)


class ASRBatcher:
    """One thread that decodes waiting transcription requests together."""

    def __init__(self, services: "Services") -> None:
        self.services = services
        self._q: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, audio, options) -> _Job:
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        job = _Job(audio, options, loop, loop.create_future())
        self._q.put(job)
        return job

    @property
    def waiting(self) -> int:
        return self._q.qsize()

    def close(self) -> None:
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=5)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tingshuo-asr-batcher", daemon=True)
                self._thread.start()

    def _collect(self) -> list[_Job] | None:
        first = self._q.get()
        if first is None:
            return None
        batch = [first]
        cfg = self.services.config
        deadline = time.monotonic() + cfg.batch_window_ms / 1000
        while len(batch) < cfg.batch_size:
            try:
                job = self._q.get(timeout=max(0.0, deadline - time.monotonic())) if self._q.empty() else self._q.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._q.put(None)
                break
            batch.append(job)
        return [j for j in batch if not j.cancelled]

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            if not batch:
                continue
            self.services.metrics.batch(len(batch))
            groups: dict[Any, list[_Job]] = {}
            for job in batch:  # one transcribe_many per set of options; the language may differ per request
                groups.setdefault(dataclasses.replace(job.options, language=None), []).append(job)
            for opts, jobs in groups.items():
                self._decode(opts, jobs)
            if self._q.empty():
                trim_heap()  # idle for a moment: give back what the batch freed

    def _decode(self, opts, jobs: list[_Job]) -> None:
        try:
            transcriber = self.services.transcriber()
            results = transcriber.transcribe_many([j.audio for j in jobs], opts,
                                                  languages=[j.options.language for j in jobs])
            for i, result in results:
                _resolve(jobs[i], result)
        except Exception as exc:  # noqa: BLE001 — every waiting request must hear about it
            log.exception("ASR batch failed")
            for job in jobs:
                _resolve(job, exc)


def _resolve(job: _Job, result) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

    job.loop.call_soon_threadsafe(settle)


@functools.lru_cache(maxsize=1)
def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (musl, macOS): nothing to tune
        return None


def trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc; a no-op elsewhere), after a batch of requests.

    Without it a long-running server's RSS creeps up: a 30-min soak went from 993 to 1245 MB,
    growth that a fixed mmap threshold removed (so it is heap fragmentation, not a leak), but that
    threshold cost a third of the throughput (every large buffer mapped and faulted in afresh)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


class Services:
    """Models, pool, admission and metrics for one server process."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="tingshuo-worker")
        from ..audio.isolated import IsolatedDecoder

        # Decoding is checked before the request's deadline starts (a too-long file gets its 413, not a 504),
        # so it has a bound of its own: ample for the largest upload, short for a decoder that hangs.
        self.decoder = IsolatedDecoder(config.decode_workers, timeout_s=DECODE_TIMEOUT_S)
        self.batcher = ASRBatcher(self)
        self._lock = threading.Lock()
        self._transcriber = None
        self._brain = None
        self._admitted = 0
        self._recent_s = 1.0  # moving average of request time, for Retry-After

    # ------------------------------------------------------------------ shared models
    def transcriber(self):
        with self._lock:
            if self._transcriber is None:
                from ..asr.base import TranscribeOptions
                from ..asr.pipeline import Transcriber

                self._transcriber = Transcriber(self.config.model, TranscribeOptions(batch_size=self.config.batch_size),
                                                cpu_threads=self.config.cpu_threads)
            return self._transcriber

    def engine(self):
        return self.transcriber().engine

    def brain(self):
        with self._lock:
            if self._brain is None:
                from ..dialogue.brains import load_brain

                self._brain = load_brain("kb", kb=self.config.kb)
            return self._brain

    def preload(self) -> None:
        """Load the recogniser, the VAD and the knowledge base now (start-up), not on the first request."""
        self.decoder.start()
        t = self.transcriber()
        from ..audio.vad import SileroVAD

        if t._vad is None:
            t._vad = SileroVAD()
        self.brain()
        from ..tts import synthesize_stream

        for text in ("Ready.", "好。"):  # load the default English and Mandarin voices once, now
            try:
                for _ in synthesize_stream(text):
                    pass
            except TingshuoError as exc:  # a voice that is not installed: speech requests will say so
                log.warning("speech not preloaded: %s", exc)

    def close(self) -> None:
        self.decoder.close()
        self.batcher.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ admission and work
    @contextlib.asynccontextmanager
    async def admitted(self):
        """Hold one of ``queue_size`` slots for the request, or raise 429."""
        if self._admitted >= self.config.queue_size:
            retry = max(1, math.ceil(self._recent_s * self._admitted / max(1, self.config.workers)))
            raise Overloaded(f"The server is busy ({self._admitted} requests in progress); retry in {retry} s.", retry)
        self._admitted += 1
        self.metrics.queue_depth = self._admitted
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._admitted -= 1
            self.metrics.queue_depth = self._admitted
            self._recent_s = 0.8 * self._recent_s + 0.2 * (time.perf_counter() - t0)

    async def run(self, fn: Callable, *args) -> Any:
        """``fn(*args)`` in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def transcribe(self, audio, options):
        job = self.batcher.submit(audio, options)
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            job.cancelled = True  # a timed-out request that has not started is skipped
            raise

    async def with_timeout(self, coro):
        try:
            return await asyncio.wait_for(coro, self.config.request_timeout_s)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"The request took longer than {self.config.request_timeout_s:g} s and was "
                                 "stopped; send shorter audio or raise --request-timeout-s.") from None

