"""Fault injection: the spec language, the counters, and every fault as the core client experiences it over
real loopback sockets (sync and async), per request header and as a server default."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from gradient_integrations import (
    APIConnectionError,
    APIError,
    InternalServerError,
    PermissionDeniedError,
    RateLimitError,
    ResponsesClient,
    RetryPolicy,
    StreamError,
    StreamTimeoutError,
    build_request,
)
from gradient_integrations.local import FaultPlan, FaultSpecError, LocalServer
from gradient_integrations.local.faults import FaultCounters

REQUEST = build_request(model="m", input="one two three four five six")
FULL_TEXT = "You said: one two three four five six"


def test_a_spec_parses_into_a_plan() -> None:
    plan = FaultPlan.parse("rate_limit:2:1.5, chunk_delay_ms:3;stall_mid_stream:4:0.5,malformed_json")
    assert (plan.rate_limit, plan.rate_limit_retry_after, plan.chunk_delay_ms) == (2, 1.5, 3.0)
    assert (plan.stall_mid_stream, plan.malformed_json, plan.counted) == ((4, 0.5), True, True)
    assert FaultPlan.parse("none").empty and FaultPlan.parse("").empty


def test_the_first_ending_fault_cuts_the_stream() -> None:
    assert FaultPlan.parse("truncate_stream:5,error_chunk:2").stream_cut == 2
    assert FaultPlan.parse("latency_ms:1").stream_cut is None


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("explode", "unknown fault 'explode'"),
        ("rate_limit", "expected rate_limit:n"),
        ("status:200", "between 400 and 599"),
        ("latency_ms:fast", "is not a number"),
        ("error_chunk:-1", "must not be negative"),
        ("malformed_json:1", "expected malformed_json"),
    ],
)
def test_a_bad_spec_is_rejected_with_the_fix(spec: str, hint: str) -> None:
    with pytest.raises(FaultSpecError, match=hint):
        FaultPlan.parse(spec)


def test_counted_faults_cycle_per_scope() -> None:
    counters = FaultCounters()
    plan = FaultPlan.parse("rate_limit:2,server_error:1")
    outcomes = [counters.next_outcome(plan, "a") for _ in range(8)]
    assert outcomes == ["rate_limit", "rate_limit", "server_error", None] * 2
    assert counters.next_outcome(plan, "b") == "rate_limit"  # another scope starts fresh


def test_the_scope_is_the_explicit_key_or_else_the_body() -> None:
    plan = FaultPlan.parse("rate_limit:1")
    assert FaultCounters.scope(plan, "k", b"x") == FaultCounters.scope(plan, "k", b"y")
    assert FaultCounters.scope(plan, None, b"x") != FaultCounters.scope(plan, None, b"y")


@pytest.fixture
def client(local_server: LocalServer) -> Iterator[ResponsesClient]:
    policy = RetryPolicy(max_retries=0)
    with ResponsesClient(base_url=local_server.base_url, retry_policy=policy, stream_idle_timeout=0.5) as c:
        yield c


def fault(spec: str) -> dict[str, str]:
    # A fresh key per use: counted faults must not depend on what other tests did before.
    return {"x-gradient-fault": spec, "x-gradient-fault-key": uuid.uuid4().hex}


def test_rate_limit_answers_429_with_retry_after_then_lets_one_through(local_server: LocalServer) -> None:
    headers = fault("rate_limit:2:7")
    with httpx.Client(base_url=local_server.base_url) as http:
        statuses = [
            http.post("/v1/responses", json={"model": "m", "input": "x"}, headers=headers) for _ in range(3)
        ]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "7"


def test_the_core_retries_through_rate_limits_and_server_errors(local_server: LocalServer) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, sleep=waits.append)
    with ResponsesClient(base_url=local_server.base_url, retry_policy=policy) as client:
        result = client.create(REQUEST, extra_headers=fault("rate_limit:2:0.25,server_error:1"))
    assert result.text == FULL_TEXT
    assert waits[:2] == [0.25, 0.25]  # the server's retry-after is honoured
    assert len(waits) == 3


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("rate_limit:1", RateLimitError),
        ("server_error:1", InternalServerError),
        ("status:403", PermissionDeniedError),
        ("disconnect_before_headers", APIConnectionError),
        ("malformed_json", APIError),
    ],
)
def test_request_faults_raise_the_matching_error(
    client: ResponsesClient, spec: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        client.create(REQUEST, extra_headers=fault(spec))
    with pytest.raises(error):
        list(client.stream(REQUEST, extra_headers=fault(spec)))


@pytest.mark.parametrize(
    ("spec", "partial_text", "message"),
    [
        ("disconnect_mid_stream:3", "You said: one", "connection lost"),
        ("error_chunk:2", "You said:", "Injected stream error"),
        ("truncate_stream:4", "You said: one two", "ended before"),
        ("malformed_sse", "", "Malformed JSON"),
        ("malformed_json", "", "Malformed JSON"),
    ],
)
def test_stream_faults_raise_stream_error_with_what_arrived(
    client: ResponsesClient, spec: str, partial_text: str, message: str
) -> None:
    stream = client.stream(REQUEST, extra_headers=fault(spec))
    with pytest.raises(StreamError, match=message) as raised:
        list(stream)
    assert raised.value.partial is not None
    assert raised.value.partial.text == partial_text


@pytest.mark.parametrize("spec", ["disconnect_mid_stream:3", "error_chunk:2", "truncate_stream:4"])
def test_stream_faults_do_not_touch_json_answers(client: ResponsesClient, spec: str) -> None:
    assert client.create(REQUEST, extra_headers=fault(spec)).text == FULL_TEXT


def test_a_stall_trips_the_idle_timeout_and_a_short_stall_does_not(client: ResponsesClient) -> None:
    with pytest.raises(StreamTimeoutError):
        list(client.stream(REQUEST, extra_headers=fault("stall_mid_stream:2:1")))
    started = time.perf_counter()
    stream = client.stream(REQUEST, extra_headers=fault("stall_mid_stream:2:0.2"))
    assert [d.kind for d in stream][-1] == "finish"
    assert time.perf_counter() - started >= 0.2
    assert stream.result.text == FULL_TEXT


def test_latency_delays_the_answer(client: ResponsesClient) -> None:
    started = time.perf_counter()
    assert client.create(REQUEST, extra_headers=fault("latency_ms:150")).text == FULL_TEXT
    assert time.perf_counter() - started >= 0.15


def test_chunk_delay_spaces_every_event(client: ResponsesClient) -> None:
    arrivals: list[float] = []
    for _ in client.stream(REQUEST, extra_headers=fault("chunk_delay_ms:30")):
        arrivals.append(time.perf_counter())
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 9 and min(gaps) >= 0.02


async def test_async_clients_see_the_same_faults(local_server: LocalServer) -> None:
    policy = RetryPolicy(max_retries=0)
    async with ResponsesClient(base_url=local_server.base_url, retry_policy=policy) as client:
        with pytest.raises(APIConnectionError):
            await client.acreate(REQUEST, extra_headers=fault("disconnect_before_headers"))
        stream = client.astream(REQUEST, extra_headers=fault("disconnect_mid_stream:2"))
        with pytest.raises(StreamError, match="connection lost"):
            async for _ in stream:
                pass
        with pytest.raises(RateLimitError):
            await client.acreate(REQUEST, extra_headers=fault("rate_limit:1"))


def test_a_bad_fault_header_is_a_400_naming_the_header(client: ResponsesClient) -> None:
    with pytest.raises(APIError, match="x-gradient-fault: unknown fault 'bogus'"):
        client.create(REQUEST, extra_headers={"x-gradient-fault": "bogus"})


def test_server_default_faults_apply_unless_a_header_overrides_them() -> None:
    with LocalServer(faults="status:503") as server, httpx.Client(base_url=server.base_url) as http:
        body = {"model": "m", "input": "x"}
        assert http.post("/v1/responses", json=body).status_code == 503
        assert http.post("/v1/responses", json=body, headers={"x-gradient-fault": "none"}).status_code == 200


def test_reset_faults_restarts_the_counters() -> None:
    with LocalServer(faults="rate_limit:1") as server, httpx.Client(base_url=server.base_url) as http:
        body = {"model": "m", "input": "x"}
        assert http.post("/v1/responses", json=body).status_code == 429
        server.reset_faults()
        assert http.post("/v1/responses", json=body).status_code == 429
        assert http.post("/v1/responses", json=body).status_code == 200
