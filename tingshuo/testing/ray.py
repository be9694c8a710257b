"""Ray clusters on one machine for tests and benchmarks, torn down by recorded process ids.

    >>> with LocalCluster(nodes=2) as cluster:                   # doctest: +SKIP
    ...     run(..., RayOptions(address=cluster.address))
    ...     extra = cluster.add_node(); cluster.remove_node(extra)
    >>> assert not cluster.leftovers                             # doctest: +SKIP

Each cluster gets its own short temp dir (Unix socket paths are limited to ~107 characters; also
``RAY_TMPDIR``, so nothing lands in /tmp/ray) and token authentication with its own token (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN_PATH``) in
``cluster.env``, as Ray 2.59+ clusters have by default — a driver needs the same environment.
Also: :class:`EchoWorker`, a per-item worker with no model, for tests of the executor itself.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

RAY_PROCESS_MARKERS = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/dashboard", "log_monitor.py",
                       "runtime_env/agent", "ray/autoscaler", "ray_client_server", "setup_worker.py")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def descendants(pids: set[int]) -> set[int]:
    """All live processes below ``pids``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_ppid(int(entry)), []).append(int(entry))
    out, todo = set(), list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def ray_processes(marker: str | None = None) -> set[int]:
    """Pids of the Ray processes on this machine (daemons, workers, actors), whoever started them;
    with ``marker``, only those whose environment holds it (see :func:`mark_environment`)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            cmd = _cmdline(int(entry))
            if any(m in cmd for m in RAY_PROCESS_MARKERS) and (marker is None or _has_marker(int(entry), marker)):
                out.add(int(entry))
    return out


MARKER_VARIABLE = "TINGSHUO_TEST_RAY_RUN"


def mark_environment() -> str:
    """Put a unique value in this process's environment (``MARKER_VARIABLE``) and return it: every
    Ray process started from here on (a cluster's daemons and workers, a CLI's local Ray) inherits
    it, so ``ray_processes(marker)`` tells this run's leftovers from other Ray users' processes."""
    value = f"{MARKER_VARIABLE}={os.getpid()}-{secrets.token_hex(4)}"
    os.environ[MARKER_VARIABLE] = value.split("=", 1)[1]
    return value


def _has_marker(pid: int, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _reload_auth_config() -> None:
    """Make this process (which may have imported ray already) see the RAY_AUTH_* variables now set."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):  # another Ray version: it reads them when it starts
        pass


class LocalCluster:
    """A head node plus ``nodes - 1`` worker nodes (``cpus_per_node`` logical CPUs each) in this process."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, *, auth: bool = True,
                 object_store_mb: int = 150) -> None:
        self.n_nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.object_store_mb = object_store_mb
        self.tmp = tempfile.mkdtemp(prefix="tsray-", dir="/tmp")
        os.makedirs(os.path.join(self.tmp, "ray"))
        # Ray's defaults (the address file, a driver's own folder) go here too, never to /tmp/ray
        self.env: dict[str, str] = {"RAY_TMPDIR": self.tmp}
        if auth:
            token = Path(self.tmp) / "auth_token"
            token.write_text(secrets.token_hex(32))
            self.env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})
        self.cluster: Any = None
        self.workers: list[Any] = []
        self.pids: set[int] = set()
        self.leftovers: set[int] = set()
        self._saved_env: dict[str, str | None] = {}
        self.startup_s = 0.0

    @property
    def address(self) -> str:
        return self.cluster.address

    def _node_args(self) -> dict:
        return {"num_cpus": self.cpus_per_node, "object_store_memory": self.object_store_mb * 1024 * 1024}

    def _record(self, node: Any) -> None:
        for infos in node.all_processes.values():
            for info in infos:
                self.pids.add(info.process.pid)

    def start(self) -> "LocalCluster":
        for k, v in self.env.items():
            self._saved_env[k] = os.environ.get(k)
            os.environ[k] = v
        _reload_auth_config()
        t0 = time.perf_counter()
        before = ray_processes()
        try:
            self._start()
        except BaseException:  # kill whatever did start, by pid
            for pid in (ray_processes() - before) & descendants({os.getpid()}):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.shutdown()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def _start(self) -> None:
        from ray.cluster_utils import Cluster

        # A lost node is declared dead after ~3 s instead of Ray's default ~30 s (tests wait less).
        fast_health = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000,
                       "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}
        self.cluster = Cluster(initialize_head=True, head_node_args={**self._node_args(), "temp_dir": self.tmp,
                                                                     "include_dashboard": False,
                                                                     "_system_config": fast_health})
        self._record(self.cluster.head_node)
        for _ in range(self.n_nodes - 1):
            self.add_node()

    def add_node(self, cpus: int | None = None) -> Any:
        node = self.cluster.add_node(**{**self._node_args(), **({"num_cpus": cpus} if cpus else {})})
        self.workers.append(node)
        self._record(node)
        return node

    def node_pids(self, node: Any) -> set[int]:
        """The node's own daemons and every process below them (its workers and actors)."""
        own = {info.process.pid for infos in node.all_processes.values() for info in infos}
        return own | descendants(own)

    def remove_node(self, node: Any) -> None:
        self.pids |= self.node_pids(node)
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def shutdown(self, timeout_s: float = 20.0) -> set[int]:
        """Stop every node; wait for all recorded processes (and those below them) to end; SIGKILL
        stragglers by pid. Returns (and keeps in ``leftovers``) the pids that had to be killed."""
        if self.cluster is None:
            self._restore_env()
            shutil.rmtree(self.tmp, ignore_errors=True)
            return set()
        self.pids |= descendants(self.pids)
        try:
            import ray

            ray.shutdown()
            try:
                self.cluster.shutdown()
            except ValueError:  # "connected to this Ray client": a stray thread re-joined; kill by pid below
                for node in [*self.workers, self.cluster.head_node]:
                    node.kill_all_processes(check_alive=False, allow_graceful=False)
        finally:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and any(alive(p) for p in self.pids):
                time.sleep(0.2)
            self.leftovers = {p for p in self.pids if alive(p)}
            for pid in self.leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self._restore_env()
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.cluster = None
        return self.leftovers

    def _restore_env(self) -> None:
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env = {}
        _reload_auth_config()

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()


class EchoWorker:
    """A per-item worker without a model: returns each row's ``path`` (after ``delay_s``), or an
    ``InputError`` for paths that start with ``bad:``; a path starting with ``die:`` kills the actor
    process (a poison input). For tests and the driver-cost benchmark."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def __call__(self, rows: list[dict]) -> list:
        from ..errors import InputError

        if any(str(r["path"]).startswith("die:") for r in rows):
            os._exit(1)  # as a native crash or the OOM killer would
        if self.delay_s:
            time.sleep(self.delay_s * len(rows))
        return [InputError(f"{r['path']}: bad on purpose.") if str(r["path"]).startswith("bad:")
                else {"path": r["path"], "pid": os.getpid()} for r in rows]


def measure_name(path: str, scale: int = 1) -> dict:
    """A plain per-item function for the Ray map executor's tests: ``len(path) * scale``; a path
    starting with ``crash:`` raises (a bug), one starting with ``bad:`` is an ``InputError``."""
    from ..errors import InputError

    if path.startswith("crash:"):
        raise ZeroDivisionError("boom")
    if path.startswith("bad:"):
        raise InputError(f"{path}: bad on purpose.")
    return {"path": path, "value": len(path) * scale, "pid": os.getpid(), "exists": os.path.exists(path)}


def process_start_time(pid: int | None = None) -> float:
    """When a process started, in seconds since the epoch (from /proc)."""
    pid = pid or os.getpid()
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class TimedWorker:
    """Another worker (``module:Class`` built with ``config``) whose actor writes, after each call, a
    JSON of wall-clock times to ``log_dir/actor-PID.json``: its process start, when this class was
    imported and built, when the inner worker (its model) was ready, and each call's start and end.
    For the start-up benchmark (bench/scale_startup.py)."""

    imported_at = time.time()

    def __init__(self, worker: str, config: dict, log_dir: str) -> None:
        import importlib
        import sys

        self.times: dict[str, Any] = {"pid": os.getpid(), "process_start": process_start_time(),
                                      "module_imported": self.imported_at, "init": time.time(),
                                      "ray_data_was_imported": "ray.data" in sys.modules, "calls": []}
        module, _, name = worker.partition(":")
        self.worker = getattr(importlib.import_module(module), name)(**config)
        self.times["model_ready"] = time.time()
        self.log = Path(log_dir) / f"actor-{os.getpid()}.json"

    def __call__(self, rows: list[dict]) -> list:
        import json

        t0 = time.time()
        out = self.worker(rows)
        self.times["calls"].append([t0, time.time(), len(rows)])
        self.log.write_text(json.dumps(self.times))
        return out
