"""A log of the turns a knowledge base could not answer, collected across sessions (``--log DIR``).

    >>> log = TurnLog("logs/chat", kb="Demo Bank")                      # doctest: +SKIP
    >>> log.record(turn=1, caller="what's the weather?", language="en",
    ...            reply="Sorry, I can't help with that here...", meta={"source": "out_of_scope"})  # doctest: +SKIP

Every clarified (``source: clarify``) or declined (``source: out_of_scope``) turn becomes one JSON
line in ``DIR/turns.jsonl``: when, which session and knowledge base, what the caller said, what
the assistant replied, the candidate entries and the confidence. Lines are appended and flushed
one at a time, so several sessions (or a crash) never lose or interleave a record; read them
with any JSONL tool, e.g. ``jq -r 'select(.source=="out_of_scope") | .caller' DIR/turns.jsonl``
to find the questions the knowledge base should learn next.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

from ..errors import InputError

LOGGED_SOURCES = ("clarify", "out_of_scope")
FILENAME = "turns.jsonl"


class TurnLog:
    def __init__(self, folder: str | Path, kb: str | None = None, session: str | None = None) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"--log {self.folder}: that is a file; give a folder for {FILENAME}.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--log {self.folder}: cannot create the folder ({exc.strerror}).") from None
        self.path = self.folder / FILENAME
        self.kb = kb
        self.session = session or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self._lock = threading.Lock()

    def record(self, *, turn: int, caller: str, language: str | None, reply: str, meta: dict) -> bool:
        """Append the turn if it was clarified or declined; True when a line was written."""
        if meta.get("source") not in LOGGED_SOURCES:
            return False
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "session": self.session, "kb": self.kb, "turn": turn,
                "caller": caller, "language": language, "source": meta.get("source"), "reply": reply,
                "confidence": meta.get("confidence"), "candidates": meta.get("candidates"),
                "nearest": meta.get("nearest")}
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, data)  # one write of one line on an O_APPEND file: lines never interleave
            finally:
                os.close(fd)
        return True


def read_log(folder: str | Path) -> list[dict]:
    """The records in ``folder``'s log, oldest first (a torn last line is skipped)."""
    path = Path(folder) / FILENAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
