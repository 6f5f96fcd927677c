"""Time limits a caller can reason about: `timeout`, `stream_idle_timeout` and `deadline` (the rule is in
`gradient_integrations.core.settings`).

- The wait between two stream chunks is min(read timeout, stream_idle_timeout); the idle timeout defaults
  to None, "the read timeout", so `timeout=3` bounds a stalled stream at 3 s, not at some other default.
- `deadline` bounds a whole call: no retry whose wait would pass it, every attempt cut to the time left,
  and a stream that outlives it fails with `StreamTimeoutError` holding what arrived.
- Every limit must be > 0 seconds, checked when the settings are resolved, and the error names it.

The limits themselves are read off the scripted transport's requests; the ones that must really fire run
on real loopback sockets (`StallingServer`), sync and async.
"""

from __future__ import annotations

import pickle
import re
import time
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint, Reply, json_reply, sse_reply

from gradient_integrations.core import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    RateLimitError,
    ResponsesClient,
    RetryPolicy,
    Settings,
    StreamTimeoutError,
    build_request,
)
from gradient_integrations.core.settings import DEFAULT_STREAM_IDLE_TIMEOUT

from ._loopback import StallingServer
from ._support import SleepRecorder, acollect, collect, load_json, make_client, sse_event, text_event

REQUEST = build_request(model="m", input="hi")
BODY = load_json("pydo_created_at.json")


DONE = sse_event("[DONE]").encode()
STREAM = text_event("ok") + DONE


def _read_limits(script: FakeEndpoint) -> list[float | None]:
    return [request.extensions["timeout"]["read"] for request in script.requests]


# -- the stream rule: min(read timeout, stream_idle_timeout) -------------------------------------------
def test_idle_timeout_defaults_to_the_read_timeout() -> None:
    assert DEFAULT_STREAM_IDLE_TIMEOUT is None
    settings = Settings.resolve(api_key="k")
    assert settings.stream_idle_timeout is None
    assert settings.stream_read_timeout == settings.timeout.read == 60.0


@pytest.mark.parametrize(
    ("timeout", "idle", "between_chunks"),
    [
        (3.0, None, 3.0),  # the caller's timeout alone: no hidden 60 s idle default
        (30.0, 7.0, 7.0),  # the idle timeout shortens it...
        (5.0, 90.0, 5.0),  # ...but never lengthens it
        ((1.0, 9.0), None, 9.0),
        (httpx.Timeout(None), None, None),  # no limit at all, explicitly
        (httpx.Timeout(None), 2.0, 2.0),
    ],
)
def test_wait_between_stream_chunks_is_the_shorter_limit(
    timeout: Any, idle: float | None, between_chunks: float | None
) -> None:
    script = FakeEndpoint(sse_reply([STREAM]))
    client = make_client(script, timeout=timeout, stream_idle_timeout=idle)
    assert client.settings.stream_read_timeout == between_chunks
    assert collect(client.stream(REQUEST))[1] is None
    script.replies = [json_reply(BODY)]
    client.create(REQUEST)
    stream_read, create_read = _read_limits(script)
    assert stream_read == between_chunks
    assert create_read == client.settings.timeout.read  # a plain call keeps the read timeout as given


def test_a_plain_timeout_bounds_a_stalled_stream_on_real_sockets() -> None:
    # The reported bug: timeout=3 on a stalled stream waited the 60 s idle default. Here 0.3 s must do.
    with StallingServer([(0.0, text_event("Hello"))]) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.3)
        started = time.monotonic()
        deltas, error = collect(client.stream(REQUEST))
        elapsed = time.monotonic() - started
        client.close()
    assert [d.text for d in deltas] == ["Hello"]
    assert isinstance(error, StreamTimeoutError) and error.partial.text == "Hello"
    assert "No stream event within 0.3 s" in str(error)
    assert 0.3 <= elapsed < 5


async def test_a_plain_timeout_bounds_a_stalled_async_stream_on_real_sockets() -> None:
    with StallingServer([(0.0, text_event("Hello"))]) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.3)
        started = time.monotonic()
        deltas, error = await acollect(client.astream(REQUEST))
        elapsed = time.monotonic() - started
        await client.aclose()
    assert [d.text for d in deltas] == ["Hello"]
    assert isinstance(error, StreamTimeoutError) and error.partial.text == "Hello"
    assert 0.3 <= elapsed < 5


# -- validation: every limit > 0, named in the error -------------------------------------------------
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"timeout": 0}, "timeout must be > 0 seconds, got 0"),
        ({"timeout": -1.5}, "timeout must be > 0 seconds, got -1.5"),
        ({"timeout": float("nan")}, "timeout must be > 0 seconds, got nan"),
        ({"timeout": (0, 5)}, "timeout.connect must be > 0 seconds, got 0"),
        ({"timeout": (5, -1)}, "timeout.read must be > 0 seconds, got -1"),
        ({"timeout": (1, 2, 3)}, "timeout as a tuple must be (connect, read)"),
        ({"timeout": httpx.Timeout(0)}, "timeout.connect must be > 0 seconds, got 0"),
        ({"timeout": httpx.Timeout(5, read=0)}, "timeout.read must be > 0 seconds, got 0"),
        ({"timeout": httpx.Timeout(5, pool=-2)}, "timeout.pool must be > 0 seconds, got -2"),
        ({"stream_idle_timeout": 0}, "stream_idle_timeout must be > 0 seconds, got 0"),
        ({"stream_idle_timeout": -3}, "stream_idle_timeout must be > 0 seconds, got -3"),
        ({"deadline": 0}, "deadline must be > 0 seconds, got 0"),
        ({"deadline": -0.5}, "deadline must be > 0 seconds, got -0.5"),
    ],
)
def test_non_positive_limits_are_refused_when_resolved(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as resolved:
        Settings.resolve(api_key="k", **given)
    assert str(resolved.value).startswith(message)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        ResponsesClient(api_key="k", **given)


def test_limits_without_a_bound_are_accepted() -> None:
    settings = Settings.resolve(api_key="k", timeout=httpx.Timeout(None), deadline=None)
    assert settings.timeout.read is None and settings.deadline is None
    assert Settings.resolve(api_key="k", deadline=2.5, stream_idle_timeout=1).deadline == 2.5


# -- the deadline: retries ---------------------------------------------------------------------------
def _deadline_client(
    script: FakeEndpoint, deadline: float, **kwargs: Any
) -> tuple[ResponsesClient, SleepRecorder]:
    sleeper = SleepRecorder()
    return make_client(script, sleeper=sleeper, deadline=deadline, **kwargs), sleeper


async def _call(client: ResponsesClient, how: str) -> Any:
    if how == "create":
        return client.create(REQUEST)
    if how == "acreate":
        return await client.acreate(REQUEST)
    if how == "stream":
        deltas, error = collect(client.stream(REQUEST))
    else:
        deltas, error = await acollect(client.astream(REQUEST))
    if error is not None:
        raise error
    return deltas


HOW = ["create", "acreate", "stream", "astream"]


@pytest.mark.parametrize("how", HOW)
async def test_a_retry_after_past_the_deadline_is_not_waited_for(how: str) -> None:
    # The server asks for 5 s; 2 s are left: the 429 is raised at once instead of a timeout later.
    script = FakeEndpoint(
        json_reply({"message": "slow down"}, status=429, headers={"retry-after": "5"}), json_reply(BODY)
    )
    client, sleeper = _deadline_client(script, 2.0)
    with pytest.raises(RateLimitError):
        await _call(client, how)
    assert (script.count, sleeper.waits) == (1, [])


@pytest.mark.parametrize("how", HOW)
async def test_a_retry_after_within_the_deadline_is_honoured(how: str) -> None:
    reply = sse_reply([STREAM]) if how.endswith("stream") else json_reply(BODY)
    script = FakeEndpoint(
        json_reply({"message": "slow down"}, status=429, headers={"retry-after": "1"}), reply
    )
    client, sleeper = _deadline_client(script, 2.0)
    await _call(client, how)
    assert (script.count, sleeper.waits) == (2, [1.0])


@pytest.mark.parametrize("how", HOW)
async def test_a_backoff_past_the_deadline_is_not_waited_for(how: str) -> None:
    # The first backoff is 0.375-0.5 s; with 0.3 s left the connection error is raised after one attempt.
    script = FakeEndpoint(Reply(raises=httpx.ConnectError("refused")))
    client, sleeper = _deadline_client(script, 0.3)
    with pytest.raises(APIConnectionError) as caught:
        await _call(client, how)
    assert not isinstance(caught.value, APITimeoutError)
    assert (script.count, sleeper.waits) == (1, [])


@pytest.mark.parametrize("how", HOW)
async def test_each_attempt_is_cut_to_the_time_left(how: str) -> None:
    script = FakeEndpoint(sse_reply([STREAM]) if how.endswith("stream") else json_reply(BODY))
    client, _ = _deadline_client(script, 2.0, timeout=30.0)
    await _call(client, how)
    limits = script.requests[0].extensions["timeout"]
    assert all(0 < limits[name] <= 2.0 for name in ("connect", "read", "write", "pool"))
    no_deadline = make_client(script)
    await _call(no_deadline, how)
    assert script.requests[-1].extensions["timeout"]["read"] == 60.0  # untouched without a deadline


async def test_an_oversleeping_retry_wait_cannot_start_an_attempt_past_the_deadline() -> None:
    waited: list[float] = []

    def slow_sleep(seconds: float) -> None:  # a machine too busy to wake up on time
        waited.append(seconds)
        time.sleep(0.3)

    async def slow_async_sleep(seconds: float) -> None:
        slow_sleep(seconds)

    for run_async in (False, True):
        script = FakeEndpoint(json_reply({"message": "x"}, status=503, headers={"retry-after-ms": "50"}))
        policy = RetryPolicy(max_retries=2, sleep=slow_sleep, async_sleep=slow_async_sleep)
        client = ResponsesClient(
            api_key="k",
            base_url="https://gradient.test",
            deadline=0.2,
            retry_policy=policy,
            transport=script.transport,
            async_transport=script.async_transport,
        )
        with pytest.raises(APITimeoutError, match=r"Deadline of 0.2 s passed before attempt 2"):
            await client.acreate(REQUEST) if run_async else client.create(REQUEST)
        assert script.count == 1
    assert waited == [0.05, 0.05]


async def test_deadline_ends_retries_of_a_server_that_never_answers() -> None:
    # Headers never come; each attempt would wait 5 s and 5 retries are allowed, but 0.6 s is the budget.
    policy = RetryPolicy(max_retries=5, initial_delay=0.05)
    with StallingServer([], header_delay=30) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=5, deadline=0.6, retry_policy=policy)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"Deadline of 0.6 s") as caught:
            client.create(REQUEST)
        elapsed = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"Deadline of 0.6 s") as acaught:
            await client.acreate(REQUEST)
        aelapsed = time.monotonic() - started
        await client.aclose()
    for error, seconds in ((caught.value, elapsed), (acaught.value, aelapsed)):
        assert 0.55 <= seconds < 2.5
        assert not isinstance(error, StreamTimeoutError)


# -- the deadline: streams ---------------------------------------------------------------------------
def _steady(pieces: int, every: float) -> list[tuple[float, bytes]]:
    return [(every, text_event(str(n))) for n in range(pieces)] + [(0.0, DONE)]


async def _stream_both(client: ResponsesClient) -> list[tuple[list[Any], Any, float]]:
    outcomes = []
    for run_async in (False, True):
        started = time.monotonic()
        deltas, error = (
            await acollect(client.astream(REQUEST)) if run_async else collect(client.stream(REQUEST))
        )
        outcomes.append((deltas, error, time.monotonic() - started))
    return outcomes


async def test_a_steady_stream_that_outlives_the_deadline_is_cut_with_its_partial() -> None:
    # Twenty chunks 0.1 s apart: never idle for long, but 2 s in all; the deadline is 0.5 s.
    with StallingServer(_steady(20, 0.1)) as server:
        client = ResponsesClient(base_url=server.base_url, deadline=0.5)
        outcomes = await _stream_both(client)
        await client.aclose()
    for deltas, error, elapsed in outcomes:
        assert isinstance(error, StreamTimeoutError) and isinstance(error, APITimeoutError)
        assert str(error) == "Deadline of 0.5 s passed before the stream ended"
        assert deltas and error.partial.text == "".join(d.text for d in deltas)
        assert 0.5 <= elapsed < 1.5


async def test_a_stall_is_cut_at_the_deadline_not_at_the_read_timeout() -> None:
    with StallingServer([(0.0, text_event("Hel")), (0.0, text_event("lo"))]) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=30, deadline=0.5)
        outcomes = await _stream_both(client)
        await client.aclose()
    for deltas, error, elapsed in outcomes:
        assert [d.text for d in deltas] == ["Hel", "lo"]
        assert isinstance(error, StreamTimeoutError) and error.partial.text == "Hello"
        assert "Deadline of 0.5 s" in str(error)
        assert 0.45 <= elapsed < 2


async def test_a_stream_that_ends_within_the_deadline_is_untouched() -> None:
    with StallingServer(_steady(4, 0.05)) as server:
        client = ResponsesClient(base_url=server.base_url, deadline=5)
        outcomes = await _stream_both(client)
        await client.aclose()
    for deltas, error, _ in outcomes:
        assert error is None and "".join(d.text for d in deltas) == "0123"


# -- the deadline travels with the settings ----------------------------------------------------------
def test_deadline_survives_pickling_of_settings_and_clients() -> None:
    settings = Settings.resolve(base_url="http://127.0.0.1:1", deadline=7.5, stream_idle_timeout=2)
    assert pickle.loads(pickle.dumps(settings)).deadline == 7.5
    client = ResponsesClient.from_settings(settings)
    clone = pickle.loads(pickle.dumps(client))
    assert (clone.settings.deadline, clone.settings.stream_idle_timeout) == (7.5, 2)
    assert ResponsesClient(base_url="http://127.0.0.1:1", deadline=3).settings.deadline == 3
