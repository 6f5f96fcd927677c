"""Counting the TCP connections clients open to one server port, whatever HTTP library they use.

Every library measured here (httpx/httpcore through asyncio or plain sockets, requests/urllib3 through
azure-core) connects with `socket.socket.connect`, so wrapping that one method sees all of them. The
contenders run one after another, so the difference of `opened` around a run is that run's count.
(Connections open at once are not counted this way: asyncio releases a closed socket one loop turn
later, so a count of unreleased sockets overstates what a pool holds.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ConnectionCounter:
    """Counts connects from this process to `port` while `installed()`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened = 0

    @contextmanager
    def installed(self) -> Iterator[ConnectionCounter]:
        original = socket.socket.connect
        counter = self

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple) and len(address) >= 2 and address[1] == counter.port:
                counter.opened += 1
            original(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            socket.socket.connect = original  # type: ignore[method-assign]
