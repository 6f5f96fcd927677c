"""Batch Inference jobs (`core.batch_jobs`) against the local server, over loopback sockets: the whole flow
sync and async, no key ever sent to the object store (nor logged, nor the presigned signature), split
inputs under one handle and re-attaching after a restart, idempotent creation under retried faults, an
expired upload URL, cancelling, timeouts, failed jobs, a submission failing half way, refusals that upload
nothing, and pickling the errors."""

from __future__ import annotations

import json
import logging
import pickle
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fakes import InFlightTransport

from gradient_integrations.core import (
    BatchError,
    BatchFailedError,
    BatchItemError,
    BatchJob,
    BatchSubmitError,
    BatchTimeoutError,
    InternalServerError,
    InvalidRequestError,
    PermissionDeniedError,
    RequestCounts,
    ResponseRequest,
    ResponseResult,
    ResponsesClient,
    RetryPolicy,
    aattach_batch,
    asubmit_batch,
    attach_batch,
    build_request,
    submit_batch,
)
from gradient_integrations.local import LocalServer
from gradient_integrations.local.batches import FAIL_MARKER

KEY = "sk-do-batch-jobs-test-key-0123456789"
MODEL = "openai-gpt-5-nano"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.005)
POLL = 0.01
FAULT = "x-gradient-fault"


# -- fixtures and helpers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[LocalServer]:
    """A server of its own: its jobs, file intents and object-store requests are this test's alone."""
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Iterator[ResponsesClient]:
    with ResponsesClient(api_key=KEY, base_url=server.base_url, retry_policy=FAST) as made:
        yield made


@pytest.fixture
def steps(server: LocalServer) -> Iterator[Callable[[int], None]]:
    """Set how many polls move a job one step on the module server; restored afterwards."""
    batches = server.app.batches
    before = batches.polls_per_step

    def set_steps(polls: int) -> None:
        batches.polls_per_step = polls

    yield set_steps
    batches.polls_per_step = before


def _requests(count: int, *, fail: tuple[int, ...] = ()) -> list[ResponseRequest]:
    return [
        build_request(model=MODEL, input=f"item {i}" + (f" {FAIL_MARKER}" if i in fail else ""))
        for i in range(count)
    ]


def _text(result: ResponseResult) -> str:
    return result.text


def _shape(results: list[Any]) -> list[Any]:
    """Results comparable across reads: an exception as its type and message."""
    return [(type(r), str(r)) if isinstance(r, Exception) else r for r in results]


def _said(count: int) -> list[str]:
    return [f"You said: item {i}" for i in range(count)]


def _api(server: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {KEY}"}, timeout=30)


def _all_jobs(server: LocalServer) -> list[dict[str, Any]]:
    with _api(server) as api:
        answer = api.get("/v1/batches", params={"limit": 100})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert not body["has_more"]
        return list(body["data"])


class Relay(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A real-socket transport (sync and async) that records what the client sent and can stage faults on
    chosen requests. Each hook gets the request and `n`, how many earlier requests had the same method and
    route: `hook` returns a fault spec to send in `x-gradient-fault` (or None); `lose` says to send the
    request but answer the client with a 500 instead of the server's answer; `rewrite` returns a body to
    send instead of the client's."""

    def __init__(
        self,
        hook: Callable[[httpx.Request, int], str | None] | None = None,
        lose: Callable[[httpx.Request, int], bool] | None = None,
        rewrite: Callable[[httpx.Request, int], bytes | None] | None = None,
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.ainner = httpx.AsyncHTTPTransport()
        self.hook, self.lose, self.rewrite = hook, lose, rewrite
        self.sent: list[tuple[str, str, bytes]] = []

    def calls(self, method: str, path: str) -> list[bytes]:
        return [body for m, p, body in self.sent if m == method and p == path]

    def _before(self, request: httpx.Request, body: bytes) -> tuple[httpx.Request, int]:
        key = (request.method, _route(request.url.path))
        n = sum(1 for m, p, _ in self.sent if (m, _route(p)) == key)
        self.sent.append((request.method, request.url.path, body))
        replaced = self.rewrite(request, n) if self.rewrite is not None else None
        if replaced is not None:
            headers = [(k, v) for k, v in request.headers.items() if k != "content-length"]
            request = httpx.Request(request.method, request.url, headers=headers, content=replaced)
        staged = self.hook(request, n) if self.hook is not None else None
        if staged is not None:
            request.headers[FAULT] = staged
        return request, n

    def _lost(self, request: httpx.Request, n: int) -> bool:
        return self.lose is not None and self.lose(request, n)

    @staticmethod
    def _lost_answer() -> httpx.Response:
        return httpx.Response(500, json={"id": "server_error", "message": "lost answer", "request_id": "x"})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request, n = self._before(request, request.read())
        response = self.inner.handle_request(request)
        if self._lost(request, n):
            response.read()
            response.close()
            return self._lost_answer()
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request, n = self._before(request, await request.aread())
        response = await self.ainner.handle_async_request(request)
        if self._lost(request, n):
            await response.aread()
            await response.aclose()
            return self._lost_answer()
        return response

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.ainner.aclose()


def _route(path: str) -> str:
    if path.startswith("/_objects/"):
        return "/_objects/"
    parts = path.split("/")
    if len(parts) >= 4 and parts[1:3] == ["v1", "batches"] and parts[3] not in ("files", ""):
        parts[3] = "{id}"
    return "/".join(parts)


def _relay_client(server: LocalServer, relay: Relay, **options: Any) -> ResponsesClient:
    return ResponsesClient(
        api_key=KEY,
        base_url=server.base_url,
        transport=relay,
        async_transport=relay,
        retry_policy=FAST,
        **options,
    )


async def _submit(mode: str, client: ResponsesClient, requests: list[ResponseRequest], **options: Any) -> Any:
    """submit_batch or asubmit_batch; the async pools are closed before returning."""
    if mode == "sync":
        return submit_batch(client, requests, _text, **options)
    try:
        return await asubmit_batch(client, requests, _text, **options)
    finally:
        await client.aclose()


def _creates(relay: Relay) -> list[bytes]:
    return relay.calls("POST", "/v1/batches")


def _intents(relay: Relay) -> list[bytes]:
    return relay.calls("POST", "/v1/batches/files")


# -- the whole flow -----------------------------------------------------------------------------------
def _check_results(job: BatchJob[str], results: list[Any], count: int, fail: int) -> None:
    for index, result in enumerate(results):
        if index == fail:
            assert isinstance(result, InternalServerError)
            assert result.status_code == 500 and FAIL_MARKER in str(result)
            assert result.request_id  # the line's request_id
        else:
            assert result == f"You said: item {index}"
    assert job.request_counts == RequestCounts(total=count, completed=count - 1, failed=1)
    assert job.total == count and job.done and job.status == "completed"


def _output_order(server: LocalServer, job: BatchJob[Any]) -> list[str]:
    data = server.app.batches.store.get(f"outputs/{job.ids[0]}.jsonl")
    assert data is not None
    return [json.loads(line)["custom_id"] for line in data.splitlines()]


def test_full_flow_sync(server: LocalServer, client: ResponsesClient, steps: Callable[[int], None]) -> None:
    steps(2)  # two polls a step: every status is seen by at least one poll
    seen: list[tuple[str, RequestCounts]] = []
    job = submit_batch(client, _requests(8, fail=(5,)), _text, metadata={"project": "tests"})
    assert job.status == "validating" and not job.done and len(job.ids) == 1 and job.id == job.ids[0]
    assert job.total == 8
    assert job.wait(poll_interval=POLL, progress=lambda j: seen.append((j.status, j.request_counts))) is job
    statuses = [
        status for index, (status, _) in enumerate(seen) if index == 0 or seen[index - 1][0] != status
    ]
    assert statuses == ["validating", "in_progress", "finalizing", "completed"]
    done = [counts.done for _, counts in seen]
    assert done == sorted(done) and done[-1] == 8
    assert any(0 < counts.done < 8 for status, counts in seen if status == "in_progress")  # counts grow
    order = _output_order(server, job)
    assert sorted(order, key=lambda name: int(name[3:])) != order  # the output file is not in input order
    results = job.results()
    _check_results(job, results, 8, 5)
    assert _shape(job.results()) == _shape(
        results
    )  # the links are kept: reading again gives the same answers
    metadata = server.app.batches.job(job.id)["metadata"]
    assert metadata == {"project": "tests", "gi_first": "0", "gi_count": "8", "gi_part": "1/1"}
    assert "BatchJob(id=" in repr(job) and "8/8" in repr(job)


async def test_full_flow_async(server: LocalServer, steps: Callable[[int], None]) -> None:
    steps(2)
    seen: list[str] = []
    async with ResponsesClient(api_key=KEY, base_url=server.base_url, retry_policy=FAST) as client:
        job = await asubmit_batch(client, _requests(6, fail=(0,)), _text)
        assert job.status == "validating"
        await job.await_(poll_interval=POLL, progress=lambda j: seen.append(j.status))
        assert list(dict.fromkeys(seen)) == ["validating", "in_progress", "finalizing", "completed"]
        results = await job.aresults()
    _check_results(job, results, 6, 0)


def test_progress_true_shows_a_bar(client: ResponsesClient, capsys: pytest.CaptureFixture[str]) -> None:
    job = submit_batch(client, _requests(3), _text)
    job.wait(poll_interval=POLL, progress=True)
    assert job.results() == _said(3)
    assert "3/3" in capsys.readouterr().err


# -- no key at the object store, nor in the logs --------------------------------------------------------
def test_no_authorization_ever_reaches_the_object_store(server: LocalServer, client: ResponsesClient) -> None:
    store = server.app.batches.store_requests
    before = len(store)
    job = submit_batch(client, _requests(4, fail=(1,)), _text, max_lines=2)
    job.wait(poll_interval=POLL)
    assert len(job.results()) == 4
    mine = store[before:]
    assert [(r.method, r.authorization, r.status) for r in mine if r.method == "PUT"] == [
        ("PUT", False, 200)
    ] * 2
    gets = [r for r in mine if r.method == "GET"]
    assert len(gets) == 3  # two output files, one error file
    assert not any(r.authorization for r in mine) and all(r.status == 200 for r in mine)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_injected_http_clients_authorization_and_auth_never_reach_the_store(
    local_server: LocalServer, mode: str
) -> None:
    # The session server takes no key, so the API calls pass with whatever Authorization they carry.
    store = local_server.app.batches.store_requests
    before = len(store)
    injected: dict[str, Any] = {"headers": {"Authorization": "Bearer x"}, "auth": ("u", "p"), "timeout": 30}
    if mode == "sync":
        with httpx.Client(**injected) as http:
            client = ResponsesClient(api_key=KEY, base_url=local_server.base_url, http_client=http)
            job = submit_batch(client, _requests(3), _text)
            job.wait(poll_interval=POLL)
            results = job.results()
    else:
        async with httpx.AsyncClient(**injected) as ahttp:
            client = ResponsesClient(api_key=KEY, base_url=local_server.base_url, http_async_client=ahttp)
            job = await asubmit_batch(client, _requests(3), _text)
            await job.await_(poll_interval=POLL)
            results = await job.aresults()
    assert results == _said(3)
    mine = store[before:]
    assert {r.method for r in mine} == {"PUT", "GET"}
    assert not any(r.authorization for r in mine)
    assert all(r.status == 200 for r in mine)


def test_the_key_and_the_presigned_signature_never_reach_the_logs(
    server: LocalServer, client: ResponsesClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job = submit_batch(client, _requests(2, fail=(1,)), _text)
    job.wait(poll_interval=POLL)
    job.results()
    with pytest.raises(PermissionDeniedError):  # a refused object-store request is logged too
        client.put_presigned(f"{server.base_url}/_objects/uploads/x.jsonl?X-Amz-Signature=0badc0de", b"x")
    ours = [record for record in caplog.records if record.name.startswith("gradient_integrations")]
    messages = [record.getMessage() for record in ours]
    store_lines = [message for message in messages if "/_objects/" in message]
    assert len(store_lines) >= 3  # the PUT, the GETs of both files, the refused PUT: logged, query hidden
    for message in messages:
        assert "Signature" not in message and "0badc0de" not in message and "X-Amz" not in message
    for record in caplog.records:  # every logger, httpx and httpcore included
        assert KEY not in record.getMessage()
        assert "0badc0de" not in record.getMessage()  # httpx logs each URL at INFO: signature scrubbed
    httpx_lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any("X-Amz-Signature=***" in line for line in httpx_lines)
    assert KEY not in caplog.text


# -- split inputs, re-attaching ------------------------------------------------------------------------
def test_a_split_input_is_one_handle_and_reattaches_in_a_new_client(
    server: LocalServer, client: ResponsesClient
) -> None:
    job = submit_batch(client, _requests(7, fail=(4,)), _text, max_lines=3)
    assert len(job.ids) == 3 and job.id.count(",") == 2 and job.id == ",".join(job.ids)
    assert [part.status for part in job.parts] == ["validating"] * 3
    assert job.total == 7
    parts = [server.app.batches.job(batch_id)["metadata"] for batch_id in job.ids]
    assert [(m["gi_first"], m["gi_count"], m["gi_part"]) for m in parts] == [
        ("0", "3", "1/3"),
        ("3", "3", "2/3"),
        ("6", "1", "3/3"),
    ]
    with ResponsesClient(api_key=KEY, base_url=server.base_url) as restarted:  # a new process, say
        attached = attach_batch(restarted, job.id, _text)  # while the jobs still run
        assert attached.ids == job.ids and attached.total == 7 and not attached.done
        attached.wait(poll_interval=POLL)
        results = attached.results()
        _check_results(attached, results, 7, 4)
        again = attach_batch(restarted, list(job.ids), _text)  # once they have ended; ids as a list too
        assert again.done and _shape(again.results()) == _shape(results)
    job.wait(poll_interval=POLL)
    assert _shape(job.results()) == _shape(results)


async def test_async_reattach(server: LocalServer, client: ResponsesClient) -> None:
    job = submit_batch(client, _requests(5), _text, max_lines=2)
    async with ResponsesClient(api_key=KEY, base_url=server.base_url) as restarted:
        attached = await aattach_batch(restarted, job.id, _text)
        assert attached.ids == job.ids
        await attached.await_(poll_interval=POLL)
        assert await attached.aresults() == _said(5)


@pytest.mark.parametrize("job_id", ["", ",", "a/b", "../x", "a?b=c", "x,", ["ok", "no/pe"], []])
def test_attach_refuses_what_is_not_a_job_id(client: ResponsesClient, job_id: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        attach_batch(client, job_id, _text)
    assert caught.value.field == "job_id"


# -- creation is idempotent under retries; expired upload URLs --------------------------------------
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def _is_create(request: httpx.Request) -> bool:
    return (request.method, request.url.path) == ("POST", "/v1/batches")


@MODES
@pytest.mark.parametrize("fault", ["server_error:1", "rate_limit:1:0", "server_error:2"])
async def test_a_retried_create_under_a_staged_fault_makes_one_job(
    fresh: LocalServer, fault: str, mode: str
) -> None:
    relay = Relay(hook=lambda r, n: fault if _is_create(r) else None)
    with _relay_client(fresh, relay) as client:
        job = await _submit(mode, client, _requests(3))
        creates = _creates(relay)
        assert len(creates) == int(fault.split(":")[1]) + 1
        assert len({json.loads(body)["request_id"] for body in creates}) == 1  # the same request, retried
        assert [job_["batch_id"] for job_ in _all_jobs(fresh)] == [job.id]
        assert job.wait(poll_interval=POLL).results() == _said(3)
    relay.close()
    await relay.aclose()


@MODES
async def test_a_create_whose_answer_is_lost_is_retried_into_the_same_job(
    fresh: LocalServer, mode: str
) -> None:
    """The server made the job but its answer never arrived: the retry, with the same request_id, must
    get that job back instead of starting a second one."""
    relay = Relay(lose=lambda r, n: _is_create(r) and n == 0)
    with _relay_client(fresh, relay) as client:
        job = await _submit(mode, client, _requests(4), max_lines=2)
    relay.close()
    await relay.aclose()
    creates = _creates(relay)
    assert len(creates) == 3  # part 1 twice, part 2 once
    assert json.loads(creates[0])["request_id"] == json.loads(creates[1])["request_id"]
    jobs = _all_jobs(fresh)
    assert sorted(j["batch_id"] for j in jobs) == sorted(job.ids) and len(jobs) == 2
    with ResponsesClient(api_key=KEY, base_url=fresh.base_url) as client:
        attached = attach_batch(client, job.id, _text).wait(poll_interval=POLL)
        assert attached.results() == _said(4)


@MODES
async def test_an_expired_upload_url_gets_a_new_file_intent(fresh: LocalServer, mode: str) -> None:
    batches = fresh.app.batches

    def expire_first_upload(request: httpx.Request, n: int) -> None:
        if request.method == "PUT" and n == 0:  # the URL was issued "now"; the upload arrives 1000 s later
            batches.clock = lambda: time.time() + 1000

    relay = Relay(hook=lambda r, n: expire_first_upload(r, n))
    with _relay_client(fresh, relay) as client:
        job = await _submit(mode, client, _requests(3))
        assert len(_intents(relay)) == 2
        assert [(r.method, r.status) for r in batches.store_requests] == [("PUT", 403), ("PUT", 200)]
        assert len(_all_jobs(fresh)) == 1
        assert job.wait(poll_interval=POLL).results() == _said(3)
    relay.close()
    await relay.aclose()


@MODES
async def test_an_upload_refused_twice_raises_and_creates_no_job(fresh: LocalServer, mode: str) -> None:
    batches = fresh.app.batches
    shift = [0.0]

    def expire_every_upload(request: httpx.Request, n: int) -> None:
        if request.method == "PUT":
            shift[0] += 1000
            batches.clock = lambda offset=shift[0]: time.time() + offset

    relay = Relay(hook=lambda r, n: expire_every_upload(r, n))
    with _relay_client(fresh, relay) as client, pytest.raises(PermissionDeniedError):
        await _submit(mode, client, _requests(2))
    relay.close()
    await relay.aclose()
    assert len(_intents(relay)) == 2 and _creates(relay) == []
    assert [r.status for r in batches.store_requests] == [403, 403]
    assert _all_jobs(fresh) == []


# -- cancelling ------------------------------------------------------------------------------------------
def test_cancel_while_validating_waits_then_cancels(client: ResponsesClient) -> None:
    job = submit_batch(client, _requests(6), _text)
    assert job.status == "validating"  # DO answers 409 to a cancel now: the job is polled past it first
    assert job.cancel(poll_interval=POLL) is job
    assert job.status in ("cancelling", "cancelled")
    job.wait(poll_interval=POLL)
    assert job.status == "cancelled"
    results = job.results()
    assert results[:3] == _said(3)  # the first half had run
    for index, result in enumerate(results[3:], 3):
        assert isinstance(result, BatchItemError)
        assert result.custom_id == f"gi-{index}"
        assert result.code == "batch_cancelled"  # the error file's line for a request never executed
        assert result.job is job
    assert job.request_counts == RequestCounts(total=6, completed=3, failed=0)


def test_a_409_from_cancel_is_an_answer_not_a_transient_failure(server: LocalServer) -> None:
    # The default policy retries 409 with backoff; cancel's 409 ("not submitted upstream yet") is polled
    # past instead, so the policy never sleeps for it.
    slept: list[float] = []
    policy = RetryPolicy(sleep=slept.append)
    with ResponsesClient(api_key=KEY, base_url=server.base_url, retry_policy=policy) as client:
        job = submit_batch(client, _requests(2), _text)
        assert job.status == "validating"
        job.cancel(poll_interval=POLL)
    assert job.status in ("cancelling", "cancelled")
    assert slept == []


async def test_acancel_while_validating(server: LocalServer) -> None:
    async with ResponsesClient(api_key=KEY, base_url=server.base_url, retry_policy=FAST) as client:
        job = await asubmit_batch(client, _requests(4), _text)
        await job.acancel(poll_interval=POLL)
        await job.await_(poll_interval=POLL)
        results = await job.aresults()
    assert job.status == "cancelled"
    assert results[:2] == _said(2)
    assert [type(r) for r in results[2:]] == [BatchItemError, BatchItemError]


def test_cancelling_an_ended_job_sends_nothing(server: LocalServer) -> None:
    relay = Relay()
    with _relay_client(server, relay) as client:
        job = submit_batch(client, _requests(2), _text).wait(poll_interval=POLL)
        sent = len(relay.sent)
        assert job.cancel(poll_interval=POLL).status == "completed"
        assert len(relay.sent) == sent
    relay.close()


# -- expired jobs ----------------------------------------------------------------------------------
DAY = 24 * 3600


def test_a_job_expired_midway_gives_its_answers_and_batch_expired_for_the_rest(fresh: LocalServer) -> None:
    batches = fresh.app.batches
    batches.polls_per_step = 2
    with ResponsesClient(api_key=KEY, base_url=fresh.base_url) as client:
        job = submit_batch(client, _requests(4), _text)
        job.refresh().refresh().refresh()  # in_progress, half of the lines run
        assert job.status == "in_progress" and job.request_counts.done == 2
        batches.clock = lambda: time.time() + DAY + 60  # the 24 h completion window has passed
        job.wait(poll_interval=POLL)
        assert job.status == "expired"
        results = job.results()
    assert results[:2] == _said(2)
    for index in (2, 3):
        error = results[index]
        assert isinstance(error, BatchItemError)
        assert error.code == "batch_expired" and error.custom_id == f"gi-{index}"


def test_a_job_expired_before_it_ran_gives_every_item_as_not_run(fresh: LocalServer) -> None:
    """A job that expired while still validating has no output file (`result_available: false`); it has
    ended, so `results()` owes one BatchItemError per item (the module's promise: "a cancelled or expired
    job still gives every answer it produced"), not a BatchError saying the results are "not available
    yet", which they never will be."""
    with ResponsesClient(api_key=KEY, base_url=fresh.base_url) as client:
        job = submit_batch(client, _requests(3), _text)
        fresh.app.batches.clock = lambda: time.time() + DAY + 60
        job.wait(poll_interval=POLL)
        assert job.status == "expired" and job.done
        results = job.results()
    assert len(results) == 3
    for index, error in enumerate(results):
        assert isinstance(error, BatchItemError)
        assert error.code == "not_run" and error.custom_id == f"gi-{index}"
        assert "expired" in str(error)


# -- waiting, timeouts, results too early ------------------------------------------------------------
def test_wait_timeout_raises_and_the_job_can_wait_again(
    client: ResponsesClient, steps: Callable[[int], None]
) -> None:
    steps(10_000)
    job = submit_batch(client, _requests(3), _text)
    started = time.monotonic()
    with pytest.raises(BatchTimeoutError) as caught:
        job.wait(poll_interval=POLL, timeout=0.05)
    assert time.monotonic() - started < 2
    error = caught.value
    assert error.job is job and job.id in str(error) and "validating" in str(error)
    with pytest.raises(BatchTimeoutError):
        job.wait(timeout=0)  # one poll, then the timeout
    steps(1)
    assert error.job.wait(poll_interval=POLL).results() == _said(3)


async def test_await_timeout_raises_and_the_job_can_wait_again(
    server: LocalServer, steps: Callable[[int], None]
) -> None:
    steps(10_000)
    async with ResponsesClient(api_key=KEY, base_url=server.base_url) as client:
        job = await asubmit_batch(client, _requests(2), _text)
        with pytest.raises(BatchTimeoutError) as caught:
            await job.await_(poll_interval=POLL, timeout=0.05)
        assert caught.value.job is job
        steps(1)
        await caught.value.job.await_(poll_interval=POLL)
        assert await job.aresults() == _said(2)


@pytest.mark.parametrize(
    ("options", "field"), [({"poll_interval": 0}, "poll_interval"), ({"timeout": -1}, "timeout")]
)
def test_wait_refuses_bad_intervals(client: ResponsesClient, options: dict[str, Any], field: str) -> None:
    job = submit_batch(client, _requests(1), _text)
    with pytest.raises(InvalidRequestError) as caught:
        job.wait(**options)
    assert caught.value.field == field
    job.wait(poll_interval=POLL)


async def test_results_before_the_job_ended_raise_batch_error(client: ResponsesClient) -> None:
    job = submit_batch(client, _requests(2), _text)
    with pytest.raises(BatchError) as caught:
        job.results()
    assert type(caught.value) is BatchError and caught.value.job is job and "wait()" in str(caught.value)
    with pytest.raises(BatchError):
        await job.aresults()
    job.wait(poll_interval=POLL)
    assert job.results() == _said(2)


# -- failed jobs --------------------------------------------------------------------------------------
def _raw_job(server: LocalServer, content: bytes) -> str:
    """A job on an input file written by hand, through the raw API."""
    with _api(server) as api, httpx.Client(timeout=30) as store:
        intent = api.post("/v1/batches/files", json={"file_name": "by-hand.jsonl"}).json()
        assert store.put(intent["upload_url"], content=content).status_code == 200
        created = api.post(
            "/v1/batches",
            json={
                "file_id": intent["file_id"],
                "provider": "openai",
                "endpoint": "/v1/responses",
                "completion_window": "24h",
                "request_id": f"by-hand-{time.monotonic_ns()}",
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["batch_id"])


BAD_FILE = (
    b'{"custom_id":"a","method":"POST","url":"/v1/responses","body":{"model":"m","input":"hi"}}\n'
    b"this is not json\n"
    b'{"custom_id":"c","method":"POST","url":"/v1/responses"}\n'
)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_job_failed_at_validation_raises_batch_failed_error_with_line_numbers(
    server: LocalServer, client: ResponsesClient, mode: str
) -> None:
    batch_id = _raw_job(server, BAD_FILE)
    if mode == "sync":
        job = attach_batch(client, batch_id, _text).wait(poll_interval=POLL)
        with pytest.raises(BatchFailedError) as caught:
            job.results()
    else:
        job = await aattach_batch(client, batch_id, _text)
        await job.await_(poll_interval=POLL)
        with pytest.raises(BatchFailedError) as caught:
            await job.aresults()
    assert job.status == "failed" and job.done
    error = caught.value
    assert error.job is job
    assert [entry["line"] for entry in error.errors] == [2, 3]
    assert all(entry["code"] == "invalid_input_file" for entry in error.errors)
    assert "Line 2" in str(error) and "Line 3" in str(error) and batch_id in str(error)


def test_one_failed_part_of_a_split_input_leaves_its_items_not_run(server: LocalServer) -> None:
    # The second file's upload is replaced by one the server refuses at validation.
    relay = Relay(rewrite=lambda r, n: b"garbage\n" if r.method == "PUT" and n == 1 else None)
    with _relay_client(server, relay) as client:
        job = submit_batch(client, _requests(5), _text, max_lines=2)
        job.wait(poll_interval=POLL)
        assert [part.status for part in job.parts] == ["completed", "failed", "completed"]
        assert job.status == "failed" and job.total == 5
        results = job.results()
        with ResponsesClient(api_key=KEY, base_url=server.base_url) as restarted:
            again = attach_batch(restarted, job.id, _text).results()
    relay.close()
    for index in (0, 1, 4):
        assert results[index] == f"You said: item {index}"
    for index in (2, 3):
        error = results[index]
        assert (
            isinstance(error, BatchItemError) and error.code == "not_run" and error.custom_id == f"gi-{index}"
        )
        assert "failed" in str(error)
    assert _shape(again) == _shape(results)


# -- a submission failing half way ---------------------------------------------------------------------
@MODES
async def test_a_failure_after_the_first_part_raises_batch_submit_error_holding_the_created_job(
    fresh: LocalServer, mode: str
) -> None:
    relay = Relay(hook=lambda r, n: "status:500" if _is_create(r) and n == 1 else None)
    with _relay_client(fresh, relay, max_retries=0) as client:
        with pytest.raises(BatchSubmitError) as caught:
            await _submit(mode, client, _requests(5), max_lines=2)
        error = caught.value
        assert isinstance(error.__cause__, InternalServerError)
        created = _all_jobs(fresh)
        assert [job["batch_id"] for job in created] == list(error.job.ids) and len(created) == 1
        assert error.job.id in str(error) and "2 of 3" in str(error)
        assert len(_creates(relay)) == 2 and len(_intents(relay)) == 2  # nothing after the failure
        assert error.job.total == 2
        assert error.job.wait(poll_interval=POLL).results() == _said(2)
    relay.close()
    await relay.aclose()


@MODES
async def test_a_failure_on_the_first_part_raises_the_plain_error(fresh: LocalServer, mode: str) -> None:
    relay = Relay(hook=lambda r, n: "status:500" if _is_create(r) else None)
    with _relay_client(fresh, relay, max_retries=0) as client, pytest.raises(InternalServerError):
        await _submit(mode, client, _requests(4), max_lines=2)
    relay.close()
    await relay.aclose()
    assert _all_jobs(fresh) == []


# -- refusals upload nothing -------------------------------------------------------------------------
REFUSALS = [
    pytest.param(lambda: [], {}, "inputs", id="empty"),
    pytest.param(
        lambda: [build_request(model="openai-gpt-oss-20b", input="hi")], {}, "inputs[0].model", id="open"
    ),
    pytest.param(
        lambda: [build_request(model="anthropic-claude-4.5-haiku", input="hi")],
        {},
        "inputs[0].model",
        id="anthropic",
    ),
    pytest.param(
        lambda: [*_requests(2), build_request(model="openai-gpt-4o", input="hi")],
        {},
        "inputs[2].model",
        id="mixed",
    ),
    pytest.param(
        lambda: [*_requests(1), build_request(model=MODEL, input="\ud83d")],
        {},
        "inputs[1].input",
        id="surrogate",
    ),
    pytest.param(lambda: _requests(3), {"max_bytes": 50}, "inputs[0]", id="too-large"),
    pytest.param(
        lambda: _requests(2), {"metadata": {"gi_first": "9"}}, "metadata['gi_first']", id="metadata"
    ),
]


@pytest.mark.parametrize(("make", "options", "field"), REFUSALS)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_refusals_upload_nothing(
    server: LocalServer,
    make: Callable[[], list[ResponseRequest]],
    options: dict[str, Any],
    field: str,
    mode: str,
) -> None:
    store = server.app.batches.store_requests
    before, jobs = len(store), _all_jobs(server)
    relay, arelay = Relay(), InFlightTransport()
    client = ResponsesClient(
        api_key=KEY, base_url=server.base_url, transport=relay, async_transport=arelay, retry_policy=FAST
    )
    with pytest.raises(InvalidRequestError) as caught:
        if mode == "sync":
            submit_batch(client, make(), _text, **options)
        else:
            await asubmit_batch(client, make(), _text, **options)
    await client.aclose()
    relay.close()
    await arelay.aclose()
    assert caught.value.field == field
    assert relay.sent == [] and arelay.paths == []
    assert len(store) == before
    assert _all_jobs(server) == jobs


# -- pickling --------------------------------------------------------------------------------------------
def test_pickled_batch_errors_drop_the_job(client: ResponsesClient, steps: Callable[[int], None]) -> None:
    steps(10_000)
    job = submit_batch(client, _requests(1), _text)
    with pytest.raises(BatchTimeoutError) as caught:
        job.wait(poll_interval=POLL, timeout=0)
    errors: list[BatchError] = [
        caught.value,
        BatchSubmitError("submit failed", job=job),
        BatchFailedError("failed", job=job, errors=({"code": "invalid_input_file", "line": 2},)),
        BatchItemError("no answer", code="not_run", custom_id="gi-0", job=job),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.job is None and error.job is job
    failed = pickle.loads(pickle.dumps(errors[2]))
    assert failed.errors == ({"code": "invalid_input_file", "line": 2},)  # type: ignore[attr-defined]
    item = pickle.loads(pickle.dumps(errors[3]))
    assert (item.code, item.custom_id) == ("not_run", "gi-0")  # type: ignore[attr-defined]
    assert KEY.encode() not in pickle.dumps(errors[0])
    steps(1)
    job.wait(poll_interval=POLL)
