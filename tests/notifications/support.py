"""Real receivers on 127.0.0.1 for the notification tests: an HTTP webhook receiver and an
aiosmtpd SMTP server; and helpers to emit and to drain the job queue in-process."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import update

from clearinghouse.core.clock import utcnow
from clearinghouse.core.tlp import Tlp
from clearinghouse.notifications.outbox import EVERYONE, Meta, Variant, emit
from clearinghouse.storage.jobs import Job
from clearinghouse.storage.services import Services
from clearinghouse.workers.runner import Worker


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    on_request: Callable[[Received], None] | None = None

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


@contextmanager
def receiver(**kw: Any) -> Iterator[Receiver]:
    state = Receiver(**kw)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got = Received({k.lower(): v for k, v in self.headers.items()}, body)
            state.requests.append(got)
            if state.on_request is not None:
                state.on_request(got)
            status = 500 if len(state.requests) <= state.fail_first else 204
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int = 0
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A real aiosmtpd server on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox(port=port)
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def drain(services: Services, *, skip_backoff: bool = False, rounds: int = 50) -> Worker:
    """Run due jobs in-process until none is due; with `skip_backoff`, make retries due at once
    (the backoff itself is asserted by the tests that care)."""
    worker = Worker(services)
    for _ in range(rounds):
        if skip_backoff:
            with services.db.transaction() as s:
                s.execute(
                    update(Job).where(Job.state == "queued").values(run_at=utcnow() - timedelta(1))
                )
        if not worker.run_once():
            break
    return worker


def emit_public(services: Services, kind: str = "vuln.published", **payload: Any) -> str:
    with services.db.transaction() as s:
        return emit(
            s,
            kind,
            "CH-2026-0001",
            {"public": Variant(payload or {"summary": "public summary"}, Tlp.clear)},
            {EVERYONE: "public"},
            Meta(severity="high", purls=["pkg:pypi/demo@1.0"]),
        ).id
