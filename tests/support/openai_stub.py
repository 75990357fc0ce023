"""A real HTTP server on 127.0.0.1 that answers `GET /v1/models` like an OpenAI-compatible
endpoint, checking the bearer key. It stands in for a lab's endpoint where starting the real
local model would be too slow; tests of the real model live in test_local_model.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def openai_endpoint(
    api_key: str, models: tuple[str, ...] = ("frontier-x",)
) -> Iterator[tuple[str, list[str]]]:
    seen_auth: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen_auth.append(self.headers.get("Authorization", ""))
            if self.path != "/v1/models":
                self.send_response(404)
                self.end_headers()
                return
            if self.headers.get("Authorization") != f"Bearer {api_key}":
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps(
                {"object": "list", "data": [{"id": m, "object": "model"} for m in models]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen_auth
    finally:
        server.shutdown()
        server.server_close()
