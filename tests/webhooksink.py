"""A real HTTP server on loopback that answers scripted status codes and keeps every request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookSink:
    url: str
    script: list[int] = field(default_factory=list)  # status codes to answer, in order; then 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else 200


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """Start an HTTP server on 127.0.0.1 (free port) in a thread; stop it after the test."""
    sink_ref: list[WebhookSink] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            received = Received(
                path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body
            )
            status = sink_ref[0].next_status(received)
            answer = b"ok" if status < 400 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink_ref.append(WebhookSink(url=f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink_ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
