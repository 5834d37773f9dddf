"""A loopback TCP proxy to put between one engine and PostgreSQL, so the database "goes down" for
that engine only while the rest of the suite keeps using the same server directly.

* ``cut()``: every proxied connection is closed at once and new ones are reset on accept (the
  listening socket stays bound, so ``restore()`` can never lose the port to someone else).
* ``cut_on_next_reply()``: the client's bytes still reach the server, but the first bytes the
  server sends back close everything instead of being forwarded, and the proxy stays cut. Armed
  just before a COMMIT, the server applies the commit and the client never hears so: the
  ambiguous outcome a real network failure produces.

Threads, not asyncio: the engine under test is synchronous and runs in the test's own thread.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url

Address = tuple[str, int] | str  # (host, port) or the path of a Unix socket


def upstream_of(database_url: str) -> Address:
    """Where a PostgreSQL URL connects: a Unix socket (``?host=/dir``) or a TCP address."""
    url = make_url(database_url)
    port = url.port or 5432
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        return f"{unquote(socket_dir)}/.s.PGSQL.{port}"
    return (url.host or "127.0.0.1", port)


def through(database_url: str, proxy: TcpProxy) -> str:
    """The same URL, connecting through ``proxy`` on loopback instead."""
    url: URL = make_url(database_url)
    url = url.difference_update_query(["host"]).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the peer's next read fails at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class TcpProxy:
    """Forward 127.0.0.1:``port`` to ``upstream``; cut and restore on demand."""

    def __init__(self, upstream: Address) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut = False
        self._cut_on_reply = False
        self._running = True
        self.accepted = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcpproxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> None:
        """Close every proxied connection; reset new ones until ``restore``."""
        with self._lock:
            self._cut = True
            self._cut_on_reply = False
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _reset(client)
            _reset(server)

    def cut_on_next_reply(self) -> None:
        """Let requests through, but cut everything when the server next answers."""
        with self._lock:
            self._cut_on_reply = True

    def restore(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            self._cut = False
            self._cut_on_reply = False

    def close(self) -> None:
        self._running = False
        self.cut()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._listener.close()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.upstream)
            return server
        return socket.create_connection(self.upstream)

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                refuse = self._cut
            if refuse:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = self._connect_upstream()
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
                self.accepted += 1
            for src, dst, is_reply in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pump, args=(src, dst, is_reply), name="tcpproxy-pump",
                    daemon=True,
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, is_reply: bool) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if data and is_reply and self._cut_on_reply:
                self.cut()
                return
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        # One side ended: end the pair (the other pump sees its socket closed and stops).
        with self._lock:
            pair = next((p for p in self._pairs if src in p), None)
            if pair is not None:
                self._pairs.remove(pair)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
