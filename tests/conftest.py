"""Root pytest fixtures shared by every test package: the session-wide local Gradient-compatible server.

`local_server` is one running `gradient_integrations.local.LocalServer` on a free loopback port, started
once per test session and stopped at the end. Its `base_url` (e.g. "http://127.0.0.1:54321") takes the
place of the real endpoint: it needs no key, speaks the DO wire format, and injects faults per request
through the `x-gradient-fault` header (see docs/local-server.md, "Fault injection").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fakes import CountingTransport

if TYPE_CHECKING:
    from gradient_integrations.local import LocalServer


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """A running local server (no key required, DO stream dialect by default) for the whole session."""
    # Imported here so test packages that never use the server do not pay for starlette/uvicorn.
    from gradient_integrations.local import LocalServer

    with LocalServer() as server:
        yield server


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Cassettes written through pytest-recording (langchain-tests' `test_stream_time`) get the same
    JSON-body matcher and the same stamped serializer as ours, so they also say which server answered."""
    from devtools.cassettes import (
        JSON_BODY_MATCHER,
        SERIALIZER_NAME,
        RecordingSource,
        StampedYamlSerializer,
        json_body_matcher,
    )

    source = RecordingSource.local_server(
        "openai-gpt-oss-120b",
        note="langchain-tests' test_stream_time, answered by the session's local server",
    )
    vcr.register_matcher(JSON_BODY_MATCHER, json_body_matcher)
    vcr.register_serializer(SERIALIZER_NAME, StampedYamlSerializer(source))


@pytest.fixture
def counter() -> Iterator[CountingTransport]:
    """A real-socket sync transport that records each request (see `fakes.py`)."""
    transport = CountingTransport(httpx.HTTPTransport())
    yield transport
    transport.close()
