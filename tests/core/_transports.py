"""Real-socket httpx transports that record what a client sent, for tests of any layer.

`CountingTransport` (sync) and `InFlightTransport` (async) pass every request to a real httpx transport
and record its path, so a test can prove how many requests went out (none, for input refused before
sending) and where. `InFlightTransport` also records the most requests ever in flight at once, counting
a request until its whole answer has arrived, so bounded concurrency can be asserted.
"""

from __future__ import annotations

import httpx


class CountingTransport(httpx.BaseTransport):
    """Sends through a real transport and records each request's path (retries included)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class InFlightTransport(httpx.AsyncBaseTransport):
    """Async: records each request's path and the most requests ever in flight (until the body is read)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()  # the request is in flight until its whole answer has arrived
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()
