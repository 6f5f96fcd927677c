"""A stalling HTTP/1.1 server on 127.0.0.1 for tests that need real sockets (idle timeouts, httpcore logs).

Built on the reliability suite's `RawServer` (a raw socket per connection, in a thread), so the test
controls every byte and every pause: each request is answered with a chunked `text/event-stream` body whose
chunks are sent on a schedule, after which the server holds the connection open and silent until the
client hangs up or the test ends, as a hung upstream would. `hangups` counts the clients that closed such a
connection, so a test can see one released.
"""

from __future__ import annotations

import socket

from reliability._raw_server import RawServer, read_request, stopped

_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
)


class StallingServer:
    """Answers every request: optional delay before headers, then (delay, bytes) chunks, then silence."""

    def __init__(self, chunks: list[tuple[float, bytes]], *, header_delay: float = 0.0) -> None:
        self.chunks = chunks
        self.header_delay = header_delay
        self.hangups = 0
        self._server = RawServer(self._serve)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def connections(self) -> int:
        return self._server.connections

    def __enter__(self) -> StallingServer:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def _serve(self, conn: socket.socket) -> None:
        read_request(conn)
        if stopped(self.header_delay):
            return
        conn.sendall(_HEAD)
        for delay, data in self.chunks:
            if stopped(delay):
                return
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        self._hold(conn)

    def _hold(self, conn: socket.socket) -> None:
        """Silent, connection open, until the client hangs up (counted) or the test ends."""
        conn.settimeout(0.02)
        while not stopped():
            try:
                if conn.recv(65536):
                    continue  # nothing is expected, and nothing read matters
            except TimeoutError:
                continue
            except OSError:
                pass  # reset by the client: a hang-up too
            if not stopped():  # the server's own shutdown at the end of a test is not a hang-up
                self.hangups += 1
            return
