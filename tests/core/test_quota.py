"""Quota headers read into `Quota`: on results, on errors, in every spelling DO and OpenAI send.

DO documents `x-ratelimit-{limit,remaining,reset}-{requests,tokens-per-minute,tokens-per-day}`
("Quota-specific response headers") and the IETF `ratelimit-*` with `retry-after` on 429
(`inference_description.yml`); OpenAI, for the models DO forwards, `x-ratelimit-*-requests` / `-tokens`
with durations like `6m0s`.
"""

from __future__ import annotations

import time

import httpx
import pytest
from fakes import FakeEndpoint, json_reply, sse_reply

from gradient_integrations.core import Quota, RateLimit, RateLimitError, build_request
from gradient_integrations.core.quota import parse_duration, parse_quota

from ._support import SleepRecorder, acollect, collect, load_json, make_client, sse_event, text_event

DO_HEADERS = {
    "x-ratelimit-limit-requests": "600",
    "x-ratelimit-remaining-requests": "599",
    "x-ratelimit-reset-requests": "100ms",
    "x-ratelimit-limit-tokens-per-minute": "200000",
    "x-ratelimit-remaining-tokens-per-minute": "199880",
    "x-ratelimit-reset-tokens-per-minute": "500ms",
    "x-ratelimit-limit-tokens-per-day": "5000000",
    "x-ratelimit-remaining-tokens-per-day": "4999880",
    "x-ratelimit-reset-tokens-per-day": "23h59m59s",
}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("12", 12.0),
        ("0.5", 0.5),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("250ms", 0.25),
        ("59.5s", 59.5),
        ("1s", 1.0),
        (" 2S ", 2.0),
        ("soon", None),
        ("5x", None),
        ("-3", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_reset_values_in_every_documented_form(value: str | None, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


def test_a_unix_time_reset_is_the_seconds_until_then() -> None:
    wait = parse_duration(str(int(time.time()) + 30))
    assert wait is not None and 28.0 <= wait <= 30.5


def test_dos_headers_become_three_limits() -> None:
    quota = parse_quota(httpx.Headers(DO_HEADERS))
    assert quota == Quota(
        requests=RateLimit(600, 599, 0.1),
        tokens_per_minute=RateLimit(200000, 199880, 0.5),
        tokens_per_day=RateLimit(5000000, 4999880, 86399.0),
    )
    assert quota.wait() is None  # nothing is exhausted and no retry-after


def test_ietf_and_openai_spellings_and_retry_after() -> None:
    quota = parse_quota(
        httpx.Headers(
            {
                "RateLimit-Limit": "250",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "42",
                "x-ratelimit-limit-tokens": "30000",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "6m0s",
                "Retry-After": "3",
            }
        )
    )
    assert quota is not None
    assert quota.requests == RateLimit(250, 0, 42.0) and quota.requests.exhausted
    assert quota.tokens_per_minute == RateLimit(30000, 0, 360.0)
    assert quota.retry_after == 3.0 and quota.wait() == 3.0


def test_no_quota_headers_is_no_quota_and_garbage_is_ignored() -> None:
    assert parse_quota(httpx.Headers({"content-type": "application/json"})) is None
    assert parse_quota(httpx.Headers({"x-ratelimit-remaining-requests": "lots"})) is None


OK_BODY = load_json("pydo_created_at.json")
REQUEST = build_request(model="m", input="hi")


@pytest.mark.parametrize("stream", [False, True])
async def test_results_carry_the_quota_and_the_route_sync_and_async(stream: bool) -> None:
    headers = {**DO_HEADERS, "x-model-router-selected-route": "code"}
    reply = (
        sse_reply([text_event("ok") + sse_event("[DONE]").encode()], headers=headers)
        if stream
        else json_reply(OK_BODY, headers=headers)
    )
    script = FakeEndpoint(reply, reply)
    client = make_client(script)
    if stream:
        sync = client.stream(REQUEST)
        collect(sync)
        asynchronous = client.astream(REQUEST)
        await acollect(asynchronous)
        results = [sync.result, asynchronous.result]
    else:
        results = [client.create(REQUEST), await client.acreate(REQUEST)]
    for result in results:
        assert result.route == "code"
        assert result.quota is not None and result.quota.requests == RateLimit(600, 599, 0.1)


def test_a_429_carries_its_quota_after_the_retries() -> None:
    headers = {"retry-after": "1", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
    refusal = json_reply(
        {"id": "too_many_requests", "message": "API rate limit exceeded."}, status=429, headers=headers
    )
    script = FakeEndpoint(refusal, refusal, refusal)
    sleeper = SleepRecorder()
    client = make_client(script, sleeper=sleeper)
    with pytest.raises(RateLimitError) as caught:
        client.create(REQUEST)
    assert sleeper.waits == [1.0, 1.0]  # retry-after, twice
    quota = caught.value.quota
    assert quota is not None and quota.retry_after == 1.0 and quota.requests == RateLimit(None, 0, 1.0)
