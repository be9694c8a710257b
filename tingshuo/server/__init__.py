"""``tingshuo serve``: every verb over HTTP and WebSocket, from one process, with a web page.

    >>> from tingshuo.server import ServerConfig, create_app       # doctest: +SKIP
    >>> app = create_app(ServerConfig(api_key="secret"))             # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP

FastAPI and uvicorn are imported only here (``pip install 'tingshuo[server]'``). Models load once
per process and are shared by every request; model work runs in worker threads, never on the
event loop. See docs/server.md for the endpoints.
"""

from __future__ import annotations

from .config import ServerConfig


def create_app(config: ServerConfig | None = None):
    """The ASGI application (FastAPI) for ``config``."""
    from .app import create_app as _create

    return _create(config or ServerConfig())


__all__ = ["ServerConfig", "create_app"]
