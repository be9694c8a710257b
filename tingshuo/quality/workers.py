"""Local worker processes for per-item work: they die with their parent, and a crash stays one item's.

    >>> from tingshuo.quality.measure import measure_file
    >>> with LocalExecutor(2) as ex:                                           # doctest: +SKIP
    ...     for tag, out in ex.map(measure_file, [("a", ("a.wav", False))]):
    ...         print(tag, out)            # a SignalResult, or a WorkerCrashed for that item

This is the local executor of "one batch engine, two executors": the driver hands it
``(tag, args)`` tasks for a plain function and gets ``(tag, result)`` back in completion order;
another executor (Ray actors) can take its place without the driver changing.

- Workers die with their parent: on Linux each asks the kernel for SIGKILL when its parent
  dies (``prctl(PR_SET_PDEATHSIG)``), and everywhere a watchdog thread exits the worker once its
  parent is gone. A ``ProcessPoolExecutor``'s workers otherwise outlive a SIGKILLed parent.
- A worker that dies (native crash, out of memory) breaks a ``ProcessPoolExecutor`` and every
  task in flight with it. The tasks in flight are then rerun one at a time on a fresh pool, so
  the one that kills its worker alone is reported as ``WorkerCrashed`` and the others finish.
- Ctrl-C reaches only the parent (workers ignore SIGINT); leaving the ``with`` block early kills
  the workers instead of waiting for their current item.
"""

from __future__ import annotations

import os
import queue as _queue
import signal
import sys
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_S = 0.5  # how often a worker looks for its parent
PROGRESS_POLL_S = 0.5


class WorkerCrashed(Exception):
    """The process running this item died; ``str()`` says so in one sentence."""


_progress_q = None


def _worker_init(parent_pid: int, progress_q) -> None:
    global _progress_q
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent_pid)
    _progress_q = progress_q


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before we asked
        os._exit(1)

    def watch() -> None:
        import time

        while True:
            time.sleep(WATCHDOG_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="tingshuo-parent-watchdog", daemon=True).start()


def _call(fn: Callable, args: tuple, tag: Any, with_progress: bool) -> Any:
    if with_progress and _progress_q is not None:
        q = _progress_q

        def report(seconds: float) -> None:
            try:
                q.put_nowait((tag, seconds))
            except Exception:  # progress is best effort
                pass

        return fn(*args, on_progress=report)
    return fn(*args)


def _mp_context():
    """fork where there is one (fast start; workers build their own ONNX sessions), else spawn."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class LocalExecutor:
    """``n_jobs`` worker processes; ``progress(tag, seconds)`` hears from long items as they go."""

    def __init__(self, n_jobs: int, progress: Callable[[Any, float], None] | None = None) -> None:
        self.n_jobs = max(1, int(n_jobs))
        self.progress = progress
        self._ctx = _mp_context()
        self._q = self._ctx.Queue() if progress is not None else None
        self._pool: ProcessPoolExecutor | None = None
        self.crashes = 0

    # -------------------------------------------------------------- pool lifetime
    def _new_pool(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(self.n_jobs, mp_context=self._ctx, initializer=_worker_init,
                                         initargs=(os.getpid(), self._q))
        return self._pool

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for p in procs:
            try:
                p.kill()
            except Exception:  # already gone
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.join(timeout=2)

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None and self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        else:
            self._kill_pool()
        if self._q is not None:
            self._q.close()
            self._q.cancel_join_thread()

    # -------------------------------------------------------------- work
    def map(self, fn: Callable, tasks: Iterable[tuple[Any, tuple]], *,
            in_flight: int | None = None) -> Iterator[tuple[Any, Any]]:
        """Yield ``(tag, fn(*args))`` per task in completion order, or ``(tag, WorkerCrashed)``.

        Exceptions ``fn`` raises are raised here (``fn`` should turn per-item problems into results).
        """
        limit = in_flight or 2 * self.n_jobs
        it = iter(tasks)
        suspects: deque = deque()  # tasks in flight when a worker died: rerun alone
        pending: dict = {}
        exhausted = False
        pool = self._pool  # started at the first task: a run with nothing to do starts no process
        try:
            while True:
                alone = bool(suspects)
                while len(pending) < (1 if alone else limit) and (suspects or not exhausted):
                    if suspects:
                        if pending:
                            break
                        tag, args = suspects.popleft()
                    else:
                        try:
                            tag, args = next(it)
                        except StopIteration:
                            exhausted = True
                            break
                    if pool is None:
                        pool = self._new_pool()
                    try:
                        fut = pool.submit(_call, fn, args, tag, self.progress is not None)
                    except BrokenProcessPool:  # a worker died between two results
                        suspects.appendleft((tag, args))
                        suspects.extend(pending.values())
                        pending.clear()
                        self._kill_pool()
                        pool = None
                        break
                    pending[fut] = (tag, args)
                if not pending:
                    if suspects:  # the pool broke while submitting: rerun those alone
                        continue
                    return
                done, _ = wait(list(pending), timeout=PROGRESS_POLL_S, return_when=FIRST_COMPLETED)
                self._drain_progress()
                broken = []
                for fut in done:
                    tag, args = pending.pop(fut)
                    try:
                        out = fut.result()
                    except BrokenProcessPool:
                        broken.append((tag, args))
                        continue
                    yield tag, out
                if broken:
                    lost = broken + list(pending.values())
                    pending.clear()
                    self._kill_pool()
                    pool = None
                    if alone and len(lost) == 1:  # it killed its worker on its own
                        self.crashes += 1
                        yield lost[0][0], WorkerCrashed(
                            "the worker process analysing it died (a crash in native code, or out of memory)")
                    else:
                        suspects.extend(lost)
        finally:
            self._drain_progress()

    def _drain_progress(self) -> None:
        if self._q is None:
            return
        while True:
            try:
                tag, seconds = self._q.get_nowait()
            except (_queue.Empty, OSError, ValueError, EOFError):
                return
            self.progress(tag, seconds)
