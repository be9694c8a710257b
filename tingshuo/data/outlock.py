"""One writer per output folder: a run that appends to a folder's manifest takes an exclusive lock on it.

Two ``tingshuo align --segment -o OUT`` runs at once each appended every clip to OUT/manifest.jsonl
(each clip listed twice, the summary saying half). The lock is ``flock`` on ``OUT/.tingshuo.lock``:
released by the kernel when the process ends, however it ends (SIGKILL included), so a stale lock
never blocks a resume.

    >>> with folder_lock("out/", "tingshuo align --segment"):      # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InputError

LOCK_NAME = ".tingshuo.lock"


@contextmanager
def folder_lock(folder: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the block; ``InputError`` at once when another process holds it."""
    path = Path(folder) / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    try:
        f = open(path, "a")  # stays empty: the folder's files are the same whoever wrote them
    except OSError as exc:
        raise InputError(f"Cannot write to {folder} ({exc.strerror}); choose another output folder.") from None
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"Another run ({what}) is writing to {folder} now; wait for it to finish, or give "
                             "another output folder.") from None
        yield
    finally:
        f.close()
