"""The FastAPI application: middleware (API key, upload limit, metrics), error JSON, routes, page."""

from __future__ import annotations

import errno
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs

from ..errors import EngineError, TingshuoError
from .config import ServerConfig
from .errors import Overloaded, UploadTooLarge, body_for, error_body
from .services import Services

log = logging.getLogger("tingshuo.server")
STATIC = Path(__file__).parent / "static"
OPEN_PATHS = ("/", "/healthz", "/favicon.ico")  # no API key needed: the page, its files, the health check
MULTIPART_SLACK_BYTES = 64 * 1024  # form fields and boundaries around the file itself


def _install_hint() -> str:
    return "the server needs FastAPI and uvicorn: pip install 'tingshuo[server]'"


def create_app(config: ServerConfig):
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse
        from fastapi.staticfiles import StaticFiles
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError as exc:
        from ..errors import ModelNotInstalled

        raise ModelNotInstalled(f"{_install_hint()} ({exc}).") from None
    from .routes import align, audio, info, inspect, search, stream

    services = Services(config)

    @asynccontextmanager
    async def lifespan(app):
        if config.preload:
            await services.run(services.preload)
        yield
        services.close()

    app = FastAPI(title="tingshuo", version=_version(), lifespan=lifespan,
                  description="Offline speech API: OpenAI-compatible audio endpoints, streaming, inspection.")
    app.state.services = services

    @app.exception_handler(TingshuoError)
    async def tingshuo_error(request: Request, exc: TingshuoError):
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Overloaded) else None
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(body_for(exc), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "header", "form")]
        field = ".".join(loc) or "body"
        msg = str(first.get("msg", "invalid value")).rstrip(".")
        return JSONResponse(error_body("invalid_request_error", f"Field '{field}': {msg}.", field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        cause = exc.__cause__
        if isinstance(cause, TingshuoError):  # raised while FastAPI parsed the form (the upload limit)
            return await tingshuo_error(request, cause)
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"No such endpoint: {request.method} {request.url.path}; see /docs for the API."
        return JSONResponse(error_body("http_error", message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            # the server's disk, not the request: 507 and a line in the log, no temp paths in the answer
            log.warning("%s %s: %s", request.method, request.url.path, exc)
            return JSONResponse(error_body("insufficient_storage", "The server is out of disk space for uploads; "
                                           "try again later (the operator must free space)."), status_code=507)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        err = EngineError(f"The server failed on this request ({type(exc).__name__}: {exc}).")
        return JSONResponse(body_for(err), status_code=500)

    for module in (audio, info, inspect, stream, search, align):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(Gate, services=services)
    if config.cors:
        from fastapi.middleware.cors import CORSMiddleware

        origins = list(config.cors)
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"],
                           allow_credentials="*" not in origins, expose_headers=["Retry-After"])
    return app


def _version() -> str:
    from .. import __version__

    return __version__


def _needs_key(path: str) -> bool:
    return not (path in OPEN_PATHS or path.startswith("/static/"))


def _key_from(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.lower().startswith("bearer ") else text.strip()
    if scope["type"] == "websocket":  # browsers cannot set headers on a WebSocket: ?api_key=
        values = parse_qs(scope.get("query_string", b"").decode()).get("api_key")
        return values[0] if values else None
    return None


class Gate:
    """ASGI middleware: API key (401), upload size (413), request metrics."""

    def __init__(self, app, services: Services) -> None:
        self.app = app
        self.services = services

    def _authorized(self, scope) -> bool:
        key = self.services.config.api_key
        if not key or scope.get("method") == "OPTIONS" or not _needs_key(scope["path"]):
            return True
        given = _key_from(scope)
        return given is not None and hmac.compare_digest(given.encode(), key.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            if not self._authorized(scope):
                await send({"type": "websocket.close", "code": 1008, "reason": "API key required"})
                return
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if not self._authorized(scope):
                await _json(send_wrapper, 401, error_body("Unauthorized", "This server needs an API key: send "
                                                          "'Authorization: Bearer KEY'."),
                            {"www-authenticate": "Bearer"})
                return
            limit = self.services.config.max_upload_bytes + MULTIPART_SLACK_BYTES
            length = dict(scope.get("headers", ())).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                exc = UploadTooLarge(f"The request body ({int(length) / 2**20:.1f} MB) is over the upload limit of "
                                     f"{self.services.config.max_upload_mb:g} MB; send a smaller file.")
                await _json(send_wrapper, 413, body_for(exc), {"connection": "close"})
                return
            received = {"n": 0}

            async def receive_limited():
                message = await receive()
                if message["type"] == "http.request":
                    received["n"] += len(message.get("body", b""))
                    if received["n"] > limit:
                        raise UploadTooLarge(f"The request body is over the upload limit of "
                                             f"{self.services.config.max_upload_mb:g} MB; send a smaller file.")
                return message

            await self.app(scope, receive_limited, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/") else "other")
            self.services.metrics.request(label, scope.get("method", ""), status["code"], time.perf_counter() - t0)


async def _json(send, status: int, body: dict, headers: dict | None = None) -> None:
    data = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": data})
