"""The few errors tingshuo raises on purpose.

Every message is one sentence that says what went wrong, which input, and what to do.
The CLI prints ``str(error)`` without a traceback and exits with ``exit_code``; the server
answers ``http_status`` with ``{"error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations


class TingshuoError(Exception):
    """Base class: a problem the user can fix, explained in one sentence."""

    exit_code = 1
    http_status = 400

    @property
    def kind(self) -> str:
        return type(self).__name__


class InputError(TingshuoError, ValueError):
    """An argument, option, text or path that cannot be used as given."""


class AudioDecodeError(InputError):
    """A file or buffer that is missing, empty, corrupt, or has no audio track."""


class AudioTooLongError(InputError):
    """Audio longer than a configured limit."""

    http_status = 413


class ManifestError(InputError):
    """A manifest, data directory or knowledge-base file with a bad line."""


class UnknownNameError(InputError, KeyError):
    """A model, engine, voice or format name that is not known; the message lists valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelNotInstalled(TingshuoError):
    """A known model whose package is not installed; the message gives the pip command."""

    exit_code = 3
    http_status = 503


class EngineError(TingshuoError):
    """An engine failed on valid input (a model crashed, a worker died)."""

    exit_code = 4
    http_status = 500
