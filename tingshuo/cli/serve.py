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
    from ..server import create_app

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
