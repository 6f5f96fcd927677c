"""The one retry policy: what is retried, how often, how long it waits, and that streams never re-send.

Waits are recorded by a `SleepRecorder` standing in for `time.sleep`/`asyncio.sleep`, so the tests check
the exact waits without sleeping. Attempt counts come from the scripted transport's request log.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint, Reply, json_reply, sse_reply

from gradient_integrations.core import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    ResponsesClient,
    RetryPolicy,
    StreamError,
    build_request,
)
from gradient_integrations.core.retry import MAX_RETRY_AFTER

from ._support import SleepRecorder, acollect, collect, load_json, make_client, sse_event

OK = json_reply(load_json("pydo_created_at.json"))
REQUEST = build_request(model="m", input="hi")


def error_reply(status: int, headers: dict[str, str] | None = None) -> Reply:
    return json_reply({"id": "error", "message": f"status {status}"}, status=status, headers=headers)


def _response(status: int = 503, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


# -- the policy on its own ---------------------------------------------------------------------------
def test_backoff_doubles_from_half_a_second_and_caps_at_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy()
    monkeypatch.setattr("gradient_integrations.core.retry.random.random", lambda: 0.0)  # no jitter
    assert [policy.backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    monkeypatch.setattr("gradient_integrations.core.retry.random.random", lambda: 1.0)  # full jitter
    assert [policy.backoff(n) for n in range(5)] == [0.375, 0.75, 1.5, 3.0, 6.0]


def test_backoff_jitter_stays_within_25_percent() -> None:
    policy = RetryPolicy()
    for retries_done in range(6):
        ceiling = min(0.5 * 2**retries_done, 8.0)
        waits = [policy.backoff(retries_done) for _ in range(300)]
        assert all(0.75 * ceiling <= wait <= ceiling for wait in waits)
        assert max(waits) - min(waits) > 0.05 * ceiling  # jitter is actually applied


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert RetryPolicy().should_retry_status(_response(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_not_retryable_statuses(status: int) -> None:
    assert not RetryPolicy().should_retry_status(_response(status))


def test_x_should_retry_overrides_the_status() -> None:
    policy = RetryPolicy()
    assert policy.should_retry_status(_response(400, **{"x-should-retry": "true"}))
    assert not policy.should_retry_status(_response(503, **{"x-should-retry": "false"}))
    assert policy.should_retry_status(_response(503, **{"x-should-retry": "maybe"}))  # unknown value: ignored


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the ms header wins
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "60"}, 60.0),
    ],
)
def test_server_requested_waits_are_honoured(headers: dict[str, str], wait: float) -> None:
    assert RetryPolicy().wait_after_status(0, _response(429, **headers)) == wait


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        # No retry-after: the reset of the limit that ran out (DO's quota headers, OpenAI's durations).
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2.5"}, 2.5),
        (
            {
                "x-ratelimit-remaining-tokens-per-minute": "0",
                "x-ratelimit-reset-tokens-per-minute": "0m59.5s",
            },
            59.5,
        ),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "250ms"}, 0.25),
        ({"ratelimit-remaining": "0", "ratelimit-reset": "7"}, 7.0),
        # Two exhausted limits: the later reset, so the retry is not refused again at once.
        (
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens-per-minute": "0",
                "x-ratelimit-reset-tokens-per-minute": "4s",
            },
            4.0,
        ),
        # retry-after wins over the reset headers.
        (
            {"retry-after": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "30s"},
            2.0,
        ),
    ],
)
def test_without_retry_after_an_exhausted_limits_reset_is_the_wait(
    headers: dict[str, str], wait: float
) -> None:
    assert RetryPolicy().wait_after_status(0, _response(429, **headers)) == wait


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-remaining-requests": "40", "x-ratelimit-reset-requests": "30s"},  # not exhausted
        {"x-ratelimit-remaining-tokens-per-day": "0", "x-ratelimit-reset-tokens-per-day": "5h0m0s"},  # > 60 s
    ],
)
def test_a_reset_that_is_no_usable_wait_falls_back_to_backoff(
    headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gradient_integrations.core.retry.random.random", lambda: 0.0)
    assert RetryPolicy().wait_after_status(0, _response(429, **headers)) == 0.5


def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    wait = RetryPolicy().wait_after_status(0, _response(503, **{"retry-after": when}))
    assert wait is not None and 18.0 <= wait <= 20.5


def test_retry_after_date_without_zone_is_read_as_gmt(monkeypatch: pytest.MonkeyPatch) -> None:
    # `-0000` dates parse to naive datetimes; read as local time they would be off by the UTC offset.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        when = email.utils.formatdate(time.time() + 20)  # "... -0000"
        wait = RetryPolicy().wait_after_status(0, _response(503, **{"retry-after": when}))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert wait is not None and 18.0 <= wait <= 20.5


@pytest.mark.parametrize(
    "value",
    [
        "61",  # longer than the 60 s cap
        "3600",
        "-5",
        "soon",  # not a number, not a date
        "Wed, 99 Foo 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 GMT",  # a date in the past
        email.utils.formatdate(time.time() + 600, usegmt=True),  # a date too far ahead
        " ",
    ],
)
def test_unusable_retry_after_falls_back_to_backoff(value: str) -> None:
    wait = RetryPolicy().wait_after_status(1, _response(429, **{"retry-after": value}))
    assert wait is not None and 0.75 <= wait <= 1.0  # backoff for the second retry
    assert MAX_RETRY_AFTER == 60.0


def test_no_wait_once_retries_are_used_up_or_status_is_final() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.wait_after_status(2, _response(503)) is None
    assert policy.wait_after_status(0, _response(400)) is None
    assert policy.wait_after_error(2) is None
    assert RetryPolicy(max_retries=0).wait_after_error(0) is None


# -- through the client: attempt counts --------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (408, APIStatusError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
async def test_retryable_status_is_tried_three_times_then_raised(status: int, error: type[Exception]) -> None:
    for run_async in (False, True):
        script = FakeEndpoint(error_reply(status))
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        with pytest.raises(error) as caught:
            await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert caught.value.status_code == status  # type: ignore[attr-defined]
        assert script.count == 3  # the first try and max_retries=2 retries
        assert len(sleeper.waits) == 2
        assert 0.375 <= sleeper.waits[0] <= 0.5 and 0.75 <= sleeper.waits[1] <= 1.0


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
async def test_retryable_status_then_success(status: int) -> None:
    for run_async in (False, True):
        script = FakeEndpoint(error_reply(status, {"retry-after-ms": "10"}), OK)
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        result = await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert result.text == "The ocean covers over 70% of Earth."
        assert (script.count, sleeper.waits) == (2, [0.01])
        assert script.bodies[0] == script.bodies[1]  # the retry re-sends the same body


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_final_status_is_not_retried(status: int) -> None:
    for run_async in (False, True):
        script = FakeEndpoint(error_reply(status), OK)
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        with pytest.raises(APIStatusError):
            await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert (script.count, sleeper.waits) == (1, [])


async def test_x_should_retry_through_the_client() -> None:
    script = FakeEndpoint(error_reply(400, {"x-should-retry": "true"}), OK)
    assert make_client(script).create(REQUEST).text
    assert script.count == 2
    script = FakeEndpoint(error_reply(503, {"x-should-retry": "false"}), OK)
    with pytest.raises(InternalServerError):
        await make_client(script).acreate(REQUEST)
    assert script.count == 1


@pytest.mark.parametrize(
    ("headers", "waits"),
    [
        ({"retry-after": "2"}, [2.0, 2.0]),
        ({"retry-after-ms": "700"}, [0.7, 0.7]),
        ({"retry-after": "120"}, None),
    ],
)
def test_client_sleeps_what_the_server_asks(headers: dict[str, str], waits: list[float] | None) -> None:
    script = FakeEndpoint(error_reply(429, headers))
    sleeper = SleepRecorder()
    with pytest.raises(RateLimitError):
        make_client(script, sleeper=sleeper).create(REQUEST)
    if waits is None:  # over the cap: ordinary backoff instead
        assert 0.375 <= sleeper.waits[0] <= 0.5 and 0.75 <= sleeper.waits[1] <= 1.0
    else:
        assert sleeper.waits == waits


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ConnectError("connection refused"), APIConnectionError),
        (httpx.RemoteProtocolError("server disconnected"), APIConnectionError),
        (httpx.ConnectTimeout("connect timed out"), APITimeoutError),
        (httpx.ReadTimeout("read timed out"), APITimeoutError),
    ],
)
async def test_transport_failures_are_retried_then_typed(failure: Exception, error: type[Exception]) -> None:
    for run_async in (False, True):
        script = FakeEndpoint(Reply(raises=failure))
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        with pytest.raises(error) as caught:
            await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert caught.value.__cause__ is failure
        assert script.count == 3 and len(sleeper.waits) == 2
        assert isinstance(caught.value, APITimeoutError) is isinstance(failure, httpx.TimeoutException)


async def test_transport_failure_then_success() -> None:
    script = FakeEndpoint(Reply(raises=httpx.ConnectError("refused")), OK)
    sleeper = SleepRecorder()
    client = make_client(script, sleeper=sleeper)
    assert (await client.acreate(REQUEST)).text
    assert script.count == 2 and len(sleeper.waits) == 1


@pytest.mark.parametrize("first", [error_reply(503), Reply(raises=httpx.ConnectError("refused"))])
async def test_max_retries_zero_means_one_attempt(first: Reply) -> None:
    for run_async in (False, True):
        script = FakeEndpoint(first, OK)
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper, max_retries=0)
        with pytest.raises((APIStatusError, APIConnectionError)):
            await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert (script.count, sleeper.waits) == (1, [])


def test_client_max_retries_applies_to_a_given_policy() -> None:
    sleeper = SleepRecorder()
    script = FakeEndpoint(error_reply(503))
    client = ResponsesClient(
        api_key="k",
        transport=script.transport,
        max_retries=4,
        retry_policy=RetryPolicy(sleep=sleeper, async_sleep=sleeper.async_sleep),
    )
    with pytest.raises(InternalServerError):
        client.create(REQUEST)
    assert script.count == 5
    # Without max_retries, the policy's own count stands.
    script = FakeEndpoint(error_reply(503))
    policy = RetryPolicy(max_retries=1, sleep=sleeper, async_sleep=sleeper.async_sleep)
    client = ResponsesClient(api_key="k", transport=script.transport, retry_policy=policy)
    with pytest.raises(InternalServerError):
        client.create(REQUEST)
    assert script.count == 2
    assert client.settings.max_retries == 1


# -- streams: retried before the first event, never after -------------------------------------------
def _sse(*payloads: dict[str, Any] | str) -> bytes:
    return "".join(sse_event(p if isinstance(p, str) else json.dumps(p)) for p in payloads).encode()


GOOD_STREAM = _sse({"choices": [{"index": 0, "delta": {"content": "ok"}}]}, "[DONE]")


async def test_stream_status_error_before_the_first_event_is_retried() -> None:
    for run_async in (False, True):
        script = FakeEndpoint(error_reply(429, {"retry-after": "1"}), sse_reply([GOOD_STREAM]))
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        stream = client.astream(REQUEST) if run_async else client.stream(REQUEST)
        _deltas, error = await acollect(stream) if run_async else collect(stream)  # type: ignore[arg-type]
        assert error is None and stream.result.text == "ok"
        assert (script.count, sleeper.waits) == (2, [1.0])


@pytest.mark.parametrize(
    "failure", [httpx.ReadError("reset"), httpx.RemoteProtocolError("closed"), httpx.ReadTimeout("idle")]
)
async def test_stream_failing_midway_is_not_resent(failure: Exception) -> None:
    first = _sse({"choices": [{"index": 0, "delta": {"content": "half"}}]})
    for run_async in (False, True):
        script = FakeEndpoint(sse_reply([first], fail_after=failure), sse_reply([GOOD_STREAM]))
        sleeper = SleepRecorder()
        client = make_client(script, sleeper=sleeper)
        stream = client.astream(REQUEST) if run_async else client.stream(REQUEST)
        deltas, error = await acollect(stream) if run_async else collect(stream)  # type: ignore[arg-type]
        assert isinstance(error, StreamError) and error.partial.text == "half"
        assert [d.text for d in deltas] == ["half"]
        assert (script.count, sleeper.waits) == (1, [])
        assert error.__cause__ is failure


async def test_stream_cut_before_any_event_is_not_resent_either() -> None:
    # Headers arrived (200, text/event-stream): the request may already be running and billed.
    for run_async in (False, True):
        script = FakeEndpoint(sse_reply([], fail_after=httpx.ReadError("reset")), sse_reply([GOOD_STREAM]))
        client = make_client(script)
        stream = client.astream(REQUEST) if run_async else client.stream(REQUEST)
        deltas, error = await acollect(stream) if run_async else collect(stream)  # type: ignore[arg-type]
        assert deltas == [] and isinstance(error, StreamError)
        assert script.count == 1


def test_retry_decisions_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="gradient_integrations")
    script = FakeEndpoint(error_reply(503, {"retry-after": "1"}), OK)
    make_client(script).create(REQUEST)
    messages = [r.getMessage() for r in caplog.records if r.name == "gradient_integrations"]
    assert any("POST https://gradient.test/v1/responses -> 503" in m for m in messages)
    assert any("retrying in 1.00 s (retry 1 of 2)" in m for m in messages)
    assert any("-> 200" in m for m in messages)
