"""Uploads: copied to a private temp file for the request, always deleted afterwards.

A file is kept only when ``keep_uploads`` names a directory (a copy goes there). Error messages
name the file as the client sent it, not the temp path.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from ..errors import TingshuoError
from .errors import UploadTooLarge

COPY_BLOCK = 1 << 20


def safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name
    return re.sub(r"[^\w.\-]+", "_", name)[:120] or "upload"


def _copy(src, dst, limit_bytes: int, label: str) -> int:
    src.seek(0)
    n = 0
    while True:
        block = src.read(COPY_BLOCK)
        if not block:
            break
        n += len(block)
        if n > limit_bytes:
            raise UploadTooLarge(f"{label} is larger than the upload limit of {limit_bytes / 2**20:g} MB; "
                                 "send a smaller file or raise --max-upload-mb.")
        dst.write(block)
    dst.flush()
    return n


@contextlib.asynccontextmanager
async def saved_upload(services, upload):
    """Yield ``(path, label)`` for an ``UploadFile``; the temp file is removed on every exit."""
    label = safe_name(upload.filename)
    # The file is created and opened here, not in the worker thread: a request cancelled (timeout,
    # disconnect) before the copy starts must not leave a file created after the clean-up ran.
    fd, path = tempfile.mkstemp(prefix="tingshuo-upload-", suffix=Path(label).suffix[:12])
    dst = os.fdopen(fd, "wb")
    try:
        await services.run(_copy, upload.file, dst, services.config.max_upload_bytes, label)
        dst.close()
        keep = services.config.keep_uploads
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / f"{uuid.uuid4().hex[:12]}-{label}")
        try:
            yield path, label
        except TingshuoError as exc:
            raise relabel(exc, path, label) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        with contextlib.suppress(Exception):
            dst.close()


def relabel(exc: TingshuoError, path: str, label: str) -> TingshuoError:
    """The same error, naming the upload instead of its temp path."""
    message = str(exc)
    if path not in message:
        return exc
    new = exc.__class__.__new__(exc.__class__)
    new.__dict__.update(exc.__dict__)
    new.args = (message.replace(path, label),)
    return new
