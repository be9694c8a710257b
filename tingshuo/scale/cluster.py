"""Joining a Ray cluster (or starting a local one), with the errors a user can act on.

    >>> with connect(RayOptions(enabled=True)) as info:      # doctest: +SKIP
    ...     info.cpus, info.nodes, info.started_here

Ray 2.59+ turns on token authentication for a local cluster it starts (the token is written to
``~/.ray/auth_token``), and ``ray start --head`` turns it on whenever that file exists. A driver that
joins such a cluster by address must say so itself: ``RAY_AUTH_MODE=token`` plus the token
(``~/.ray/auth_token``, ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``). See docs/scale.md.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import InputError, ModelNotInstalled
from .options import RayOptions

INSTALL_HINT = "pip install 'tingshuo[ray]'"
AUTH_HELP = ("set RAY_AUTH_MODE=token and give this driver the cluster's token (copy the head node's "
             "~/.ray/auth_token to this machine, or set RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH; "
             "`ray get-auth-token` on the head node prints it)")


def import_ray() -> Any:
    """``ray`` with Ray Data, or ``ModelNotInstalled`` naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ModelNotInstalled(f"--ray needs Ray with Ray Data, which is not installed ({exc.name}): "
                                f"{INSTALL_HINT}.") from None
    return ray


@dataclass(frozen=True)
class ClusterInfo:
    address: str | None  # None: a local Ray started for this run
    started_here: bool
    nodes: int
    cpus: float  # logical CPUs of all alive nodes
    max_node_cpus: float
    memory_bytes: float  # Ray's schedulable memory of all alive nodes
    startup_s: float
    max_node_memory_bytes: float = 0.0
    # Drops this driver's connection (and with it every actor and task it owns) and joins again;
    # None when the connection belongs to the caller.
    reconnect: Callable[[], "ClusterInfo"] | None = field(default=None, compare=False, repr=False)


def _quiet_ray_logs() -> None:
    # Ray Data's progress lines would fight with our bar; real problems still surface as errors.
    for name in ("ray", "ray._private", "ray.util"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # a failed pass is handled and reported by us


def _no_auto_init() -> None:
    """Stop Ray from calling ``ray.init()`` by itself in this process.

    After a stalled pass is dropped (``ray.shutdown()``), Ray Data's executor thread can still call
    ``ray.wait``, and Ray's auto-init would then start a new local Ray that nobody stops. A process
    that used ``connect`` must call ``ray.init()`` itself afterwards.
    """
    try:
        from ray._private import auto_init_hook

        auto_init_hook.enable_auto_connect = False
    except (ImportError, AttributeError):  # another Ray version: nothing to switch off
        pass


def _stop_data_executors(timeout_s: float = 10.0) -> None:
    """Shut down Ray Data's executor threads still running in this process, and wait for them.

    A pass dropped after a stall leaves its executor thread polling the cluster; if ``ray.shutdown()``
    (or the next ``ray.init()``) ran under it, that thread called into a torn-down core worker — a
    crash of the whole process in a long test run. Each executor is a thread with a ``shutdown``.
    """
    import threading

    try:
        from ray.data._internal.execution.streaming_executor import StreamingExecutor
    except (ImportError, AttributeError):  # another Ray version: nothing known to stop
        return
    for thread in threading.enumerate():
        if isinstance(thread, StreamingExecutor) and thread.is_alive():
            try:
                thread.shutdown(force=True)
            except Exception:  # already failing: it is stopping anyway
                pass
            thread.join(timeout_s)


def _shutdown(ray: Any) -> None:
    _stop_data_executors()
    ray.shutdown()


def cluster_info(ray: Any, address: str | None, started_here: bool, startup_s: float,
                 reconnect: Callable[[], ClusterInfo] | None = None) -> ClusterInfo:
    alive = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [float(n.get("Resources", {}).get("CPU", 0.0)) for n in alive]
    mems = [float(n.get("Resources", {}).get("memory", 0.0)) for n in alive]
    return ClusterInfo(address, started_here, len(alive), sum(cpus), max(cpus, default=0.0), sum(mems), startup_s,
                       max(mems, default=0.0), reconnect)


@contextmanager
def connect(options: RayOptions, *, num_cpus: int | None = None) -> Iterator[ClusterInfo]:
    """Join the cluster ``options`` names (or ``$RAY_ADDRESS``), or start a local Ray for the
    duration of the block; disconnect (and stop the local Ray) on the way out.

    A process that already called ``ray.init`` keeps its connection. ``num_cpus`` sizes a local Ray.
    """
    import time

    ray = import_ray()
    if ray.is_initialized():
        yield cluster_info(ray, options.resolved_address(), False, 0.0)
        return
    _quiet_ray_logs()
    _no_auto_init()
    address = options.resolved_address()

    def init() -> ClusterInfo:
        t0 = time.perf_counter()
        if address:
            _check_reachable(address)
        try:
            with _keep_sigterm_handler():
                if address:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
                else:
                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.ERROR)
        except Exception as exc:  # ConnectionError, AuthenticationError, RuntimeError, ValueError ...
            raise _connect_error(exc, address) from None
        return cluster_info(ray, address, not address, time.perf_counter() - t0, reconnect)

    def reconnect() -> ClusterInfo:
        _shutdown(ray)
        return init()

    try:
        yield init()
    finally:
        _shutdown(ray)


@contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Put back the caller's SIGTERM handler after ``ray.init``.

    ``ray.init`` replaces it with ``sys.exit`` and its core worker adds a C++ failure handler on top:
    a SIGTERM to ``tingshuo align/transcribe --ray`` then printed a native stack and aborted (exit 134)
    instead of the CLI's clean stop (finally blocks, ``ray.shutdown``, "interrupted", exit 130).
    Only a handler set from Python is put back (the CLI's); with none, Ray's stays.
    """
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and callable(previous):
            signal.signal(signal.SIGTERM, previous)


REACH_TIMEOUT_S = 5.0  # a head node answers a TCP connect in milliseconds; Ray itself retries for minutes


def _check_reachable(address: str) -> None:
    """An ``InputError`` at once when nothing answers at ``host:port`` (or ``ray://host:port``): a typo in
    --ray-address, or a head that is down, made ``ray.init`` retry for minutes (more than 90 s here)."""
    import socket

    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port_s = target.rpartition(":")
    if not sep or not port_s.isdigit() or address in ("auto", "local"):
        return  # 'auto', a bare name: Ray's own lookup
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port_s)), timeout=REACH_TIMEOUT_S) as sock:
            # with TLS the head expects a TLS hello first, so the plain-text probe would fail a good address
            tls = os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true", "yes")
            answer = None if tls else _grpc_answer(sock)
    except (OSError, ValueError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"Could not reach the Ray cluster at {address} ({reason}): check --ray-address / "
                         "$RAY_ADDRESS, and that the head node is up (`ray status` there).") from None
    if answer is not None:
        raise InputError(f"{address} answers, but not as a Ray head node ({answer}): check the port in "
                         "--ray-address / $RAY_ADDRESS (the head's GCS port, 6379 by default, or ray://host:10001; "
                         "8265 is the dashboard).")


# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, the Ray client server)
# answers with its own SETTINGS frame (type 4); an HTTP/1 server with "HTTP/1.1 400", others not at all.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _grpc_answer(sock) -> str | None:
    """None when the peer answers like a gRPC server; otherwise what it did instead, in a few words.
    ``ray.init`` against another service (a web server, the dashboard port) retried for minutes
    (still waiting after 150 s here), printing Ray's own warnings."""
    import socket

    try:
        sock.sendall(_H2_PREFACE)
        head = b""
        while len(head) < 9:
            part = sock.recv(9 - len(head))
            if not part:
                break
            head += part
    except socket.timeout:
        return f"no answer in {REACH_TIMEOUT_S:g} s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if len(head) == 9 and head[3] == 4:
        return None
    if head.startswith(b"HTTP/"):
        return "it is an HTTP/1 server"
    return "it closed the connection" if not head else "it does not speak gRPC"


def _connect_error(exc: Exception, address: str | None) -> Exception:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "authenticat" in text.lower() or type(exc).__name__ == "AuthenticationError":
        return InputError(f"The Ray cluster at {address or 'this machine'} requires token authentication "
                          f"({text}): {AUTH_HELP}.")
    if address:
        auth = "" if os.environ.get("RAY_AUTH_MODE", "").lower() == "token" else (
            "; if the cluster uses token authentication (Ray 2.59+ turns it on by default), " + AUTH_HELP)
        return InputError(f"Could not join the Ray cluster at {address} ({text}): check --ray-address / "
                          f"$RAY_ADDRESS and that `ray status` works there{auth}.")
    return InputError(f"Could not start a local Ray ({text}); give --ray-address to use a running cluster.")
