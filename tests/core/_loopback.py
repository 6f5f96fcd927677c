"""A tiny HTTP/1.1 server on 127.0.0.1 for the tests that need real sockets (idle timeouts, httpcore logs).

A raw socket in a thread, so the test controls every byte and every pause: each request is answered
with a chunked `text/event-stream` body whose chunks are sent on a schedule, after which the server
holds the connection open and silent until the client hangs up or the test ends, as a hung upstream
would. `hangups` counts the clients that closed such a connection, so a test can see one released.
"""

from __future__ import annotations

import socket
import threading


class StallingServer:
    """Answers every request: optional delay before headers, then (delay, bytes) chunks, then silence."""

    def __init__(self, chunks: list[tuple[float, bytes]], *, header_delay: float = 0.0) -> None:
        self.chunks = chunks
        self.header_delay = header_delay
        self.connections = 0
        self.hangups = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StallingServer:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        # accept() is not woken by close() from another thread on Linux: poll so __exit__ can stop it.
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed
            conn.settimeout(None)
            self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._read_request(conn)
                if self._stop.wait(self.header_delay):
                    return
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                )
                for delay, data in self.chunks:
                    if self._stop.wait(delay):
                        return
                    conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            except OSError:
                return  # the client hung up first: expected after its timeout
            self._hold(conn)

    def _hold(self, conn: socket.socket) -> None:
        """Silent, connection open, until the client hangs up (counted) or the test ends."""
        conn.settimeout(0.02)
        while not self._stop.is_set():
            try:
                if conn.recv(65536):
                    continue  # nothing is expected, and nothing read matters
            except TimeoutError:
                continue
            except OSError:
                pass  # reset by the client: a hang-up too
            self.hangups += 1
            return

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        def receive() -> bytes:
            data = conn.recv(65536)
            if not data:
                raise ConnectionResetError("the client closed before sending a whole request")
            return data

        data = b""
        while b"\r\n\r\n" not in data:
            data += receive()
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += receive()
