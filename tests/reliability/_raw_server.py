"""A tiny threaded raw-TCP server on 127.0.0.1 for hostile scripts: the test owns every byte and every pause.

    def handler(conn: socket.socket) -> None:
        head, body = read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nX-Slow: ")
        while not stopped(0.1):            # trickle until the test ends...
            conn.sendall(b"a")             # ...or the client hangs up (BrokenPipeError ends the handler)

    with RawServer(handler) as server:
        client = ResponsesClient(base_url=server.base_url, ...)

Each accepted connection runs `handler(conn)` in a daemon thread. An `OSError` escaping a handler (the client
hung up: `BrokenPipeError`, `ConnectionResetError`, a read of 0 bytes in `read_request`) simply ends it, so
scripts need no error handling of their own. Leaving the `with` block sets `stop`, closes the listening
socket and shuts down every connection (which also wakes a handler blocked in `recv`), then joins the
handler threads, so nothing outlives the test and no socket is left to a ResourceWarning.

`stopped(seconds)` is how a looping handler waits: it returns True at once when the server is stopping.
`hold(conn)` keeps a connection open and silent until the client hangs up or the test ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping

__all__ = [
    "Handler",
    "RawServer",
    "hold",
    "http_head",
    "http_response",
    "read_request",
    "request_header",
    "stopped",
]

Handler = Callable[[socket.socket], None]

_current = threading.local()  # the RawServer whose handler runs in this thread


class RawServer:
    """Accepts connections on a free loopback port and runs `handler(conn)` for each, in its own thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.requests: list[bytes] = []  # the head of every request `read_request` read, in order
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._listener.close()
        with self._lock:
            open_now = list(self._open)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a handler blocked in recv/sendall
        for thread in list(self._threads):
            thread.join(timeout=5)
        for conn in open_now:
            conn.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        # accept() is not woken by close() from another thread on Linux: poll so __exit__ can stop it.
        self._listener.settimeout(0.05)
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            conn.settimeout(None)
            with self._lock:
                if self.stop.is_set():
                    conn.close()
                    return
                self._open.append(conn)
                self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        _current.server = self
        try:
            self.handler(conn)
        except OSError:
            pass  # the client hung up (or the test ended): what hostile scripts are for
        finally:
            with self._lock:
                if conn in self._open:
                    self._open.remove(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def _server() -> RawServer | None:
    return getattr(_current, "server", None)


def stopped(seconds: float = 0.0) -> bool:
    """Wait up to `seconds`; True as soon as the server running this handler is stopping."""
    server = _server()
    if server is None:
        raise RuntimeError("stopped() is for handlers run by a RawServer")
    return server.stop.wait(seconds)


def read_request(conn: socket.socket) -> tuple[bytes, bytes]:
    """One request: its head (request line and headers, without the blank line) and its Content-Length body.

    Raises ConnectionResetError when the client closes first (an OSError: it ends the handler).
    """

    def receive() -> bytes:
        data = conn.recv(65536)
        if not data:
            raise ConnectionResetError("the client closed before sending a whole request")
        return data

    data = b""
    while b"\r\n\r\n" not in data:
        data += receive()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(request_header(head, "content-length") or 0)
    while len(body) < length:
        body += receive()
    server = _server()
    if server is not None:
        with server._lock:
            server.requests.append(head)
    return head, body[:length]


def request_header(head: bytes, name: str) -> str | None:
    """The value of header `name` (case-insensitive) in a request head, None when absent."""
    wanted = name.lower().encode()
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == wanted:
            return value.strip().decode("latin-1")
    return None


_REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip


def http_head(status: int = 200, headers: Mapping[str, str] | None = None) -> bytes:
    """A status line and headers, ending with the blank line; `Connection: close` unless given."""
    fields = {"connection": "close", **{name.lower(): value for name, value in (headers or {}).items()}}
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_response(status: int = 200, body: bytes = b"", headers: Mapping[str, str] | None = None) -> bytes:
    """A whole response with its Content-Length (a JSON content type unless `headers` say otherwise)."""
    fields = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    fields["content-length"] = str(len(body))
    return http_head(status, fields) + body


def hold(conn: socket.socket) -> None:
    """Keep the connection open and silent until the client hangs up or the server stops."""
    while conn.recv(65536):
        pass  # nothing more is expected, and nothing read matters
