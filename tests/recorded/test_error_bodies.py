"""Error bodies as they really arrive: OpenAI's (recorded), DO's (documented), and pages that are not JSON.

Each becomes the typed error for its status, with the server's own message readable in `str(error)`;
retryable statuses (429, 5xx) are retried, the others are not.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from corpus import Exchange
from fakes import FakeEndpoint
from replay import BASE_URL, ERRORS, EXPECTED, TEST_KEY, serve

from gradient_integrations.core import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    ResponsesClient,
    RetryPolicy,
    build_request,
)

CLASSES = {400: BadRequestError, 401: AuthenticationError, 429: RateLimitError, 500: InternalServerError}


def failing_client(endpoint: FakeEndpoint) -> ResponsesClient:
    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    policy = RetryPolicy(max_retries=2, sleep=lambda _: None, async_sleep=no_wait)
    return ResponsesClient(
        api_key=TEST_KEY,
        base_url=BASE_URL,
        transport=endpoint.transport,
        async_transport=endpoint.async_transport,
        retry_policy=policy,
    )


@pytest.mark.parametrize("exchange", ERRORS, ids=[exchange.name for exchange in ERRORS])
async def test_every_error_body_becomes_its_typed_error(exchange: Exchange) -> None:
    expected = EXPECTED[exchange.name]
    for mode in ("create", "acreate"):
        endpoint = serve(exchange, mode)
        client = failing_client(endpoint)
        request = build_request(model="m", input="hi")
        with pytest.raises(APIStatusError) as caught:
            if mode == "create":
                client.create(request)
            else:
                await client.acreate(request)
        error = caught.value
        assert type(error) is CLASSES[exchange.status]
        assert error.status_code == expected["status"]
        assert expected["error_message"] in str(error)
        assert str(error).startswith(f"Error code: {exchange.status} - {expected['error_message']}")
        retried = exchange.status == 429 or exchange.status >= 500
        assert endpoint.count == (3 if retried else 1)


@pytest.mark.parametrize(
    ("page", "headline"),
    [
        (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>503 Service Temporarily Unavailable"
            "</title><style>body{font:1em sans-serif}</style></head>"
            "<body><h1>We'll be back soon</h1></body></html>",
            "503 Service Temporarily Unavailable",
        ),
        (
            "<html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
            "502 Bad Gateway nginx",
        ),
        ("upstream connect error or disconnect/reset before headers", "upstream connect error"),
    ],
)
def test_a_page_that_is_not_json_gives_its_title_not_its_markup(page: str, headline: str) -> None:
    status = 503 if "503" in page else 502
    endpoint = FakeEndpoint(httpx.Response(status, text=page, headers={"content-type": "text/html"}))
    client = ResponsesClient(
        api_key=TEST_KEY,
        base_url=BASE_URL,
        transport=endpoint.transport,
        retry_policy=RetryPolicy(max_retries=1, sleep=lambda _: None),
    )
    with pytest.raises(InternalServerError) as caught:
        client.create(build_request(model="m", input="hi"))
    message = str(caught.value)
    assert message.startswith(f"Error code: {status} - {headline}")
    assert "<" not in message and len(message) < 260
    assert caught.value.body == page  # the raw page stays available
    assert endpoint.count == 2  # a 5xx page is still retried
