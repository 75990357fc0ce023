"""A small OpenAI-compatible chat server on 127.0.0.1 that records every request's headers (and
the provider variables the process environment held while it answered) and answers with a
fixed text. It stands in for a reference model or a lab endpoint in eval-run tests, where the
real local model would be too slow."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Captured:
    base_url: str
    requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def authorizations(self) -> list[str]:
        return [str(r["headers"].get("authorization", "")) for r in self.requests]  # type: ignore[attr-defined]


@contextmanager
def chat_server(
    answer: str = "The answer is A.", *, watch_env: tuple[str, ...] = ()
) -> Iterator[Captured]:
    """Yields a `Captured` whose `base_url` ends in /v1. Each request records its path, all its
    headers, its body, and which of `watch_env` were set in os.environ when it arrived."""
    captured = Captured(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def _record(self, body: bytes) -> None:
            captured.requests.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "env": {k: os.environ[k] for k in watch_env if k in os.environ},
                }
            )

        def do_GET(self) -> None:
            self._record(b"")
            self._json({"object": "list", "data": [{"id": "fake", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            self._record(body)
            request = json.loads(body or b"{}")
            model = request.get("model", "fake")
            if request.get("stream"):
                self._stream(model)
                return
            self._json(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            )

        def _stream(self, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunks = [
                {"role": "assistant", "content": answer},
            ]
            for delta in chunks:
                event = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            final = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())

        def _json(self, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    captured.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield captured
    finally:
        server.shutdown()
        server.server_close()
