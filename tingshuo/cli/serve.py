"""``tingshuo serve``: the HTTP + WebSocket API and the web page."""

from __future__ import annotations

import os
import sys

EXAMPLES = """\
examples:
  tingshuo serve                                   # http://127.0.0.1:8000 (page at /, API docs at /docs)
  tingshuo serve --port 9000 --api-key s3cret      # clients send 'Authorization: Bearer s3cret'
  tingshuo serve --host 0.0.0.0 --cors https://app.example.com --max-upload-mb 50
  curl -F file=@talk.mp3 -F response_format=srt http://127.0.0.1:8000/v1/audio/transcriptions
  curl -d '{"input": "Hello there.", "voice": "en-joe", "response_format": "wav"}' \\
       -H 'Content-Type: application/json' http://127.0.0.1:8000/v1/audio/speech -o hello.wav

OpenAI clients work unchanged: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="KEY or anything").
Models load once per process and are shared; --workers sets the threads for model work (not
processes). The API key may also come from the TINGSHUO_API_KEY environment variable."""


def add_parser(sub) -> None:
    from ..options import add_arguments
    from ..server.config import ServerConfig
    from . import HelpFormatter

    p = sub.add_parser("serve", help="HTTP/WebSocket API (OpenAI-compatible) and a web page",
                       description="Serve transcription, speech, chat and inspection over HTTP and WebSocket,\n"
                                   "with a web page at / (binds to 127.0.0.1 unless --host says otherwise).",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    add_arguments(p, ServerConfig)
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level (default: info)")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    from ..errors import InputError, ModelNotInstalled
    from ..options import from_namespace
    from ..server.config import ServerConfig

    config = from_namespace(ServerConfig, args)
    if config.api_key is None and os.environ.get("TINGSHUO_API_KEY"):
        config = dataclasses.replace(config, api_key=os.environ["TINGSHUO_API_KEY"])
    try:
        import uvicorn
    except ImportError:
        raise ModelNotInstalled("tingshuo serve needs uvicorn and FastAPI: pip install 'tingshuo[server]'.") from None
    from ..dialogue.kb import load_kb
    from ..server import create_app
    from . import prepare_output_dir

    # What can only fail at start-up is checked now, in one line each, before any model loads: it was a
    # uvicorn traceback (a missing or hostile --kb), uvicorn's own log line and exit 3 (a busy port, a
    # host name that does not resolve), or a 500 on every upload (--keep-uploads that cannot be made).
    _check_listen(config.host, config.port)
    if config.keep_uploads:
        prepare_output_dir(config.keep_uploads, "--keep-uploads")
    load_kb(config.kb)
    app = create_app(config)
    if config.host not in ("127.0.0.1", "localhost", "::1") and not config.api_key:
        print(f"warning: serving on {config.host} without an API key; anyone who can reach it can use it.",
              file=sys.stderr)
    try:
        uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level, ws_max_size=1 << 20,
                    timeout_graceful_shutdown=5)
    except OSError as exc:
        raise InputError(f"Cannot listen on {config.host}:{config.port} ({exc}); pick another --port.") from None
    return 0


def _check_listen(host: str, port: int) -> None:
    """An ``InputError`` if ``host:port`` cannot be listened on now (a name that does not resolve, an
    address not on this machine, a port in use or reserved)."""
    import socket

    from ..errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"Cannot listen on {host!r} ({reason}); give an address of this machine with --host, "
                         "such as 127.0.0.1 or 0.0.0.0.") from None
    if port == 0:
        return
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            raise InputError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port "
                             "(or --host).") from None
