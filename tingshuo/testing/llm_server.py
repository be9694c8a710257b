"""A scripted OpenAI-compatible chat endpoint on loopback, for testing clients of such services.

It streams a fixed reply as server-sent events, token by token, and can be told to fail, stall
or break off mid-answer — the faults a real llama.cpp/Ollama/vLLM endpoint shows in production.

    with ScriptedChatServer(reply="Hello there. How can I help?") as server:
        brain = OpenAIChatBrain(server.base_url)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedChatServer:
    def __init__(self, reply: str = "Hello.", *, mode: str = "ok", token_delay_s: float = 0.01,
                 stall_s: float = 5.0) -> None:
        self.reply = reply
        self.mode = mode  # ok | error | stall | break
        self.token_delay_s = token_delay_s
        self.stall_s = stall_s
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                if outer.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model crashed"}')
                    return
                if outer.mode == "stall":
                    time.sleep(outer.stall_s)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = outer.reply.split(" ")
                for k, word in enumerate(words):
                    if outer.mode == "break" and k == len(words) // 2:
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    piece = word if k == 0 else " " + word
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(outer.token_delay_s)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ScriptedChatServer":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._server.shutdown()
        self._server.server_close()
