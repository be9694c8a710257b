"""Small helpers with no better home: atomic writes, human-readable sizes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so a reader never sees half a file and a crash never leaves one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name is kept short: a long target name plus a prefix must not pass the 255-byte limit.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a finished file is like any other
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    # surrogateescape: a file name that is not UTF-8 (kept by Python as lone surrogates) is written back
    # as its own bytes instead of failing the write.
    return atomic_write_bytes(path, text.encode("utf-8", errors="surrogateescape"))


def json_text(obj, **kwargs) -> str:
    """JSON with non-ASCII text as is; where it holds a file name that is not UTF-8 (lone surrogates),
    with escapes instead, which read back as the same name."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **kwargs)
    return text


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


class InputFiles:
    """The files a run reads, so that no output replaces one: ``target in inputs`` is True when writing
    ``target`` would land on an input — the same path, the same path through a linked folder (``-o link``
    where ``link`` points at the inputs' folder; an atomic rename there replaces the input), or the same
    file under another name (a symlink or hard link to it, which a plain write would go through).

    One check for every verb that writes next to its inputs (transcribe, align, index, speak)."""

    def __init__(self, paths: Iterable[str | os.PathLike] = ()) -> None:
        self._names: set[str] = set()
        self._inodes: set[tuple[int, int]] = set()
        self.add(paths)

    def add(self, paths: Iterable[str | os.PathLike]) -> None:
        for p in paths:
            if not str(p) or str(p) == "-":
                continue
            self._names.update(_spellings(p))
            try:
                st = os.stat(p)
            except (OSError, ValueError):
                continue
            if st.st_ino:  # 0 on file systems that have no inode numbers: the names decide
                self._inodes.add((st.st_dev, st.st_ino))

    def __contains__(self, target: str | os.PathLike) -> bool:
        if not self._names.isdisjoint(_spellings(target)):
            return True
        try:
            st = os.stat(target)
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) in self._inodes


def _spellings(path: str | os.PathLike) -> set[str]:
    """The absolute path, the path with every link resolved, and the path with its folder resolved
    (where a rename over ``path`` lands)."""
    a = os.path.abspath(path)
    return {a, os.path.realpath(a), os.path.join(os.path.realpath(os.path.dirname(a)), os.path.basename(a))}


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict:
    """A YAML file's top-level mapping (empty file: {}); one-sentence ``InputError`` otherwise.

    ``what`` names the file in messages ("Config file", "Profile").
    """
    import yaml

    from .errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p} not found.")
    try:
        _root, data = load_yaml_checked(p.read_text(encoding="utf-8-sig"), f"{what} {p}")
        data = data or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{what} {p} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {p} is not UTF-8 text; save it as UTF-8.") from None
    except RecursionError:
        raise InputError(f"{what} {p} is nested too deeply to be read.") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {p} must hold a mapping of options.")
    return data


def load_yaml_checked(text: str, where: str, error: type = None):
    """``(node, data)``: ``text`` composed once, checked by ``check_yaml_nodes``, then built from that
    node (what ``yaml.safe_load`` does, without parsing the text a second time); ``(None, None)`` for
    an empty document. YAML errors propagate."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        check_yaml_nodes(root, where, error)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


MAX_YAML_NODES = 1_000_000  # values in the file once aliases are expanded; bank.yaml has ~1,500


def check_yaml_nodes(root, where: str, error: type = None) -> None:
    """Refuse (``error``, one line naming ``where``) what PyYAML would load but not as written: a key given
    twice in one mapping (the last silently won: a knowledge base's second 'entries:' dropped every entry
    above it), and aliases that expand past ``MAX_YAML_NODES`` values ("billion laughs": printing one such
    value — a KB id, a profile name, a config path — hung the process, eating memory). ``root`` is
    ``yaml.compose``'s node."""
    import yaml

    from .errors import InputError

    error = error or InputError
    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:  # iterative, children first: a deep file cannot overflow the stack here
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        kids = ([k for pair in node.value for k in pair] if isinstance(node, yaml.MappingNode)
                else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if not done:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
            continue
        sizes[id(node)] = 1 + sum(sizes.get(id(k), 1) for k in kids)
        if sizes[id(node)] > MAX_YAML_NODES:
            raise error(f"{where} line {node.start_mark.line + 1}: its aliases expand to more than "
                        f"{MAX_YAML_NODES:,} values; write the values out without nested aliases.")
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise error(f"{where} line {line}: '{key.value}' is given twice in one mapping "
                                    f"(first on line {seen[key.value]}); YAML keeps only the last, "
                                    "so merge them or remove one.")
                    seen[key.value] = line


class FairLock:
    """A lock handed to its waiters in the order they came (``with lock:`` like ``threading.Lock``).

    The recogniser's model runs one batch at a time under a lock. A plain lock is not fair: a long
    request re-takes it the moment it lets go, so a 1 s request waited minutes behind a 5-minute align.
    Here a thread that lets go and asks again queues behind those already waiting."""

    def __init__(self) -> None:
        import collections
        import threading

        self._cond = threading.Condition(threading.Lock())
        self._waiting: collections.deque = collections.deque()
        self._held = False

    def acquire(self) -> bool:
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while self._held or self._waiting[0] is not ticket:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: leave the queue, wake the next one
                self._waiting.remove(ticket)
                self._cond.notify_all()
                raise
            self._waiting.popleft()
            self._held = True
        return True

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            self._held = False
            self._cond.notify_all()

    def locked(self) -> bool:
        return self._held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
