"""Plain per-item functions on Ray actors: the cluster twin of a local process pool.

    >>> with RayMapExecutor(RayOptions(enabled=True)) as ex:                      # doctest: +SKIP
    ...     for tag, out in ex.map(measure_file, [("a", ("a.wav", False))]):
    ...         print(tag, out)     # fn's result, or a TingshuoError for that item

``map(fn, [(tag, args)])`` yields ``(tag, fn(*args))`` in completion order, like the local executor
of "one batch engine, two executors" (``tingshuo.quality.workers.LocalExecutor``), so a verb's
driver does not change when its items run on a cluster. ``fn`` must be a module-level function
importable on every node; ``args`` should be small (paths, flags): they are pickled into the rows.
An exception ``fn`` raises is that item's result (an ``EngineError`` naming it), never the job's end.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any, Callable, Iterable, Iterator

from ..errors import ModelNotInstalled
from .cluster import connect
from .executor import Job, RunStats, item_error, run_items
from .options import RayOptions

WORKER = "tingshuo.scale.functions:FunctionWorker"


class FunctionWorker:
    """Built once per actor: the function, looked up by ``module:name``."""

    def __init__(self, fn: str) -> None:
        module, _, name = fn.partition(":")
        self.fn = getattr(importlib.import_module(module), name)

    def __call__(self, rows: list[dict]) -> list:
        out = []
        for row in rows:
            try:
                out.append(self.fn(*pickle.loads(row["args"])))
            except Exception as exc:
                out.append(item_error(exc, row.get("label") or "an item", "failed on a Ray worker"))
        return out


def function_ref(fn: Callable) -> str:
    """``module:name`` of a module-level function (what the actors import)."""
    name = getattr(fn, "__qualname__", "")
    if not name or "<" in name or "." in name:
        raise ValueError(f"{fn!r} is not a module-level function; Ray actors import it by name.")
    return f"{fn.__module__}:{name}"


class RayMapExecutor:
    """Runs ``map(fn, tasks)`` on a Ray cluster's actor pool (``options`` as for every verb).

    ``memory_gb`` is what one actor running ``fn`` needs at peak; ``crashes`` counts items no pass
    could finish (their actor kept dying), which come back as ``EngineError``.
    """

    def __init__(self, options: RayOptions, *, memory_gb: float = 1.0) -> None:
        self.options = options
        self.memory_gb = memory_gb
        self.stats = RunStats()
        self.crashes = 0
        self._conn = None
        self._info = None

    def __call__(self, n_jobs: int = 0, progress: Any = None) -> "RayMapExecutor":
        """The local executor's factory signature: ``executor(n_jobs, progress)`` (both ignored:
        the pool is sized by the cluster; per-item progress is not reported from actors)."""
        return self

    def __enter__(self) -> "RayMapExecutor":
        self._conn = connect(self.options)
        self._info = self._conn.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.__exit__(*exc)

    def map(self, fn: Callable, tasks: Iterable[tuple[Any, tuple]], *, in_flight: int | None = None,
            ) -> Iterator[tuple[Any, Any]]:
        if self._info is None:
            raise RuntimeError("use RayMapExecutor inside a 'with' block")
        tags, rows = [], []
        for i, (tag, args) in enumerate(tasks):
            tags.append(tag)
            rows.append({"index": i, "label": str(args[0]) if args else str(tag), "args": pickle.dumps(tuple(args))})
        if not rows:
            return
        job = Job(WORKER, {"fn": function_ref(fn)}, memory_gb=self.memory_gb, name=getattr(fn, "__name__", "map"))
        for out in run_items(rows, job, self.options, self._info, self.stats):
            if isinstance(out.error, ModelNotInstalled):
                raise out.error  # a node without the models: the whole run stops and says so, as locally
            if out.error is not None and out.pid == 0:
                self.crashes += 1
            yield tags[out.index], (out.error if out.error is not None else out.value)
