"""Shared helpers of the reliability suite: the recognisable secret, counting transports, recorded sleeps.

`CountingTransport` / `AsyncCountingTransport` wrap a real transport (or none) and record every request
that reaches them, so a test can prove how many attempts were made, or that none was made at all.
`install_fast_retries` puts a `RetryPolicy` whose sleeps are recorded (the core suite's `SleepRecorder`)
on an adapter's core client, so retries cost no time and their waits can be asserted.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx
from core._support import SleepRecorder  # tests/ is on sys.path (rootdir-relative test packages)

from gradient_integrations.core import ResponsesClient, RetryPolicy

# Shaped like a real DO model access key so the core's `redact()` pattern would catch it too: a leak
# that slipped past redaction would still show up verbatim in the scans below.
SECRET_KEY = "sk-do-RELIABILITY-SECRET-0123456789"
SECRET_FRAGMENT = "RELIABILITY-SECRET"  # also catches a key that was cut, quoted or re-encoded
KEY_ENV_VARS = ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")
MODEL = "llama3.3-70b-instruct"


class _NoNetwork(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The default inner transport: any request that gets this far is a bug in the test or the code."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")


class CountingTransport(httpx.BaseTransport):
    """Records each request, then hands it to `inner` (by default: fail loudly, nothing is sent)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner: httpx.BaseTransport = inner or _NoNetwork()
        self.requests: list[httpx.Request] = []

    @property
    def count(self) -> int:
        return len(self.requests)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    """Async twin of `CountingTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner: httpx.AsyncBaseTransport = inner or _NoNetwork()
        self.requests: list[httpx.Request] = []

    @property
    def count(self) -> int:
        return len(self.requests)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class HasCoreClient(Protocol):
    """Both adapters expose their lazily created core client as `.client`."""

    @property
    def client(self) -> ResponsesClient: ...


def install_fast_retries(model: HasCoreClient, max_retries: int = 2) -> SleepRecorder:
    """Give `model`'s core client the default retry rules with recorded (instant) sleeps."""
    recorder = SleepRecorder()
    model.client.retry_policy = RetryPolicy(
        max_retries=max_retries, sleep=recorder, async_sleep=recorder.async_sleep
    )
    return recorder
