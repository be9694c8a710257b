"""The Ray executor every batch verb shares: a pool of actors runs the verb's per-item worker, the
driver gets each result as it arrives.

A verb plugs in with two things (see docs/scale.md):

* a **worker**: a class built once per actor, ``Worker(**config)``, whose ``__call__(rows)`` takes a
  list of small row dicts (paths, options — never decoded audio) and returns one value or
  ``TingshuoError`` per row. Per-item errors are results; a worker never fails a batch on purpose.
* a **driver sink**: whatever the caller does with each :class:`Outcome` from :func:`run_items`
  (write files, commit to a store), in the process that holds the outputs.

    >>> job = Job("tingshuo.scale.transcribe:TranscribeWorker", {"model": "whisper-base"}, memory_gb=1.5)
    >>> for out in run_items(rows, job, RayOptions(enabled=True), info):      # doctest: +SKIP
    ...     out.index, out.value or out.error

Failures: a dead actor is restarted by Ray and its batch retried (``task_retries`` times); inputs
still unfinished when a pass ends (lost with a node, or on a batch that kept killing its actor) get
another pass, one input per batch, up to ``max_attempts`` passes; what is left is reported as an
error, never dropped. Each index is delivered at most once. A pass that gets no result for
``stall_timeout_s`` stops with an error that says why Ray Data may be waiting.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import queue
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from .. import errors as _errors
from ..errors import EngineError, InputError, TingshuoError
from .cluster import ClusterInfo, import_ray
from .options import RayOptions

GB = 1024**3


@dataclass(frozen=True)
class Job:
    """What a verb ships to every actor: its worker class (``module:Class``) and constructor kwargs."""

    worker: str
    config: Mapping[str, Any]
    memory_gb: float = 1.0  # what one actor really uses at peak (measured), asked of the scheduler
    name: str = "tingshuo"


@dataclass(frozen=True)
class Outcome:
    """One input's result as the driver receives it."""

    index: int
    value: Any  # the worker's result; None when ``error`` is set
    error: TingshuoError | None
    node: str  # Ray node id of the actor that produced it ("" if none did)
    pid: int  # that actor's process id (0 if none)


@dataclass
class RunStats:
    """What the driver saw, for the summary line and the benchmark."""

    actors_wanted: tuple[int, int] = (0, 0)
    connect_s: float = 0.0  # joining the cluster (or starting the local Ray)
    passes: int = 0
    redone: int = 0  # inputs sent again in a later pass
    lost: int = 0  # inputs reported failed because no pass finished them
    first_result_s: float | None = None
    per_node: Counter = field(default_factory=Counter)
    pids: set = field(default_factory=set)
    pass_errors: list = field(default_factory=list)

    def describe(self) -> str:
        nodes = len(self.per_node)
        parts = [f"{len(self.pids)} actor process{'es' if len(self.pids) != 1 else ''} on {nodes} "
                 f"node{'s' if nodes != 1 else ''}"]
        if self.first_result_s is not None:
            parts.append(f"Ray ready in {self.connect_s:.1f} s, first result {self.first_result_s:.1f} s later")
        if self.redone:
            parts.append(f"{self.redone} input{'s' if self.redone != 1 else ''} redone after a worker or node was lost")
        if self.lost:
            parts.append(f"{self.lost} lost")
        return ", ".join(parts)


class _Actor:
    """The Ray Data callable class: builds the verb's worker once, then maps batches of rows."""

    def __init__(self, worker: str, config: bytes, cwd: str = "") -> None:
        import ray

        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # the driver's folder (same paths on every node): relative paths mean the same
        module, _, name = worker.partition(":")
        self.worker = getattr(importlib.import_module(module), name)(**pickle.loads(config))
        self.node = ray.get_runtime_context().get_node_id()
        self.pid = os.getpid()

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list]:
        n = len(batch["index"])
        rows = [{k: _plain(batch[k][i]) for k in batch} for i in range(n)]
        try:
            values = list(self.worker(rows))
            if len(values) != n:
                raise RuntimeError(f"worker returned {len(values)} results for {n} inputs")
        except Exception as exc:  # a bug in one batch stays that batch's problem, reported per input
            values = [EngineError(f"{r.get('label') or r.get('path')}: worker failed ({type(exc).__name__}: {exc}).")
                      for r in rows]
        out: dict[str, list] = {"index": [], "label": [], "payload": [], "error_kind": [], "error": [],
                                "node": [], "pid": []}
        for row, value in zip(rows, values):
            failed = isinstance(value, BaseException)
            out["index"].append(int(row["index"]))
            out["label"].append(str(row.get("label") or row.get("path") or ""))
            out["payload"].append(b"" if failed else pickle.dumps(value, protocol=5))
            out["error_kind"].append(type(value).__name__ if failed else "")
            out["error"].append(str(value) if failed else "")
            out["node"].append(self.node)
            out["pid"].append(self.pid)
        return out


def item_error(exc: BaseException, label: str, failed: str) -> TingshuoError:
    """What a worker returns for an input that raised: our own errors as they are, anything else (a
    bug, a library's exception) as an ``EngineError`` naming the input — one odd input must not take its
    batch-mates with it. ``failed`` says what failed, e.g. "alignment failed"."""
    if isinstance(exc, TingshuoError):
        return exc
    return EngineError(f"{label}: {failed} ({type(exc).__name__}: {exc}).")


def _plain(value: Any) -> Any:
    """numpy scalars from a batch back to Python values (a missing string comes back as NaN: None)."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _error(kind: str, message: str) -> TingshuoError:
    cls = getattr(_errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, TingshuoError):
        return cls(message)
    return EngineError(message)


def pool_size(job: Job, options: RayOptions, info: ClusterInfo, *, reserve_cpus: float | None = None,
              n_batches: int | None = None) -> tuple[int, int, int]:
    """The actor pool's (min, max, initial) size for ``job`` on this cluster. Refuses up front what
    would otherwise hang: an actor larger than any node, or a pool with no room left for other stages."""
    cpus = options.cpus_per_actor
    if cpus > info.max_node_cpus:
        raise InputError(f"--ray-cpus-per-actor {cpus:g} is more than any node has ({info.max_node_cpus:g} CPUs): "
                         "no actor could ever start; lower it.")
    memory_gb = options.memory_gb_per_actor or job.memory_gb
    if info.max_node_memory_bytes and memory_gb * GB > info.max_node_memory_bytes:
        raise InputError(f"Each actor asks for {memory_gb:g} GB but no node offers Ray more than "
                         f"{info.max_node_memory_bytes / GB:.1f} GB: no actor could ever start; lower "
                         "--ray-memory-per-actor or use nodes with more memory.")
    reserve = options.reserve_cpus if reserve_cpus is None else max(reserve_cpus, options.reserve_cpus)
    if info.cpus - reserve < cpus:
        raise InputError(f"The Ray cluster has {info.cpus:g} CPUs: with {reserve:g} kept free "
                         f"(--ray-reserve-cpus) no actor of {cpus:g} CPUs fits; add nodes or lower them.")
    lo, hi = options.actor_range(info.cpus - (reserve - options.reserve_cpus))
    fit = max(1, int((info.cpus - reserve + 1e-9) // cpus))
    lo = min(lo, fit)  # a minimum that cannot be placed would only wait
    hi = max(hi, lo)
    # Start as many actors as there is work for (up to MAX) rather than MIN and wait for the autoscaler.
    return lo, hi, max(lo, min(hi, n_batches or lo))


def plan(ds: Any, job: Job, options: RayOptions, info: ClusterInfo, *, batch_size: int | None = None,
         reserve_cpus: float | None = None, n_batches: int | None = None, in_flight: int = 2,
         whole_blocks: bool = False) -> tuple[Any, tuple[int, int]]:
    """``ds`` (rows with an ``index`` column and the worker's inputs) mapped by an actor pool sized
    for the cluster (:func:`pool_size`), and that pool's (min, max) actors. ``whole_blocks``: each
    block of ``ds`` is one actor call (the caller sized the blocks), else ``batch_size`` rows are."""
    ray = import_ray()
    lo, hi, initial = pool_size(job, options, info, reserve_cpus=reserve_cpus, n_batches=n_batches)
    memory_gb = options.memory_gb_per_actor or job.memory_gb
    compute = ray.data.ActorPoolStrategy(min_size=lo, max_size=hi, initial_size=initial,
                                         max_tasks_in_flight_per_actor=in_flight)
    with warnings.catch_warnings():
        # Ray 2.60 offers no named parameter for max_task_retries (its default, -1, would retry a batch
        # that kills every actor forever); the pinned minor version keeps this working.
        warnings.simplefilter("ignore")
        mapped = ds.map_batches(_Actor, fn_constructor_args=(job.worker, pickle.dumps(dict(job.config)), os.getcwd()),
                                batch_size=None if whole_blocks else (batch_size or options.items_per_batch),
                                compute=compute, num_cpus=options.cpus_per_actor,
                                memory=int(memory_gb * GB), max_restarts=-1, max_task_retries=options.task_retries,
                                zero_copy_batch=True)
    return mapped, (lo, hi)


def block_sizes(n: int, batch_size: int, first_small: int) -> list[int]:
    """How ``n`` inputs are cut into actor calls: ``first_small`` calls of one input (each starting
    actor's first result comes after one input, not a whole batch), then ``batch_size`` at a time."""
    head = min(n, max(0, first_small)) if batch_size > 1 else 0
    rest = n - head
    return [1] * head + [min(batch_size, rest - k) for k in range(0, rest, batch_size)]


def _dataset(ray: Any, rows: Sequence[Mapping[str, Any]], sizes: Sequence[int]) -> Any:
    """One Ray Data block per actor call, in input order, with one schema for all."""
    import pyarrow as pa

    schema = pa.Table.from_pylist(list(rows)).schema
    tables, k = [], 0
    for n in sizes:
        tables.append(pa.Table.from_pylist(list(rows[k:k + n]), schema=schema))
        k += n
    return ray.data.from_arrow(tables)


def _configure(ray: Any) -> None:
    """Ray Data settings for the datasets made from now on (a Dataset copies them when created)."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.max_errored_blocks = -1  # a batch that kept killing its actor is redone by the driver, not fatal
    ctx.execution_options.preserve_order = False  # the driver restores order where it matters


def run_items(rows: Sequence[Mapping[str, Any]], job: Job, options: RayOptions, info: ClusterInfo,
              stats: RunStats | None = None) -> Iterator[Outcome]:
    """Run ``job`` over ``rows`` (each with a unique int ``index``) on the connected cluster; yield one
    :class:`Outcome` per row, in arrival order. Rows no pass could finish come last, as errors."""
    ray = import_ray()
    stats = stats if stats is not None else RunStats()
    stats.connect_s = info.startup_s
    by_index = {int(r["index"]): dict(r) for r in rows}
    if len(by_index) != len(rows):
        raise ValueError("row indices must be unique")
    remaining = set(by_index)
    started = time.perf_counter()
    for attempt in range(1, options.max_attempts + 1):
        if not remaining:
            break
        todo = [by_index[i] for i in sorted(remaining)]
        if attempt > 1:
            stats.redone += len(todo)
        batch_size = options.items_per_batch if attempt == 1 else 1  # a later pass isolates what killed a worker
        n_batches = max(1, math.ceil(len(todo) / batch_size))
        _configure(ray)
        _lo, _hi, initial = pool_size(job, options, info, n_batches=n_batches)
        sizes = block_sizes(len(todo), batch_size, initial if attempt == 1 else 0)
        ds = _dataset(ray, todo, sizes)
        # Later passes isolate: one input per batch and one batch per actor at a time, so an input
        # that kills its actor takes nothing else with it.
        out, stats.actors_wanted = plan(ds, job, options, info, n_batches=len(sizes), whole_blocks=True,
                                        in_flight=2 if attempt == 1 else 1)
        stats.passes = attempt
        got = 0
        try:
            for batch in _stream(out, options, info):
                for k, index in enumerate(batch["index"]):
                    index = int(index)
                    if index not in remaining:
                        continue  # delivered twice after a retry: the first one counts
                    remaining.discard(index)
                    got += 1
                    node, pid = str(batch["node"][k]), int(batch["pid"][k])
                    if stats.first_result_s is None:
                        stats.first_result_s = time.perf_counter() - started
                    stats.per_node[node] += 1
                    stats.pids.add(pid)
                    kind = str(batch["error_kind"][k])
                    if kind:
                        yield Outcome(index, None, _error(kind, str(batch["error"][k])), node, pid)
                    else:
                        yield Outcome(index, pickle.loads(batch["payload"][k]), None, node, pid)
        except _Stalled as exc:
            # A pass that stopped making progress (Ray Data can wait forever after some failures) is
            # dropped with everything it owns, and the rest gets a fresh pass; one that never
            # produced anything is a configuration problem, reported as such.
            if got == 0 or info.reconnect is None or attempt == options.max_attempts:
                raise EngineError(str(exc)) from None
            stats.pass_errors.append(f"no result for {options.stall_timeout_s:g} s")
            info = info.reconnect()
        except TingshuoError:
            raise
        except Exception as exc:  # Ray Data gave up on this pass (actor deaths, a lost node ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            stats.pass_errors.append(first)
            if got == 0 and attempt == 1:
                raise EngineError(f"The Ray job failed before any input finished ({type(exc).__name__}: {first}); "
                                  "check that every node has tingshuo and its models installed "
                                  "(pip install 'tingshuo[models,ray]') and can read the inputs.") from None
    stats.lost = len(remaining)
    for index in sorted(remaining):
        row = by_index[index]
        name = row.get("label") or row.get("path") or f"input {index}"
        why = f" (last Ray error: {stats.pass_errors[-1]})" if stats.pass_errors else ""
        yield Outcome(index, None, EngineError(
            f"{name}: not processed after {options.max_attempts} passes on Ray — the worker kept dying on it "
            f"(out of memory?) or its node was lost{why}; try it alone without --ray."), "", 0)


class _Stalled(Exception):
    pass


def _stream(ds: Any, options: RayOptions, info: ClusterInfo) -> Iterator[Mapping[str, Any]]:
    """The output blocks of ``ds`` as they arrive; raises ``_Stalled`` after ``stall_timeout_s`` without one.

    Ray Data is consumed in a background thread so that a stalled plan (it can wait forever without
    an error, e.g. when actors hold every CPU another stage needs) is noticed and reported.
    """
    q: queue.Queue = queue.Queue(maxsize=64)
    stop = threading.Event()

    def consume() -> None:
        try:
            # No prefetching: with prefetch_batches=1, Ray Data 2.60 hands over each block only when
            # the next one has arrived, so every result (the first included) waited one more batch.
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
                while not stop.is_set():
                    try:
                        q.put(("batch", batch), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", None))
        except BaseException as exc:  # handed to the driver thread
            q.put(("error", exc))

    thread = threading.Thread(target=consume, name="tingshuo-ray-results", daemon=True)
    thread.start()
    last = time.monotonic()
    try:
        while True:
            try:
                kind, payload = q.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() - last > options.stall_timeout_s:
                    raise _Stalled(_stall_message(options, info)) from None
                continue
            if kind == "done":
                return
            if kind == "error":
                raise payload
            last = time.monotonic()
            yield payload
    finally:
        stop.set()


def _stall_message(options: RayOptions, info: ClusterInfo) -> str:
    try:
        import ray

        free = ray.available_resources().get("CPU", 0.0)
    except Exception:
        free = float("nan")
    return (f"No result from the Ray cluster for {options.stall_timeout_s:g} s (it has {info.cpus:g} CPUs, "
            f"{free:g} free; actors of {options.cpus_per_actor:g} CPUs, --ray-actors {options.actors}). "
            "Ray Data waits without an error when actors hold every CPU another stage needs or when an "
            "actor cannot be placed: lower --ray-actors or raise --ray-reserve-cpus; if single inputs "
            "really take this long, raise --ray-stall-timeout. Finished outputs are kept.")
