"""Decoding in worker processes that may die alone: a crash in native code costs one request, not the server.

``load_audio`` checks every stream before FFmpeg's resampler and numpy see it, so no known input
crashes the process; this is the second wall for the inputs nobody has thought of yet. The server
decodes each upload here: a small pool of ``python -m tingshuo.audio.isolated`` processes, each
taking one file at a time. The samples come back over the worker's stdout pipe as raw float32
(no pickling). A worker that dies mid-file (a segfault, the OOM killer) or runs past the time
limit is killed and replaced, and the request gets ``DecoderCrashed`` or ``DecodeTimedOut``
(both 422 over HTTP: the file is at fault); the other workers and the server carry on. Workers
exit when their parent does (stdin closes, or the parent's pid changes), so none is orphaned.

    >>> pool = IsolatedDecoder(workers=2)                       # doctest: +SKIP
    >>> audio = pool.load("upload.mp3", 16000, max_duration_s=1800, label="talk.mp3")  # doctest: +SKIP
    >>> pool.close()                                            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .. import errors
from ..errors import AudioDecodeError
from ..types import Audio

RECYCLE_RSS_BYTES = 768 * 2**20  # a worker that grew past this (a long file's buffers) is replaced after its job
RECYCLE_AFTER_JOBS = 1000
# Tests set this to a marker: a worker handed a file whose name contains it kills itself with SIGSEGV,
# so that the server's handling of a decoder crash is exercised for real.
CRASH_ENV = "TINGSHUO_TEST_DECODER_CRASH_ON"
_HEADER = struct.Struct("<I")


class DecoderCrashed(AudioDecodeError):
    """The decoder process died on this input (a crash in native code)."""

    http_status = 422


class DecodeTimedOut(AudioDecodeError):
    """Decoding this input ran past the time limit (a damaged or hostile file)."""

    http_status = 422


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit status {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the tingshuo this server runs, not another install
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen([sys.executable, "-m", "tingshuo.audio.isolated"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)
        self.jobs = 0

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def send(self, request: dict) -> None:
        data = json.dumps(request).encode()
        self.proc.stdin.write(_HEADER.pack(len(data)) + data)
        self.proc.stdin.flush()

    def read_exact(self, n: int, deadline: float, into: memoryview | None = None) -> bytes:
        """``n`` bytes from the worker (into ``into`` if given), or raise ``TimeoutError`` / ``EOFError``."""
        fd = self.proc.stdout.fileno()
        buf = into if into is not None else memoryview(bytearray(n))
        got = 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            k = os.readv(fd, [buf[got:n]])
            if k == 0:
                raise EOFError
            got += k
        return b"" if into is not None else bytes(buf)


class IsolatedDecoder:
    """A pool of decoder processes; ``load`` is blocking and thread-safe (call it from worker threads)."""

    def __init__(self, workers: int = 2, timeout_s: float = 300.0) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1.")
        self.size = workers
        self.timeout_s = timeout_s
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self.crashes = 0
        self.timeouts = 0

    def start(self) -> None:
        """Start every worker now (server start-up) instead of on the first uploads."""
        with self._cond:
            missing = self.size - self._count
            self._count += missing
        for _ in range(missing):
            worker = _Worker()
            with self._cond:
                self._idle.append(worker)
                self._cond.notify()

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise AudioDecodeError("The server is shutting down; retry in a moment.")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._count -= 1
                    worker.kill()
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return _Worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        worker.jobs += 1
        keep = (healthy and worker.alive and not self._closed and worker.jobs < RECYCLE_AFTER_JOBS
                and worker.rss_bytes() < RECYCLE_RSS_BYTES)
        if not keep:
            worker.kill()
        with self._cond:
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()

    def load(self, path: str | os.PathLike, sample_rate: int | None = 16000, *, max_duration_s: float | None = None,
             label: str | None = None) -> Audio:
        """``load_audio(path, sample_rate, max_duration_s=...)`` in a worker process."""
        label = label or str(path)
        worker = self._acquire()
        healthy = False
        try:
            result = self._call(worker, {"path": str(path), "sample_rate": sample_rate,
                                         "max_duration_s": max_duration_s, "label": label})
            healthy = True
            return result
        except (DecoderCrashed, DecodeTimedOut):
            raise
        except errors.TingshuoError:
            healthy = True  # the worker answered: this file is bad, the worker is fine
            raise
        finally:
            self._release(worker, healthy)

    def check(self, path: str | os.PathLike, *, label: str | None = None) -> None:
        """Decode ``path`` in a worker and keep nothing: raises ``DecoderCrashed``/``DecodeTimedOut`` for an
        input that must not reach in-process decoding; ordinary decode errors are not raised (the caller's
        own decoding reports them)."""
        label = label or str(path)
        worker = self._acquire()
        healthy = False
        try:
            try:
                self._call(worker, {"path": str(path), "sample_rate": 16000, "max_duration_s": None,
                                    "label": label, "check": True})
            except (DecoderCrashed, DecodeTimedOut):
                raise
            except AudioDecodeError:
                pass
            healthy = True
        finally:
            self._release(worker, healthy)

    def _call(self, worker: _Worker, request: dict) -> Audio:
        label = request["label"]
        deadline = time.monotonic() + self.timeout_s
        try:
            worker.send(request)
            (n,) = _HEADER.unpack(worker.read_exact(_HEADER.size, deadline))
            header = json.loads(worker.read_exact(n, deadline))
            samples = None
            if header.get("ok"):
                samples = np.empty(int(header["n"]), np.float32)
                if samples.size:
                    worker.read_exact(samples.nbytes, deadline, into=memoryview(samples).cast("B"))
        except TimeoutError:
            self.timeouts += 1
            worker.kill()
            raise DecodeTimedOut(f"{label} took longer than {self.timeout_s:g} s to decode and was stopped; "
                                 "the file is probably damaged: re-export it as WAV, FLAC or MP3.") from None
        except (EOFError, OSError, struct.error, ValueError):  # the worker died, or what it sent is not a reply
            worker.kill()
            self.crashes += 1
            raise DecoderCrashed(f"The audio decoder crashed on {label} ({_signal_name(worker.proc.returncode)}); "
                                 "the file is damaged or hostile: re-export it as WAV, FLAC or MP3.") from None
        if samples is None:
            raise _error(header, label)
        return Audio(samples, int(header["rate"]), source=label)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            try:
                worker.proc.stdin.close()  # the worker exits on end of input
            except OSError:
                pass
            worker.kill()


def _error(header: dict, label: str) -> errors.TingshuoError:
    cls = getattr(errors, str(header.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.InputError)):
        cls = AudioDecodeError
    return cls(header.get("message") or f"{label} could not be decoded.")


# ------------------------------------------------------------------------------ the worker side

def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (re-parented), even in the middle of a long decode."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _serve(inp, out) -> None:
    import warnings

    from ..errors import TingshuoError
    from .io import load_audio

    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    crash_marker = os.environ.get(CRASH_ENV) or None
    while True:
        head = inp.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return  # the parent closed our input: done
        (n,) = _HEADER.unpack(head)
        request = json.loads(inp.read(n))
        label = request.get("label") or request["path"]
        samples = None
        if crash_marker and crash_marker in label:  # fault injection for the tests (see CRASH_ENV)
            os.kill(os.getpid(), signal.SIGSEGV)
        try:
            audio = load_audio(request["path"], request.get("sample_rate"),
                               max_duration_s=request.get("max_duration_s"))
            samples = np.ascontiguousarray(audio.samples, np.float32)
            if request.get("check"):
                samples = samples[:0]
            header = {"ok": True, "n": int(samples.size), "rate": int(audio.sample_rate)}
        except TingshuoError as exc:
            header = {"ok": False, "type": type(exc).__name__, "message": str(exc).replace(request["path"], label)}
        except MemoryError:
            header = {"ok": False, "type": "AudioDecodeError",
                      "message": f"{label} decodes to more audio than this server can hold; send a shorter file."}
        except Exception as exc:  # noqa: BLE001 — a decoder failure on this input, told to the parent
            header = {"ok": False, "type": "AudioDecodeError",
                      "message": f"{label} could not be decoded ({type(exc).__name__}: {exc}); "
                                 "re-export it as WAV, FLAC or MP3."}
        data = json.dumps(header).encode()
        out.write(_HEADER.pack(len(data)) + data)
        if samples is not None and samples.size:
            out.write(memoryview(samples).cast("B"))
        out.flush()
        del samples


def main() -> None:
    # Our replies own the real stdout; anything else printed (by a library) goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = os.fdopen(0, "rb")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server's terminal is the server's to handle
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        _serve(inp, out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
