"""The server's own errors, and the one JSON shape every error takes.

Body: ``{"error": {"type": ..., "message": ..., "param": ...}}``; ``param`` names the request field
for 422s. ``TingshuoError`` subclasses from the library map through their ``http_status``.
"""

from __future__ import annotations

from ..errors import InputError, TingshuoError


class ParamError(InputError):
    """A request field with a value the endpoint cannot use (422, names the field)."""

    http_status = 422

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class UploadTooLarge(InputError):
    """An upload over the configured size limit."""

    http_status = 413


class SpeechTooLong(ParamError):
    """A /v1/audio/speech input that would make more speech than ``--max-speech-s``."""

    http_status = 413

    def __init__(self, message: str) -> None:
        super().__init__("input", message)


class Unauthorized(TingshuoError):
    """No API key, or the wrong one."""

    http_status = 401


class Overloaded(TingshuoError):
    """The work queue is full; the client should retry after ``retry_after_s``."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RequestTimeout(TingshuoError):
    """A request that ran past the configured time limit."""

    http_status = 504


def error_body(kind: str, message: str, param: str | None = None) -> dict:
    err = {"type": kind, "message": message}
    if param is not None:
        err["param"] = param
    return {"error": err}


def body_for(exc: TingshuoError) -> dict:
    return error_body(exc.kind, str(exc), getattr(exc, "param", None))
