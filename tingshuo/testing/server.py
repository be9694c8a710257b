"""A real ``tingshuo serve`` process on loopback, for tests and benchmarks.

    >>> with ServerProcess(["--api-key", "k"]) as srv:              # doctest: +SKIP
    ...     httpx.get(srv.url + "/healthz")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _end_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies (Linux), so a test
    run that crashes (SIGSEGV, SIGKILL) leaves no server behind."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m tingshuo serve ARGS`` on 127.0.0.1 and a free port; ``tmp_dir`` is its TMPDIR."""

    def __init__(self, args: list[str] | None = None, *, tmp_dir: str | os.PathLike | None = None,
                 start_timeout_s: float = 180.0, threads: int | None = None, env: dict | None = None,
                 command: list[str] | None = None) -> None:
        self.args = list(args or [])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp_dir = Path(tmp_dir or tempfile.mkdtemp(prefix="tingshuo-server-tmp-"))
        self.start_timeout_s = start_timeout_s
        self.threads = threads
        self.extra_env = env or {}
        self.command = command
        self.proc: subprocess.Popen | None = None
        self.log_path = self.tmp_dir.parent / f"{self.tmp_dir.name}.log"

    def __enter__(self) -> "ServerProcess":
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(self.tmp_dir), **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        if self.threads:
            env.setdefault("OMP_NUM_THREADS", str(self.threads))
        cmd = self.command or [sys.executable, "-m", "tingshuo", "serve", "--host", "127.0.0.1", "--port",
                               str(self.port), "--log-level", "warning", *self.args]
        cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self._log = open(self.log_path, "wb")
        # The death signal follows the thread that starts the child, so only the main thread asks for it.
        tied = sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(REPO),
                                     preexec_fn=_end_with_parent if tied else None)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the server did not answer within {self.start_timeout_s:.0f} s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (OSError, AttributeError):
            pass
        return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()

    def __exit__(self, *exc) -> None:
        self.stop()


IGNORED = (".ses",)  # onnxruntime's session marker (written by the library, not an upload)


def leftover_files(tmp_dir: str | os.PathLike) -> list[str]:
    """Files the server left in its TMPDIR (there should be none between requests)."""
    return sorted(str(p.relative_to(tmp_dir)) for p in Path(tmp_dir).rglob("*")
                  if p.is_file() and p.name not in IGNORED)
