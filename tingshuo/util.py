"""Small helpers with no better home: atomic writes, human-readable sizes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


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
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{what} {p} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {p} is not UTF-8 text; save it as UTF-8.") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {p} must hold a mapping of options.")
    return data
